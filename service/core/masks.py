"""Which archive rows a `Filters` keeps, as a boolean mask over a version's rows.

Each segment derives, once, what a filter compares (each document's publication day as a day
number, the documents each source name covers); a mask is then a few numpy operations per
segment, whatever the archive's size, and the last few masks are remembered per version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from indexer.segments import Segment
from indexer.store import StoredIndex
from service.core.filters import Filters, publication_day, sources_of

# Masks remembered per version: a user paging through results, or several users on the same
# filter, reuse one (200k rows: 200 kB each).
REMEMBERED_MASKS = 8
# The day number of documents without a date: below every real one (date.toordinal() >= 1).
_UNDATED = 0


class RowMasks:
    """The rows each `Filters` keeps in one index version, remembered for the last few."""

    def __init__(self, stored: StoredIndex) -> None:
        self.stored = stored
        self._masks: OrderedDict[Filters, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, filters: Filters) -> np.ndarray:
        """Whether each archive row is live and its document matches `filters` (read-only)."""
        with self._lock:
            if filters in self._masks:
                self._masks.move_to_end(filters)
                return self._masks[filters]
        parts = [_segment_rows(segment, filters) for segment in self.stored.segments]
        mask = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        mask &= self.stored.live
        mask.flags.writeable = False
        with self._lock:
            self._masks[filters] = mask
            if len(self._masks) > REMEMBERED_MASKS:
                self._masks.popitem(last=False)
        return mask


def _segment_rows(segment: Segment, filters: Filters) -> np.ndarray:
    """Whether each row of `segment` belongs to a document `filters` keeps (deleted or not)."""
    keep = np.ones(len(segment.documents), dtype=bool)
    if filters.date_from or filters.date_to:
        days = segment.derive("filter days", lambda: _days(segment))
        first = filters.date_from.toordinal() if filters.date_from else _UNDATED + 1
        keep &= days >= first
        if filters.date_to:
            keep &= days <= filters.date_to.toordinal()
    if filters.languages:
        languages = segment.document_languages
        keep &= np.logical_or.reduce([languages == language for language in filters.languages])
    if filters.sources:
        covered = segment.derive("filter sources", lambda: _sources(segment))
        named = [covered[name] for name in filters.sources if name in covered]
        chosen = np.zeros(len(keep), dtype=bool)
        chosen[np.concatenate(named) if named else []] = True
        keep &= chosen
    if filters.doc_ids:
        numbers = segment.derive(
            "filter numbers", lambda: {doc_id: i for i, doc_id in enumerate(segment.documents)}
        )
        chosen = np.zeros(len(keep), dtype=bool)
        chosen[[numbers[doc_id] for doc_id in filters.doc_ids if doc_id in numbers]] = True
        keep &= chosen
    return keep[segment.passage_documents]


def _days(segment: Segment) -> np.ndarray:
    """Each document's publication day as its ordinal (`_UNDATED` for none), in document order."""
    days = (publication_day(document) for document in segment.documents.values())
    return np.array([day.toordinal() if day else _UNDATED for day in days], dtype=np.int32)


def _sources(segment: Segment) -> dict[str, np.ndarray]:
    """For each name a `source` filter may give, the numbers of the documents it covers."""
    covered: dict[str, list[int]] = {}
    for number, document in enumerate(segment.documents.values()):
        for name in sources_of(document):
            covered.setdefault(name, []).append(number)
    return {name: np.array(numbers, dtype=np.int64) for name, numbers in covered.items()}
