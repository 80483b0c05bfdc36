"""`newsqa bench`: indexing throughput, latency, memory, size and ANN recall at several archive
scales, each set against a naive baseline measured in the same run.

The baseline is what a user would write without newsqa: `SentenceTransformer(model, device="cpu")`
on torch, `encode` of one query. Its time is measured again right before and right after each
HTTP run, and the faster reading is used, so the ratios (ask latency / baseline embed time,
requests per second / baseline embeds per second) hold on a machine whose other load comes and
goes, and a slowed reading does not flatter them; the absolute figures do not hold.

Scales: "bundled" (the five bundled articles), a passage count such as "20k" or "200k" (the
bundled articles plus a deterministic synthetic archive, eval/synth.py, really indexed and served
over HTTP by `newsqa serve`), and counts of one million or more, which are vector-only: synthetic
unit vectors (eval/ann.py) through the same FAISS index the indexer builds. Archives above
`real_embed_limit` passages are not fully embedded unless asked: `sample_embed` passages are,
and every further passage gets a perturbed copy of one of their vectors (`SampledEmbedder`), so
latency, memory, size and load time are real and search quality there is not measured.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np

from eval import ann
from eval.run import load_questions
from eval.synth import write_archive
from indexer import DEFAULTED_ENV
from indexer.build import build_documents, load_documents
from indexer.dense import build_dense, dense_spec, read_dense
from indexer.embed import Embedder, resolve_model
from indexer.errors import NewsqaError
from indexer.settings import PROJECT_ROOT, Settings
from indexer.store import resolve
from service.core.index import Index

# The targets on 2 cores. Ratios are to the naive baseline's one-query embed (p50).
TARGETS = {
    "indexing_passages_per_s": (">=", 60.0),
    "http_ask_p50_over_naive": ("<=", 0.5),
    "http_ask_p99_over_naive": ("<=", 1.0),
    "http_4_clients_over_naive_rate": (">=", 2.0),
    "search_1m_p50_ms": ("<=", 5.0),
    "ann_recall_at_10": (">=", 0.98),
}
VECTOR_ONLY = 1_000_000
K = 10
SPREAD = 0.035  # noise per dimension of a perturbed vector: cosine about 0.8 to its source


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


def parse_scale(name: str) -> int:
    """Passages of a scale name: 0 for "bundled", else "20k" -> 20000, "1m" -> 1000000, "5000"."""
    if name == "bundled":
        return 0
    match = re.fullmatch(r"(\d+)([km]?)", name.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"unknown scale {name!r}: use bundled or a passage count such as 20k, 200k, 1m")
    return int(match.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[match.group(2)]


class SampledEmbedder(Embedder):
    """The given embedder for the first `sample` texts of a build; each further text gets a copy
    of one of their vectors (chosen by a seeded generator) with Gaussian noise, renormalised.

    Only for benchmarking archives too large to embed on 2 cores in a bench run: the index has
    the real passage count, texts and BM25 terms, but its vectors beyond the sample do not
    describe their passages. Builds embed through `embed_spans`, the one method sampled here;
    queries go through `embed` and are embedded for real.
    """

    def __init__(self, embedder: Embedder, sample: int, seed: int = 0) -> None:
        self.__dict__.update(embedder.__dict__)  # the same loaded model, not a copy
        self.sample = sample
        self.seed = seed

    def embed_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `embed`: real vectors for the sample; beyond it, each passage a noisy copy and
        each of its sentences a noisy copy of the passage's."""
        if len(texts) <= self.sample:
            return super().embed_spans(texts, spans, batch_size, progress)
        real, real_spans = super().embed_spans(
            texts[: self.sample], spans[: self.sample], batch_size, progress
        )
        rng = np.random.default_rng(self.seed)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[: self.sample] = real
        rest = len(texts) - self.sample
        noise = rng.normal(scale=SPREAD, size=(rest, self.dimension))
        noisy = real[rng.integers(0, self.sample, rest)] + noise
        vectors[self.sample :] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        owners = np.repeat(np.arange(self.sample, len(texts)), [len(each) for each in spans[self.sample :]])
        sentences = vectors[owners] + rng.normal(scale=SPREAD, size=(len(owners), self.dimension))
        sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
        return vectors, np.concatenate([real_spans, sentences.astype(np.float32)])


