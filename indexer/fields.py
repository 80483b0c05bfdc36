"""The rules every stored document's fields follow, whichever way it came in.

Files, JSON Lines and `POST /documents` all check a document against these rules: the API
answers 422 naming the field, the indexer skips the line (or file) with a warning naming it.
A value that breaks a rule is never stored, so nothing rendered from the archive (the page's
"Source" link, a `/read/{id}` path) can carry a script or escape its place.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from indexer.errors import SourceError

# ASCII letters, digits and `_ . : @ + -`, starting with a letter, digit or `_`: never a `/`,
# space or control character, so every id is one path segment and safe in any URL.
DOC_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,199}$"
MAX_DOC_ID_CHARS = 200
MAX_TEXT_CHARS = 1_000_000
MAX_TITLE_CHARS = 1000
MAX_URL_CHARS = 2000
MAX_DATE_CHARS = 100
MAX_SITE_CHARS = 200
MAX_LANGUAGE_CHARS = 20
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
URL_SCHEMES = ("http", "https")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.:@+-]+")


class FieldError(SourceError):
    """One field of a document breaks its rule; `field` names it."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def check_doc_id(doc_id: str) -> str:
    if not re.fullmatch(DOC_ID_PATTERN, doc_id):
        raise FieldError(
            "id",
            "must be 1-200 of the characters A-Z a-z 0-9 _ . : @ + -, starting with a letter, digit or _",
        )
    return doc_id


def check_text(text: str) -> str:
    if not text.strip():
        raise FieldError("text", "must not be blank")
    if len(text) > MAX_TEXT_CHARS:
        raise FieldError("text", f"must be at most {MAX_TEXT_CHARS} characters")
    return text


def check_line(field: str, value: str | None, limit: int) -> str | None:
    """A one-line metadata field (title, date): at most `limit` characters, no control characters."""
    if value is None:
        return None
    if len(value) > limit:
        raise FieldError(field, f"must be at most {limit} characters")
    if _CONTROL.search(value):
        raise FieldError(field, "must be one line without control characters")
    return value


def check_url(url: str | None) -> str | None:
    """An absolute http(s) URL with a host: any other scheme (`javascript:`, `data:`) could run
    script where the URL is rendered as a link."""
    if url is None:
        return None
    check_line("url", url, MAX_URL_CHARS)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise FieldError("url", "must be an absolute http or https URL") from None
    # urlsplit lower-cases the scheme, and WHATWG parsers strip the same leading and embedded
    # whitespace it would ignore: `url` itself must start with the scheme.
    if parts.scheme not in URL_SCHEMES or not parts.netloc or not url[:8].lower().startswith(parts.scheme):
        raise FieldError("url", "must be an absolute http or https URL")
    return url


def is_web_url(url: str) -> bool:
    """Whether `url` passes `check_url`: where a URL found in a page is kept or a link drawn."""
    try:
        return check_url(url) is not None
    except FieldError:
        return False


def check_language(language: str | None) -> str | None:
    if language is not None and (
        len(language) > MAX_LANGUAGE_CHARS or not re.fullmatch(LANGUAGE_PATTERN, language)
    ):
        raise FieldError("language", "must be a language code such as en, no or vi")
    return language


def check_fields(
    doc_id: str,
    text: str,
    title: str | None = None,
    url: str | None = None,
    date: str | None = None,
    language: str | None = None,
    site: str | None = None,
) -> None:
    """Raise FieldError for the first field of a document that breaks its rule."""
    check_doc_id(doc_id)
    check_text(text)
    check_line("title", title, MAX_TITLE_CHARS)
    check_url(url)
    check_line("date", date, MAX_DATE_CHARS)
    check_language(language)
    check_line("site", site, MAX_SITE_CHARS)


def id_from_name(name: str) -> str:
    """A valid document id for a file named `name` (its stem): the name itself when it is one,
    else its letters folded to ASCII and every other run of characters made a `-`, so a file
    named "Tin tức 1/2.html" is still indexed (as `Tin-tuc-1-2`)."""
    if re.fullmatch(DOC_ID_PATTERN, name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    slug = _NOT_ID.sub("-", ascii_name).strip("-.:@+")[:MAX_DOC_ID_CHARS] or "document"
    return slug if re.fullmatch(DOC_ID_PATTERN, slug) else f"_{slug}"[:MAX_DOC_ID_CHARS]
