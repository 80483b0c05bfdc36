"""What a question says about time, and how a ranking takes it into account.

A question may name a period ("in 2022", "last November", "on 29 November", Norwegian "i
november") or ask for what is recent ("latest", "today", Norwegian "siste"). Both are read
relative to the archive's newest publication day, not the clock: an archive of last year's
news answers "this year" with last year. A regular expression finds the expression in the
question (a date parser's own search finds dates in words like "may" and "second", and takes
milliseconds); dateparser reads what it found into a day and its precision.

The ranking functions below take a ranking as `Index` makes it, (row, score) best first, and
are applied only when a question has such intent (or a caller asks for a date order), so a
question without one ranks exactly as before.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from dateparser.date import DateDataParser

from indexer.clean import Document
from indexer.dates import normalise
from service.core.filters import publication_day

_EN_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_NB_MONTHS = "januar|februar|mars|april|mai|juni|juli|august|september|oktober|november|desember"
_YEAR = r"(?:19|20)\d{2}"
# A year that is not the start of a range ("in 2021-2025", "in 2025/26").
_LONE_YEAR = rf"{_YEAR}(?!\s*[-–/]\s*\d)"
# Each pattern's `when` group is what dateparser reads; `last` marks "last November", and
# `last_year` Norwegian "i november i fjor" (November last year).
_PERIODS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"\b(?:in|during|throughout)\s+(?:the\s+year\s+)?(?P<when>{_LONE_YEAR})\b",
        rf"\b(?:in|during|throughout)\s+(?P<when>(?:{_EN_MONTHS})(?:,?\s+(?:of\s+)?{_YEAR})?)\b",
        rf"\bon\s+(?:the\s+)?(?P<when>\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_EN_MONTHS})(?:,?\s+{_YEAR})?)\b",
        rf"\bon\s+(?P<when>(?:{_EN_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?)\b",
        rf"\b(?P<last>last)\s+(?P<when>{_EN_MONTHS})\b",
        r"\b(?P<when>(?:this|last)\s+(?:year|month|week)|today|yesterday)\b",
        rf"\bi\s+(?P<when>{_LONE_YEAR})\b",
        rf"\bi\s+(?P<when>{_NB_MONTHS})\s+(?P<last_year>i\s+fjor)(?!\w)",
        rf"\bi\s+(?P<when>(?:{_NB_MONTHS})(?:\s+{_YEAR})?)\b",
        rf"\b(?:den\s+)?(?P<when>\d{{1,2}}\.\s*(?:{_NB_MONTHS})(?:\s+{_YEAR})?)\b",
        r"\b(?P<when>i\s+(?:fjor|år|dag|går)|(?:i\s+)?(?:forrige|denne)\s+(?:uke|uken|måned|måneden|år|året))"
        r"(?!\w)",
    )
]
# Words that ask for what is new, in English, Norwegian and Vietnamese. "Recent" asks only of
# the news itself ("recent reports"): "the recent elections" names an event.
_RECENT = re.compile(
    r"\b(?:latest|newest|most\s+recent|recently|today|this\s+week"
    r"|(?:recent|last)\s+(?:news|articles?|reports?|stories|story|coverage|updates?|developments?))\b"
    r"|\b(?:siste|sist|nyeste|nylig|i\s+dag|denne\s+uken?)(?!\w)"
    r"|\b(?:mới nhất|gần đây nhất|hôm nay)(?!\w)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Period:
    """The days from `first` to `last` (both included) that the words `text` of a question name."""

    first: datetime.date
    last: datetime.date
    text: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, datetime.date) and self.first <= day <= self.last


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time: the `period` it names, and whether it asks for what
    is `recent`. False when it says nothing of time."""

    period: Period | None = None
    recent: bool = False

    def __bool__(self) -> bool:
        return self.period is not None or self.recent


NO_INTENT = TimeIntent()


def says_time(question: str) -> bool:
    """Whether `question` holds words of a period or of recency at all: a cheap test that spares
    the others reading the archive's newest day (`time_intent` may still find none)."""
    return bool(_RECENT.search(question)) or any(pattern.search(question) for pattern in _PERIODS)


def time_intent(question: str, newest: datetime.date | None) -> TimeIntent:
    """What `question` says about time, its words read relative to `newest` (the archive's
    newest publication day; today when the archive has no dated document)."""
    base = newest or datetime.date.today()
    return TimeIntent(period=named_period(question, base), recent=bool(_RECENT.search(question)))


def warm_up() -> None:
    """Read a period and a written date once, so that dateparser compiles its patterns (about
    0.3 s) when the service starts, not in the first question or write that names a day."""
    time_intent("What happened in November 2025?", datetime.date.today())
    normalise("29. november 2025", "no")


def named_period(question: str, base: datetime.date) -> Period | None:
    """The first period `question` names, read as if asked on the day `base`; None for none."""
    for pattern in _PERIODS:
        for match in pattern.finditer(question):
            period = _read(match, base)
            if period is not None:
                return period
    return None


def _read(match: re.Match[str], base: datetime.date) -> Period | None:
    """The days the expression `match` names, as dateparser reads its `when` group on `base`."""
    words = match.group("when")
    data = _parse(words, base)
    if data is None:
        return None
    day, precision = data
    named = match.groupdict()
    if named.get("last"):  # "last November": the latest November before this month
        day = day.replace(year=base.year if day.month < base.month else base.year - 1)
    elif named.get("last_year"):  # "i november i fjor": November of last year
        day = day.replace(year=base.year - 1)
    first, last = _span(day, precision)
    return Period(first, last, match.group())


