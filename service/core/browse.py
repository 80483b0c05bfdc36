"""The archive as a list: documents newest first (publication day descending, undated last, then
doc_id), a page at a time, narrowed by `Filters`.

A page continues from a cursor that encodes the sort key of the last document shown, not an
offset: a document added or deleted between two pages moves no other document past the cursor,
so the next page starts exactly after the last one shown, with none lost or repeated. Each
segment is sorted once, when a listing first reads it; a page merges the segments from the
cursor on.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping
from functools import cached_property
from itertools import islice
from operator import itemgetter

from pydantic import BaseModel

from indexer.clean import Document
from indexer.segments import Segment
from indexer.store import StoredIndex
from service.core.errors import QueryError
from service.core.filters import Filters, publication_day, sources_of

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# A cursor holds a day and a doc_id as UTF-8 JSON in base64: room for a doc_id of 200
# characters (indexer/fields.py) in any script.
MAX_CURSOR_CHARS = 1200
# The first part of an undated document's sort key: above every dated one's -ordinal (an
# ordinal is 1 or more), so undated documents come last.
_UNDATED = 0

# (-ordinal of the publication day, or _UNDATED for none; doc_id): ascending is newest first.
SortKey = tuple[int, str]


class DocumentSummary(BaseModel):
    """One listed document: what a list shows of it, and how many passages it has."""

    doc_id: str
    title: str
    date: str | None
    date_source: str | None
    language: str
    source: str
    site: str | None
    url: str | None
    passages: int


class DocumentPage(BaseModel):
    """A page of the list; `next_cursor` continues after its last document (None at the end)."""

    documents: list[DocumentSummary]
    next_cursor: str | None


class Listing:
    """One index version's documents in list order. Each segment's documents are sorted once
    (a segment never changes, and the versions after a write share the segments before it);
    a page merges the segments' orders from the cursor on, skipping what a segment has had
    deleted, so a write costs the listing no new sort of the archive."""

    def __init__(self, stored: StoredIndex) -> None:
        self._parts = [(_order(segment), gone) for segment, gone in stored.parts()]
        self._stored = stored

    def page(self, filters: Filters, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> DocumentPage:
        """Up to `limit` documents matching `filters`, after `cursor` (from the start without one)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit: must be from 1 to {MAX_LIMIT}")
        after = decode_cursor(cursor) if cursor is not None else None
        live = [order.entries(filters, after, gone) for order, gone in self._parts]
        found: list[Document] = []
        more = False
        for _, document in heapq.merge(*live, key=itemgetter(0)):
            if filters.matches(document):
                if len(found) == limit:
                    more = True
                    break
                found.append(document)
        return DocumentPage(
            documents=[self._summary(document) for document in found],
            next_cursor=encode_cursor(sort_key(found[-1])) if more else None,
        )

    def _summary(self, document: Document) -> DocumentSummary:
        first, end = self._stored.document_rows(document.doc_id) or (0, 0)
        return DocumentSummary(
            doc_id=document.doc_id,
            title=document.title,
            date=document.date,
            date_source=document.date_source,
            language=document.language,
            source=document.source,
            site=document.site,
            url=document.url,
            passages=end - first,
        )


class SegmentOrder:
    """One segment's documents in list order, with their sort keys. A page bisects to its
    cursor and to a date range's ends; a doc_id, language or source filter walks only the
    positions of the documents it names (each map made the first time one asks). So a page
    costs about what it shows, however little of the archive a filter keeps."""

    def __init__(self, documents: Mapping[str, Document]) -> None:
        ordered = sorted((sort_key(document), document) for document in documents.values())
        self._keys = [key for key, _ in ordered]
        self._documents = [document for _, document in ordered]

    def entries(
        self, filters: Filters, after: SortKey | None, deleted: frozenset[str]
    ) -> Iterator[tuple[SortKey, Document]]:
        """(sort key, document), in list order after `after`, of the documents not `deleted`
        that a date range and the narrowest of the other filters may keep; the caller checks
        all the filters."""
        start, stop = self._bounds(filters)
        if after is not None:
            start = max(start, bisect_right(self._keys, after))
        previous = -1
        for position in self._candidates(filters, start):
            if position >= stop:
                return
            document = self._documents[position]
            # A document named twice (by its site and its host) comes once.
            if position != previous and document.doc_id not in deleted:
                yield self._keys[position], document
            previous = position

    def _candidates(self, filters: Filters, start: int) -> Iterator[int]:
        """Positions from `start` on, ascending, of the documents the narrowest of the filters
        that name documents keeps (all positions when none does)."""
        if filters.doc_ids:
            named = [self._position[doc_id] for doc_id in filters.doc_ids if doc_id in self._position]
            lists = [sorted(named)]
        elif filters.languages:
            lists = [self._by_language.get(language, []) for language in filters.languages]
        elif filters.sources:
            lists = [self._by_source.get(source, []) for source in filters.sources]
        else:
            return iter(range(start, len(self._documents)))
        return heapq.merge(*(islice(positions, bisect_left(positions, start), None) for positions in lists))

    @cached_property
    def _position(self) -> dict[str, int]:
        return {document.doc_id: position for position, document in enumerate(self._documents)}

    @cached_property
    def _by_language(self) -> dict[str, list[int]]:
        positions: dict[str, list[int]] = defaultdict(list)
        for position, document in enumerate(self._documents):
            positions[document.language].append(position)
        return positions

    @cached_property
    def _by_source(self) -> dict[str, list[int]]:
        positions: dict[str, list[int]] = defaultdict(list)
        for position, document in enumerate(self._documents):
            for source in sources_of(document):
                positions[source].append(position)
        return positions

    def _bounds(self, filters: Filters) -> tuple[int, int]:
        """The slice of the sorted entries a date range can match: days from `date_to` down to
        `date_from`, with no undated document (they match no range)."""
        start, stop = 0, len(self._keys)
        if filters.date_to is not None:
            start = bisect_left(self._keys, (-filters.date_to.toordinal(), ""))
        if filters.date_from is not None:
            stop = bisect_left(self._keys, (-filters.date_from.toordinal() + 1, ""))
        elif filters.date_to is not None:
            stop = bisect_left(self._keys, (_UNDATED, ""))
        return start, stop


def _order(segment: Segment) -> SegmentOrder:
    """`segment`'s list order, sorted the first time a listing asks for it."""
    return segment.derive("list order", lambda: SegmentOrder(segment.documents))


def sort_key(document: Document) -> SortKey:
    """Where `document` sorts in the list: newest day first, undated last, then by doc_id."""
    day = publication_day(document)
    return (-day.toordinal() if day else _UNDATED, document.doc_id)


def encode_cursor(key: SortKey) -> str:
    """An opaque, URL-safe token for the sort key of a page's last document."""
    return base64.urlsafe_b64encode(json.dumps(list(key), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key `cursor` holds; a QueryError naming `cursor` when it is not one of ours."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        decoded = None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or type(decoded[0]) is not int
        or not isinstance(decoded[1], str)
        or decoded[0] > _UNDATED
    ):
        raise QueryError("cursor: not a cursor this list gave (use `next_cursor` as it came)")
    return decoded[0], decoded[1]
