"""Extractive answers: the sentence of the top passages that best answers the question."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.text import sentence_spans, terms
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


@dataclass(frozen=True)
class Vocabulary:
    """What the archive says, for weighing and checking question terms."""

    idf: dict[str, float]  # inverse passage frequency of every indexed term
    document_terms: dict[str, frozenset[str]]  # doc_id -> the terms of its title and text

    @classmethod
    def of(cls, documents: Iterable[Document], passages: list[Passage]) -> Vocabulary:
        by_id = {document.doc_id: document for document in documents}
        frequency = Counter(
            term for p in passages for term in set(terms(f"{by_id[p.doc_id].title}\n{p.text}"))
        )
        return cls(
            idf={term: math.log(1 + len(passages) / seen) for term, seen in frequency.items()},
            document_terms={
                doc_id: frozenset(terms(f"{doc.title}\n{doc.text}")) for doc_id, doc in by_id.items()
            },
        )

    def unknown_numbers(self, question: str) -> list[str]:
        """Numbers in the question (years, figures, document numbers) the archive never mentions."""
        return [
            word
            for word in re.findall(r"\w*\d\w*", question)
            if any(term not in self.idf for term in terms(word))
        ]

    def subject_terms(self, question: str) -> set[str]:
        """Terms of the names and numbers the question mentions (capitalised after the first
        word, or with a digit) that pick out a subject: known to the archive, but mentioned
        in at most half of its documents ("Na Sang", "CT03"; not "Party" or "Committee")."""
        words = _WORD.findall(question)[1:]
        named = {term for word in words if word[0].isupper() or _DIGIT.search(word) for term in terms(word)}
        half = len(self.document_terms) / 2
        return {
            term for term in named if 0 < sum(term in known for known in self.document_terms.values()) <= half
        }


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity or a date."""
    return bool(_ASKS_FOR_NUMBER.search(question))


def extract_answer(
    question: str,
    question_vector: np.ndarray,
    citations: list[Citation],
    documents: dict[str, Document],
    embedder: Embedder,
    vocabulary: Vocabulary,
) -> Answer | None:
    """The best-scoring sentence among the `citations`' passages, with its exact offsets.

    None when no sentence can answer: only sentences of documents that mention the
    question's subject (`Vocabulary.subject_terms`) qualify, and for a question asking
    for a quantity or date only sentences with a digit.
    """
    subject = vocabulary.subject_terms(question)
    wants_number = asks_for_number(question)
    candidates: dict[tuple[str, int, int], int] = {}  # (doc_id, start, end) -> best rank
    for citation in citations:
        if not subject <= vocabulary.document_terms[citation.doc_id]:
            continue
        text = documents[citation.doc_id].text
        for start, end in sentence_spans(text, citation.start, citation.end):
            if not wants_number or _DIGIT.search(text[start:end]):
                candidates.setdefault((citation.doc_id, start, end), citation.rank)
    if not candidates:
        return None
    spans = list(candidates)
    sentences = [documents[doc_id].text[start:end] for doc_id, start, end in spans]
    similarity = embedder.embed(sentences) @ question_vector
    # Terms the archive never uses cannot tell its sentences apart.
    wanted = {term: vocabulary.idf[term] for term in terms(question) if term in vocabulary.idf}
    scores = [
        SIMILARITY_WEIGHT * float(similarity[i])
        + OVERLAP_WEIGHT * _overlap(wanted, sentences[i])
        - RANK_PENALTY * (candidates[spans[i]] - 1)
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
