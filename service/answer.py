"""Extractive answers: the sentence of the top passages that best answers the question."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import bm25s
import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.text import terms
from service.models import Answer, Citation

# Weights of a sentence's score, chosen on the bundled evaluation set (see README):
# semantic similarity to the question, IDF-weighted share of the question's terms it
# contains, and a small preference for sentences from higher-ranked passages.
SIMILARITY_WEIGHT = 1.0
OVERLAP_WEIGHT = 0.3
RANK_PENALTY = 0.02

# Questions whose answer is a figure or a date: a sentence without a digit cannot hold it.
_ASKS_FOR_NUMBER = re.compile(
    r"\bhow (many|much|large|long|far|old|high)\b"
    r"|\b(what|which)( is| was| are| were)?( the)? (percentage|proportion|share|number|total"
    r"|amount|rate|level|date|year|period)\b"
    r"|^\s*(on |in |since |until )?when\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[\w'’-]+")


class Vocabulary:
    """What the archive says, for weighing and checking question terms.

    Read off the BM25 index's posting lists (which passages hold each term), so the
    terms are exactly those the index was built with and nothing is re-tokenised at load.
    """

    def __init__(self, lexical: bm25s.BM25, passages: list[Passage]) -> None:
        self.columns: dict[str, int] = lexical.vocab_dict
        self.indptr: np.ndarray = lexical.scores["indptr"]
        self.rows: np.ndarray = lexical.scores["indices"]
        self.document_ids = sorted({passage.doc_id for passage in passages})
        number = {doc_id: i for i, doc_id in enumerate(self.document_ids)}
        self.passage_docs = np.array([number[passage.doc_id] for passage in passages], dtype=np.int64)
        self.documents = len(self.document_ids)

    def passages_with(self, term: str) -> np.ndarray:
        """Rows of the passages (title included) that contain `term`."""
        column = self.columns.get(term)
        if column is None or column + 1 >= len(self.indptr):  # bm25s's empty token has no column
            return self.rows[:0]
        return self.rows[self.indptr[column] : self.indptr[column + 1]]

    def idf(self, term: str) -> float | None:
        """Inverse passage frequency of `term`; None for a term the archive never uses."""
        seen = len(self.passages_with(term))
        return math.log(1 + len(self.passage_docs) / seen) if seen else None

    def documents_with(self, term: str) -> np.ndarray:
        """Numbers (indices into `document_ids`) of the documents that contain `term`, sorted."""
        # A mask over the documents, not np.unique: no sort of a posting list that may hold
        # most of a large archive's passages (22 ms a question at 200k passages).
        present = np.zeros(self.documents, dtype=bool)
        present[self.passage_docs[self.passages_with(term)]] = True
        return np.flatnonzero(present)

    def unknown_numbers(self, question: str) -> list[str]:
        """Numbers in the question (years, figures, document numbers) the archive never mentions."""
        return [
            word
            for word in re.findall(r"\w*\d\w*", question)
            if any(self.idf(term) is None for term in terms(word))
        ]

    def subject_documents(self, question: str) -> set[str] | None:
        """The documents that mention every name and number of the question that picks out
        a subject, or None when it names none.

        Such terms come from words capitalised after the first, or with a digit, and are
        known to the archive but mentioned in at most half of its documents ("Na Sang",
        "CT03"; not "Party" or "Committee")."""
        words = _WORD.findall(question)[1:]
        named = {term for word in words if word[0].isupper() or _DIGIT.search(word) for term in terms(word)}
        subject: np.ndarray | None = None
        for term in named:
            documents = self.documents_with(term)
            if 0 < len(documents) <= self.documents / 2:
                subject = documents if subject is None else np.intersect1d(subject, documents, True)
        return None if subject is None else {self.document_ids[i] for i in subject}


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity or a date."""
    return bool(_ASKS_FOR_NUMBER.search(question))


# The sentences of a cited passage: their (start, end) offsets in the document and unit vectors.
SentencesOf = Callable[[Citation], tuple[list[tuple[int, int]], np.ndarray]]


def extract_answer(
    question: str,
    question_vector: np.ndarray,
    citations: list[Citation],
    documents: dict[str, Document],
    sentences_of: SentencesOf,
    vocabulary: Vocabulary,
) -> Answer | None:
    """The best-scoring sentence among the `citations`' passages, with its exact offsets.

    Sentences are scored with the vectors the index stored for them (`sentences_of`), so
    answering embeds nothing beyond the question.

    None when no sentence can answer: only sentences of documents that mention the
    question's subject (`Vocabulary.subject_documents`) qualify, and for a question asking
    for a quantity or date only sentences with a digit.
    """
    subject = vocabulary.subject_documents(question)
    wants_number = asks_for_number(question)
    # (doc_id, start, end) -> (rank of the best passage holding it, its similarity there)
    candidates: dict[tuple[str, int, int], tuple[int, float]] = {}
    for citation in citations:
        if subject is not None and citation.doc_id not in subject:
            continue
        text = documents[citation.doc_id].text
        offsets, vectors = sentences_of(citation)
        for (start, end), similarity in zip(offsets, vectors @ question_vector, strict=True):
            if not wants_number or _DIGIT.search(text[start:end]):
                candidates.setdefault((citation.doc_id, start, end), (citation.rank, float(similarity)))
    if not candidates:
        return None
    spans = list(candidates)
    sentences = [documents[doc_id].text[start:end] for doc_id, start, end in spans]
    # Terms the archive never uses cannot tell its sentences apart.
    weights = {term: vocabulary.idf(term) for term in terms(question)}
    wanted = {term: weight for term, weight in weights.items() if weight is not None}
    scores = [
        SIMILARITY_WEIGHT * candidates[spans[i]][1]
        + OVERLAP_WEIGHT * _overlap(wanted, sentences[i])
        - RANK_PENALTY * (candidates[spans[i]][0] - 1)
        for i in range(len(spans))
    ]
    best = int(np.argmax(scores))
    doc_id, start, end = spans[best]
    return Answer(text=sentences[best], doc_id=doc_id, start=start, end=end, score=round(scores[best], 6))


def _overlap(wanted: dict[str, float], sentence: str) -> float:
    """IDF-weighted share of the question's terms that occur in the sentence, so that a
    rare name counts for more than a word every passage has ("province", "committee")."""
    total = sum(wanted.values())
    if not total:
        return 0.0
    present = set(terms(sentence))
    return sum(weight for term, weight in wanted.items() if term in present) / total
