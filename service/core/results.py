"""What the retrieval core returns (pydantic models: the API returns them as they are, and the
CLI's `--json` prints the same), and the limits it holds a query to."""

from __future__ import annotations

from pydantic import BaseModel

MAX_TOP_K = 50
MAX_QUESTION_CHARS = 1000


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
    language: str = "en"


class AnswerSentence(BaseModel):
    """The sentence (or clause) that holds the answer: `text == document.text[start:end]`."""

    text: str
    start: int
    end: int


class Answer(BaseModel):
    """The extractive answer: the short phrase that answers (`text == document.text[start:end]`
    of document `doc_id`), inside `sentence`. `type` is its answer type (person, organisation,
    date, number, place, list, name, thing), or "sentence" when the answer is the sentence.
    `language` is the document's; for a sentence in another language than English, `gloss` is
    its word-by-word English gloss from the installed dictionary (not a translation, and never
    part of the cited text)."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float
    type: str = "sentence"
    sentence: AnswerSentence
    language: str = "en"
    gloss: str | None = None


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
