"""FAISS alone over a million synthetic vectors or more: the dense index the indexer would
build at that size, without the passages, the model or the service around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss

from eval import ann
from eval.bench.options import TARGETS, percentile
from indexer.dense import dense_spec
from indexer.settings import Settings


def vector_run(count: int, settings: Settings, queries: int, work: Path) -> dict[str, Any]:
    """FAISS alone over `count` synthetic unit vectors (eval/ann.py, whose benchmark this runs):
    the dense index the indexer would build at this size, its build and load time, size,
    one-query latency and recall@10."""
    faiss.omp_set_num_threads(settings.threads)
    vectors, probes = ann.clustered(count, queries)
    _, truth, exact_ms = ann.exact(vectors, probes, 20)
    spec = dense_spec(count, settings.index_type, settings.ann_threshold, settings.ivf_nprobe)
    path = work / f"vectors-{count}.faiss"
    try:
        build_s = round(ann.build(vectors, spec, path), 1)
        del vectors
        index, load_s, before = ann.load(path, spec)
        searched = ann.measure(index, probes, truth, before)
        size_mb = round(path.stat().st_size / 1e6, 1)
    finally:
        path.unlink(missing_ok=True)
    p50 = percentile(searched.times_ms, 50)
    return {
        "passages": count,
        "dense": spec,
        "build_s": build_s,
        "size_mb": size_mb,
        "load_s": round(load_s, 2),
        "search_ms": {"p50": p50, "p99": percentile(searched.times_ms, 99)},
        "exact_search_ms_p50": percentile(exact_ms, 50),
        "recall_at_10": round(searched.recall, 3),
        "resident_after_search_mb": searched.grown_mb,
        "pass": p50 <= TARGETS["search_1m_p50_ms"][1],
    }
