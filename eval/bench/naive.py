"""The naive baseline every timing is set against, and an HTTP run's ratios to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from eval.bench.options import TARGETS, BenchError, percentile
from indexer import DEFAULTED_ENV
from indexer.embed import resolve_model
from indexer.settings import Settings


class NaiveBaseline:
    """Plain sentence-transformers on torch, on the CPU, embedding one query at a time.

    It runs in a process of its own that imports nothing of newsqa, in the environment the
    bench was started with (without what `indexer` sets on import, `DEFAULTED_ENV`), so that
    it is the baseline a plain install gives.
    """

    SCRIPT = """
import json, sys, time
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
query, runs = sys.argv[2], int(sys.argv[3])
for _ in range(5):
    model.encode(query)
times = []
for _ in range(runs):
    started = time.perf_counter()
    model.encode(query)
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps(times))
"""

    def __init__(self, query: str) -> None:
        self.model = resolve_model(Settings().model)
        self.query = query

    def measure(self, runs: int) -> dict[str, Any]:
        """p50/p99 of `runs` one-query encodes (after 5 unmeasured), and the rate p50 gives."""
        environment = {name: value for name, value in os.environ.items() if name not in DEFAULTED_ENV}
        command = [sys.executable, "-c", self.SCRIPT, self.model, self.query, str(runs)]
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:]
            raise BenchError(f"the naive baseline failed ({done.returncode}): {' '.join(tail)}")
        times = json.loads(done.stdout.strip().splitlines()[-1])
        p50 = percentile(times, 50)
        return {
            "what": "SentenceTransformer(model, device='cpu').encode(one query), torch, own process",
            "runs": runs,
            "p50_ms": p50,
            "p99_ms": percentile(times, 99),
            "rate_per_s": round(1000 / p50, 1),
        }


def against_naive(run: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """An HTTP `run`'s ratios to the naive baseline measured `before` and `after` it, whichever
    reading was faster: a reading slowed by the machine's other load would flatter the ratios
    (one such reading was twice the other)."""
    naive = min(before, after, key=lambda reading: reading["p50_ms"])
    p50_ratio = round(run["ask_1_client_ms"]["p50"] / naive["p50_ms"], 2)
    p99_ratio = round(run["ask_1_client_ms"]["p99"] / naive["p50_ms"], 2)
    rate_ratio = round(run["ask_4_clients_per_s"] / naive["rate_per_s"], 2)
    return {
        "naive_p50_ms": naive["p50_ms"],
        "naive_p50_ms_before_after": [before["p50_ms"], after["p50_ms"]],
        "p50_over_naive": p50_ratio,
        "p99_over_naive": p99_ratio,
        "rate_over_naive": rate_ratio,
        "pass_p50": p50_ratio <= TARGETS["http_ask_p50_over_naive"][1],
        "pass_p99": p99_ratio <= TARGETS["http_ask_p99_over_naive"][1],
        "pass_rate": rate_ratio >= TARGETS["http_4_clients_over_naive_rate"][1],
    }
