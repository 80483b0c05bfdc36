"""What a `newsqa bench` run is: its options, the scale names it takes, the targets its figures
are set against, and the rounding they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.errors import NewsqaError

# The targets on 2 cores. Ratios are to the naive baseline's one-query embed (p50).
TARGETS = {
    "indexing_passages_per_s": (">=", 60.0),
    "http_ask_p50_over_naive": ("<=", 0.5),
    "http_ask_p99_over_naive": ("<=", 1.0),
    "http_4_clients_over_naive_rate": (">=", 2.0),
    "search_1m_p50_ms": ("<=", 5.0),
    "ann_recall_at_10": (">=", 0.98),
    # Live writes (`--writes`), judged on archives of 200k passages and more.
    "write_p50_ms": ("<=", 300.0),
    "write_p99_ms": ("<=", 1000.0),
    "search_p99_during_writes_over_idle": ("<=", 2.0),
    # Filtered search (a date range keeping 1%, 10%, 50% of the passages), judged at 200k
    # passages and more; and at every scale, a filtered search returns top_k whenever that many match.
    "filtered_search_p50_over_unfiltered": ("<=", 1.5),
    "filtered_search_complete": (">=", 1.0),
}
WRITE_TARGET_PASSAGES = 200_000
FILTERED_TARGET_PASSAGES = 200_000
VECTOR_ONLY = 1_000_000


class BenchError(NewsqaError):
    """A benchmark step that could not run (a server that did not start, a bad scale name)."""


@dataclass(frozen=True)
class BenchOptions:
    """What `newsqa bench` runs; the defaults are the full benchmark of docs/benchmarks.md."""

    scales: list[str] = field(default_factory=lambda: ["bundled", "20k", "200k", "1m"])
    backends: list[str] = field(default_factory=list)  # empty: every installed backend
    out: Path = Path("build/bench")
    throughput_passages: int = 2000
    questions: int = 0  # 0: all questions of eval/questions.jsonl
    duration_s: float = 15.0
    naive_runs: int = 100
    server_threads: list[int] = field(default_factory=lambda: [2, 1])
    real_embed_limit: int = 50_000
    sample_embed: int = 5000
    reuse: bool = False
    vector_queries: int = 200
    writes: int = 0  # articles posted to each scale's server (eval/bench/writes.py); 0: none


def parse_scale(name: str) -> int:
    """Passages of a scale name: 0 for "bundled", else "20k" -> 20000, "1m" -> 1000000, "5000"."""
    if name == "bundled":
        return 0
    match = re.fullmatch(r"(\d+)([km]?)", name.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"unknown scale {name!r}: use bundled or a passage count such as 20k, 200k, 1m")
    return int(match.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[match.group(2)]


def percentile(values: list[float], q: float) -> float:
    """The `q`th percentile of `values`, rounded to 0.01 as every timing of the report is."""
    return round(float(np.percentile(values, q)), 2)
