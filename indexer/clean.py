"""Clean a raw article into the stored document: debris out, metadata (title, URL, language) in."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import py3langid

from indexer import debris
from indexer.dates import publication_date
from indexer.errors import SourceError
from indexer.fields import is_web_url
from indexer.sources import RawArticle
from indexer.text import fold, sentence_spans

_SOURCE_LINE = re.compile(r"(?:kilde|source|nguồn)\s*:\s*(https?://\S+)", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^[-–—•*·]\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADLINE_END = tuple(".!?:;,…")
_DERIVED_TITLE_CHARS = 90
# Longer metadata "titles" are cut: each passage is embedded under its title, and a title that
# filled the model's input would leave no room for the passage.
_MAX_TITLE_CHARS = 150


@dataclass(frozen=True)
class Document:
    """A cleaned article as stored in the index. Citations are offsets into `text`."""

    doc_id: str
    title: str
    text: str
    language: str
    source: str
    url: str | None = None
    # The publication day, ISO 8601 "YYYY-MM-DD" (indexer/dates.py); None when unknown.
    date: str | None = None
    sha256: str = ""
    # The publication the article comes from ("Harper's Magazine"), where its page names one.
    site: str | None = None
    # Where `date` was found: "metadata" (a JSON Lines or API field, a page's metadata), "url",
    # "text" (a dateline), "file" (the file's modification time) or "received" (the day an API
    # write without any date arrived).
    date_source: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def clean(raw: RawArticle) -> Document:
    """The stored form of `raw`. Raises SourceError when nothing is left after cleaning."""
    paragraphs, url = _paragraphs(raw.text)
    site = _one_line(raw.site) if raw.site else None
    title = without_site(_one_line(raw.title), site, raw.url) if raw.title else None
    # The title repeated as the first line goes, unless it is all there is: a news brief
    # whose text is its headline is still an article.
    if title and len(paragraphs) > 1 and fold(paragraphs[0]) == fold(title):
        paragraphs = paragraphs[1:]
    elif not title and len(paragraphs) > 1 and _is_headline(paragraphs[0]):
        title, paragraphs = paragraphs[0], paragraphs[1:]
    text = "\n\n".join(paragraphs)
    if not text:
        raise SourceError(f"{raw.source}: no article text left after cleaning")
    language = raw.language.lower() if raw.language else detect_language(text)
    # A date that is no date (a JSON Lines "date": "soon") is passed over for the other ways.
    date, date_source = publication_date(
        text, language, metadata=raw.date, urls=(raw.url, url), fallback=raw.fallback_date
    ) or (None, None)
    return Document(
        doc_id=raw.doc_id,
        title=_shorten(title, _MAX_TITLE_CHARS) if title else derive_title(text),
        text=text,
        language=language,
        source=raw.source,
        url=raw.url or url,
        date=date,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        site=site,
        date_source=date_source,
    )


def _paragraphs(text: str) -> tuple[list[str], str | None]:
    """Non-empty, whitespace-normalised lines of `text` with debris removed, and a source URL."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs: list[str] = []
    seen: set[str] = set()
    url = None
    lines = [line for line in map(_one_line, text.split("\n")) if line]
    teasers = False  # inside a block of teasers (see indexer/debris.py), which prose ends
    for number, line in enumerate(lines):
        if teasers and not debris.resumes(lines, number, after_story=any(map(debris.prose, paragraphs))):
            continue
        teasers = debris.teaser_heading(line)
        if teasers or debris.inline_teaser(line) or debris.line_debris(line):
            continue
        if (source := _SOURCE_LINE.fullmatch(line)) and is_web_url(source.group(1)):
            url = source.group(1)
            continue
        if paragraphs and _wrapped(paragraphs[-1], line):
            paragraphs[-1] += " " + line  # a site's hard line break inside a sentence
        elif fold(line) not in seen or len(line.split()) > _REPEAT_WORDS:
            paragraphs.append(line)
        seen.add(fold(line))
    return paragraphs, url


def _wrapped(before: str, line: str) -> bool:
    """Whether `line` continues the sentence of the paragraph `before`, cut by a hard line
    break: `before` stops mid-sentence (a letter, digit or comma, after more words than a
    headline has) and `line` goes on in lower case."""
    return (
        len(before.split()) > _WRAP_WORDS
        and (before[-1].isalnum() or before[-1] == ",")
        and line[0].islower()
    )


# A short paragraph said again (a headline or standfirst repeated at the top, a caption twice)
# is dropped; a long one is kept, in case an article does repeat itself.
_REPEAT_WORDS = 60
# A paragraph of more words than this that stops mid-sentence was cut by a line break.
_WRAP_WORDS = 8
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||–|—|-|·|::|/|⋆|»)\s+|(?<=[?!])-\s+")
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")


def without_site(title: str, site: str | None, url: str | None) -> str:
    """`title` without the site name it carries: "A Letter on Justice | Harper's Magazine" ->
    "A Letter on Justice". A segment at either end goes when it names the site (its `site`
    name or the host of its `url`) or is a date; the headline itself never does."""
    names = [_letters(name) for name in (site or "", urlsplit(url or "").hostname or "") if name]
    names = [name.removeprefix("www").removesuffix(_tld(name)) or name for name in names]
    names = [name for name in names if len(name) >= 3]
    if site and _letters(title).endswith(_letters(site)) and len(_letters(title)) > len(_letters(site)):
        cut = _TITLE_SEPARATOR.search(title[: max(0, len(title) - len(site)) + 3])
        if cut is not None and _letters(title[cut.end() :]) == _letters(site):
            return title[: cut.start()]
    parts = _TITLE_SEPARATOR.split(title)
    separators = [m.group() for m in _TITLE_SEPARATOR.finditer(title)]

    def is_site(part: str) -> bool:
        letters = _letters(part)
        return bool(_DATE_LIKE.fullmatch(part.strip())) or (
            bool(letters)
            and (letters == _letters(site or "") or any(letters in name or name in letters for name in names))
        )

    while len(parts) > 1 and is_site(parts[-1]):
        parts, separators = parts[:-1], separators[:-1]
    while len(parts) > 1 and is_site(parts[0]):
        parts, separators = parts[1:], separators[1:]
    return parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True))


def _letters(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _tld(host_letters: str) -> str:
    """The top-level domain's letters at the end of a host's letters ("harpersorg" -> "org")."""
    return next((tld for tld in _TLDS if host_letters.endswith(tld)), "")


_TLDS = ["com", "org", "net", "info", "de", "ch", "pl", "fr", "uk", "vn", "no", "eu", "at", "it", "es"]


def _one_line(text: str) -> str:
    """`text` in NFC on one line: control characters and runs of whitespace become one space."""
    return " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", text)).split())


def _is_headline(line: str) -> bool:
    return len(line) <= 150 and len(line.split()) <= 20 and not line.endswith(_HEADLINE_END)


def derive_title(text: str) -> str:
    """A title for an article that has none: its first sentence, shortened at a word."""
    start, end = sentence_spans(text)[0]
    first = _LIST_MARKER.sub("", text[start:end]).rstrip(".") or text[start:end]
    return _shorten(first, _DERIVED_TITLE_CHARS)


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language."""
    language, _ = py3langid.classify(text[:5000])
    return str(language)
