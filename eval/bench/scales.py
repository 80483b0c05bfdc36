"""One scale of the benchmark in this process: its index built (with `SampledEmbedder` above
`real_embed_limit` passages), then its load time, size, search and ask latency, and recall@10
of its dense index against exact search."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from eval import ann
from eval.bench.filtered import filtered_search
from eval.bench.options import BenchOptions, percentile
from eval.synth import write_archive
from indexer.build import build_documents, load_documents
from indexer.embed import Embedder
from indexer.settings import Settings
from service.core.index import Index

SPREAD = 0.035  # noise per dimension of a perturbed vector: cosine about 0.8 to its source


class SampledEmbedder(Embedder):
    """The given embedder for the first `sample` texts of a build; each further text gets a copy
    of one of their vectors (chosen by a seeded generator) with Gaussian noise, renormalised.

    Only for benchmarking archives too large to embed on 2 cores in a bench run: the index has
    the real passage count, texts and BM25 terms, but its vectors beyond the sample do not
    describe their passages. Builds embed through `embed_spans`, the one method sampled here;
    queries go through `embed` and are embedded for real.
    """

    def __init__(self, embedder: Embedder, sample: int, seed: int = 0) -> None:
        self.__dict__.update(embedder.__dict__)  # the same loaded model, not a copy
        self.sample = sample
        self.seed = seed

    def embed_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `embed`: real vectors for the sample; beyond it, each passage a noisy copy and
        each of its sentences a noisy copy of the passage's."""
        if len(texts) <= self.sample:
            return super().embed_spans(texts, spans, batch_size, progress)
        real, real_spans = super().embed_spans(
            texts[: self.sample], spans[: self.sample], batch_size, progress
        )
        rng = np.random.default_rng(self.seed)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[: self.sample] = real
        rest = len(texts) - self.sample
        noise = rng.normal(scale=SPREAD, size=(rest, self.dimension))
        noisy = real[rng.integers(0, self.sample, rest)] + noise
        vectors[self.sample :] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        owners = np.repeat(np.arange(self.sample, len(texts)), [len(each) for each in spans[self.sample :]])
        sentences = vectors[owners] + rng.normal(scale=SPREAD, size=(len(owners), self.dimension))
        sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
        return vectors, np.concatenate([real_spans, sentences.astype(np.float32)])


def build_scale(
    name: str, count: int, settings: Settings, embedder: Embedder, options: BenchOptions, work: Path
) -> tuple[Settings, dict[str, Any]]:
    """Index one scale into `work/index-NAME` (or reuse it); returns its settings and a report row."""
    scale_settings = settings.model_copy(update={"index_dir": work / f"index-{name}"})
    sampled = count > options.real_embed_limit
    row: dict[str, Any] = {
        "scale": name,
        "embedded": f"{options.sample_embed} real, rest perturbed" if sampled else "all",
    }
    record = work / f"index-{name}.build.json"  # the build's figures, for --reuse
    if options.reuse and (scale_settings.index_dir / "current").exists() and record.exists():
        return scale_settings, {**json.loads(record.read_text()), "reused": True}
    documents, _ = load_documents([settings.articles_dir])  # first: their vectors are always real
    if count:
        archive = work / f"synth-{name}.jsonl"
        write_archive(archive, count, settings)
        documents += load_documents([archive])[0]
    use = SampledEmbedder(embedder, options.sample_embed) if sampled else embedder
    # full: an earlier run's version in the same folder must not serve its vectors from cache.
    built = build_documents(documents, scale_settings, use, progress=sys.stderr.isatty(), full=True)
    row["build_s"] = round(built.seconds, 1)
    if not sampled:
        row["indexing_passages_per_s"] = round(built.passages / built.seconds, 1)
    record.write_text(json.dumps(row) + "\n")
    return scale_settings, row


def in_process(settings: Settings, embedder: Embedder, questions: list[str]) -> dict[str, Any]:
    """Index.load time, search and ask latency in this process, filtered search latency
    (eval/bench/filtered.py), size on disk, ANN recall@10."""
    started = time.perf_counter()
    index = Index.load(settings, embedder)
    load_s = round(time.perf_counter() - started, 2)
    index.embedder.warm_up()  # as the service does before it answers
    index.ask(questions[0])  # warm caches
    search_ms, ask_ms = [], []
    for question in questions:
        started = time.perf_counter()
        index.search(question)
        search_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
    dense: dict[str, Any] = index.manifest["dense"]  # type: ignore[assignment]
    largest = max(index.stored.segments, key=lambda segment: len(segment.passages))
    files = [path for segment in index.stored.segments for path in segment.path.iterdir()]
    return {
        "documents": len(index.documents),
        "passages": index.passage_count,
        "dense": dense["type"],
        "size_mb": round(sum(path.stat().st_size for path in files) / 1e6, 1),
        "load_s": load_s,
        "search_ms": {"p50": percentile(search_ms, 50), "p99": percentile(search_ms, 99)},
        "ask_ms": {"p50": percentile(ask_ms, 50), "p99": percentile(ask_ms, 99)},
        "filtered": filtered_search(index, questions),
        "recall_at_10": dense_recall(largest.dense, embedder.embed(questions, query=True)),
    }


def dense_recall(dense: faiss.Index, queries: np.ndarray) -> float:
    """recall@10 of the served dense index against exact search over the same vectors."""
    inner = faiss.downcast_index(dense)
    flat = inner.refine_index if isinstance(inner, faiss.IndexRefine) else inner
    exact = faiss.IndexFlatIP(dense.d)
    exact.add(flat.reconstruct_n(0, flat.ntotal))
    depth = min(ann.K, dense.ntotal)
    _, truth = exact.search(queries, depth)
    _, found = dense.search(queries, depth)
    return round(ann.recall(found, truth), 3)
