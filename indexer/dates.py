"""Dates: a document's publication day and where it was found, and the date expressions in its text.

Parsing is dateparser's (htmldate's for dates in a URL), in the document's language and English,
day first where the language writes days first (Norwegian, Vietnamese: "29/11/2025"). dateparser
searching a whole text is slow and finds dates in "may" or "now", so `mentions` only hands it the
spans a pattern built from dateparser's own month names picks out: a day with a month name (and
a year), or a numeric day/month/year.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterator, Sequence

from dateparser.data.languages_info import language_order
from dateparser.date import DateDataParser
from dateparser.languages.loader import default_loader
from htmldate.extractors import YMD_NO_SEP_PATTERN, extract_url_date
from htmldate.utils import Extractor

# Where a publication day was found (Document.date_source).
METADATA, URL, TEXT, FILE, RECEIVED = "metadata", "url", "text", "file", "received"

# Languages newsqa detects under another code than dateparser's ("no" is Norwegian Bokmål).
_LOCALES = {"no": "nb"}
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
# Years a date in a news archive may fall in: "4-12-1031" is a document number, not a day.
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_YEAR_GROUPS = ("year", "year2", "year3", "year4")
# A dateline is looked for in the text's first characters only.
_DATELINE_CHARS = 300


def normalise(value: str, language: str | None = None) -> str | None:
    """The ISO day ("YYYY-MM-DD") of a date or date-time written as `value`, ISO 8601
    ("2025-11-29T08:30:00+07:00", the day as written) or free text in `language` or English
    ("29. november 2025", "ngày 29/11/2025", "November 29, 2025"); None if it names no
    day of a year (a bare year or month, "now", a word)."""
    value = value.strip()
    try:
        return datetime.datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        pass
    parsed = _parser(_languages(language), True).get_date_data(value)
    return parsed.date_obj.date().isoformat() if parsed.date_obj and parsed.period == "day" else None


def publication_date(
    text: str,
    language: str | None,
    *,
    metadata: str | None = None,
    urls: Sequence[str | None] = (),
    fallback: tuple[str, str] | None = None,
) -> tuple[str, str] | None:
    """The day the document was published and where that was found, the first of: its
    `metadata` date (a JSON Lines or API field, a page's metadata), a date in one of its `urls`
    (/2025/11/29/ or 20251129 in the path), a dated first line of `text`, else `fallback`
    (the file's modification day, or the day an API write arrived). None when none has one."""
    if metadata and (day := normalise(metadata, language)):
        return day, METADATA
    for url in urls:
        if url and (day := url_date(url)):
            return day, URL
    if day := dateline(text, language):
        return day, TEXT
    return fallback


def url_date(url: str) -> str | None:
    """The ISO day a URL's path carries ("/2025/11/29/", "-20251129"), None if none plausible."""
    latest = datetime.datetime.now() + datetime.timedelta(days=2)
    options = Extractor(False, latest, datetime.datetime(1990, 1, 1), False, "%Y-%m-%d")
    if found := extract_url_date(url, options):
        return str(found)
    for digits in YMD_NO_SEP_PATTERN.findall(url):
        try:
            day = datetime.datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            continue
        if options.min <= day <= latest:
            return day.date().isoformat()
    return None


def dateline(text: str, language: str | None) -> str | None:
    """The first full date (day, month and year) in the first lines of `text`, as an ISO day."""
    return next(
        (day.isoformat() for _, _, day, whole in _found(text[:_DATELINE_CHARS], language) if whole), None
    )


def mentions(text: str, language: str | None, reference: datetime.date | None) -> list[tuple[int, int, str]]:
    """Each date expression in `text` as `(start, end, ISO day)`, `text[start:end]` the expression
    as written ("June 6, 2022", "29. november 2025", "29/11/2025", "23/11"). A day written without
    a year is put in the year that brings it nearest to `reference` (the publication day): an
    article of 2 January 2026 dates "29 December" to 2025, one of 1 November 2025 dates a deadline
    "by 15 December" to 2025; without a reference it is left out."""
    found = []
    for start, end, day, whole in _found(text, language):
        if not whole:
            if reference is None:
                continue
            years = (reference.year - 1, reference.year, reference.year + 1)
            near = [each for year in years if (each := _in_year(day, year)) is not None]
            day = min(near, key=lambda each: abs(each - reference), default=day)
        found.append((start, end, day.isoformat()))
    return found


def _in_year(day: datetime.date, year: int) -> datetime.date | None:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return None


def _found(text: str, language: str | None) -> Iterator[tuple[int, int, datetime.date, bool]]:
    """Date expressions of `text`: offsets, day, and whether a year was written."""
    languages = _languages(language)
    for match in _candidates(languages).finditer(text):
        parsed = _parse(match.group(), languages)
        if parsed is not None:
            yield match.start(), match.end(), parsed, any(match.group(group) for group in _YEAR_GROUPS)


def _parse(expression: str, languages: tuple[str, ...]) -> datetime.date | None:
    """The day of one candidate expression, by dateparser; None if it is not a day."""
    return _parse_cached(" ".join(expression.split()), languages)


@functools.lru_cache(maxsize=4096)
def _parse_cached(expression: str, languages: tuple[str, ...]) -> datetime.date | None:
    parsed = _parser(languages, False).get_date_data(expression)
    return parsed.date_obj.date() if parsed.date_obj and parsed.period == "day" else None


def _languages(language: str | None) -> tuple[str, ...]:
    """dateparser's languages for text in `language`: its own and English."""
    code = _LOCALES.get(language or "", language or "")
    return (code, "en") if code in language_order and code != "en" else ("en",)


def _day_first(languages: tuple[str, ...]) -> bool:
    order: str = default_loader.get_locale(languages[0]).info.get("date_order", "MDY")
    return order.startswith("D")


@functools.cache
def _parser(languages: tuple[str, ...], require_year: bool) -> DateDataParser:
    """dateparser for `languages`, in the order of the first's convention, absolute dates only
    ("now" or "tomorrow" are no publication day)."""
    settings: dict[str, object] = {
        "PARSERS": ["timestamp", "absolute-time"],
        "DATE_ORDER": "DMY" if _day_first(languages) else "MDY",
        "REQUIRE_PARTS": ["day", "month", "year"] if require_year else ["day", "month"],
    }
    return DateDataParser(languages=list(languages), settings=settings)


@functools.cache
def _candidates(languages: tuple[str, ...]) -> re.Pattern[str]:
    """Spans of text that may be dates in `languages`, from dateparser's month names: a day
    and a month name in either order, with a year or without ("29. november 2025",
    "November 29, 2025", "29 tháng 11 năm 2025", "Nov. 29"), a numeric day, month and year
    ("29/11/2025", "2025-11-29") and, where days come first, a numeric day and month ("23/11").
    Every year is in the group `year`, so that a date without one can be told apart."""
    locales = [default_loader.get_locale(code) for code in languages]
    names = {name for locale in locales for month in _MONTHS for name in locale.info.get(month, [])}
    month = "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in sorted(names, key=len, reverse=True))
    year_words = "|".join(re.escape(word) for locale in locales[:1] for word in locale.info.get("year", []))
    year = rf"(?:,?\s+(?:(?:{year_words})\s+)?(?P<year>{_YEAR}))?" if year_words else ""
    year_after = year.replace("(?P<year>", "(?P<year2>")
    forms = [
        rf"\b{_DAY}(?:st|nd|rd|th|\.)?\s+(?:of\s+)?(?:{month})\.?{year}",
        rf"\b(?:{month})\.?\s+{_DAY}(?:st|nd|rd|th)?\b{year_after}",
        rf"(?<![\d./-])(?P<year3>{_YEAR})-[01]?\d-[0-3]?\d(?![\d/-])",
        rf"(?<![\d./-]){_DAY}(?P<separator>[./-])[01]?\d(?P=separator)(?P<year4>{_YEAR})(?![\d/-]|[.,]\d)",
    ]
    if _day_first(languages):
        forms.append(rf"(?<![\d./-]){_DAY}/[01]?\d(?![\d/]|[.,]\d)")
    return re.compile("|".join(f"(?:{form})(?!\\w)" for form in forms), re.IGNORECASE)
