"""BM25 over an archive of segments, with statistics of the whole archive.

A segment stores raw term frequencies (`Postings`: one column of passage rows and counts per
term) and each passage's length, never scores: BM25 mixes a term's counts with its document
frequency and the average passage length of the whole archive, which change with every write.
`ArchivePostings` scores over all live segments at query time, as Lucene does, so a passage
scores the same however the archive happens to be segmented, and exactly as the archive rebuilt
in one piece would score it (the Lucene variant of BM25 that bm25s computed before: k1 1.5, b 0.75).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75


@dataclass(frozen=True)
class Postings:
    """Term frequencies of one segment's passages: column `terms[t]` holds the local rows
    `rows[indptr[t]:indptr[t + 1]]` (ascending) that contain term t, `counts` times each;
    `lengths[row]` is how many terms the passage has, repeats included."""

    terms: dict[str, int]
    indptr: np.ndarray
    rows: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def build(cls, corpus: Sequence[Sequence[str]]) -> Postings:
        """Postings of `corpus`, one list of terms per passage (row)."""
        ids: dict[str, int] = {}
        columns = [
            np.array([ids.setdefault(term, len(ids)) for term in terms], dtype=np.int64) for terms in corpus
        ]
        lengths = np.array([len(terms) for terms in corpus], dtype=np.float32)
        row_of = np.repeat(np.arange(len(corpus), dtype=np.int64), [len(c) for c in columns])
        flat = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        # One (term, row) key per occurrence; unique keys in term-major order give the columns.
        keys, counts = np.unique(flat * max(len(corpus), 1) + row_of, return_counts=True)
        term_of, rows = np.divmod(keys, max(len(corpus), 1))
        indptr = np.searchsorted(term_of, np.arange(len(ids) + 1))
        return cls(ids, indptr.astype(np.int64), rows.astype(np.int32), counts.astype(np.float32), lengths)

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Local rows holding `term` and how often each holds it (empty for an unknown term)."""
        column = self.terms.get(term)
        if column is None:
            return self.rows[:0], self.counts[:0]
        first, last = self.indptr[column], self.indptr[column + 1]
        return self.rows[first:last], self.counts[first:last]

    def select(self, keep: np.ndarray) -> Postings:
        """These postings for the rows where `keep` is True, renumbered in order; terms left
        without a row are dropped."""
        renumber = np.cumsum(keep) - 1
        kept = keep[self.rows]
        term_of = np.repeat(np.arange(len(self.terms)), np.diff(self.indptr))[kept]
        used, term_of = np.unique(term_of, return_inverse=True)
        names = list(self.terms)
        return Postings(
            {names[t]: i for i, t in enumerate(used.tolist())},
            np.searchsorted(term_of, np.arange(len(used) + 1)).astype(np.int64),
            renumber[self.rows[kept]].astype(np.int32),
            self.counts[kept],
            self.lengths[keep],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[Postings]) -> Postings:
        """One segment's postings from the postings of segments laid end to end."""
        ids: dict[str, int] = {}
        for part in parts:
            for term in part.terms:
                ids.setdefault(term, len(ids))
        offset = 0
        term_parts, row_parts, count_parts = [], [], []
        for part in parts:
            mapping = np.array([ids[term] for term in part.terms], dtype=np.int64)
            term_parts.append(np.repeat(mapping, np.diff(part.indptr)))
            row_parts.append(part.rows.astype(np.int64) + offset)
            count_parts.append(part.counts)
            offset += len(part.lengths)
        term_of, rows, counts = (np.concatenate(p) for p in (term_parts, row_parts, count_parts))
        order = np.lexsort((rows, term_of))
        return cls(
            ids,
            np.searchsorted(term_of[order], np.arange(len(ids) + 1)).astype(np.int64),
            rows[order].astype(np.int32),
            counts[order],
            np.concatenate([part.lengths for part in parts]),
        )

    def save(self, path: Path) -> None:
        with path.open("wb") as out:
            np.savez(
                out,
                terms=np.array(list(self.terms), dtype=str),
                indptr=self.indptr,
                rows=self.rows,
                counts=self.counts,
                lengths=self.lengths,
            )

    @classmethod
    def load(cls, path: Path) -> Postings:
        with np.load(path, allow_pickle=False) as data:
            names = data["terms"].tolist()
            postings = cls(
                {term: i for i, term in enumerate(names)},
                data["indptr"],
                data["rows"],
                data["counts"],
                data["lengths"],
            )
        if not (
            len(postings.indptr) == len(names) + 1
            and postings.indptr[-1] == len(postings.rows) == len(postings.counts)
            and (
                len(postings.rows) == 0
                or 0 <= postings.rows.min() <= postings.rows.max() < len(postings.lengths)
            )
        ):
            raise ValueError("postings do not line up with their terms and rows")
        return postings


class ArchivePostings:
    """BM25 over the live rows of segments laid end to end: segment i's local row r is archive
    row `offsets[i] + r`; rows where `live` is False (deleted documents) neither match nor count
    in the statistics."""

    def __init__(self, parts: Sequence[Postings], offsets: np.ndarray, live: np.ndarray) -> None:
        self.parts = list(parts)
        self.offsets = offsets
        self.live = live
        self.size = len(live)
        lengths = np.concatenate([part.lengths for part in parts]) if parts else np.zeros(0, np.float32)
        self.count = int(np.count_nonzero(live))  # N
        average = float(lengths[live].sum() / self.count) if self.count else 1.0
        # k1 * (1 - b + b * length / average length) of every row, in BM25's denominator.
        self._norms = (K1 * (1 - B + B * lengths / average)).astype(np.float32)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._whole = len(parts) == 1 and bool(live.all())

    @cached_property
    def terms(self) -> frozenset[str]:
        """Every term some segment uses (a term only deleted rows used still counts, with no rows)."""
        if len(self.parts) == 1:
            return frozenset(self.parts[0].terms)
        return frozenset().union(*(part.terms for part in self.parts))

    def __contains__(self, term: str) -> bool:
        return any(term in part.terms for part in self.parts)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Archive rows (ascending) of the live passages holding `term`, and its counts there."""
        if self._whole:
            rows, counts = self.parts[0].column(term)
            return rows, counts
        found = self._cache.get(term)
        if found is None:
            pieces = [part.column(term) for part in self.parts]
            rows = np.concatenate(
                [r.astype(np.int64) + o for (r, _), o in zip(pieces, self.offsets, strict=True)]
            )
            counts = np.concatenate([c for _, c in pieces])
            keep = self.live[rows]
            found = (rows[keep], counts[keep])
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[term] = found
        return found

    def rows(self, term: str) -> np.ndarray:
        return self.postings(term)[0]

    def idf(self, term: str) -> float:
        frequency = len(self.rows(term))
        return math.log(1 + (self.count - frequency + 0.5) / (frequency + 0.5))

    def scores(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding `term` and its BM25 contribution to each."""
        rows, counts = self.postings(term)
        idf = np.float32(self.idf(term))
        return rows, idf * counts / (self._norms[rows] + counts)

    def get_scores(self, terms: Iterable[str]) -> np.ndarray:
        """Every row's BM25 score for a query of `terms` (each occurrence counts)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term in terms:
            rows, contribution = self.scores(term)
            scores[rows] += contribution
        return scores
