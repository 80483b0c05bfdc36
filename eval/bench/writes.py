"""Live writes into one scale's archive, as a newsroom's feed makes them: `newsqa serve` over a
copy of the scale's index, articles posted one after another to `POST /documents` (each found
by `/search` right after its answer), first alone (the latency of a write), then while four
clients search (writes/s, and the searches' latency before, during and after the writes);
the merges the server made, and its errors."""

from __future__ import annotations

import http.client
import json
import random
import secrets
import shutil
import string
import time
import urllib.parse
from pathlib import Path
from typing import Any

from eval.bench.options import BenchError, BenchOptions, percentile
from eval.bench.serving import Client, Load, clients, serving

SEARCHERS = 4
# Writes timed with nothing else running, before the run with searchers.
ALONE = 100


def writes_run(
    index_dir: Path,
    backend: str,
    threads: int,
    articles: list[tuple[str, str]],
    queries: list[str],
    options: BenchOptions,
    work: Path,
) -> dict[str, Any]:
    """Articles (titles and texts of `articles`, cycled, each given a new id and a word of its
    own) posted in turn to a server over a copy of `index_dir`, each looked up by that word right
    after its answer: `ALONE` (at most `options.writes`) with nothing else running, then
    `options.writes` while `SEARCHERS` clients run `queries`; the clients also run for
    `options.duration_s` before the writes (idle) and after them."""
    copy = work / f"writes-{index_dir.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_dir, copy, symlinks=True)  # the scale's own index stays as it was
    token = secrets.token_urlsafe(16)
    log_path = work / f"serve-writes-{index_dir.name}.log"
    with serving(copy, backend, threads, log_path, {"NEWSQA_ADMIN_TOKEN": token}) as server:
        alone = _write(server.port, token, articles, range(min(ALONE, options.writes)))
        writes: dict[str, Any] = {}

        def write() -> None:
            numbers = range(alone["writes"], alone["writes"] + options.writes)
            writes.update(_write(server.port, token, articles, numbers))

        def search(client: Client, number: int) -> int:
            return client.search(queries[number % len(queries)])

        idle = clients(server.port, search, SEARCHERS, options.duration_s)
        during = clients(server.port, search, SEARCHERS, 0, write)
        merges = _merges(server.port)
        after = clients(server.port, search, SEARCHERS, options.duration_s)  # more segments now
    return {
        "threads": threads,
        "alone": alone,
        **writes,
        **merges,
        "search_idle_ms": _latency(idle),
        "search_during_ms": _latency(during),
        "search_after_ms": _latency(after),
        "search_p99_during_over_idle": round(_latency(during)["p99"] / max(_latency(idle)["p99"], 1e-9), 2),
        "search_errors": idle.failed + during.failed,
    }


def _write(port: int, token: str, articles: list[tuple[str, str]], numbers: range) -> dict[str, Any]:
    """Post the articles `numbers` one after another; each is searched for by its own word at once."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    times, missed, started = [], 0, time.perf_counter()
    try:
        for number in numbers:
            title, text = articles[number % len(articles)]
            # A made-up word of its own: twelve random letters, too unlike another article's
            # word for cross-lingual search to take one for a cognate of the other.
            word = "".join(random.Random(number).choices(string.ascii_lowercase, k=12))
            body = {
                "id": f"bench-write-{number}",
                "title": f"{title} ({number})",
                "text": f"{word}.\n\n{text}",
            }
            posted = time.perf_counter()
            connection.request("POST", "/documents", json.dumps(body), headers)
            response = connection.getresponse()
            answer = response.read()
            times.append((time.perf_counter() - posted) * 1000)
            if response.status not in (200, 201):
                raise BenchError(f"POST /documents answered HTTP {response.status}: {answer[:200]!r}")
            query = urllib.parse.urlencode({"q": word, "top_k": 5, "mode": "lexical"})
            connection.request("GET", f"/search?{query}")
            found = json.loads(connection.getresponse().read())["results"]
            missed += body["id"] not in {result["doc_id"] for result in found}
    finally:
        connection.close()
    total = time.perf_counter() - started
    count = len(numbers)
    return {
        "writes": count,
        "write_ms": {"p50": percentile(times, 50), "p99": percentile(times, 99)},
        "writes_total_s": round(total, 2),
        "writes_per_s": round(count / total, 2),
        "not_found_after_write": missed,
    }


def _merges(port: int) -> dict[str, Any]:
    """The server's merges so far (count, seconds in all) and its segments now, from /metrics."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (
            "newsqa_merge_duration_seconds_count",
            "newsqa_merge_duration_seconds_sum",
            "newsqa_index_segments",
        ):
            values[name] = float(value)
    return {
        "merges": int(values.get("newsqa_merge_duration_seconds_count", 0)),
        "merge_total_s": round(values.get("newsqa_merge_duration_seconds_sum", 0.0), 2),
        "segments_after": int(values.get("newsqa_index_segments", 0)),
    }


def _latency(load: Load) -> dict[str, float]:
    """p50 and p99 of the searches answered."""
    if not load.ms:
        raise BenchError("no search was answered")
    return {"p50": percentile(load.ms, 50), "p99": percentile(load.ms, 99)}
