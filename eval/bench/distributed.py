"""`newsqa bench --scenario ray`: indexing passages per second on a 2-node Ray cluster started on
this machine (every socket on 127.0.0.1), with 1 and 2 embedding actors, against the plain local
build in the same run; with each actor's start-up time and peak memory. Then, on the same cluster,
serving on Ray Serve against plain `newsqa serve` (eval/bench/sharded.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eval.bench.run import machine
from eval.bench.sharded import serving_bench, serving_markdown
from eval.synth import write_archive
from indexer.build import build_documents, load_documents
from indexer.cache import SpanEmbedding
from indexer.embed import Embedder
from indexer.settings import Settings

ACTOR_COUNTS = (1, 2)
# How the embedding actors of Ray Data's pool name their processes, in /proc/PID/cmdline.
ACTOR_TITLE = b"ray::MapWorker(MapBatches(_EmbedActor))"


@contextmanager
def loopback_cluster(nodes: int = 2) -> Iterator[str]:
    """A Ray cluster of `nodes` nodes on 127.0.0.1, this machine's CPUs each; its address."""
    # Read when ray is imported: local addresses stay on the loopback instead of resolving to
    # the machine's own IP, where a loopback cluster does not listen.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    from ray.cluster_utils import Cluster

    node: dict[str, Any] = {"node_ip_address": "127.0.0.1", "num_cpus": os.cpu_count() or 1}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**node)
    try:
        yield str(cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]


def ray_bench(
    passages: int,
    settings: Settings,
    work: Path,
    say: Callable[[str], None],
    duration_s: float = 15.0,
    questions: int = 0,
) -> dict[str, Any]:
    """Build a synthetic archive of about `passages` passages locally, then on the loopback
    cluster with each of `ACTOR_COUNTS` actors; each row times the whole build (reading,
    chunking, embedding, writing), Ray's actor start-up included. Then serve the evaluation
    archive on the same cluster (`serving_bench`: `questions` questions, 0 for all, and four
    clients for `duration_s` s)."""
    from indexer.distributed import RayEmbedding

    archive = work / f"throughput-{passages}.jsonl"
    if not archive.exists():
        write_archive(archive, passages, settings, seed=1)
    documents, _ = load_documents([archive])
    embedder = Embedder.from_settings(settings)
    embedder.embed(["warm up the runtime"])
    say(f"local build, about {passages} passages, {embedder.backend}")
    rows = [{"run": "local", "actors": 0, **_timed_build(documents, settings, embedder, None, work)}]
    say(f"  {rows[0]['passages_per_s']} passages/s")
    started = time.perf_counter()
    with loopback_cluster() as address:
        cluster_s = round(time.perf_counter() - started, 1)
        for actors in ACTOR_COUNTS:
            say(f"Ray build, {actors} actor{'s' if actors > 1 else ''}")
            embedding = RayEmbedding(settings, address, actors)
            startup = time.perf_counter()
            embedding(["warm up"], [[(0, 4)]], 1)  # an empty pool of actors, started and given one row
            startup_s = time.perf_counter() - startup
            with _actor_memory() as peaks:
                row = _timed_build(documents, settings, embedder, embedding, work)
            row.update(
                run="ray",
                actors=actors,
                actor_startup_s=round(startup_s, 1),
                steady_passages_per_s=round(row["passages"] / max(row["seconds"] - startup_s, 1e-9), 1),
                actor_peak_rss_mb=sorted(peaks.values()),
            )
            rows.append(row)
            say(f"  {row['passages_per_s']} passages/s, start-up {row['actor_startup_s']} s")
        serving = serving_bench(address, settings, embedder, work, duration_s, say, questions)
    return {
        "machine": machine(),
        "cluster": {"nodes": 2, "start_s": cluster_s},
        "builds": rows,
        "serving": serving,
    }


def _timed_build(
    documents: list[Any], settings: Settings, embedder: Embedder, embed: SpanEmbedding | None, work: Path
) -> dict[str, Any]:
    """Passages, seconds and passages per second of one whole build into a scratch folder."""
    index_dir = Path(tempfile.mkdtemp(prefix="ray-bench-", dir=work))
    try:
        built = build_documents(
            documents, settings.model_copy(update={"index_dir": index_dir}), embedder, embed=embed
        )
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "passages": built.passages,
        "seconds": round(built.seconds, 1),
        "passages_per_s": round(built.passages / built.seconds, 1),
    }


@contextmanager
def _actor_memory(every_s: float = 0.5) -> Iterator[dict[int, float]]:
    """Peak resident memory (MB, the kernel's VmHWM) of each embedding actor process started
    while the block runs, read from /proc every `every_s` seconds; filled in as they are seen.
    Actors already there (an earlier run's, shutting down) are left out."""
    peaks: dict[int, float] = {}
    done = threading.Event()

    def actors() -> list[Path]:
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if (proc / "cmdline").read_bytes().startswith(ACTOR_TITLE):
                    found.append(proc)
            except OSError:  # gone meanwhile
                continue
        return found

    earlier = set(actors())

    def watch() -> None:
        while not done.wait(every_s):
            for proc in set(actors()) - earlier:
                try:
                    status = (proc / "status").read_text()
                except OSError:  # gone meanwhile
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[int(proc.name)] = round(int(line.split()[1]) / 1024, 1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        done.set()
        watcher.join()


def ray_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: a table of the builds, one row each, then the serving tables."""
    info = report["machine"]
    lines = [
        f"Machine: {info['cpu'] or 'unknown CPU'}, {info['cpus_usable']} CPUs usable, "
        f"{info['memory_gb']} GB. Ray cluster: {report['cluster']['nodes']} nodes on 127.0.0.1, started in "
        f"{report['cluster']['start_s']} s.",
        "",
        "| build | actors | passages | seconds | passages/s | actor start-up s | passages/s after start-up "
        "| peak RSS per actor MB |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in report["builds"]:
        memory = ", ".join(str(value) for value in row.get("actor_peak_rss_mb", [])) or "-"
        lines.append(
            f"| {row['run']} | {row['actors']} | {row['passages']} | {row['seconds']} "
            f"| {row['passages_per_s']} | {row.get('actor_startup_s', '-')} "
            f"| {row.get('steady_passages_per_s', '-')} | {memory} |"
        )
    text = "\n".join(lines) + "\n"
    return text + "\n" + serving_markdown(report["serving"]) if "serving" in report else text
