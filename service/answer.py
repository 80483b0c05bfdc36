"""Extractive answers: the sentence of the top passages that best answers the question."""

from __future__ import annotations

import numpy as np

from indexer.clean import Document
from indexer.embed import Embedder
from indexer.text import sentence_spans, terms
from service.models import Answer, Citation

# Weights of a sentence's score, chosen on the bundled evaluation set (see README):
# semantic similarity to the question, share of the question's terms it contains,
# and a small preference for sentences from higher-ranked passages.
SIMILARITY_WEIGHT = 1.0
OVERLAP_WEIGHT = 0.3
RANK_PENALTY = 0.02


def extract_answer(
    question: str,
    question_vector: np.ndarray,
    citations: list[Citation],
    documents: dict[str, Document],
    embedder: Embedder,
) -> Answer | None:
    """The best-scoring sentence among the `citations`' passages, with its exact offsets."""
    candidates: dict[tuple[str, int, int], int] = {}  # (doc_id, start, end) -> best rank
    for citation in citations:
        text = documents[citation.doc_id].text
        for start, end in sentence_spans(text, citation.start, citation.end):
            candidates.setdefault((citation.doc_id, start, end), citation.rank)
    if not candidates:
        return None
    spans = list(candidates)
    sentences = [documents[doc_id].text[start:end] for doc_id, start, end in spans]
    similarity = embedder.embed(sentences) @ question_vector
    wanted = set(terms(question))
    scores = [
        SIMILARITY_WEIGHT * float(similarity[i])
        + OVERLAP_WEIGHT * _overlap(wanted, sentences[i])
        - RANK_PENALTY * (candidates[spans[i]] - 1)
        for i in range(len(spans))
    ]
    best = int(np.argmax(scores))
    doc_id, start, end = spans[best]
    return Answer(text=sentences[best], doc_id=doc_id, start=start, end=end, score=round(scores[best], 6))


def _overlap(wanted: set[str], sentence: str) -> float:
    """Share of the question's terms that occur in the sentence."""
    if not wanted:
        return 0.0
    return len(wanted & set(terms(sentence))) / len(wanted)
