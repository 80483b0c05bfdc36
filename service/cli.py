"""The `newsqa` command: index, serve, search, ask and eval, as thin shells over `Index`."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from indexer.errors import IndexNotFoundError, NewsqaError
from indexer.settings import Settings, load_settings
from indexer.store import resolve
from service.models import AskResponse, Citation, SearchResponse

MODE = click.Choice(["hybrid", "dense", "lexical"])
index_dir_option = click.option(
    "--index-dir",
    type=click.Path(path_type=Path),
    help="Index directory [env NEWSQA_INDEX_DIR; default ./index].",
)
top_k_option = click.option("-k", "--top-k", type=click.IntRange(1, 50), default=5, show_default=True)
mode_option = click.option("--mode", type=MODE, default="hybrid", show_default=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def query_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `search` and `ask` share: -k, --mode, --json, --index-dir."""
    for option in (index_dir_option, json_option, mode_option, top_k_option):
        command = option(command)
    return command


def main() -> None:
    """Entry point: runs the command group, turning newsqa errors into one line and exit code 1."""
    logging.basicConfig(level=logging.WARNING, format="newsqa: %(levelname)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
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
def index(
    paths: tuple[Path, ...],
    index_dir: Path | None,
    model: str | None,
    chunk_tokens: int | None,
    chunk_overlap: int | None,
) -> None:
    """Index articles (.txt, .md, .html, .jsonl files or folders; default: the bundled articles)."""
    settings = load_settings(
        index_dir=index_dir, model=model, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap
    )
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATHS")
    click.echo(_build(settings, list(paths) or [settings.articles_dir]).summary())


@cli.command()
@index_dir_option
@click.option("--host", help="Address to listen on [env NEWSQA_HOST; default 127.0.0.1].")
@click.option("--port", type=int, help="Port [env NEWSQA_PORT; default 8000].")
def serve(index_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the HTTP API, first indexing the bundled articles if there is no index yet."""
    import uvicorn

    from indexer.embed import Embedder
    from service.api import create_app

    settings = load_settings(index_dir=index_dir, host=host, port=port)
    embedder = Embedder(settings.model, settings.device)
    try:
        resolve(settings.index_dir)
    except IndexNotFoundError:
        click.echo(f"no index in {settings.index_dir}: indexing {settings.articles_dir} first", err=True)
        click.echo(_build(settings, [settings.articles_dir], embedder).summary(), err=True)
    uvicorn.run(create_app(settings, embedder), host=settings.host, port=settings.port)


@cli.command()
@click.argument("query")
@query_options
def search(query: str, top_k: int, mode: str, as_json: bool, index_dir: Path | None) -> None:
    """Print the passages that best match QUERY."""
    response = _load(index_dir).search(query, top_k=top_k, mode=mode)  # type: ignore[arg-type]
    click.echo(response.model_dump_json(indent=2) if as_json else _format_search(response))


@cli.command()
@click.argument("question")
@query_options
def ask(question: str, top_k: int, mode: str, as_json: bool, index_dir: Path | None) -> None:
    """Answer QUESTION from the archive, with the passages it came from."""
    response = _load(index_dir).ask(question, top_k=top_k, mode=mode)  # type: ignore[arg-type]
    click.echo(response.model_dump_json(indent=2) if as_json else _format_ask(response))


@cli.command(name="eval")
@click.option(
    "--set",
    "question_set",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Question set (JSON Lines) [default: the bundled eval/questions.jsonl].",
)
@click.option("--modes", default="hybrid,dense,lexical", show_default=True)
@click.option("-k", "--top-k", type=click.IntRange(1, 50), default=10, show_default=True)
@json_option
@index_dir_option
def evaluate(
    question_set: Path | None, modes: str, top_k: int, as_json: bool, index_dir: Path | None
) -> None:
    """Score retrieval and answers against a question set."""
    from eval.run import QUESTIONS, evaluate, load_questions, markdown

    chosen = [mode.strip() for mode in modes.split(",") if mode.strip()]
    unknown = [mode for mode in chosen if mode not in MODE.choices]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown mode(s) {', '.join(unknown) or '(none)'}", param_hint="--modes")
    report = evaluate(_load(index_dir), load_questions(question_set or QUESTIONS), chosen, top_k)  # type: ignore[arg-type]
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else markdown(report))


def _build(settings: Settings, paths: list[Path], embedder: Any = None) -> Any:
    from service.index import Index

    _, report = Index.build(paths, settings, embedder, progress=sys.stderr.isatty())
    return report


def _load(index_dir: Path | None) -> Any:
    from service.index import Index

    return Index.load(load_settings(index_dir=index_dir))


def _format_ask(response: AskResponse) -> str:
    if response.answer is None:
        head = "No answer: nothing in the archive answers this question closely enough."
    else:
        answer = response.answer
        head = (
            _wrap(f"Answer: {answer.text}")
            + f"\n  [{answer.doc_id} {answer.start}:{answer.end}, score {answer.score:.3f}]"
        )
    return head + "\n\n" + _format_citations(response.citations)


def _format_search(response: SearchResponse) -> str:
    return _format_citations(response.results) or "No results."


def _format_citations(citations: list[Citation]) -> str:
    return "\n\n".join(
        f"{c.rank}. {c.title}\n   [{c.doc_id} {c.start}:{c.end}, score {c.score:.4f}]\n"
        + textwrap.indent(_wrap(textwrap.shorten(c.text, 400, placeholder=" …")), "   ")
        for c in citations
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=100, break_on_hyphens=False)
