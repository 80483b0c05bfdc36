"""`newsqa serve` over one scale's index, in a process of its own, asked over HTTP: start-up
time, one client's latency, four clients' throughput and the server's memory."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eval.bench.options import BenchError, BenchOptions, percentile
from indexer.settings import PROJECT_ROOT

RSS_AFTER = 100  # /ask questions answered when the server's resident memory is read again (rss_after_100_mb)


@dataclass
class Server:
    """A started `newsqa serve` process: its pid, port, and seconds from start to its first
    /health 200."""

    pid: int
    port: int
    startup_s: float


@contextmanager
def serving(
    index_dir: Path,
    backend: str,
    threads: int,
    log_path: Path,
    env: dict[str, str] | None = None,
    arguments: Sequence[str] = (),
    stop: signal.Signals = signal.SIGINT,
) -> Iterator[Server]:
    """`newsqa serve` over `index_dir` on a free loopback port, with `arguments` added (such as
    `--ray ADDRESS --shards 2`), in its own process as a user starts it (`env` added to this
    one's environment), until the block ends, when it is sent `stop` and waited for; its output
    goes to `log_path`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NEWSQA_THREADS": str(threads),
        "NEWSQA_BACKEND": backend,
        **(env or {}),
    }
    command = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    with log_path.open("w") as log:
        started = time.perf_counter()
        server = subprocess.Popen(
            [*command, "--index-dir", str(index_dir), "--port", str(port), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=PROJECT_ROOT,
        )
        try:
            startup_s = wait_healthy(server, f"http://127.0.0.1:{port}", log_path, started)
            yield Server(server.pid, port, startup_s)
        finally:
            server.send_signal(stop)
            try:
                server.wait(timeout=60)  # Ray Serve takes its deployments and proxy down first
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def http_run(
    index_dir: Path,
    backend: str,
    threads: int,
    questions: list[str],
    options: BenchOptions,
    work: Path,
) -> dict[str, Any]:
    """`newsqa serve` over `index_dir` in its own process: start-up time, one client's /ask
    latency, four clients' requests per second, and the server's resident memory at start-up
    (first /health 200), after `RSS_AFTER` questions and at its peak."""
    log_path = work / f"serve-{index_dir.name}-threads{threads}.log"
    with serving(index_dir, backend, threads, log_path) as server:
        rss_start_mb = _memory_mb(server.pid, "VmRSS")
        one, rss_after_mb = _one_client(server.port, questions, server.pid)
        load = clients(
            server.port, lambda client, n: client.ask(questions[n % len(questions)]), 4, options.duration_s
        )
        peak_rss_mb = _memory_mb(server.pid, "VmHWM")
    return {
        "threads": threads,
        "startup_s": server.startup_s,
        "ask_1_client_ms": one,
        "ask_4_clients_per_s": round(len(load.ms) / load.seconds, 1),
        "errors": load.failed,
        "rss_start_mb": rss_start_mb,
        "rss_after_100_mb": rss_after_mb,
        "peak_rss_mb": peak_rss_mb,
    }


def wait_healthy(server: subprocess.Popen[bytes], url: str, log: Path, started: float) -> float:
    deadline = started + 600
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise BenchError(f"newsqa serve exited with {server.returncode}: {' '.join(tail)} (see {log})")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return round(time.perf_counter() - started, 2)
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise BenchError(f"newsqa serve did not answer /health within 600 s (see {log})")


class Client:
    """One keep-alive connection that makes requests and reads each whole answer.

    The load generator runs on the same 2 cores as the server, so it is the standard
    library's `http.client`: httpx cost about 0.7 ms more a request here, client time that
    would be counted as the server's latency and taken from its throughput.
    """

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: str | None = None) -> int:
        """The HTTP status of `method path` with JSON `body`; the connection is closed on a
        failure, and the next request reconnects."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise
        return response.status

    def ask(self, question: str) -> int:
        """The HTTP status of `/ask` for `question`."""
        return self.request("POST", "/ask", json.dumps({"question": question}))

    def search(self, query: str) -> int:
        """The HTTP status of `/search` for `query`."""
        return self.request("GET", f"/search?{urllib.parse.urlencode({'q': query})}")

    def close(self) -> None:
        self.connection.close()


@dataclass
class Load:
    """What clients got from the server: the latency of each request answered (status 200)
    in ms, how many requests failed, and the seconds they ran."""

    ms: list[float]
    failed: int
    seconds: float


def clients(
    port: int,
    request: Callable[[Client, int], int],
    count: int,
    duration: float,
    work: Callable[[], None] = lambda: None,
) -> Load:
    """`count` clients, each on a connection of its own, client k calling `request(client, n)`
    (an HTTP status) for n = k, k + count, k + 2 count... one after another, from when all are
    ready until `duration` seconds have passed and `work()`, run meanwhile in this thread, has
    returned."""
    times: list[float] = []
    failed = [0]
    lock = threading.Lock()
    stop = threading.Event()
    start = threading.Barrier(count + 1)

    def run(number: int) -> None:
        client = Client(port)
        try:
            start.wait()
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    ok = request(client, number) == 200
                except (OSError, http.client.HTTPException):  # a dropped connection counts as a failure
                    ok = False
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if ok:
                        times.append(elapsed)
                    else:
                        failed[0] += 1
                number += count
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    try:
        work()
        time.sleep(max(0.0, started + duration - time.perf_counter()))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return Load(times, failed[0], time.perf_counter() - started)


def _one_client(port: int, questions: list[str], pid: int) -> tuple[dict[str, float], float]:
    """One client asking `questions` in turn after three of them to warm up: its latencies, and
    the resident memory of the server (`pid`) once it has answered `RSS_AFTER` questions,
    warm-up included; a shorter run then asks on, untimed, through the questions cycled."""
    plan = [(question, False) for question in questions[:3]] + [(question, True) for question in questions]
    extra = range(RSS_AFTER - len(plan))
    plan += [(questions[number % len(questions)], False) for number in extra]
    times = []
    rss_mb = 0.0
    asker = Client(port)
    try:
        for number, (question, timed) in enumerate(plan, start=1):
            started = time.perf_counter()
            status = asker.ask(question)
            elapsed = (time.perf_counter() - started) * 1000
            _ok(status)
            if timed:
                times.append(elapsed)
            if number == RSS_AFTER:
                rss_mb = _memory_mb(pid, "VmRSS")
    finally:
        asker.close()
    return {"p50": percentile(times, 50), "p99": percentile(times, 99)}, rss_mb


def _ok(status: int) -> None:
    if status != 200:
        raise BenchError(f"/ask answered HTTP {status}")


def _memory_mb(pid: int, field: str) -> float:
    """A memory line of the process's status in MB: VmRSS (resident now) or VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise BenchError(f"no {field} for process {pid}")
