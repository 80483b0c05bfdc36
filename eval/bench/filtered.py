"""Filtered search in this process: `Index.search` with a publication date range keeping about
1%, 10% and 50% of the archive's passages, against the same questions unfiltered, and whether
each filtered search returned `top_k` passages whenever that many matched, all of them matching."""

from __future__ import annotations

import datetime
import time
from typing import Any

from eval.bench.options import percentile
from service.core.filters import Filters, publication_day
from service.core.index import Index

SHARES = (0.01, 0.10, 0.50)
TOP_K = 5


def filtered_search(index: Index, questions: list[str]) -> dict[str, Any]:
    """Latency of unfiltered and filtered searches (hybrid, top 5), asked in turn question by
    question so that a machine's changing load weighs on both alike; empty where no document
    has a publication date."""
    filters = [(share, date_filter(index, share)) for share in SHARES]
    chosen = [(share, found) for share, found in filters if found is not None]
    if not chosen:
        return {}
    for _, found in chosen:  # each filter's row mask is made once, then remembered
        index.search(questions[0], top_k=TOP_K, filters=found)
    unfiltered: list[float] = []
    timings: dict[float, list[float]] = {share: [] for share, _ in chosen}
    complete = {share: True for share, _ in chosen}
    matching = {share: int(index.masks.rows(found).sum()) for share, found in chosen}
    for question in questions:
        started = time.perf_counter()
        index.search(question, top_k=TOP_K)
        unfiltered.append((time.perf_counter() - started) * 1000)
        for share, found in chosen:
            started = time.perf_counter()
            results = index.search(question, top_k=TOP_K, filters=found).results
            timings[share].append((time.perf_counter() - started) * 1000)
            complete[share] &= len(results) == min(TOP_K, matching[share]) and all(
                found.matches(index.document(result.doc_id)) for result in results
            )
    base = percentile(unfiltered, 50)
    return {
        "unfiltered_ms": {"p50": base, "p99": percentile(unfiltered, 99)},
        "filters": [
            {
                "share": share,
                "kept": round(matching[share] / index.passage_count, 4),
                "dates": f"{found.date_from} to {found.date_to}",
                "p50": percentile(timings[share], 50),
                "p99": percentile(timings[share], 99),
                "p50_over_unfiltered": round(percentile(timings[share], 50) / base, 2),
                "complete": complete[share],
            }
            for share, found in chosen
        ],
    }


def date_filter(index: Index, share: float) -> Filters | None:
    """The date range keeping the number of live passages nearest above `share` of them (the
    first such range, oldest first); None when no document has a publication date."""
    passages: dict[datetime.date, int] = {}
    for doc_id, document in index.documents.items():
        day = publication_day(document)
        if day is not None:
            passages[day] = passages.get(day, 0) + index.passages_of(doc_id)
    days = sorted(passages)
    if not days:
        return None
    wanted = max(1.0, share * index.passage_count)
    best, found, last, kept = None, (days[0], days[-1]), 0, 0
    for first, day in enumerate(days):  # the shortest range from each first day that keeps enough
        while last < len(days) and kept < wanted:
            kept += passages[days[last]]
            last += 1
        if kept < wanted:
            break
        if best is None or kept < best:
            best, found = kept, (day, days[last - 1])
        kept -= passages[days[first]]
    return Filters(date_from=found[0], date_to=found[1])
