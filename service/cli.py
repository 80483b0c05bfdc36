"""The `newsqa` command: index, serve, search, ask and eval, as thin shells over `Index`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from indexer.errors import IndexNotFoundError, NewsqaError

# The command line starts with click alone: each command imports what it runs (the settings,
# the index, the model) when it runs, so `newsqa --help` costs about what starting Python does.
if TYPE_CHECKING:
    from indexer.settings import Mode, Settings
    from service.core.browse import DocumentPage
    from service.core.filters import Filters
    from service.core.results import AskResponse, Citation, SearchResponse


def load_settings(**overrides: object) -> Settings:
    from indexer.settings import load_settings

    return load_settings(**overrides)


def resolve(root: Path) -> Path:
    from indexer.store import resolve

    return resolve(root)


def is_sharded(root: Path) -> bool:
    return (root / "shards.json").is_file()  # indexer/shards.py, not imported for a check


def read_sharded(root: Path) -> Any:
    from indexer.shards import read_sharded

    return read_sharded(root)


MODE = click.Choice(["hybrid", "dense", "lexical"])
index_dir_option = click.option(
    "--index-dir",
    type=click.Path(path_type=Path),
    help="Index directory [env NEWSQA_INDEX_DIR; default ./index].",
)
top_k_option = click.option("-k", "--top-k", type=click.IntRange(1, 50), default=5, show_default=True)
mode_option = click.option("--mode", type=MODE, default="hybrid", show_default=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
backend_option = click.option(
    "--backend",
    type=click.Choice(["auto", "openvino", "onnx", "torch"]),
    help="Inference backend [env NEWSQA_BACKEND; default auto: the fastest installed].",
)
device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="Where to embed [env NEWSQA_DEVICE; default auto: a CUDA GPU with torch if there is one].",
)


def query_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `search` and `ask` share: -k, --mode, --json, --index-dir, --backend."""
    for option in (backend_option, index_dir_option, json_option, mode_option, top_k_option):
        command = option(command)
    return command


def filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """The filters `search`, `ask` and `list` share, named as the API's parameters
    (service/http/params.py checks them): --date-from, --date-to, --language, --source and
    --doc-id (the last three repeatable)."""
    options = (
        click.option("--date-from", help="Only documents published on or after this day (YYYY-MM-DD)."),
        click.option("--date-to", help="Only documents published on or before this day (YYYY-MM-DD)."),
        click.option(
            "--language", "languages", multiple=True, help="Only this language, e.g. no (repeatable)."
        ),
        click.option(
            "--source", "sources", multiple=True, help="Only this site, web host or folder (repeatable)."
        ),
        click.option("--doc-id", "doc_ids", multiple=True, help="Only this document (repeatable)."),
    )
    for option in reversed(options):
        command = option(command)
    return command


sort_option = click.option(
    "--sort",
    type=click.Choice(["relevance", "date"]),  # service.core.filters.SORTS, not imported at start
    default="relevance",
    show_default=True,
    help="Best first, or newest first.",
)


