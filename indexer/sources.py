"""Read article files (.txt, .md, .html/.htm, .jsonl) into raw articles, one per document id."""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
import trafilatura.utils
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from indexer.dates import FILE
from indexer.errors import SourceError
from indexer.fields import FieldError, check_fields, check_url, id_from_name

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
# A JSON Lines article is a flat object; a line longer than the longest article the API takes
# (indexer/fields.py, with room for escapes and metadata) is refused before it is parsed.
MAX_JSONL_LINE_CHARS = 4_000_000


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
    site: str | None = None
    # (ISO day, date source) the article is dated by when nothing in it has a date: its file's
    # modification day ("file"), or the day an API write arrived ("received").
    fallback_date: tuple[str, str] | None = None


@dataclass(frozen=True)
class Skipped:
    """An input the build leaves out, and why: a whole file, or one line of a JSON Lines file."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"

    @property
    def kind(self) -> str:
        """The reason without its details, to count skips by: "invalid JSON", "field url"."""
        return self.reason.split(" (", 1)[0].split(":", 1)[0]


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


def read_file(path: Path) -> Iterator[RawArticle | Skipped]:
    """Raw articles of one file, and each JSON Lines line left out. Raises SourceError naming
    the file when it is unusable.

    A file's document id is its name without the suffix, made a valid id (indexer/fields.py)
    when it is not one; JSON Lines ids and fields must follow the rules as they are.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SourceError(f"{path}: unsupported file type (use {', '.join(sorted(SUFFIXES))})")
    doc_id = id_from_name(path.stem)
    if suffix in (".html", ".htm"):
        yield replace(_html_article(path, doc_id, _read_html(path)), fallback_date=_modified(path))
        return
    text = _read_text(path)
    if suffix == ".jsonl":
        yield from (
            replace(item, fallback_date=_modified(path)) if isinstance(item, RawArticle) else item
            for item in _jsonl_articles(path, text)
        )
    elif suffix in (".md", ".markdown"):
        yield RawArticle(doc_id, _markdown_text(text), str(path), fallback_date=_modified(path))
    else:
        yield RawArticle(doc_id, text, str(path), fallback_date=_modified(path))


def _modified(path: Path) -> tuple[str, str]:
    """The day (UTC) `path` was last modified, as the date of last resort of its articles."""
    try:
        stamp = path.stat().st_mtime
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).date().isoformat(), FILE


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None


def _read_html(path: Path) -> str:
    """A saved web page as text, in the encoding it declares or that detection finds (many
    sites still serve ISO-8859-1 or windows-1250); stray NUL bytes, which some pages carry
    in their markup, are dropped rather than making the page "binary"."""
    data = _read_bytes(path).replace(b"\x00", b"")
    text = trafilatura.utils.decode_file(data) if data.strip() else ""
    if not text.strip():
        raise SourceError(f"{path}: empty file")
    return text


def _read_text(path: Path) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        raise SourceError(f"{path}: binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise SourceError(f"{path}: empty file")
    return text


def _jsonl_articles(path: Path, text: str) -> Iterator[RawArticle | Skipped]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield _jsonl_article(line, f"{path}:{number}")


def _jsonl_article(line: str, where: str) -> RawArticle | Skipped:
    """The article on one JSON Lines line, or why it is left out (logged as a warning)."""
    try:
        record = _parse_line(line)
        doc_id, body = record.get("id"), record.get("text")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool) or not str(doc_id).strip():
            raise SourceError("missing 'id'")
        if not isinstance(body, str) or not body.strip():
            raise SourceError("missing or empty 'text'")
        optional = {
            key: value.strip() if isinstance(value, str) and value.strip() else None
            for key in ("title", "url", "date", "language", "site")
            for value in [record.get(key)]
        }
        raw = RawArticle(
            doc_id=str(doc_id).strip(),
            text=body,
            source=where,
            title=optional["title"],
            url=optional["url"],
            date=optional["date"],
            language=optional["language"],
            site=optional["site"],
        )
        check_fields(raw.doc_id, raw.text, raw.title, raw.url, raw.date, raw.language, raw.site)
    except FieldError as exc:
        return _skip(where, f"field {exc}")
    except SourceError as exc:
        return _skip(where, str(exc))
    return raw


def _parse_line(line: str) -> dict[str, object]:
    """One JSON Lines line as an object, lone surrogates made U+FFFD; SourceError if it is not one."""
    if len(line) > MAX_JSONL_LINE_CHARS:
        raise SourceError(f"line longer than {MAX_JSONL_LINE_CHARS} characters")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid JSON ({exc.msg})") from None
    except RecursionError:  # the parser recurses once per nested array or object
        raise SourceError("invalid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise SourceError("expected a JSON object")
    return {key: _no_lone_surrogates(value) for key, value in record.items()}


def _skip(where: str, reason: str) -> Skipped:
    skipped = Skipped(where, reason)
    log.warning("skipped %s", skipped)
    return skipped


def _no_lone_surrogates(value: object) -> object:
    """`value` with each lone surrogate a JSON string escaped (`"\\ud800"`) made U+FFFD: such
    a str cannot be encoded as UTF-8, so it could be neither hashed nor stored."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


# trafilatura's settings for the main text of a page (measured: docs/2026-12-01-cleaning.md).
EXTRACTION: dict[str, Any] = {"include_comments": False, "include_tables": True, "favor_recall": True}


def _html_article(path: Path, doc_id: str, text: str) -> RawArticle:
    """Main text and metadata of a web page, boilerplate (menus, comments) removed. A page URL
    that is not http(s) is left out (a `javascript:` canonical link, say); the page is kept."""
    extracted = trafilatura.bare_extraction(text, with_metadata=True, **EXTRACTION)
    fields = extracted if isinstance(extracted, dict) else extracted.as_dict() if extracted else {}
    if (fields.get("text") or "").strip():
        return RawArticle(
            doc_id=doc_id,
            text=fields["text"],
            source=str(path),
            title=fields.get("title") or None,
            url=_web_url(fields.get("url"), path),
            date=fields.get("date") or None,
            site=_site_name(fields.get("sitename")),
        )
    # Too short or too plain for trafilatura's heuristics: fall back to all visible text.
    return RawArticle(doc_id=doc_id, text=html_to_text(text), source=str(path))


def _site_name(name: str | None) -> str | None:
    """The page's site name, as a name: "https://pawszilla.com" -> "pawszilla.com"."""
    if not name or not name.strip():
        return None
    name = name.strip()
    return (urlsplit(name).hostname or name) if "://" in name else name


def _web_url(url: str | None, path: Path) -> str | None:
    if not url:
        return None
    try:
        return check_url(url)
    except FieldError as exc:
        log.warning("%s: page URL left out (%s)", path, exc.rule)
        return None


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
