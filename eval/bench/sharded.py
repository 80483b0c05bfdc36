"""`newsqa bench --scenario ray`, serving: the evaluation archive served by plain `newsqa serve`
and by `newsqa serve --ray` on the loopback cluster (2 shards x 1 replica, 1 shard x 2
replicas), asked over HTTP: start-up, one client's /ask latency, four clients' requests per
second, and whether each sharded server cites and answers as the plain one does."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from eval.bench.options import BenchError
from eval.bench.serving import Server, _one_client, clients, serving
from eval.run import load_questions
from indexer.build import build_index
from indexer.embed import Embedder
from indexer.settings import PROJECT_ROOT, Settings
from indexer.shards import build_sharded
from service.core.results import Citation
from service.core.shards import same_ranking

# (shards, replicas) of each `newsqa serve --ray` run.
CONFIGURATIONS = ((2, 1), (1, 2))
MODES = ("hybrid", "dense", "lexical")
TOP_K = 10
EVAL_ARTICLES = PROJECT_ROOT / "eval" / "articles"
READY_S = 300  # seconds a server has to answer its first /ask


def serving_bench(
    address: str,
    settings: Settings,
    embedder: Embedder,
    work: Path,
    duration_s: float,
    say: Callable[[str], None],
    count: int = 0,
) -> dict[str, Any]:
    """The evaluation archive (the bundled and the evaluation articles, as `make eval` indexes
    them) built plain and sharded, served plain and on the Ray cluster at `address` in each of
    `CONFIGURATIONS`, one server at a time; each sharded server's citations and answers to the
    first `count` questions of eval/questions.jsonl (0: all) are set against the plain
    server's, question by question and mode by mode."""
    questions = [question.question for question in load_questions()]
    questions = questions[:count] if count else questions
    say("evaluation archive: plain, 2 shards, 1 shard")
    plain_dir, archive = _build(work / "eval-plain", settings, embedder)
    sharded = {
        shards: _split(plain_dir, work / f"eval-shards-{shards}", settings, embedder, shards)
        for shards in {shards for shards, _ in CONFIGURATIONS}
    }
    say("serving: newsqa serve")
    with serving(plain_dir, embedder.backend, settings.threads, work / "serve-eval-plain.log") as server:
        plain = _measure(server, questions, duration_s)
        reference = _citations(server.port, questions)
    plain.update(server="newsqa serve", shards=0, replicas=0)
    say(f"  ask p50 {plain['ask_1_client_ms']['p50']} ms, {plain['ask_4_clients_per_s']} requests/s")
    rows = [plain]
    for shards, replicas in CONFIGURATIONS:
        say(f"serving: newsqa serve --ray, {shards} shard(s) x {replicas} replica(s)")
        arguments = ["--ray", address, "--shards", str(shards), "--replicas", str(replicas)]
        log = work / f"serve-eval-ray-{shards}x{replicas}.log"
        with serving(
            sharded[shards], embedder.backend, settings.threads, log, arguments=arguments, stop=signal.SIGTERM
        ) as server:
            row = _measure(server, questions, duration_s)
            answered = _citations(server.port, questions)
        row.update(server="newsqa serve --ray", shards=shards, replicas=replicas)
        row["parity"] = {mode: parity(reference[mode], answered[mode]) for mode in MODES}
        rows.append(row)
        hybrid = row["parity"]["hybrid"]
        say(
            f"  ask p50 {row['ask_1_client_ms']['p50']} ms, {row['ask_4_clients_per_s']} requests/s, "
            f"hybrid top-10 identical up to ties {hybrid['identical_up_to_ties']} of {len(questions)}"
        )
    return {"archive": archive, "questions": len(questions), "top_k": TOP_K, "servers": rows}


def _build(index_dir: Path, settings: Settings, embedder: Embedder) -> tuple[Path, dict[str, int]]:
    """The evaluation archive built afresh into `index_dir`; its folder, documents and passages."""
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = settings.model_copy(update={"index_dir": index_dir})
    built = build_index([settings.articles_dir, EVAL_ARTICLES], settings, embedder)
    return index_dir, {"documents": built.documents, "passages": built.passages}


def _split(plain_dir: Path, index_dir: Path, settings: Settings, embedder: Embedder, shards: int) -> Path:
    """A copy of the archive in `plain_dir` split into `shards` shards in `index_dir`, reusing its
    vectors: passages embedded again, in other batches, moved dense scores by up to 6e-6
    (docs/benchmarks.md, "Serving on Ray"), which would swap passages whose scores differ by
    less and measure the embedding, not the serving."""
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.copytree(plain_dir, index_dir, symlinks=True)
    settings = settings.model_copy(update={"index_dir": index_dir})
    built = build_sharded([settings.articles_dir, EVAL_ARTICLES], settings, embedder, shards)
    if built.changes.embedded:
        raise BenchError(
            f"splitting {plain_dir} into {shards} shards embedded {built.changes.embedded} passages"
        )
    return index_dir


