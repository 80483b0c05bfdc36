"""Exact against approximate dense search on synthetic vectors: recall@10, latency, memory.

    python -m eval.ann --passages 1000000
    python -m eval.ann --passages 1000000 --keep DIR   # also keep the index, queries and truth
    python -m eval.ann --search DIR                    # only load DIR's index and search it

`--search` loads nothing but the index file, so its memory can be measured on its own, e.g.
in a cgroup limited to 1 GiB after dropping the page cache (see docs/benchmarks.md).

Passages are unit vectors around `passages / 200` random topics, spread so that a query's best
match has a cosine near 0.73 and its 10th near 0.71 (many near ties, as in a news archive). The
approximate index is built and loaded through `indexer.dense`, as `newsqa index` does.

The functions above `main` are the vector benchmark itself, which `newsqa bench` runs from a
million passages up (eval/bench/vectors.py): the vectors, the exact neighbours, the build, the
load and what a loaded index's searches cost.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def clustered(count: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` passages and `queries` queries, all unit vectors around the same
    `max(100, count // 200)` random topics, drawn from a generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(max(100, count // 200), DIMENSION)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    return synthetic(count, topics, rng), synthetic(queries, topics, rng)


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


def exact(vectors: np.ndarray, queries: np.ndarray, timed: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The cosines and ids of each query's K nearest `vectors` by exact search, and the one-query
    latencies (ms) of exact search over the first `timed` queries."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    scores, truth = flat.search(queries, K)
    return scores, truth, query_times_ms(flat, queries[:timed])


def build(vectors: np.ndarray, spec: dict[str, Any], path: Path) -> float:
    """Build the dense index `spec` describes over `vectors` into `path`; returns the seconds."""
    started = time.perf_counter()
    faiss.write_index(build_dense(vectors, spec), str(path))
    return time.perf_counter() - started


def load(path: Path, spec: dict[str, Any]) -> tuple[faiss.Index, float, dict[str, int]]:
    """The index at `path`, loaded as the service loads it; the seconds that took, and the
    resident memory (`resident_mb`) before it, from which `measure` counts what it grew by."""
    before = resident_mb()
    started = time.perf_counter()
    index = read_dense(path, spec)
    return index, time.perf_counter() - started, before


@dataclass(frozen=True)
class Searched:
    """What searching a loaded index cost: recall@K, each query's latency, memory grown."""

    recall: float
    times_ms: list[float]
    grown_mb: dict[str, int]


def measure(index: faiss.Index, queries: np.ndarray, truth: np.ndarray, before: dict[str, int]) -> Searched:
    """Search `queries` all at once for recall@K against `truth`, then each on its own, as the
    service does, timing each; and the resident memory grown since `before`."""
    _, found = index.search(queries, K)
    share = recall(found, truth)
    times = query_times_ms(index, queries)
    return Searched(share, times, {key: value - before[key] for key, value in resident_mb().items()})


def query_times_ms(index: faiss.Index, queries: np.ndarray) -> list[float]:
    """The latency of each one-query search, in ms."""
    times = []
    for row in range(len(queries)):
        started = time.perf_counter()
        index.search(queries[row : row + 1], K)
        times.append((time.perf_counter() - started) * 1000)
    return times


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
    vectors, queries = clustered(args.passages, QUERIES)
    scores, truth, exact_ms = exact(vectors, queries, len(queries))
    print(
        f"{args.passages} passages: best cosine {scores[:, 0].mean():.2f}, 10th {scores[:, -1].mean():.2f}; "
        f"flat {np.mean(exact_ms):.1f} ms/query, {vectors.nbytes / 1e6:.0f} MB in memory"
    )

    spec = dense_spec(args.passages, "ivf-sq8", 0, nprobe=Settings().ivf_nprobe)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "dense.faiss"
        seconds = build(vectors, spec, path)
        print(f"{spec}: built in {seconds:.0f} s, {path.stat().st_size / 1e6:.0f} MB")
        del vectors
        if args.keep:
            (folder / "spec.json").write_text(json.dumps(spec) + "\n")
            np.save(folder / "queries.npy", queries)
            np.save(folder / "truth.npy", truth)
        report(path, spec, queries, truth, [16, 32, 64, 128])


def report(
    path: Path, spec: dict[str, Any], queries: np.ndarray, truth: np.ndarray, probes: list[int]
) -> None:
    """Load the index at `path` and print recall@10, latency and resident memory per nprobe
    (the first round also reads the pages it needs from disk, if they are not cached)."""
    approximate, seconds, before = load(path, spec)
    print(f"loaded in {seconds:.2f} s")
    for nprobe in probes:
        faiss.extract_index_ivf(approximate).nprobe = nprobe
        searched = measure(approximate, queries, truth, before)
        print(
            f"  nprobe {nprobe}: recall@10 {searched.recall:.3f}, {np.mean(searched.times_ms):.2f} ms/query; "
            f"resident since load {searched.grown_mb['RssAnon']} MB anonymous, "
            f"{searched.grown_mb['RssFile']} MB mapped file"
        )


if __name__ == "__main__":
    main()
