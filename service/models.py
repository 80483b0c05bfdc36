"""Request and response shapes of the API; the CLI's `--json` prints the same."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from indexer.settings import Mode

MAX_TOP_K = 50
MAX_QUESTION_CHARS = 1000

# Ids of articles written through the API: ASCII letters, digits and `_ . : @ + -`, starting with a
# letter, digit or `_`; never a `/`, space or control character, so every id is one path segment.
DOC_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,199}$"
MAX_DOC_ID_CHARS = 200
MAX_ARTICLE_CHARS = 1_000_000
MAX_BATCH = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AskRequest(BaseModel):
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


class Citation(BaseModel):
    """A retrieved passage: `text == document.text[start:end]` of document `doc_id`."""

    rank: int
    doc_id: str
    title: str
    chunk_id: str
    text: str
    start: int
    end: int
    score: float


class Answer(BaseModel):
    """The extractive answer: `text == document.text[start:end]` of document `doc_id`."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float


class AskResponse(BaseModel):
    question: str
    answer: Answer | None
    abstained: bool
    citations: list[Citation]
    took_ms: float


class SearchResponse(BaseModel):
    query: str
    results: list[Citation]
    took_ms: float


class DocumentResponse(BaseModel):
    doc_id: str
    title: str
    url: str | None
    language: str
    date: str | None
    source: str
    sha256: str
    text: str


class HealthResponse(BaseModel):
    status: str
    documents: int
    passages: int
    model: str
    index: dict[str, Any]


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
    """One article to add or replace, as in a `.jsonl` input line; cleaned like every indexed file."""

    id: StrictStr = Field(
        max_length=MAX_DOC_ID_CHARS,
        json_schema_extra={"pattern": DOC_ID_PATTERN},
        examples=["2026-11-23-flood"],
    )
    text: StrictStr = Field(max_length=MAX_ARTICLE_CHARS, examples=["Heavy rain flooded the lower town."])
    title: StrictStr | None = Field(default=None, max_length=1000)
    url: StrictStr | None = Field(default=None, max_length=2000)
    date: StrictStr | None = Field(default=None, max_length=100)
    language: StrictStr | None = Field(
        default=None, max_length=20, json_schema_extra={"pattern": r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"}
    )

    @field_validator("id")
    @classmethod
    def _id_chars(cls, doc_id: str) -> str:
        if not re.fullmatch(DOC_ID_PATTERN, doc_id):
            raise PydanticCustomError(
                "doc_id",
                "must be 1-200 of the characters A-Z a-z 0-9 _ . : @ + -, starting with a letter, digit or _",
            )
        return doc_id

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return text

    @field_validator("title", "url", "date")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise PydanticCustomError("control", "must be one line without control characters")
        return value

    @field_validator("language")
    @classmethod
    def _language_code(cls, language: str | None) -> str | None:
        if language is not None and not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", language):
            raise PydanticCustomError("language", "must be a language code such as en, no or vi")
        return language


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
