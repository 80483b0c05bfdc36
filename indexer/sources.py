"""Read article files (.txt, .md, .html/.htm, .jsonl) into raw articles, one per document id."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from indexer.errors import SourceError

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"}

# Block-level HTML elements: their text is separated by a blank line in the plain text.
_BLOCKS = [
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "tr",
    "br",
    "section",
    "article",
    "header",
    "footer",
]

# json.loads joins escaped surrogate pairs into one character; any surrogate left is alone.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class RawArticle:
    """An article as read from disk, before cleaning. `title`/`url` are None when unknown."""

    doc_id: str
    text: str
    source: str
    title: str | None = None
    url: str | None = None
    date: str | None = None
    language: str | None = None


def find_files(paths: Iterable[Path]) -> list[Path]:
    """The article files named by `paths` (files, or folders searched recursively), sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            found.add(path)
        else:
            raise SourceError(f"{path}: no such file or folder")
    return sorted(found)


def read_file(path: Path) -> Iterator[RawArticle]:
    """Raw articles of one file. Raises SourceError naming the file when it is unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SourceError(f"{path}: unsupported file type (use {', '.join(sorted(SUFFIXES))})")
    text = _read_text(path)
    if suffix == ".jsonl":
        yield from _jsonl_articles(path, text)
    elif suffix in (".html", ".htm"):
        yield _html_article(path, text)
    elif suffix in (".md", ".markdown"):
        yield RawArticle(doc_id=path.stem, text=_markdown_text(text), source=str(path))
    else:
        yield RawArticle(doc_id=path.stem, text=text, source=str(path))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data:
        raise SourceError(f"{path}: binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise SourceError(f"{path}: empty file")
    return text


def _jsonl_articles(path: Path, text: str) -> Iterator[RawArticle]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            log.warning("skipped %s: invalid JSON (%s)", where, exc.msg)
            continue
        if not isinstance(record, dict):
            log.warning("skipped %s: expected a JSON object", where)
            continue
        record = {key: _no_lone_surrogates(value) for key, value in record.items()}
        doc_id, body = record.get("id"), record.get("text")
        if not isinstance(doc_id, (str, int)) or not str(doc_id).strip():
            log.warning("skipped %s: missing 'id'", where)
            continue
        if not isinstance(body, str) or not body.strip():
            log.warning("skipped %s: missing or empty 'text'", where)
            continue
        optional = {
            key: value.strip() if isinstance(value, str) and value.strip() else None
            for key in ("title", "url", "date", "language")
            for value in [record.get(key)]
        }
        yield RawArticle(doc_id=str(doc_id).strip(), text=body, source=where, **optional)


def _no_lone_surrogates(value: object) -> object:
    """`value` with each lone surrogate a JSON string escaped (`"\\ud800"`) made U+FFFD: such
    a str cannot be encoded as UTF-8, so it could be neither hashed nor stored."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _html_article(path: Path, text: str) -> RawArticle:
    """Main text and metadata of a web page, boilerplate (menus, comments) removed."""
    extracted = trafilatura.bare_extraction(
        text,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        favor_recall=True,
    )
    fields = extracted if isinstance(extracted, dict) else extracted.as_dict() if extracted else {}
    if (fields.get("text") or "").strip():
        return RawArticle(
            doc_id=path.stem,
            text=fields["text"],
            source=str(path),
            title=fields.get("title") or None,
            url=fields.get("url") or None,
            date=fields.get("date") or None,
        )
    # Too short or too plain for trafilatura's heuristics: fall back to all visible text.
    return RawArticle(doc_id=path.stem, text=html_to_text(text), source=str(path))


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, one block element per paragraph."""
    try:
        tree = lxml_html.fromstring(markup)
    except Exception as exc:  # lxml raises several unrelated types on junk input
        raise SourceError(f"cannot parse HTML ({exc})") from None
    for element in list(tree.iter("script", "style", "noscript", "template")):
        if element.getparent() is not None:
            element.drop_tree()
    for element in tree.iter(*_BLOCKS):
        element.tail = "\n\n" + (element.tail or "")
    return str(tree.text_content())


def _markdown_text(markup: str) -> str:
    return html_to_text(MarkdownIt("commonmark").render(markup) or "<p></p>")
