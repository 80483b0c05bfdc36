"""Request and response shapes of the API; the CLI's `--json` prints the same."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from indexer.settings import Mode

MAX_TOP_K = 50
MAX_QUESTION_CHARS = 1000


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
