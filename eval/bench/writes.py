"""Live writes into one scale's archive, as a newsroom's feed makes them: `newsqa serve` over a
copy of the scale's index, articles posted one after another to `POST /documents` (each found
by `/search` right after its answer), while four clients search; their latency before and
during the writes, and the server's errors."""

from __future__ import annotations

import http.client
import json
import random
import secrets
import shutil
import string
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench.options import BenchError, BenchOptions, percentile
from eval.bench.serving import serving

SEARCHERS = 4


def writes_run(
    index_dir: Path,
    backend: str,
    threads: int,
    articles: list[tuple[str, str]],
    queries: list[str],
    options: BenchOptions,
    work: Path,
) -> dict[str, Any]:
    """`options.writes` articles (titles and texts of `articles`, cycled, each given a new id and
    a word of its own) posted in turn to a server over a copy of `index_dir`, each looked up by
    that word right after its answer; `SEARCHERS` clients run `queries` for `options.duration_s`
    before the writes (idle) and all through them."""
    copy = work / f"writes-{index_dir.name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_dir, copy, symlinks=True)  # the scale's own index stays as it was
    token = secrets.token_urlsafe(16)
    log_path = work / f"serve-writes-{index_dir.name}.log"
    with serving(copy, backend, threads, log_path, {"NEWSQA_ADMIN_TOKEN": token}) as server:
        idle = _searching(server.port, queries, lambda: None, options.duration_s)
        writes: dict[str, Any] = {}
        during = _searching(
            server.port,
            queries,
            lambda: writes.update(_write(server.port, token, articles, options.writes)),
            0,
        )
    return {
        "threads": threads,
        **writes,
        "search_idle_ms": idle["ms"],
        "search_during_ms": during["ms"],
        "search_p99_during_over_idle": round(during["ms"]["p99"] / max(idle["ms"]["p99"], 1e-9), 2),
        "search_errors": idle["errors"] + during["errors"],
    }


def _write(port: int, token: str, articles: list[tuple[str, str]], count: int) -> dict[str, Any]:
    """Post `count` articles one after another; each is searched for by its own word at once."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    times, missed, started = [], 0, time.perf_counter()
    try:
        for number in range(count):
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
    return {
        "writes": count,
        "write_ms": {"p50": percentile(times, 50), "p99": percentile(times, 99)},
        "writes_total_s": round(total, 2),
        "writes_per_s": round(count / total, 2),
        "not_found_after_write": missed,
    }


def _searching(port: int, queries: list[str], work: Callable[[], None], duration: float) -> dict[str, Any]:
    """`SEARCHERS` clients searching `queries` while `work()` runs in this thread, and for at
    least `duration` seconds: their latencies and failed requests."""
    stop = threading.Event()
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        asked = number
        try:
            while not stop.is_set():
                query = urllib.parse.urlencode({"q": queries[asked % len(queries)]})
                started = time.perf_counter()
                try:
                    connection.request("GET", f"/search?{query}")
                    response = connection.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    connection.close()  # a dropped connection counts as a failure; the next reconnects
                    ok = False
                with lock:
                    if ok:
                        times.append((time.perf_counter() - started) * 1000)
                    else:
                        errors[0] += 1
                asked += SEARCHERS
        finally:
            connection.close()

    clients = [threading.Thread(target=client, args=(number,)) for number in range(SEARCHERS)]
    for thread in clients:
        thread.start()
    deadline = time.perf_counter() + duration
    try:
        work()
        time.sleep(max(0.0, deadline - time.perf_counter()))
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    if not times:
        raise BenchError("no search was answered")
    return {"ms": {"p50": percentile(times, 50), "p99": percentile(times, 99)}, "errors": errors[0]}