def run_bench(options: BenchOptions, settings: Settings, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the benchmark `options` describe; returns the report (see `markdown` for its shape)."""
    from indexer.backends import BACKENDS, installed

    scales = [(name, parse_scale(name)) for name in options.scales]
    backends = options.backends or [backend for backend in BACKENDS if installed(backend)]
    work = options.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    questions = [q.question for q in load_questions()]
    questions = questions[: options.questions] if options.questions else questions
    report: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "threads": settings.threads,
            "serving_backend": backends[0],
            "questions": len(questions),
            "duration_s": options.duration_s,
            "targets": {name: f"{op} {value}" for name, (op, value) in TARGETS.items()},
        },
    }
    say("naive baseline (sentence-transformers on torch, one query)")
    naive = NaiveBaseline(questions[0])
    report["naive"] = naive.measure(options.naive_runs)
    say(f"  p50 {report['naive']['p50_ms']} ms")

    report["indexing"] = []
    embedders = {}
    for backend in backends if options.throughput_passages else []:
        say(f"indexing throughput: {backend}, about {options.throughput_passages} passages")
        embedders[backend] = Embedder.from_settings(settings.model_copy(update={"backend": backend}))
        row = indexing_throughput(embedders[backend], options.throughput_passages, settings, work)
        report["indexing"].append(row)
        say(f"  {row['passages_per_s']} passages/s")
        if backend != backends[0]:
            del embedders[backend]  # only the serving backend's model is used again

    report["scales"] = []
    embedder = embedders.get(backends[0]) or Embedder.from_settings(
        settings.model_copy(update={"backend": backends[0]})
    )
    for name, count in scales:
        if count >= VECTOR_ONLY:
            say(f"{name}: vector-only FAISS run")
            report["vectors"] = vector_run(count, settings, options.vector_queries, work)
            continue
        say(f"{name}: building the index")
        scale_settings, row = build_scale(name, count, settings, embedder, options, work)
        say("  in-process search and ask")
        row.update(in_process(scale_settings, embedder, questions))
        say(f"  {row['passages']} passages, {row['dense']}, ask p50 {row['ask_ms']['p50']} ms")
        row["http"] = []
        for threads in options.server_threads:
            say(f"  HTTP: newsqa serve with NEWSQA_THREADS={threads}")
            before = naive.measure(options.naive_runs)
            run = http_run(scale_settings.index_dir, backends[0], threads, questions, options, work)
            after = naive.measure(options.naive_runs)
            run.update(against_naive(run, before, after))
            row["http"].append(run)
        report["scales"].append(row)
    report["naive_end"] = naive.measure(options.naive_runs)
    report["machine"]["loadavg_end"] = [round(value, 2) for value in os.getloadavg()]
    report["targets"] = check_targets(report)
    return report


def machine() -> dict[str, Any]:
    """The CPU, its cores, memory, load and library versions: what the figures ran on."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "")
    meminfo = Path("/proc/meminfo").read_text().split() if Path("/proc/meminfo").exists() else []
    return {
        "cpu": model,
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(int(meminfo[1]) / 2**20, 1) if meminfo else None,
        "loadavg_start": [round(value, 2) for value in os.getloadavg()],
        "python": sys.version.split()[0],
        "libraries": {
            name: version(name) for name in ("torch", "sentence-transformers", "faiss-cpu", "openvino")
        },
    }


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
        p50 = _percentile(times, 50)
        return {
            "what": "SentenceTransformer(model, device='cpu').encode(one query), torch, own process",
            "runs": runs,
            "p50_ms": p50,
            "p99_ms": _percentile(times, 99),
            "rate_per_s": round(1000 / p50, 1),
        }


def indexing_throughput(embedder: Embedder, passages: int, settings: Settings, work: Path) -> dict[str, Any]:
    """Passages per second of `build_documents` (chunk, embed, BM25, write) with `embedder`, over
    a synthetic sample of about `passages` passages; the model has loaded before the clock starts."""
    archive = work / f"throughput-{passages}.jsonl"
    if not archive.exists():
        write_archive(archive, passages, settings, seed=1)
    documents, _ = load_documents([archive])
    embedder.embed(["warm up the runtime"])
    index_dir = Path(tempfile.mkdtemp(prefix=f"throughput-{embedder.backend}-", dir=work))
    try:
        built = build_documents(documents, settings.model_copy(update={"index_dir": index_dir}), embedder)
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
    rate = round(built.passages / built.seconds, 1)
    return {
        "backend": embedder.backend,
        "device": embedder.device,
        "passages": built.passages,
        "seconds": round(built.seconds, 1),
        "passages_per_s": rate,
        "pass": rate >= TARGETS["indexing_passages_per_s"][1],
    }


def build_scale(
    name: str, count: int, settings: Settings, embedder: Embedder, options: BenchOptions, work: Path
) -> tuple[Settings, dict[str, Any]]:
    """Index one scale into `work/index-NAME` (or reuse it); returns its settings and a report row."""
    scale_settings = settings.model_copy(update={"index_dir": work / f"index-{name}"})
    sampled = count > options.real_embed_limit
    row: dict[str, Any] = {
        "scale": name,
        "embedded": f"{options.sample_embed} real, rest perturbed" if sampled else "all",
    }
    record = work / f"index-{name}.build.json"  # the build's figures, for --reuse
    if options.reuse and (scale_settings.index_dir / "current").exists() and record.exists():
        return scale_settings, {**json.loads(record.read_text()), "reused": True}
    documents, _ = load_documents([settings.articles_dir])  # first: their vectors are always real
    if count:
        archive = work / f"synth-{name}.jsonl"
        write_archive(archive, count, settings)
        documents += load_documents([archive])[0]
    use = SampledEmbedder(embedder, options.sample_embed) if sampled else embedder
    # full: an earlier run's version in the same folder must not serve its vectors from cache.
    built = build_documents(documents, scale_settings, use, progress=sys.stderr.isatty(), full=True)
    row["build_s"] = round(built.seconds, 1)
    if not sampled:
        row["indexing_passages_per_s"] = round(built.passages / built.seconds, 1)
    record.write_text(json.dumps(row) + "\n")
    return scale_settings, row


def in_process(settings: Settings, embedder: Embedder, questions: list[str]) -> dict[str, Any]:
    """Index.load time, search and ask latency in this process, size on disk, ANN recall@10."""
    started = time.perf_counter()
    index = Index.load(settings, embedder)
    load_s = round(time.perf_counter() - started, 2)
    index.embedder.warm_up()  # as the service does before it answers
    index.ask(questions[0])  # warm caches
    search_ms, ask_ms = [], []
    for question in questions:
        started = time.perf_counter()
        index.search(question)
        search_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
    folder = resolve(settings.index_dir)
    dense: dict[str, Any] = index.manifest["dense"]  # type: ignore[assignment]
    return {
        "documents": len(index.documents),
        "passages": len(index.passages),
        "dense": dense["type"],
        "size_mb": round(sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6, 1),
        "load_s": load_s,
        "search_ms": {"p50": _percentile(search_ms, 50), "p99": _percentile(search_ms, 99)},
        "ask_ms": {"p50": _percentile(ask_ms, 50), "p99": _percentile(ask_ms, 99)},
        "recall_at_10": dense_recall(index.stored.dense, embedder.embed(questions, query=True)),
    }


def dense_recall(dense: faiss.Index, queries: np.ndarray) -> float:
    """recall@10 of the served dense index against exact search over the same vectors."""
    inner = faiss.downcast_index(dense)
    flat = inner.refine_index if isinstance(inner, faiss.IndexRefine) else inner
    exact = faiss.IndexFlatIP(dense.d)
    exact.add(flat.reconstruct_n(0, flat.ntotal))
    depth = min(K, dense.ntotal)
    _, truth = exact.search(queries, depth)
    _, found = dense.search(queries, depth)
    return round(ann.recall(found, truth), 3)


def http_run(
    index_dir: Path,
    backend: str,
    threads: int,
    questions: list[str],
    options: BenchOptions,
    work: Path,
) -> dict[str, Any]:
    """`newsqa serve` over `index_dir` in its own process: start-up time, one client's /ask
    latency, four clients' requests per second, and the server's peak resident memory."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_THREADS": str(threads), "NEWSQA_BACKEND": backend}
    command = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    log_path = work / f"serve-{index_dir.name}-threads{threads}.log"
    with log_path.open("w") as log:
        started = time.perf_counter()
        server = subprocess.Popen(
            [*command, "--index-dir", str(index_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
        )
        try:
            startup_s = _wait_healthy(server, url, log_path, started)
            one = _one_client(port, questions)
            rate, errors = _clients(port, questions, 4, options.duration_s)
            peak_rss_mb = _peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return {
        "threads": threads,
        "startup_s": startup_s,
        "ask_1_client_ms": one,
        "ask_4_clients_per_s": rate,
        "errors": errors,
        "peak_rss_mb": peak_rss_mb,
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


def _wait_healthy(server: subprocess.Popen[bytes], url: str, log: Path, started: float) -> float:
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


class _Asker:
    """One keep-alive connection that posts questions to `/ask` and reads the whole answer.

    The load generator runs on the same 2 cores as the server, so it is the standard
    library's `http.client`: httpx cost about 0.7 ms more a request here, client time that
    would be counted as the server's latency and taken from its throughput.
    """

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def ask(self, question: str) -> int:
        """The HTTP status of `/ask` for `question`."""
        body = json.dumps({"question": question})
        try:
            self.connection.request("POST", "/ask", body, {"Content-Type": "application/json"})
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # the next request reconnects
            raise
        return response.status

    def close(self) -> None:
        self.connection.close()


def _one_client(port: int, questions: list[str]) -> dict[str, float]:
    times = []
    asker = _Asker(port)
    try:
        for question in questions[:3]:  # warm up
            _ok(asker.ask(question))
        for question in questions:
            started = time.perf_counter()
            status = asker.ask(question)
            times.append((time.perf_counter() - started) * 1000)
            _ok(status)
    finally:
        asker.close()
    return {"p50": _percentile(times, 50), "p99": _percentile(times, 99)}


def _ok(status: int) -> None:
    if status != 200:
        raise BenchError(f"/ask answered HTTP {status}")


def _clients(port: int, questions: list[str], count: int, duration: float) -> tuple[float, int]:
    """Requests per second that `count` clients, each asking one question after another, get
    answered (status 200) in `duration` seconds; and how many requests failed."""
    answered = [0] * count
    failed = [0] * count
    start = threading.Barrier(count + 1)

    def client(number: int) -> None:
        asker = _Asker(port)
        try:
            start.wait()
            asked = number
            while time.perf_counter() < deadline:
                try:
                    ok = asker.ask(questions[asked % len(questions)]) == 200
                except (OSError, http.client.HTTPException):  # a dropped connection counts as a failure
                    ok = False
                answered[number] += ok
                failed[number] += not ok
                asked += count
        finally:
            asker.close()

    workers = [threading.Thread(target=client, args=(number,)) for number in range(count)]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    deadline = started + duration  # read by the clients once the barrier lets them go
    start.wait()
    for worker in workers:
        worker.join()
    return round(sum(answered) / (time.perf_counter() - started), 1), sum(failed)


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise BenchError(f"no VmHWM for process {pid}")


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
    p50 = _percentile(latencies, 50)
    return {
        "passages": count,
        "dense": spec,
        "build_s": build_s,
        "size_mb": size_mb,
        "load_s": load_s,
        "search_ms": {"p50": p50, "p99": _percentile(latencies, 99)},
        "exact_search_ms_p50": _percentile(exact_ms, 50),
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


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target and measurement: the figure, the target and whether it is met."""
    rows = [
        _target("indexing_passages_per_s", f"indexing, {row['backend']}", row["passages_per_s"])
        for row in report["indexing"]
    ]
    for scale in report["scales"]:
        for run in scale["http"]:
            where = f"{scale['scale']}, threads {run['threads']}"
            rows.append(_target("http_ask_p50_over_naive", f"/ask p50, {where}", run["p50_over_naive"]))
            rows.append(_target("http_ask_p99_over_naive", f"/ask p99, {where}", run["p99_over_naive"]))
            rows.append(
                _target("http_4_clients_over_naive_rate", f"4 clients, {where}", run["rate_over_naive"])
            )
    # Recall counts where the index is approximate and its vectors are real embeddings (at
    # 200k most are perturbed copies of 5,000, near ties no real archive has; reported, not judged).
    for scale in report["scales"]:
        if scale["dense"] != "flat" and scale["embedded"] == "all":
            rows.append(_target("ann_recall_at_10", f"recall@10, {scale['scale']}", scale["recall_at_10"]))
    if "vectors" in report:
        vectors = report["vectors"]
        where = f"{vectors['passages']} vectors"
        rows.append(_target("search_1m_p50_ms", f"search p50, {where}", vectors["search_ms"]["p50"]))
        rows.append(_target("ann_recall_at_10", f"recall@10, {where}", vectors["recall_at_10"]))
    return rows


def _target(name: str, what: str, value: float) -> dict[str, Any]:
    op, limit = TARGETS[name]
    return {
        "target": name,
        "what": what,
        "value": value,
        "goal": f"{op} {limit}",
        "pass": value >= limit if op == ">=" else value <= limit,
    }


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables: baseline, indexing, scales, HTTP, vectors, targets."""
    naive, machine_info, run = report["naive"], report["machine"], report["settings"]
    lines = [
        f"Machine: {machine_info['cpu'] or 'unknown CPU'}, {machine_info['cpus_usable']} CPUs usable, "
        f"{machine_info['memory_gb']} GB; load average {machine_info['loadavg_start']} at start, "
        f"{machine_info['loadavg_end']} at end. Serving backend {run['serving_backend']}, "
        f"{run['questions']} questions, 4-client runs of {run['duration_s']} s.",
        "",
        f"Naive baseline (sentence-transformers on torch, one query): p50 {naive['p50_ms']} ms, "
        f"p99 {naive['p99_ms']} ms, {naive['rate_per_s']} embeds/s at start; p50 "
        f"{report['naive_end']['p50_ms']} ms at end.",
        "",
        "| indexing backend | device | passages | seconds | passages/s | >= 60 |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in report["indexing"]:
        lines.append(
            f"| {row['backend']} | {row['device']} | {row['passages']} | {row['seconds']} | "
            f"{row['passages_per_s']} | {_mark(row['pass'])} |"
        )
    lines += [
        "",
        "| scale | passages | vectors | build s (passages/s) | dense | size MB | Index.load s "
        "| search p50 / p99 ms | ask p50 / p99 ms | recall@10 vs exact |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["scales"]:
        rate = f" ({row['indexing_passages_per_s']})" if "indexing_passages_per_s" in row else ""
        lines.append(
            f"| {row['scale']} | {row['passages']} | {row['embedded']} | {row.get('build_s', '-')}{rate} | "
            f"{row['dense']} | {row['size_mb']} | "
            f"{row['load_s']} | {row['search_ms']['p50']} / {row['search_ms']['p99']} | "
            f"{row['ask_ms']['p50']} / {row['ask_ms']['p99']} | {row['recall_at_10']} |"
        )
    lines += [
        "",
        "| scale | threads | start to /health s | peak RSS MB | naive p50 ms | /ask 1 client p50 (x naive) "
        "| p99 (x naive) | 4 clients req/s (x naive rate) | p50 <= 0.5x | p99 <= 1.0x | 4 clients >= 2x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in report["scales"]:
        for run in row["http"]:
            lines.append(
                f"| {row['scale']} | {run['threads']} | {run['startup_s']} | {run['peak_rss_mb']} | "
                f"{run['naive_p50_ms']} | {run['ask_1_client_ms']['p50']} ({run['p50_over_naive']}x) | "
                f"{run['ask_1_client_ms']['p99']} ({run['p99_over_naive']}x) | "
                f"{run['ask_4_clients_per_s']} ({run['rate_over_naive']}x) | {_mark(run['pass_p50'])} | "
                f"{_mark(run['pass_p99'])} | {_mark(run['pass_rate'])} |"
            )
    if "vectors" in report:
        vectors = report["vectors"]
        lines += [
            "",
            "| vectors | dense | build s | size MB | load s | search p50 / p99 ms | exact p50 ms "
            "| recall@10 | p50 <= 5 ms |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|",
            f"| {vectors['passages']} | {vectors['dense']['type']} "
            f"nprobe {vectors['dense'].get('nprobe', '-')} | "
            f"{vectors['build_s']} | {vectors['size_mb']} | {vectors['load_s']} | "
            f"{vectors['search_ms']['p50']} / {vectors['search_ms']['p99']} | "
            f"{vectors['exact_search_ms_p50']} | {vectors['recall_at_10']} | {_mark(vectors['pass'])} |",
        ]
    met = sum(row["pass"] for row in report["targets"])
    lines += ["", f"Targets met: {met} of {len(report['targets'])}."]
    return "\n".join(lines) + "\n"


def _mark(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write `bench.json` and `bench.md` into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_markdown = out / "bench.json", out / "bench.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    as_markdown.write_text(markdown(report))
    return [as_json, as_markdown]
