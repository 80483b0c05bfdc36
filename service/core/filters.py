"""What a search, a question or a listing may be narrowed to: a publication date range, languages,
sources and document ids. A filter is applied inside retrieval (service/core/index.py), so a
filtered search still returns `top_k` passages when that many match.

A document's `date` is its publication day as ISO 8601 (`YYYY-MM-DD`, indexer/dates.py), and
its `date_source` says where the day was found; a document without a date matches no date range.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from indexer.clean import Document

# How results are ordered: by relevance (best first) or by publication day (newest first).
Sort = Literal["relevance", "date"]
SORTS: tuple[Sort, ...] = ("relevance", "date")


@dataclass(frozen=True)
class Filters:
    """Documents published from `date_from` to `date_to` (both days included), in one of
    `languages`, from one of `sources` (a site name, a web host or a folder of the file it was
    read from; given folded to lower case) and among `doc_ids`; an empty field does not narrow."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    languages: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    doc_ids: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        """Whether anything is narrowed at all."""
        return any((self.date_from, self.date_to, self.languages, self.sources, self.doc_ids))

    def matches(self, document: Document) -> bool:
        if self.doc_ids and document.doc_id not in self.doc_ids:
            return False
        if self.languages and document.language not in self.languages:
            return False
        if self.date_from or self.date_to:
            day = publication_day(document)
            if day is None:
                return False
            if (self.date_from and day < self.date_from) or (self.date_to and day > self.date_to):
                return False
        return not self.sources or not self.sources.isdisjoint(sources_of(document))


def publication_day(document: Document) -> datetime.date | None:
    """The day `document` was published, from its ISO 8601 `date`; None when it has none."""
    if not document.date:
        return None
    try:
        return datetime.date.fromisoformat(document.date[:10])
    except ValueError:
        return None


def sources_of(document: Document) -> set[str]:
    """What a `source` filter may name to keep `document`, folded to lower case: its site name,
    its URL's host (with and without "www."), and each folder of the file it was read from."""
    names = {document.site} if document.site else set()
    host = urlsplit(document.url).hostname if document.url else None
    if host:
        names |= {host, host.removeprefix("www.")}
    path = document.source.rsplit(":", 1)[0] if ".jsonl:" in document.source else document.source
    names |= {part for part in path.replace("\\", "/").split("/")[:-1] if part and part not in (".", "..")}
    return {name.casefold() for name in names}
