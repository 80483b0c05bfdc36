"""Exact against approximate dense search on synthetic vectors: recall@10, latency, memory.

    python -m eval.ann --passages 1000000
    python -m eval.ann --passages 1000000 --keep DIR   # also keep the index, queries and truth
    python -m eval.ann --search DIR                    # only load DIR's index and search it

`--search` loads nothing but the index file, so its memory can be measured on its own, e.g.
in a cgroup limited to 1 GiB after dropping the page cache (see docs/benchmarks.md).

Passages are unit vectors around `passages / 200` random topics, spread so that a query's best
match has a cosine near 0.73 and its 10th near 0.71 (many near ties, as in a news archive). The
approximate index is built and loaded through `indexer.dense`, as `newsqa index` does.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import indexer  # noqa: F401  (before faiss: it sets how long OpenMP threads spin, read as faiss loads)

# isort: split
import faiss
import numpy as np

from indexer.dense import build_dense, dense_spec, read_dense
from indexer.settings import Settings

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


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of `truth` (exact nearest neighbours) that `found` holds too."""
    return float(np.mean([len(set(a) & set(b)) / truth.shape[1] for a, b in zip(found, truth, strict=True)]))


def resident_mb() -> dict[str, int]:
    """The process's anonymous and file-backed (page cache, e.g. memory-mapped) resident memory."""
    fields = dict(line.split(":") for line in Path("/proc/self/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) // 1024 for key in ("RssAnon", "RssFile")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the index, queries and truth into this folder")
    parser.add_argument("--search", type=Path, help="search the index a --keep run left in this folder")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    if args.search:
        spec = json.loads((args.search / "spec.json").read_text())
        queries, truth = np.load(args.search / "queries.npy"), np.load(args.search / "truth.npy")
        report(args.search / "dense.faiss", spec, queries, truth, [int(spec["nprobe"])] * 3)
        return
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

    spec = dense_spec(args.passages, "ivf-sq8", 0, nprobe=Settings().ivf_nprobe)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "dense.faiss"
        started = time.perf_counter()
        faiss.write_index(build_dense(vectors, spec), str(path))
        print(f"{spec}: built in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e6:.0f} MB")
        del vectors
        if args.keep:
            (folder / "spec.json").write_text(json.dumps(spec) + "\n")
            np.save(folder / "queries.npy", queries)
            np.save(folder / "truth.npy", truth)
        report(path, spec, queries, truth, [16, 32, 64, 128])


def report(
    path: Path, spec: dict[str, object], queries: np.ndarray, truth: np.ndarray, probes: list[int]
) -> None:
    """Load the index at `path` and print recall@10, latency and resident memory per nprobe
    (the first round also reads the pages it needs from disk, if they are not cached)."""
    before = resident_mb()
    started = time.perf_counter()
    approximate = read_dense(path, spec)
    print(f"loaded in {time.perf_counter() - started:.2f} s")
    for nprobe in probes:
        faiss.extract_index_ivf(approximate).nprobe = nprobe
        _, found = approximate.search(queries, K)
        share = recall(found, truth)
        latency = per_query_ms(approximate, queries)
        grown = {key: value - before[key] for key, value in resident_mb().items()}
        print(
            f"  nprobe {nprobe}: recall@10 {share:.3f}, {latency:.2f} ms/query; resident since load "
            f"{grown['RssAnon']} MB anonymous, {grown['RssFile']} MB mapped file"
        )


if __name__ == "__main__":
    main()
