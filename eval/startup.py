"""Start-up costs a user meets, measured as a user runs the commands.

    python -m eval.startup [--runs 5] [--index-dir DIR] [--questions 100]

- `newsqa --help` wall time against `python -c "import click"` in the same run (the floor: the
  interpreter and the CLI library), as a ratio;
- a cold one-off `newsqa ask` (a new process: imports, model and index load, one question);
- `newsqa serve` on a free loopback port: process start to the first /health 200 and to the
  first /ask answer, then its resident memory (VmRSS) after start-up and after `--questions`
  questions from eval/questions.jsonl.

Each timing is the median of `--runs` runs. The index is the one `newsqa serve` would use
(`--index-dir`, else NEWSQA_INDEX_DIR or ./index); build it first (`newsqa index`) so that
no run pays for a build.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

QUESTION = "what did Nghiem ask of Van Son ward"
QUESTIONS = Path(__file__).with_name("questions.jsonl")


def newsqa_command() -> list[str]:
    """The `newsqa` console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("newsqa")
    found = str(script) if script.exists() else shutil.which("newsqa")
    if found is None:
        raise SystemExit("newsqa is not installed in this environment (pip install -e .)")
    return [found]


def wall(command: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall seconds of `command`, run `runs` times; it must succeed."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise SystemExit(f"no VmRSS for process {pid}")


def ask(port: int, question: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/ask",
        data=json.dumps({"question": question}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def serve_run(newsqa: list[str], env: dict[str, str], questions: list[str]) -> dict[str, float]:
    """Start `newsqa serve`, time its first /health and first answer, read its memory."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    started = time.perf_counter()
    server = subprocess.Popen(
        [*newsqa, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"newsqa serve exited with {server.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        healthy = time.perf_counter() - started
        at_start = resident_mb(server.pid)
        ask(port, QUESTION)
        answered = time.perf_counter() - started
        for question in questions:
            ask(port, question)
        return {
            "health_s": healthy,
            "first_answer_s": answered,
            "rss_start_mb": at_start,
            "rss_after_mb": resident_mb(server.pid),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per timing (the median counts)")
    parser.add_argument("--index-dir", type=Path, help="the index to load (default: newsqa's)")
    parser.add_argument("--questions", type=int, default=100, help="questions asked before memory is read")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if args.index_dir is not None:
        env["NEWSQA_INDEX_DIR"] = str(args.index_dir)
    newsqa = newsqa_command()
    asked = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    questions = list(itertools.islice(itertools.cycle(asked), args.questions))

    click = wall([sys.executable, "-c", "import click"], args.runs, env)
    help_ = wall([*newsqa, "--help"], args.runs, env)
    one_off = wall([*newsqa, "ask", QUESTION], args.runs, env)
    serves = [serve_run(newsqa, env, questions) for _ in range(args.runs)]
    served = {key: statistics.median(run[key] for run in serves) for key in serves[0]}
    print("| measure | median |")
    print("|---|---:|")
    print(f"| `python -c 'import click'` | {click:.3f} s |")
    print(f"| `newsqa --help` | {help_:.3f} s ({help_ / click:.2f}x) |")
    print(f"| `newsqa ask` (one-off, cold process) | {one_off:.2f} s |")
    print(f"| `newsqa serve`: start to first /health 200 | {served['health_s']:.2f} s |")
    print(f"| `newsqa serve`: start to first answer | {served['first_answer_s']:.2f} s |")
    print(f"| `newsqa serve` resident memory after start-up | {served['rss_start_mb']:.0f} MB |")
    print(f"| ... after {args.questions} questions | {served['rss_after_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
