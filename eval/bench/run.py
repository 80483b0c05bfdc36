"""`run_bench`: the naive baseline, indexing throughput, then each scale in turn (built,
measured in this process and over HTTP, or FAISS alone from a million passages up), and the
machine they ran on."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eval.bench.indexing import indexing_throughput
from eval.bench.naive import NaiveBaseline, against_naive
from eval.bench.options import TARGETS, VECTOR_ONLY, BenchOptions, parse_scale
from eval.bench.report import check_targets
from eval.bench.scales import build_scale, in_process
from eval.bench.serving import http_run
from eval.bench.vectors import vector_run
from eval.bench.writes import writes_run
from eval.run import load_questions
from indexer.build import load_documents
from indexer.embed import Embedder
from indexer.settings import Settings


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
        if options.writes:
            say(f"  writes: {options.writes} articles posted while 4 clients search")
            documents, _ = load_documents([settings.articles_dir])
            articles = [(document.title, document.text) for document in documents]
            threads = options.server_threads[0]
            row["writes"] = writes_run(
                scale_settings.index_dir, backends[0], threads, articles, questions, options, work
            )
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
