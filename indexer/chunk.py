"""Split a document into overlapping passages along sentence boundaries, with exact offsets."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from indexer.clean import Document
from indexer.dates import mentions
from indexer.text import sentence_spans, word_spans
from indexer.tokens import count_tokens


@dataclass(frozen=True)
class Passage:
    """A span `text == document.text[start:end]` of one document; `tokens` counts cl100k tokens."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    tokens: int
    # (start, end, ISO day) of each date expression inside the passage, offsets into the
    # document's text (indexer/dates.py: mentions); set by the build, not by `chunk`.
    dates: tuple[tuple[int, int, str], ...] = ()

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Passage:
        """The passage a stored record (`to_dict`, read back from JSON) holds. Its dates come
        back as lists: tuples keep passages comparable and hashable."""
        dates = record.pop("dates", None)
        if dates:
            record["dates"] = tuple((start, end, day) for start, end, day in dates)
        return cls(**record)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def chunk(
    document: Document,
    *,
    max_tokens: int,
    overlap: int,
    fits: Callable[[str], bool] = lambda _: True,
) -> list[Passage]:
    """Passages of `document`, each at most `max_tokens` cl100k tokens and accepted by `fits`.

    Whole sentences are packed greedily; the next passage starts with the last sentences
    of the previous one as long as they total at most `overlap` tokens. A sentence too
    long on its own is cut at word boundaries (or, failing that, inside a word), so no
    passage is ever truncated by the encoder. `fits` tells whether a passage's text,
    with whatever header the embedder adds, is within the embedding model's limit.
    """
    text = document.text

    def acceptable(start: int, end: int) -> bool:
        return count_tokens(text[start:end]) <= max_tokens and fits(text[start:end])

    units = [piece for start, end in sentence_spans(text) for piece in _pieces(start, end, acceptable, text)]
    unit_ends = [end for _, end in units]
    passages: list[Passage] = []
    first = 0
    while first < len(units):
        last = _furthest(acceptable, units[first][0], unit_ends, first)
        start, end = units[first][0], units[last][1]
        passages.append(
            Passage(
                chunk_id=f"{document.doc_id}#{len(passages)}",
                doc_id=document.doc_id,
                start=start,
                end=end,
                text=text[start:end],
                tokens=count_tokens(text[start:end]),
            )
        )
        if last + 1 == len(units):
            break
        following = last + 1
        while following - 1 > first and count_tokens(text[units[following - 1][0] : end]) <= overlap:
            following -= 1
        # Overlap only where the next passage still has room for a new sentence.
        while following <= last and not acceptable(units[following][0], units[last + 1][1]):
            following += 1
        first = following
    return passages


def dated(passages: Sequence[Passage], documents: Mapping[str, Document]) -> list[Passage]:
    """`passages` with the date expressions inside each (indexer/dates.py: mentions), a day
    without a year put in its document's publication year. An expression that a passage
    boundary cuts belongs to neither passage."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    result = []
    for passage in passages:
        if passage.doc_id not in found:
            document = documents[passage.doc_id]
            reference = datetime.date.fromisoformat(document.date) if document.date else None
            found[passage.doc_id] = mentions(document.text, document.language, reference)
        inside = tuple(m for m in found[passage.doc_id] if passage.start <= m[0] and m[1] <= passage.end)
        result.append(replace(passage, dates=inside))
    return result


def _pieces(
    start: int, end: int, acceptable: Callable[[int, int], bool], text: str
) -> Iterator[tuple[int, int]]:
    """`(start, end)` itself if acceptable, else acceptable spans that cover it, cut at words."""
    if acceptable(start, end):
        yield start, end
        return
    words = list(word_spans(text, start, end))
    word_ends = [word_end for _, word_end in words]
    first = 0
    while first < len(words):
        piece_start, word_end = words[first]
        if not acceptable(piece_start, word_end):
            yield from _cut_word(piece_start, word_end, acceptable)
            first += 1
            continue
        last = _furthest(acceptable, piece_start, word_ends, first)
        yield piece_start, words[last][1]
        first = last + 1


def _cut_word(start: int, end: int, acceptable: Callable[[int, int], bool]) -> Iterator[tuple[int, int]]:
    """Cut a span with no usable word boundary into the longest acceptable pieces."""
    while start < end:
        piece_end = _furthest(acceptable, start, range(end + 1), start + 1)
        yield start, piece_end
        start = piece_end


def _furthest(acceptable: Callable[[int, int], bool], start: int, ends: Sequence[int], low: int) -> int:
    """The largest `i >= low` with `acceptable(start, ends[i])`, taking `low` itself as given.

    Gallops out from `low`, then bisects, so the cost grows with how far the answer lies, not
    with `len(ends)`: a megabyte-long line costs no more per passage than a short one.
    """
    high = len(ends) - 1
    step = 1
    while low + step <= high and acceptable(start, ends[low + step]):
        low += step
        step *= 2
    high = min(high, low + step - 1)
    while low < high:
        middle = (low + high + 1) // 2
        if acceptable(start, ends[middle]):
            low = middle
        else:
            high = middle - 1
    return low