def _measure(server: Server, questions: list[str], duration_s: float) -> dict[str, Any]:
    """Seconds from start to the first /ask 200 (Ray Serve answers /health before its
    deployments are all up), one client's /ask latency and four clients' requests per second."""
    startup_s = server.startup_s + _first_answer(server.port, questions[0])
    one, _ = _one_client(server.port, questions, server.pid)
    load = clients(server.port, lambda client, n: client.ask(questions[n % len(questions)]), 4, duration_s)
    return {
        "startup_s": round(startup_s, 2),
        "ask_1_client_ms": one,
        "ask_4_clients_per_s": round(len(load.ms) / load.seconds, 1),
        "errors": load.failed,
    }


def _first_answer(port: int, question: str) -> float:
    """Seconds until /ask answers 200, asked again every 50 ms."""
    started = time.perf_counter()
    while time.perf_counter() - started < READY_S:
        try:
            if (
                httpx.post(
                    f"http://127.0.0.1:{port}/ask", json={"question": question}, timeout=30
                ).status_code
                == 200
            ):
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise BenchError(f"the server on port {port} did not answer /ask within {READY_S} s")


def _citations(port: int, questions: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each mode's /ask response with `TOP_K` citations to every question, in order."""
    answered: dict[str, list[dict[str, Any]]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for mode in MODES:
            answered[mode] = []
            for question in questions:
                response = client.post("/ask", json={"question": question, "top_k": TOP_K, "mode": mode})
                if response.status_code != 200:
                    raise BenchError(
                        f"/ask ({mode}) answered HTTP {response.status_code}: {response.text[:200]}"
                    )
                answered[mode].append(response.json())
    return answered


def parity(reference: Sequence[dict[str, Any]], answered: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many of the questions `answered` (/ask responses) cite the chunks of `reference`
    (the plain server's to the same questions) in the same order, how many do up to ties
    (`same_ranking`: tied passages in any order), and how many give the same answer; recall@10
    is the share of the reference's citations also cited, averaged over the questions; `differ`
    numbers the questions (from 0) not the same even up to ties."""
    identical = tied = answers = 0
    recall = 0.0
    differ = []
    for number, (plain, other) in enumerate(zip(reference, answered, strict=True)):
        ours = [Citation.model_validate(citation) for citation in plain["citations"]]
        theirs = [Citation.model_validate(citation) for citation in other["citations"]]
        identical += [cited.chunk_id for cited in ours] == [cited.chunk_id for cited in theirs]
        if same_ranking(ours, theirs):
            tied += 1
        else:
            differ.append(number)
        answers += plain["answer"] == other["answer"]
        kept = {cited.chunk_id for cited in theirs}
        recall += sum(cited.chunk_id in kept for cited in ours) / len(ours) if ours else 1.0
    return {
        "identical": identical,
        "identical_up_to_ties": tied,
        "answers_identical": answers,
        "recall_at_10": round(recall / max(len(reference), 1), 4),
        "differ": differ,
    }


def serving_markdown(serving: dict[str, Any]) -> str:
    """The serving part of the report as two Markdown tables: each server's figures, then each
    sharded server's parity with the plain one, mode by mode."""
    archive, asked = serving["archive"], serving["questions"]
    lines = [
        f"Serving the evaluation archive ({archive['documents']} documents, {archive['passages']} "
        f"passages), {asked} questions:",
        "",
        "| server | shards x replicas | start-up s (first /ask) | /ask p50 / p99 ms, 1 client "
        "| /ask requests/s, 4 clients | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in serving["servers"]:
        layout = f"{row['shards']} x {row['replicas']}" if row["shards"] else "-"
        lines.append(
            f"| {row['server']} | {layout} | {row['startup_s']} | {row['ask_1_client_ms']['p50']} / "
            f"{row['ask_1_client_ms']['p99']} | {row['ask_4_clients_per_s']} | {row['errors']} |"
        )
    lines += [
        "",
        f"Against plain `newsqa serve`, /ask with top_k {serving['top_k']}, questions of {asked}:",
        "",
        "| shards x replicas | mode | top-10 identical | identical up to ties | answers identical "
        "| recall@10 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in serving["servers"]:
        for mode, same in row.get("parity", {}).items():
            lines.append(
                f"| {row['shards']} x {row['replicas']} | {mode} | {same['identical']} "
                f"| {same['identical_up_to_ties']} | {same['answers_identical']} | {same['recall_at_10']} |"
            )
    return "\n".join(lines) + "\n"
