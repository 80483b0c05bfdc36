"""Embedding on a Ray cluster: the passages a build's cache misses go through Ray Data, to a
pool of actors that each load the model once and embed as `Embedder.embed_spans` does.

Reading, cleaning, chunking, the embedding cache and writing stay in the driver (the process
running `newsqa index --ray`): only the forward passes are spread, and the vectors come back in
row order, so the version written is the one a local build writes. Ray is an optional extra,
imported here only when a build asks for it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
from typing import Any

import numpy as np

from indexer.embed import Embedder
from indexer.errors import ClusterError
from indexer.settings import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'newsqa[distributed]'"
# Rows per Ray Data batch, each embedded by one actor call (its forward passes batched by
# `settings.embed_batch_size`): enough to keep per-call overhead small, few enough that a
# build of some thousand passages still spreads over every actor.
RAY_BATCH_ROWS = 128
# How long a cluster's address may take to accept a connection.
CONNECT_TIMEOUT_S = 5.0


def _ray() -> Any:
    """The `ray` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None) -> Any:
    """Connect this process to the Ray cluster at `address` ("auto": the one started on this
    machine with `ray start --head`; "local" or None: one started for this process) and return
    the `ray` module. An address that answers nothing is a one-line error."""
    ray = _ray()
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ClusterError(f"cannot reach the Ray cluster at {address}: {reason}") from None
    return ray


def _reachable(address: str | None) -> None:
    """Fail at once, in one line, when `address` is a host:port that takes no connection: Ray
    itself would retry for minutes, logging each try."""
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit():  # "auto", "local", None, a ray:// client address...
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


class _EmbedActor:
    """One embedding model per Ray actor: loaded offline once, then called batch after batch."""

    def __init__(self, settings: dict[str, Any], batch_size: int) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # as on the driver: the model must be on disk
        started = time.perf_counter()
        self.embedder = Embedder(**settings)
        self.batch_size = batch_size
        self.load_s = time.perf_counter() - started

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        spans = [[(int(a), int(b)) for a, b in json.loads(each)] for each in batch["spans"]]
        vectors, span_vectors = self.embedder.embed_spans(list(batch["input"]), spans, self.batch_size)
        firsts = np.cumsum([0, *(len(each) for each in spans)])
        return {
            "row": batch["row"],
            "vector": vectors,
            # A passage's sentences vary in number: each row's go back as raw float32 bytes.
            "sentences": [span_vectors[a:b].tobytes() for a, b in itertools.pairwise(firsts)],
        }


class RayEmbedding:
    """Embeds passages with their sentence spans on a Ray cluster, in place of
    `Embedder.embed_spans` (the build's `embed` argument): `actors` actors, each with the model
    `settings` name and backend and `settings.threads` threads (reserved as that many Ray CPUs),
    or on a GPU each when the cluster has GPUs and `settings.device` is not "cpu".

    Ray Data hands the actors batches of `RAY_BATCH_ROWS` rows; their vectors come back in
    any order and are put back in row order."""

    def __init__(self, settings: Settings, address: str | None = None, actors: int = 1) -> None:
        self.ray = connect(address)
        self.actors = actors
        self.gpus = 0.0 if settings.device == "cpu" else float(self.ray.cluster_resources().get("GPU", 0))
        self.threads = settings.threads  # each actor's, which it reserves as Ray CPUs
        self.embedder = {
            "name": settings.model,
            "device": "cuda" if self.gpus else "cpu",
            "backend": settings.backend,
            "cache_dir": settings.cache_dir,
            "threads": self.threads,
        }

    def __call__(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of `texts` and of their `spans`, as `Embedder.embed_spans` returns them;
        `batch_size` is each actor's forward-pass batch."""
        import ray.data

        # Its notes on each run, and without progress bars its warning that they are off.
        logging.getLogger("ray.data").setLevel(logging.WARNING if progress else logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        rows = [
            {"row": row, "input": text, "spans": json.dumps(each)}
            for row, (text, each) in enumerate(zip(texts, spans, strict=True))
        ]
        items = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // RAY_BATCH_ROWS)))
        embedded = items.map_batches(
            _EmbedActor,
            fn_constructor_kwargs={"settings": self.embedder, "batch_size": batch_size},
            batch_size=RAY_BATCH_ROWS,
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=1 if self.gpus else self.threads,
            num_gpus=1 if self.gpus else 0,
        )
        return _in_row_order(embedded.take_all(), len(texts), [len(each) for each in spans])


def _in_row_order(
    results: list[dict[str, Any]], count: int, spans: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The vectors and span vectors of `results` (rows in any order), stacked by row."""
    if len(results) != count:
        raise ClusterError(f"the Ray cluster returned {len(results)} of {count} passages")
    results.sort(key=lambda result: int(result["row"]))
    vectors = np.ascontiguousarray([result["vector"] for result in results], dtype=np.float32)
    dimension = vectors.shape[1]
    span_vectors = [np.frombuffer(result["sentences"], dtype=np.float32) for result in results]
    stacked = (
        np.concatenate(span_vectors).reshape(-1, dimension) if span_vectors else np.empty((0, dimension))
    )
    if len(stacked) != sum(spans):
        raise ClusterError(f"the Ray cluster returned {len(stacked)} of {sum(spans)} sentence vectors")
    return vectors, np.ascontiguousarray(stacked, dtype=np.float32)
