"""Hybrid fusion: one ranking from the dense and the lexical scores of a query's passages,
with its own weighting for passages in a language the model does not cover."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

from service.core.lexical import Vocabulary
from service.core.translate import Concept, Translator

# What a passage in a language the model does not cover scores in hybrid fusion, times the
# share of the question's words it holds: on the scale of a cosine plus the lexical part,
# chosen on the cross-lingual questions of the evaluation set (docs/evaluation.md).
FOREIGN_WEIGHT = 1.15


def fuse(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    query: str,
    *,
    lexical_weight: float,
    foreign_rows: np.ndarray,
    translator: Translator | None,
    vocabulary: Vocabulary,
) -> list[tuple[int, float]]:
    """Weighted score fusion: cosine plus `lexical_weight` times the BM25 score relative
    to the query's best, so a strong lexical match lifts a passage without drowning
    the semantic ranking. A passage only BM25 found counts the lowest dense score.

    A passage in a language the model does not cover (`foreign_rows`) has no meaningful
    cosine: it scores `FOREIGN_WEIGHT` times the geometric mean of its BM25 score relative to
    the query's best and the share of the question's words it holds in some form (`coverage`).
    BM25 alone would favour it on words rare only because its language's passages are few."""
    best = max((score for _, score in lexical), default=0.0) or 1.0
    fused = dict(dense)
    floor = min(fused.values(), default=0.0)
    for row, score in lexical:
        fused[row] = fused.get(row, floor) + lexical_weight * score / best
    foreign = [row for row in fused if foreign_rows[row]]
    if foreign and translator is not None:
        matched = dict(lexical)
        relative = np.array([matched.get(row, 0.0) / best for row in foreign])
        shares = coverage(vocabulary, translator.concepts(query), foreign)
        fused.update(zip(foreign, (FOREIGN_WEIGHT * np.sqrt(relative * shares)).tolist(), strict=True))
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


@overload
def coverage(vocabulary: Vocabulary, concepts: list[Concept], rows: list[int]) -> np.ndarray: ...
@overload
def coverage(
    vocabulary: Vocabulary, concepts: list[Concept], rows: list[int], count: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...


def coverage(
    vocabulary: Vocabulary, concepts: list[Concept], rows: list[int], count: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """For each of `rows`, the IDF-weighted share of the question's concepts (those the
    archive knows in some form) that the passage holds in some form; with `count`, also how
    many of them it holds."""
    holds = np.zeros((len(rows), len(concepts)), dtype=bool)
    weights = np.zeros(len(concepts))
    at = np.asarray(rows)
    for i, concept in enumerate(concepts):
        weight = vocabulary.best_idf(concept.members)
        if weight is None:
            continue
        weights[i] = weight
        for term in concept.members:
            rows_with = vocabulary.passages_with(term)  # sorted: a binary search per row
            if not len(rows_with):
                continue
            found = np.minimum(np.searchsorted(rows_with, at), len(rows_with) - 1)
            holds[:, i] |= rows_with[found] == at
    total = weights.sum()
    shares = holds @ weights / total if total else np.zeros(len(rows))
    return (shares, (holds & (weights > 0)).sum(axis=1)) if count else shares
