"""FAISS alone over a million synthetic vectors or more: the dense index the indexer would
build at that size, without the passages, the model or the service around it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from eval import ann
from eval.bench.options import TARGETS, K, percentile
from indexer.dense import build_dense, dense_spec, read_dense
from indexer.settings import Settings


def vector_run(count: int, settings: Settings, queries: int, work: Path) -> dict[str, Any]:
    """FAISS alone over `count` synthetic unit vectors (eval/ann.py): the dense index the indexer
    would build at this size, its build and load time, size, one-query latency and recall@10."""
    faiss.omp_set_num_threads(settings.threads)
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(max(100, count // 200), ann.DIMENSION)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors = ann.synthetic(count, topics, rng)
    probes = ann.synthetic(queries, topics, rng)
    exact = faiss.IndexFlatIP(ann.DIMENSION)
    exact.add(vectors)
    _, truth = exact.search(probes, K)
    exact_ms = _one_query_ms(exact, probes[:20])
    del exact
    spec = dense_spec(count, settings.index_type, settings.ann_threshold, settings.ivf_nprobe)
    path = work / f"vectors-{count}.faiss"
    try:
        started = time.perf_counter()
        faiss.write_index(build_dense(vectors, spec), str(path))
        build_s = round(time.perf_counter() - started, 1)
        del vectors
        before = ann.resident_mb()
        started = time.perf_counter()
        index = read_dense(path, spec)
        load_s = round(time.perf_counter() - started, 2)
        index.search(probes[:1], K)
        latencies = _one_query_ms(index, probes)
        _, found = index.search(probes, K)
        grown = {key: value - before[key] for key, value in ann.resident_mb().items()}
        size_mb = round(path.stat().st_size / 1e6, 1)
    finally:
        path.unlink(missing_ok=True)
    recall = ann.recall(found, truth)
    p50 = percentile(latencies, 50)
    return {
        "passages": count,
        "dense": spec,
        "build_s": build_s,
        "size_mb": size_mb,
        "load_s": load_s,
        "search_ms": {"p50": p50, "p99": percentile(latencies, 99)},
        "exact_search_ms_p50": percentile(exact_ms, 50),
        "recall_at_10": round(recall, 3),
        "resident_after_search_mb": grown,
        "pass": p50 <= TARGETS["search_1m_p50_ms"][1],
    }


def _one_query_ms(index: faiss.Index, queries: np.ndarray) -> list[float]:
    times = []
    for row in range(len(queries)):
        started = time.perf_counter()
        index.search(queries[row : row + 1], K)
        times.append((time.perf_counter() - started) * 1000)
    return times
