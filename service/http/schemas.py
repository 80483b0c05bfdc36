"""The HTTP API's own shapes: request bodies, documents, health, writes and error bodies, and
the limits on them. What a search or question returns is the core's (service/core/results.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from indexer import fields
from indexer.clean import detect_language
from indexer.dates import normalise
from indexer.fields import (
    DOC_ID_PATTERN,
    LANGUAGE_PATTERN,
    MAX_DATE_CHARS,
    MAX_DOC_ID_CHARS,
    MAX_LANGUAGE_CHARS,
    MAX_SITE_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
)
from indexer.settings import Mode
from service.core.results import MAX_QUESTION_CHARS, MAX_TOP_K
from service.http.params import SearchParams

T = TypeVar("T")

MAX_BATCH = 100


class AskRequest(SearchParams):
    """A question, and what to search for its answer: the filters and sort of /search."""

    question: StrictStr = Field(
        max_length=MAX_QUESTION_CHARS, examples=["What did Nghiem ask of Van Son ward?"]
    )
    top_k: StrictInt = Field(default=5, ge=1, le=MAX_TOP_K)
    mode: Mode = "hybrid"

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return question


class DocumentResponse(BaseModel):
    doc_id: str
    title: str
    url: str | None
    language: str
    date: str | None
    source: str
    sha256: str
    text: str
    site: str | None = None
    # Where `date` was found: metadata, url, text, file or received (indexer/clean.py: Document).
    date_source: str | None = None


class HealthResponse(BaseModel):
    status: str
    documents: int
    passages: int
    model: str
    index: dict[str, Any]
    crosslingual: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """Every error the API returns: a one-line human `detail`."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(ErrorResponse):
    """A 422: `detail` reads as one line per problem; `errors` lists them for programs."""

    errors: list[FieldError] = []


class ArticleRequest(BaseModel):
    """One article to add or replace, as in a `.jsonl` input line; cleaned like every indexed
    file, and held to the same field rules (indexer/fields.py)."""

    id: StrictStr = Field(
        max_length=MAX_DOC_ID_CHARS,
        json_schema_extra={"pattern": DOC_ID_PATTERN},
        examples=["2026-11-23-flood"],
    )
    text: StrictStr = Field(max_length=MAX_TEXT_CHARS, examples=["Heavy rain flooded the lower town."])
    title: StrictStr | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    url: StrictStr | None = Field(
        default=None,
        max_length=MAX_URL_CHARS,
        description="An absolute http or https URL.",
        examples=["https://example.org/2026/11/23/flood"],
    )
    site: StrictStr | None = Field(
        default=None, max_length=MAX_SITE_CHARS, description="The publication", examples=["Son La Newspaper"]
    )
    language: StrictStr | None = Field(
        default=None, max_length=MAX_LANGUAGE_CHARS, json_schema_extra={"pattern": LANGUAGE_PATTERN}
    )
    # After `language` and `text`: a date is read in the article's language ("29. november 2025").
    date: StrictStr | None = Field(
        default=None,
        max_length=MAX_DATE_CHARS,
        description="The publication day or time, ISO 8601 or written out in the article's language;"
        " stored as its ISO day. Without one, a date in the URL or the first lines, else the day it arrived.",
        examples=["2026-11-23", "23. november 2026", "ngày 23/11/2026"],
    )

    @field_validator("id")
    @classmethod
    def _id(cls, doc_id: str) -> str:
        return _checked(fields.check_doc_id, doc_id)

    @field_validator("text")
    @classmethod
    def _text(cls, text: str) -> str:
        return _checked(fields.check_text, text)

    @field_validator("title", "date", "site")
    @classmethod
    def _one_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        limits = {"title": MAX_TITLE_CHARS, "date": MAX_DATE_CHARS, "site": MAX_SITE_CHARS}
        limit = limits[str(info.field_name)]
        return _checked(lambda line: fields.check_line(str(info.field_name), line, limit), value)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return _checked(fields.check_url, url)

    @field_validator("date")
    @classmethod
    def _date(cls, date: str | None, info: ValidationInfo) -> str | None:
        """The date as its ISO day, read in the article's language (given, or found in its
        text as cleaning will find it); a 422 naming `date` when it names no day."""
        if date is None or not date.strip():
            return None  # a blank date is none, as in a JSON Lines line
        if "text" not in info.data or "language" not in info.data:
            return date  # the text or the language is refused already
        language = info.data["language"] or detect_language(info.data["text"])
        day = normalise(date, language)
        if day is None:
            raise PydanticCustomError("invalid_date", "not a date (use ISO 8601, e.g. 2026-11-23)")
        return day

    @field_validator("language")
    @classmethod
    def _language(cls, language: str | None) -> str | None:
        return _checked(fields.check_language, language)


def _checked(check: Callable[[T], object], value: T) -> T:
    """`value` if `check` passes it; else its FieldError as a pydantic error (a 422 naming the field)."""
    try:
        check(value)
    except fields.FieldError as exc:
        raise PydanticCustomError(f"invalid_{exc.field}", exc.rule) from None
    return value


class BatchRequest(BaseModel):
    """Articles added or replaced together, as one new index version."""

    documents: list[ArticleRequest] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("documents")
    @classmethod
    def _distinct_ids(cls, documents: list[ArticleRequest]) -> list[ArticleRequest]:
        ids = [article.id for article in documents]
        if repeated := sorted({doc_id for doc_id in ids if ids.count(doc_id) > 1}):
            raise PydanticCustomError("repeated_id", "repeated id(s): {ids}", {"ids": ", ".join(repeated)})
        return documents


class DocumentWritten(BaseModel):
    """An article as stored by a write; `version` is the index version that holds it."""

    doc_id: str
    title: str
    language: str
    passages: int
    version: str


class BatchItem(BaseModel):
    doc_id: str
    title: str
    language: str
    passages: int
    created: bool


class BatchWritten(BaseModel):
    version: str
    documents: list[BatchItem]


class DocumentDeleted(BaseModel):
    doc_id: str
    version: str


class ReloadResponse(BaseModel):
    """What `POST /admin/reload` swapped in: the version now served, and the one before it."""

    version: str
    previous: str | None
    changed: bool
    documents: int
    passages: int


# The error bodies the API's handlers really send, for the routes' `responses=` (FastAPI would
# otherwise document only its own 422).
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "No index is loaded; `detail` says how to build one."}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "The request is invalid; `detail` says why."}
}
UNREADABLE: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be parsed (not UTF-8, say)."}
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The body is over NEWSQA_MAX_BODY_BYTES."}
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "NEWSQA_API_TOKEN is set and the token is missing or wrong."}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such document."}
}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No `Authorization: Bearer <token>`, or a wrong token."},
    403: {"model": ErrorResponse, "description": "Writes are disabled: NEWSQA_ADMIN_TOKEN is unset."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Not possible in the archive's present state."}
}
