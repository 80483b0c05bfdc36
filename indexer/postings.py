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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

K1 = 1.5
B = 0.75
# Contributions of terms remembered by one version (`ArchivePostings._contributions`): 32 MB.
CACHED_SCORES = 8_000_000


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


class Totals(Protocol):
    """Statistics of a whole archive that an index holds one shard of (indexer/shards.py)."""

    @property
    def passages(self) -> int: ...
    @property
    def length(self) -> float: ...

    def frequency(self, term: str) -> int: ...


class ArchivePostings:
    """BM25 over the live rows of segments laid end to end: segment i's local row r is archive
    row `offsets[i] + r`; rows where `live` is False (deleted documents) neither match nor count
    in the statistics.

    Scores are added segment by segment into slices of one array, so a large segment without
    deletions is scored straight from its own postings, as if it were the whole archive.

    With `totals`, the segments are one shard of a larger archive: N, the average length and
    each term's passage frequency are the archive's, so the shard's passages score as they
    would in the archive served as one index."""

    def __init__(
        self, parts: Sequence[Postings], offsets: np.ndarray, live: np.ndarray, totals: Totals | None = None
    ) -> None:
        self.parts = list(parts)
        self.size = len(live)
        self.live = live
        ends = [int(offset) + len(part.lengths) for part, offset in zip(parts, offsets, strict=True)]
        self._slices = [slice(int(offset), end) for offset, end in zip(offsets, ends, strict=True)]
        # Each segment's live rows, or None when all are.
        self._live = [None if live[at].all() else live[at] for at in self._slices]
        lengths = np.concatenate([part.lengths for part in parts]) if parts else np.zeros(0, np.float32)
        self.totals = totals
        if totals is None:
            self.count = int(np.count_nonzero(live))  # N
            average = float(lengths[live].sum() / self.count) if self.count else 1.0
        else:  # the same float32 arithmetic as the archive in one piece
            self.count = totals.passages
            average = float(np.float32(totals.length) / self.count) if self.count else 1.0
        # k1 * (1 - b + b * length / average length) of every row, in BM25's denominator.
        self._norms = (K1 * (1 - B + B * lengths / average)).astype(np.float32)
        self._rows: dict[str, np.ndarray] = {}
        self._scores: dict[str, list[tuple[slice, np.ndarray, np.ndarray]]] = {}
        self._cached = 0

    @cached_property
    def terms(self) -> frozenset[str]:
        """Every term some segment uses (a term only deleted rows used still counts, with no rows)."""
        if len(self.parts) == 1:
            return frozenset(self.parts[0].terms)
        return frozenset().union(*(part.terms for part in self.parts))

    def __contains__(self, term: str) -> bool:
        return any(term in part.terms for part in self.parts)

    def _columns(self, term: str) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """For each segment that holds `term` in live rows: its slice of archive rows, and the
        local rows and counts of its live postings."""
        for part, at, live in zip(self.parts, self._slices, self._live, strict=True):
            rows, counts = part.column(term)
            if live is not None and len(rows):
                keep = live[rows]
                rows, counts = rows[keep], counts[keep]
            if len(rows):
                yield at, rows, counts

    def frequency(self, term: str) -> int:
        """How many live passages hold `term`."""
        return sum(len(rows) for _, rows, _ in self._columns(term))

    def rows(self, term: str) -> np.ndarray:
        """Archive rows (ascending) of the live passages holding `term`; remembered per term."""
        found = self._rows.get(term)
        if found is None:
            pieces = [rows.astype(np.int64) + at.start for at, rows, _ in self._columns(term)]
            found = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
            if len(self._rows) >= 4096:
                self._rows.clear()
            self._rows[term] = found
        return found

    def idf(self, term: str) -> float:
        return self._idf(self.frequency(term) if self.totals is None else self.totals.frequency(term))

    def _idf(self, frequency: int) -> float:
        """BM25's (Lucene's) inverse document frequency of a term `frequency` live passages hold."""
        return math.log(1 + (self.count - frequency + 0.5) / (frequency + 0.5))

    def add(self, term: str, scores: np.ndarray, best: bool = False) -> None:
        """Add the BM25 contribution of `term` to each row's `scores`; with `best`, raise each
        row's score to the contribution instead (the best of a word's forms)."""
        for at, rows, contribution in self._contributions(term):
            target = scores[at]
            if best:
                target[rows] = np.maximum(target[rows], contribution)
            else:
                target[rows] += contribution

    def _contributions(self, term: str) -> list[tuple[slice, np.ndarray, np.ndarray]]:
        """`term`'s BM25 contribution to each live row holding it, segment by segment.

        Remembered for this version, up to `CACHED_SCORES` values in all: the questions asked of
        an archive share their common words, and these have the longest postings (computing
        them took a question's BM25 ranking from about 1 to 3.6 ms at 200k passages)."""
        found = self._scores.get(term)
        if found is None:
            columns = list(self._columns(term))
            frequency = sum(len(rows) for _, rows, _ in columns)
            idf = np.float32(self._idf(frequency if self.totals is None else self.totals.frequency(term)))
            found = [
                (at, rows, idf * counts / (self._norms[at][rows] + counts)) for at, rows, counts in columns
            ]
            if self._cached + frequency > CACHED_SCORES:
                self._scores, self._cached = {}, 0
            self._scores[term] = found
            self._cached += frequency
        return found

    def get_scores(self, terms: Iterable[str]) -> np.ndarray:
        """Every row's BM25 score for a query of `terms` (each occurrence counts): the terms'
        contributions gathered segment by segment and added in one `np.add.at` each (a third of
        the time of adding term by term)."""
        scores = np.zeros(self.size, dtype=np.float32)
        gathered: dict[int, tuple[slice, list[np.ndarray], list[np.ndarray]]] = {}
        for term in terms:
            for at, rows, contribution in self._contributions(term):
                _, row_lists, contribution_lists = gathered.setdefault(at.start, (at, [], []))
                row_lists.append(rows)
                contribution_lists.append(contribution)
        for at, row_lists, contribution_lists in gathered.values():
            np.add.at(scores[at], np.concatenate(row_lists), np.concatenate(contribution_lists))
        return scores