def main() -> None:
    """Entry point: runs the command group, turning newsqa errors into one line and exit code 1."""
    logging.basicConfig(level=logging.WARNING, format="newsqa: %(levelname)s: %(message)s")
    # Warnings and errors only, whatever a library sets its own logger to when it is imported
    # (bm25s sets DEBUG, and it is imported only when a command needs it).
    logging.getLogger("bm25s").addFilter(lambda record: record.levelno >= logging.WARNING)
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("newsqa: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NewsqaError as exc:
        click.echo(f"newsqa: error: {exc}", err=True)
        sys.exit(1)
    except ModuleNotFoundError as exc:
        if exc.name not in EVAL_EXTRA:
            raise
        click.echo(
            f"newsqa: error: this command needs the eval extra: pip install 'newsqa[eval]' ({exc})", err=True
        )
        sys.exit(1)


# The modules of the `eval` extra (pyproject.toml): `newsqa eval` and `bench` need them, serving does not.
EVAL_EXTRA = {"pytrec_eval", "matplotlib"}


@click.group()
@click.version_option(package_name="newsqa")
def cli() -> None:
    """Offline semantic search and question answering over a news archive."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--model", help="Embedding model: name or local folder [env NEWSQA_MODEL].")
@click.option("--chunk-tokens", type=int, help="Passage size in cl100k tokens [env NEWSQA_CHUNK_TOKENS].")
@click.option("--chunk-overlap", type=int, help="Overlap in cl100k tokens [env NEWSQA_CHUNK_OVERLAP].")
@backend_option
@device_option
@click.option(
    "--index-type",
    type=click.Choice(["auto", "flat", "ivf-sq8"]),
    help="Dense index [env NEWSQA_INDEX_TYPE; default auto: flat up to NEWSQA_ANN_THRESHOLD passages].",
)
@click.option(
    "--check",
    "check_dir",
    is_flag=False,
    flag_value="",  # --check alone: the --index-dir index
    metavar="[DIR]",
    help="Build nothing: verify the index in DIR (default: --index-dir) and exit 1 on any problem.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Chunk and embed every article again instead of reusing the current index's passages and vectors.",
)
@click.option(
    "--optimize",
    is_flag=True,
    help="Index nothing: merge the index's segments into one, dropping deleted articles' rows.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress bars on the terminal (warnings and the summary still print).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",  # --ray alone: Ray's name for a cluster started for this process
    metavar="[ADDRESS|auto]",
    help="Embed on a Ray cluster: its address, auto (the one `ray start --head` started here) or "
    "none (one started for this build). Needs pip install 'newsqa[distributed]'.",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Embedding actors on the Ray cluster, one model each (on a GPU each where it has GPUs).",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 64),
    help="Split the archive over this many shards, to serve with `newsqa serve --ray` "
    "[default: as many as the index has, else one unsharded index].",
)
def index(
    paths: tuple[Path, ...],
    index_dir: Path | None,
    model: str | None,
    chunk_tokens: int | None,
    chunk_overlap: int | None,
    backend: str | None,
    device: str | None,
    index_type: str | None,
    check_dir: str | None,
    full: bool,
    optimize: bool,
    quiet: bool,
    ray_address: str | None,
    ray_actors: int,
    shards: int | None,
) -> None:
    """Index articles (.txt, .md, .html, .jsonl files or folders; default: the bundled articles).

    Re-indexing embeds only new or changed passages, drops articles no longer given and keeps
    those added through the API; it prints what changed, then a summary. On a terminal, each
    step (reading, chunking, embedding, writing) shows a progress bar on stderr, unless --quiet.
    With --check, verify an existing index instead: manifest, files, counts, offsets, vectors.
    With --optimize, merge its segments into one (what the service's merges do by size, in the
    background). With --ray, the passages to embed are embedded by actors on a Ray cluster;
    the rest of the build runs here, and writes what a local build writes. With --shards, the
    articles are split over that many indexes by a hash of their ids (`newsqa serve --ray`
    serves each on its own Ray Serve deployment); re-indexing a sharded index keeps its shards.
    """
    if ray_address is not None and (optimize or check_dir is not None):
        raise click.UsageError("--ray embeds articles to index: it does not apply to --check or --optimize")
    if shards is not None and (optimize or check_dir is not None):
        raise click.UsageError(
            "--shards builds a sharded index: --check and --optimize read a sharded index as it is"
        )
    if optimize:
        if paths or check_dir is not None or full:
            raise click.UsageError(
                "--optimize merges the --index-dir index: it takes no articles, --check or --full"
            )
        _optimize(load_settings(index_dir=index_dir))
        return
    if check_dir is not None:
        if paths:
            raise click.UsageError("--check takes the index directory, not articles to index")
        if full:
            raise click.UsageError("--check builds nothing: --full does not apply")
        _check(Path(check_dir) if check_dir else None, index_dir, backend)
        return
    settings = load_settings(
        index_dir=index_dir,
        model=model,
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        backend=backend,
        device=device,
        index_type=index_type,
    )
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATHS")
    embed = None
    if ray_address is not None:
        from indexer.distributed import RayEmbedding

        embed = RayEmbedding(settings, ray_address, ray_actors)
    if shards is None and is_sharded(settings.index_dir):
        shards = read_sharded(settings.index_dir).count
    report = _build(
        settings, list(paths) or [settings.articles_dir], full=full, quiet=quiet, embed=embed, shards=shards
    )
    click.echo(report.changes.summary())
    click.echo(report.summary())


@cli.command()
@index_dir_option
@click.option("--host", help="Address to listen on [env NEWSQA_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Port [env NEWSQA_PORT; default 8000].")
@backend_option
@device_option
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    metavar="[ADDRESS|auto]",
    help="Serve on Ray Serve: one deployment per shard and an ingress with this API, on the "
    "cluster at ADDRESS, auto (the one `ray start --head` started here) or none (one started "
    "for this process). Needs pip install 'newsqa[distributed]'.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 64),
    help="Shards of the index (built so if there is no index yet) [default: as many as it has].",
)
@click.option(
    "--replicas",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="With --ray: replicas of each shard's deployment.",
)
def serve(
    index_dir: Path | None,
    host: str | None,
    port: int | None,
    backend: str | None,
    device: str | None,
    ray_address: str | None,
    shards: int | None,
    replicas: int,
) -> None:
    """Serve the HTTP API, first indexing the bundled articles if there is no index yet.

    A sharded index (`newsqa index --shards`) is served by this process, or with --ray by
    Ray Serve: its shards on deployments of --replicas replicas each, behind one ingress."""
    import uvicorn

    from indexer.embed import Embedder
    from service.http.api import create_app
    from service.http.observability import configure_access_log

    settings = load_settings(index_dir=index_dir, host=host, port=port, backend=backend, device=device)
    if replicas != 1 and ray_address is None:
        raise click.UsageError("--replicas replicates shards on Ray Serve: it needs --ray")
    if is_sharded(settings.index_dir):
        count = read_sharded(settings.index_dir).count
        if shards is not None and shards != count:
            raise click.UsageError(
                f"{settings.index_dir} has {count} shards: serve it with --shards {count}, or "
                f"build it anew with `newsqa index --shards {shards} --index-dir {settings.index_dir}`"
            )
        shards = count
    elif _has_index(settings.index_dir) and (shards is not None or ray_address is not None):
        raise click.UsageError(
            f"{settings.index_dir} is not sharded: build it with "
            f"`newsqa index --shards {shards or 2} --index-dir {settings.index_dir}`"
        )
    if ray_address is not None:  # an unreachable cluster or a missing Ray is said before any work
        from indexer.distributed import connect

        connect(ray_address)
    embedder = Embedder.from_settings(settings)
    if not _has_index(settings.index_dir):
        click.echo(f"no index in {settings.index_dir}: indexing {settings.articles_dir} first", err=True)
        if ray_address is not None:
            shards = shards or 1
        click.echo(_build(settings, [settings.articles_dir], embedder, shards=shards).summary(), err=True)
    if ray_address is not None:
        _serve_on_ray(settings, ray_address, shards or 1, replicas)
        return
    configure_access_log()
    # The app logs each request as a JSON line (service/http/observability.py); uvicorn's own
    # access log would repeat it, with the raw path and query string.
    uvicorn.run(create_app(settings, embedder), host=settings.host, port=settings.port, access_log=False)


@cli.command()
@click.argument("query")
@query_options
@filter_options
@sort_option
def search(
    query: str,
    top_k: int,
    mode: str,
    as_json: bool,
    index_dir: Path | None,
    backend: str | None,
    sort: str,
    **narrowed: Any,
) -> None:
    """Print the passages that best match QUERY."""
    filters = _filters(**narrowed)
    index = _load(index_dir, backend, build_missing=True)
    response = index.search(query, top_k=top_k, mode=mode, filters=filters, sort=sort)
    click.echo(response.model_dump_json(indent=2) if as_json else _format_search(response))


@cli.command()
@click.argument("question")
@query_options
@filter_options
@sort_option
def ask(
    question: str,
    top_k: int,
    mode: str,
    as_json: bool,
    index_dir: Path | None,
    backend: str | None,
    sort: str,
    **narrowed: Any,
) -> None:
    """Answer QUESTION from the archive, with the passages it came from."""
    filters = _filters(**narrowed)
    index = _load(index_dir, backend, build_missing=True)
    response = index.ask(question, top_k=top_k, mode=mode, filters=filters, sort=sort)
    click.echo(response.model_dump_json(indent=2) if as_json else _format_ask(response))


def _filters(
    date_from: str | None,
    date_to: str | None,
    languages: tuple[str, ...],
    sources: tuple[str, ...],
    doc_ids: tuple[str, ...],
) -> Filters:
    """The filter options as `Filters`, checked as the API checks its parameters; a bad value
    is a usage error naming its option."""
    from pydantic import ValidationError

    from service.http.params import FilterParams

    values = {
        "date_from": date_from,
        "date_to": date_to,
        "language": list(languages),
        "source": list(sources),
        "doc_id": list(doc_ids),
    }
    try:
        return FilterParams.model_validate(values).filters()
    except ValidationError as exc:
        error = exc.errors()[0]
        raise click.BadParameter(
            error["msg"], param_hint="--" + str(error["loc"][0]).replace("_", "-")
        ) from None


@cli.command(name="list")
@click.option(
    "--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="Documents to list."
)
@click.option("--cursor", help="Continue after the list that printed this cursor.")
@filter_options
@json_option
@index_dir_option
def list_documents(
    limit: int,
    cursor: str | None,
    as_json: bool,
    index_dir: Path | None,
    **narrowed: Any,
) -> None:
    """List the archive's documents, newest first (undated last)."""
    from indexer.store import load_index
    from service.core.browse import Listing

    filters = _filters(**narrowed)
    settings = load_settings(index_dir=index_dir)
    if is_sharded(settings.index_dir):
        from service.core.shards import ShardedListing

        listing: Listing = ShardedListing.open(settings)
    else:
        listing = Listing(load_index(settings.index_dir))
    page = listing.page(filters, limit=limit, cursor=cursor)
    click.echo(page.model_dump_json(indent=2) if as_json else _format_list(page))


# Regression guards of `newsqa eval`: option -> (metric, whether it is a floor or a ceiling).
GUARDS = {
    "min_hit1": ("hit@1", "min"),
    "min_hit5": ("hit@5", "min"),
    "min_mrr": ("mrr@10", "min"),
    "min_ndcg": ("ndcg@10", "min"),
    "min_answer_hit": ("answer_hit", "min"),
    "min_answer_f1": ("answer_f1", "min"),
    "min_exact_match": ("exact_match", "min"),
    "min_citation_exact": ("citation_exact", "min"),
    "min_abstain_recall": ("abstain_recall", "min"),
    "max_false_abstain": ("false_abstain", "max"),
}


def guard_options(command: Callable[..., None]) -> Callable[..., None]:
    """One option per entry of GUARDS, e.g. --min-hit5 0.9."""
    for name, (metric, kind) in reversed(GUARDS.items()):
        command = click.option(
            "--" + name.replace("_", "-"),
            name,
            type=click.FloatRange(0, 1),
            help=f"Exit 3 when {metric} of the first mode is {'below' if kind == 'min' else 'above'} this.",
        )(command)
    return command


@cli.command(name="eval")
@click.option(
    "--set",
    "question_set",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Question set (JSON Lines) [default: the bundled eval/questions.jsonl].",
)
@click.option("--modes", default="hybrid,dense,lexical", show_default=True)
@click.option("-k", "--top-k", type=click.IntRange(1, 50), default=10, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write report.json, report.md and report.png (charts) into this folder.",
)
@click.option(
    "--beir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Score a BEIR-format dataset folder instead (indexed into a temporary index).",
)
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option(
    "--run-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="BEIR: write the ranking as a TREC run file (one per mode: run.hybrid.trec, ...).",
)
@click.option(
    "--extraction",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Score the cleaning of saved web pages instead: a folder of pages/*.html and snippets.json.",
)
@click.option("--baselines", is_flag=True, help="With --extraction: also score trafilatura's own settings.")
@json_option
@index_dir_option
@backend_option
@guard_options
def evaluate(
    question_set: Path | None,
    modes: str,
    top_k: int,
    out: Path | None,
    beir: Path | None,
    split: str,
    run_out: Path | None,
    extraction: Path | None,
    baselines: bool,
    as_json: bool,
    index_dir: Path | None,
    backend: str | None,
    **guards: float | None,
) -> None:
    """Score retrieval and answers against a question set (or a BEIR dataset with --beir, or
    the cleaning of web pages with --extraction)."""
    if extraction is not None:
        from eval import extraction as pages

        scored = pages.evaluate_extraction(extraction, baselines=baselines)
        click.echo(json.dumps(scored, indent=2, ensure_ascii=False) if as_json else pages.markdown(scored))
        return
    chosen = cast("list[Mode]", [mode.strip() for mode in modes.split(",") if mode.strip()])
    unknown = [mode for mode in chosen if mode not in MODE.choices]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown mode(s) {', '.join(unknown) or '(none)'}", param_hint="--modes")
    from eval import beir as benchmark
    from eval.run import METRICS

    for name, limit in guards.items():
        if limit is not None and GUARDS[name][0] not in (benchmark.MEASURES if beir else METRICS):
            hint = "--" + name.replace("_", "-")
            kind = "BEIR" if beir else "question-set"
            raise click.BadParameter(f"a {kind} run has no {GUARDS[name][0]}", param_hint=hint)
    if beir is not None:
        dataset = benchmark.load_dataset(beir, split)
        report = benchmark.evaluate_beir(
            dataset,
            load_settings(index_dir=index_dir, backend=backend),
            chosen,
            run_out=run_out,
            progress=sys.stderr.isatty(),
        )
        click.echo(json.dumps(report, indent=2) if as_json else benchmark.markdown(report))
    else:
        from eval.report import write_report
        from eval.run import QUESTIONS, evaluate, load_questions, markdown

        if is_sharded(load_settings(index_dir=index_dir).index_dir):
            raise click.UsageError(
                "newsqa eval reads one unsharded index: evaluate the same articles indexed without "
                "--shards (`newsqa bench --scenario ray` checks a sharded archive answers the same)"
            )
        questions = load_questions(question_set or QUESTIONS)  # a bad set fails before the model loads
        index = _load(index_dir, backend)
        index.embedder.warm_up()  # as the service does: latencies are of questions, not of compiling
        report = evaluate(index, questions, chosen, top_k)
        click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else markdown(report))
        if report["skipped"]:
            click.echo(
                f"{len(report['skipped'])} questions skipped: their articles are not in this index "
                "(the bundled set also asks about eval/articles: `newsqa index data/articles eval/articles`)",
                err=True,
            )
        if out is not None:
            written = write_report(report, out)
            click.echo(f"wrote {', '.join(str(path) for path in written)}", err=True)
    _check_guards(report["modes"][chosen[0]], chosen[0], guards)


@cli.command()
@click.option(
    "--scales",
    default="bundled,20k,200k,1m",
    show_default=True,
    help="bundled, or passage counts (20k: bundled + synthetic articles); 1m and up: FAISS alone.",
)
@click.option("--backends", help="Backends to time indexing with; the first serves [default: all installed].")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/bench"),
    show_default=True,
    help="Writes bench.json and bench.md here, and the indexes under work/.",
)
@json_option
@click.option(
    "--throughput-passages",
    type=click.IntRange(0),
    default=2000,
    show_default=True,
    help="Passages to time indexing with, per backend [0: skip].",
)
@click.option(
    "--questions",
    type=click.IntRange(0),
    default=0,
    help="Questions per latency run [0: all of eval/questions.jsonl].",
)
@click.option(
    "--duration", type=click.FloatRange(0.5), default=15.0, show_default=True, help="4-client run, s."
)
@click.option("--naive-runs", type=click.IntRange(5), default=100, show_default=True)
@click.option(
    "--server-threads", default="2,1", show_default=True, help="NEWSQA_THREADS values to serve with."
)
@click.option(
    "--embed-all",
    is_flag=True,
    help="Embed every passage of every scale (default: above 50k passages, embed 5000 and perturb copies).",
)
@click.option("--reuse", is_flag=True, help="Reuse indexes already built under --out/work.")
@click.option(
    "--writes",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Articles to POST to each scale's server, one after another, while 4 clients search "
    "(after up to 100 posted alone).",
)
@click.option(
    "--record",
    is_flag=False,
    flag_value=Path("docs/benchmarks"),
    type=click.Path(file_okay=False, path_type=Path),
    metavar="[DIR]",
    help="Also keep bench.md as DIR/YYYY-MM-DD-COMMIT.md, stamped with the date, commit, machine and "
    "command [DIR: docs/benchmarks].",
)
@click.option(
    "--scenario",
    type=click.Choice(["scales", "ray"]),
    default="scales",
    show_default=True,
    help="scales: the scales above. ray: on a 2-node Ray cluster started on 127.0.0.1, indexing "
    "with 1 and 2 actors against a local build of --throughput-passages passages, and serving "
    "the evaluation archive on Ray Serve (2 shards x 1 replica, 1 x 2) against plain newsqa serve "
    "(latency, 4 clients for --duration s, identical top-10 and answers); writes ray.json and ray.md.",
)
@click.option("--ray", "ray_only", is_flag=True, help="The same as --scenario ray.")
@device_option
def bench(
    scales: str,
    backends: str | None,
    out: Path,
    as_json: bool,
    throughput_passages: int,
    questions: int,
    duration: float,
    naive_runs: int,
    server_threads: str,
    embed_all: bool,
    reuse: bool,
    writes: int,
    record: Path | None,
    scenario: str,
    ray_only: bool,
    device: str | None,
) -> None:
    """Benchmark indexing, search, ask and HTTP serving at several scales against a naive
    baseline, or (--scenario ray) indexing and serving on a Ray cluster against one machine."""
    from indexer.backends import BACKENDS

    if ray_only or scenario == "ray":
        settings = load_settings(device=device)
        _bench_ray(out, throughput_passages or 2000, questions, duration, settings, as_json)
        return

    names = [name.strip() for name in scales.split(",") if name.strip()]
    chosen = [name.strip() for name in (backends or "").split(",") if name.strip()]
    try:
        from eval.bench import BenchOptions, parse_scale, run_bench, write_report

        for name in names:
            parse_scale(name)
        threads = [int(value) for value in server_threads.split(",") if value.strip()]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not names:
        raise click.BadParameter("no scale given", param_hint="--scales")
    if any(backend not in BACKENDS for backend in chosen):
        raise click.BadParameter(f"choose from {', '.join(BACKENDS)}", param_hint="--backends")
    if not threads or min(threads) < 1:
        raise click.BadParameter("give thread counts of 1 or more", param_hint="--server-threads")
    options = BenchOptions(
        scales=names,
        backends=chosen,
        out=out,
        throughput_passages=throughput_passages,
        questions=questions,
        duration_s=duration,
        naive_runs=naive_runs,
        server_threads=threads,
        real_embed_limit=sys.maxsize if embed_all else BenchOptions.real_embed_limit,
        reuse=reuse,
        writes=writes,
    )
    report = run_bench(options, load_settings(device=device), lambda line: click.echo(line, err=True))
    written = write_report(report, out, record)
    from eval.bench import markdown

    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else markdown(report))
    click.echo(f"wrote {', '.join(str(path) for path in written)}", err=True)


def _bench_ray(
    out: Path, passages: int, questions: int, duration: float, settings: Settings, as_json: bool
) -> None:
    """`newsqa bench --scenario ray`: local and Ray builds of `passages` passages, then plain and
    Ray Serve servers of the evaluation archive asked `questions` questions (0: all), 4 clients
    for `duration` s; reported into `out`."""
    import importlib.util

    from eval.bench.distributed import ray_bench, ray_markdown
    from indexer.distributed import INSTALL_HINT
    from indexer.errors import ClusterError

    if importlib.util.find_spec("ray") is None:  # said before the local build, not after it
        raise ClusterError(f"bench --scenario ray needs Ray, which is not installed: {INSTALL_HINT}")

    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    report = ray_bench(passages, settings, work, lambda line: click.echo(line, err=True), duration, questions)
    (out / "ray.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "ray.md").write_text(ray_markdown(report))
    click.echo(json.dumps(report, indent=2) if as_json else ray_markdown(report))
    click.echo(f"wrote {out / 'ray.json'}, {out / 'ray.md'}", err=True)


def _check_guards(metrics: dict[str, float | None], mode: str, guards: dict[str, float | None]) -> None:
    """Exit 3, naming each miss, when `metrics` (of the first mode) miss a guard."""
    missed = []
    for name, limit in guards.items():
        if limit is None:
            continue
        metric, kind = GUARDS[name]
        value = metrics[metric]  # `evaluate` checked that every guard given applies
        if value is not None and (value < limit if kind == "min" else value > limit):
            missed.append(f"{mode} {metric} {value} {'<' if kind == 'min' else '>'} {limit}")
    if missed:
        click.echo(f"newsqa: quality guard missed: {'; '.join(missed)}", err=True)
        sys.exit(3)


def _optimize(settings: Settings) -> None:
    """Merge every segment of the index into one and print what was done."""
    from indexer.merge import optimize
    from indexer.shards import optimize_sharded

    started = time.perf_counter()
    shards = optimize_sharded(settings) if is_sharded(settings.index_dir) else [optimize(settings)]
    for stored, merged in shards:
        done = f"merged {merged} segments into one" if merged else "already one segment without deletions"
        click.echo(
            f"{done}: {len(stored.documents)} documents, {stored.passage_count} passages "
            f"in {time.perf_counter() - started:.1f} s -> {stored.path}"
        )


def _check(check_dir: Path | None, index_dir: Path | None, backend: str | None) -> None:
    """Print "ok: N documents, M passages", or one line per problem and exit 1."""
    from indexer.check import check_index
    from indexer.embed import Embedder
    from indexer.store import read_manifest

    settings = load_settings(index_dir=check_dir or index_dir, backend=backend)
    if is_sharded(settings.index_dir):
        from indexer.shards import check_sharded

        folders, problems = check_sharded(settings.index_dir)
    else:
        folders, problems = [settings.index_dir], []
    embedder = None
    try:  # the model the index was built with, to re-embed a sample of passages
        built_with = read_manifest(resolve(folders[0])).get("model", {}).get("name") if folders else None
    except NewsqaError:
        built_with = None  # check_index says what is wrong with the index
    if built_with:
        try:
            embedder = Embedder.from_settings(settings.model_copy(update={"model": built_with}))
        except NewsqaError as exc:
            click.echo(f"newsqa: warning: vectors not checked against passages: {exc}", err=True)
    for folder in folders:
        report = check_index(folder, embedder)
        if report.ok:
            where = "" if len(folders) == 1 else f"{folder.parent.parent.name}: "
            click.echo(where + report.summary())
        problems += report.problems
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)


def _build(
    settings: Settings,
    paths: list[Path],
    embedder: Any = None,
    full: bool = False,
    quiet: bool = False,
    embed: Any = None,
    shards: int | None = None,
) -> Any:
    """Build the index, with progress bars on stderr when it is a terminal and not `quiet`;
    `embed` embeds the passages in place of the model loaded here (a Ray cluster); with
    `shards`, a sharded index of that many shards."""
    from indexer.build import build_index
    from indexer.embed import Embedder
    from indexer.shards import build_sharded

    progress = sys.stderr.isatty() and not quiet
    if embedder is None:
        if progress:  # a few seconds, before the first bar
            click.echo(f"Loading the model {settings.model}", err=True)
        embedder = Embedder.from_settings(settings)
    if shards is not None:
        return build_sharded(paths, settings, embedder, shards, progress=progress, full=full, embed=embed)
    return build_index(paths, settings, embedder, progress=progress, full=full, embed=embed)


def _has_index(root: Path) -> bool:
    """Whether `root` holds an index, sharded or not."""
    if is_sharded(root):
        return True
    try:
        resolve(root)
    except IndexNotFoundError:
        return False
    return True


def _serve_on_ray(settings: Settings, address: str, shards: int, replicas: int) -> None:
    """Deploy on Ray Serve and wait for Ctrl-C or SIGTERM, then take the deployments down."""
    from indexer.distributed import connect
    from service.http import cluster

    connect(address)
    # After connecting: Ray's driver installs handlers of its own, which exit at once.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        cluster.start(settings, address, shards, replicas)
        click.echo(
            f"serving {settings.index_dir} on Ray Serve: {shards} shard(s) x {replicas} replica(s) "
            f"behind http://{settings.host}:{settings.port}/",
            err=True,
        )
        stopping.wait()
    finally:
        cluster.stop()


def _load(index_dir: Path | None, backend: str | None = None, build_missing: bool = False) -> Any:
    """The index of `index_dir`; with `build_missing`, one of the bundled articles is built
    there first when there is none, as `newsqa serve` does, saying so on stderr."""
    from indexer.embed import Embedder
    from service.core.index import Index

    settings = load_settings(index_dir=index_dir, backend=backend)
    if is_sharded(settings.index_dir):
        from service.core.shards import ShardedIndex

        return ShardedIndex.open(settings)
    if build_missing and not _has_index(settings.index_dir):
        embedder = Embedder.from_settings(settings)
        click.echo(f"no index in {settings.index_dir}: indexing {settings.articles_dir} first", err=True)
        click.echo(_build(settings, [settings.articles_dir], embedder).summary(), err=True)
        return Index.load(settings, embedder)
    return Index.load(settings)


def _format_ask(response: AskResponse) -> str:
    if response.answer is None:
        head = "No answer: nothing in the archive answers this question closely enough."
    else:
        answer = response.answer
        where = f"{answer.doc_id} {answer.start}:{answer.end}, {answer.type}{_language(answer.language)}"
        head = _wrap(f"Answer: {answer.text}") + f"\n  [{where}, score {answer.score:.3f}]"
        if answer.type != "sentence":  # the short answer, then the sentence that says it
            sentence = answer.sentence
            head += "\n" + textwrap.indent(_wrap(f"“{sentence.text}”"), "  ")
            head += f"\n  [{answer.doc_id} {sentence.start}:{sentence.end}]"
        if answer.gloss:  # an aid to reading the sentence, not a translation, and not cited
            head += "\n" + textwrap.indent(_wrap(f"Word-by-word gloss: {answer.gloss}"), "  ")
    return head + "\n\n" + _format_citations(response.citations)


def _format_search(response: SearchResponse) -> str:
    return _format_citations(response.results) or "No results."


def _format_list(page: DocumentPage) -> str:
    """The page as a table, a day taken from the file's modification time starred."""
    if not page.documents:
        return "No documents."
    rows = [("DATE", "LANG", "PASSAGES", "ID", "TITLE")]
    for item in page.documents:
        day = (item.date or "-")[:10] + ("*" if item.date_source == "file" else "")
        rows.append((day, item.language, str(item.passages), item.doc_id, textwrap.shorten(item.title, 60)))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)), row[4]])
        for row in rows
    ]
    if any(item.date_source == "file" for item in page.documents):
        lines.append("* the file's modification day: no publication date was found")
    if page.next_cursor:
        lines.append(f"more: newsqa list --cursor {page.next_cursor}")
    return "\n".join(lines)


def _language(code: str) -> str:
    """A passage's language where it is not English, as a tag's part: ", no"."""
    return "" if code == "en" else f", {code}"


def _format_citations(citations: list[Citation]) -> str:
    return "\n\n".join(
        f"{c.rank}. {c.title}\n"
        f"   [{c.doc_id} {c.start}:{c.end}{_language(c.language)}, score {c.score:.4f}]\n"
        + textwrap.indent(_wrap(textwrap.shorten(c.text, 400, placeholder=" …")), "   ")
        for c in citations
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=100, break_on_hyphens=False)