def _parse(words: str, base: datetime.date) -> tuple[datetime.date, str] | None:
    """`words` as a day and its precision ("day", "week", "month", "year"), on the day `base`."""
    data = _parser(base).get_date_data(re.sub(r"\s+", " ", words))
    if data.date_obj is None or data.period is None:
        return None
    return data.date_obj.date(), data.period


@lru_cache(maxsize=8)
def _parser(base: datetime.date) -> DateDataParser:
    """A parser reading English and Norwegian dates as if on the day `base`, preferring the past
    ("November" asked in December is the November just gone)."""
    return DateDataParser(
        languages=["en", "nb"],
        settings={
            "RELATIVE_BASE": datetime.datetime.combine(base, datetime.time()),
            "PREFER_DATES_FROM": "past",
            "RETURN_TIME_AS_PERIOD": True,
        },
    )


def _span(day: datetime.date, precision: str) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the `precision` ("day", "week", "month", "year") holding `day`."""
    if precision == "year":
        return day.replace(month=1, day=1), day.replace(month=12, day=31)
    if precision == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if precision == "week":
        monday = day - datetime.timedelta(days=day.weekday())
        return monday, monday + datetime.timedelta(days=6)
    return day, day


# Where a publication day that says when a file was copied, not published, was found
# (Document.date_source, indexer/dates.py).
_FILE_DATE = "file"


def dating(documents: Iterable[Document]) -> Callable[[Document], datetime.date | None]:
    """How a question's time is matched to a document: by its publication day, but where some
    documents of the archive have a day from their text, URL or metadata, not by a day taken
    from a file's modification time (the day it was copied, not published): those count as
    undated."""
    return dating_by(any(document.date and document.date_source != _FILE_DATE for document in documents))


def dating_by(other_dates: bool) -> Callable[[Document], datetime.date | None]:
    """`dating` of an archive where some documents have a day from their text, URL or metadata
    (`other_dates`), or none has."""
    if other_dates:
        return lambda document: None if document.date_source == _FILE_DATE else publication_day(document)
    return publication_day


def newest_day(
    documents: Iterable[Document], day_of: Callable[[Document], datetime.date | None]
) -> datetime.date | None:
    """The latest day `day_of` gives among `documents`; None when it gives none."""
    return max(filter(None, map(day_of, documents)), default=None)


# --- rankings ---------------------------------------------------------------------------------

# A ranking: (row in the archive's passages, score), best first.
Ranked = list[tuple[int, float]]
# The share of a score that recency decays (the rest is relevance alone), chosen on the
# temporal questions of the evaluation set (docs/evaluation.md): wholly decayed, a newer
# article that only touches the subject outranked the one that answers "the latest flood
# report"; without it, "the latest news from Lang Son" was a week-old article.
RECENCY_WEIGHT = 0.5
# What a candidate in the period a question names gains: its score times 1 + PERIOD_BOOST. A
# boost, not a filter: a passage dated wrongly (a day without a year put in the wrong one) is
# still found. On the evaluation set 0 to 0.5 give the same figures, as its period questions
# rank their article first already; tests/test_temporal.py shows one it lifts.
PERIOD_BOOST = 0.25


def by_date(ranked: Ranked, day_of: Callable[[int], datetime.date | None]) -> Ranked:
    """`ranked` ordered by the publication day of each row's document (`day_of`), newest
    first; rows of one day keep their order of relevance, and undated rows come last."""
    return sorted(ranked, key=lambda item: _newest_first(day_of(item[0])))


def recency_boosted(
    ranked: Ranked,
    day_of: Callable[[int], datetime.date | None],
    newest: datetime.date,
    half_life_days: float,
) -> Ranked:
    """`ranked` with the `RECENCY_WEIGHT` share of each score decayed by its document's age
    before the archive's `newest` day, halved every `half_life_days`: a relevant article of
    this week outranks a slightly more relevant one of last month, but not one that answers
    where it only touches the subject. An undated row decays as the oldest dated one."""
    decays = {}
    for row, _ in ranked:
        day = day_of(row)
        if day is not None:
            decays[row] = 0.5 ** (max((newest - day).days, 0) / half_life_days)
    oldest = min(decays.values(), default=1.0)
    return _rescored(ranked, lambda row: 1.0 - RECENCY_WEIGHT * (1.0 - decays.get(row, oldest)))


def period_boosted(ranked: Ranked, in_period: Callable[[int], bool]) -> Ranked:
    """`ranked` with the score of each row `in_period` raised by `PERIOD_BOOST` of itself."""
    return _rescored(ranked, lambda row: 1.0 + PERIOD_BOOST if in_period(row) else 1.0)


def mentions(period: Period, day: datetime.date | None, dates: Iterable[tuple[int, int, str]]) -> bool:
    """Whether a passage's document was published in `period` (on `day`), or one of the
    passage's date expressions (`Passage.dates`: start, end, ISO day) falls in it."""
    return day in period or any(_day(iso) in period for _, _, iso in dates)


def _rescored(ranked: Ranked, factor: Callable[[int], float]) -> Ranked:
    """`ranked` with each score times `factor(row)` (a negative score moves down alike), best first."""
    scored = [(row, score - abs(score) * (1.0 - factor(row))) for row, score in ranked]
    return sorted(scored, key=lambda item: (-item[1], item[0]))


def _newest_first(day: datetime.date | None) -> tuple[bool, int]:
    return (day is None, -day.toordinal() if day else 0)


def _day(iso: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(iso[:10])
    except ValueError:
        return None
