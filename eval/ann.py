"""Exact against approximate dense search on synthetic vectors: recall@10, latency, memory.

    python -m eval.ann --passages 1000000

Passages are unit vectors around `passages / 200` random topics, spread so that a query's best
match has a cosine near 0.73 and its 10th near 0.71 (many near ties, as in a news archive). The
approximate index is built and loaded through `indexer.dense`, as `newsqa index` does.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from indexer.dense import build_dense, dense_spec, read_dense

DIMENSION = 384
SPREAD = 0.035
QUERIES = 200
K = 10


def synthetic(count: int, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`count` unit vectors, each a random topic plus Gaussian noise, built in slices."""
    vectors = np.empty((count, topics.shape[1]), dtype=np.float32)
    for start in range(0, count, 100_000):
        size = min(100_000, count - start)
        noisy = topics[rng.integers(0, len(topics), size)] + rng.normal(
            scale=SPREAD, size=(size, topics.shape[1])
        ).astype(np.float32)
        vectors[start : start + size] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return vectors


def per_query_ms(index: faiss.Index, queries: np.ndarray) -> float:
    """Mean latency of one-query searches, as the service makes them."""
    started = time.perf_counter()
    for row in range(len(queries)):
        index.search(queries[row : row + 1], K)
    return (time.perf_counter() - started) / len(queries) * 1000


def resident_mb() -> dict[str, int]:
    """The process's anonymous and file-backed (page cache, e.g. memory-mapped) resident memory."""
    fields = dict(line.split(":") for line in Path("/proc/self/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) // 1024 for key in ("RssAnon", "RssFile")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    topics = rng.normal(size=(max(100, args.passages // 200), DIMENSION)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors = synthetic(args.passages, topics, rng)
    queries = synthetic(QUERIES, topics, rng)

    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    scores, truth = exact.search(queries, K)
    print(
        f"{args.passages} passages: best cosine {scores[:, 0].mean():.2f}, 10th {scores[:, -1].mean():.2f}; "
        f"flat {per_query_ms(exact, queries):.1f} ms/query, {vectors.nbytes / 1e6:.0f} MB in memory"
    )
    del exact

    spec = dense_spec(args.passages, "ivf-sq8", 0, nprobe=64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dense.faiss"
        started = time.perf_counter()
        faiss.write_index(build_dense(vectors, spec), str(path))
        print(f"{spec}: built in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e6:.0f} MB")
        del vectors
        before = resident_mb()
        approximate = read_dense(path, spec)
        for nprobe in (16, 32, 64, 128):
            faiss.extract_index_ivf(approximate).nprobe = nprobe
            _, found = approximate.search(queries, K)
            recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)])
            grown = {key: value - before[key] for key, value in resident_mb().items()}
            print(
                f"  nprobe {nprobe}: recall@10 {recall:.3f}, {per_query_ms(approximate, queries):.2f} "
                f"ms/query; resident since load {grown['RssAnon']} MB anonymous, "
                f"{grown['RssFile']} MB mapped file"
            )


if __name__ == "__main__":
    main()
