"""The filter and sort parameters of /search, /ask and /documents, and of the CLI: one model
that checks them and turns them into `Filters` (service/core/filters.py).

GET routes take it as a query model (`language`, `source` and `doc_id` repeat:
`?language=no&language=vi`), POST /ask as fields of its body (lists for the repeatable ones).
A bad value is a 422 whose `errors[].loc` and `detail` name the field.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StrictStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from indexer import fields
from indexer.fields import MAX_DOC_ID_CHARS, MAX_LANGUAGE_CHARS, MAX_SITE_CHARS
from service.core.filters import Filters, Sort

# How many values one repeatable parameter may list: a filter is a choice a person makes,
# not a bulk lookup (and each id is checked and matched per request).
MAX_FILTER_VALUES = 100
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    """An ISO 8601 day (`2025-11-29`) as a date; nothing else, not a time nor a week."""
    if value is None or isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise PydanticCustomError("iso_day", "must be a day as YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("iso_day", "must be a day as YYYY-MM-DD") from None


Day = Annotated[datetime.date | None, BeforeValidator(_iso_day)]


class FilterParams(BaseModel):
    """What a listing, search or question is narrowed to; an empty field does not narrow."""

    date_from: Day = Field(default=None, description="Published on or after this day (YYYY-MM-DD).")
    date_to: Day = Field(default=None, description="Published on or before this day (YYYY-MM-DD).")
    language: list[Annotated[StrictStr, Field(max_length=MAX_LANGUAGE_CHARS)]] = Field(
        default=[], max_length=MAX_FILTER_VALUES, description="Document languages, e.g. en, no, vi."
    )
    source: list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_SITE_CHARS)]] = Field(
        default=[],
        max_length=MAX_FILTER_VALUES,
        description="Site names, web hosts or folders the documents came from (any case).",
    )
    doc_id: list[Annotated[StrictStr, Field(max_length=MAX_DOC_ID_CHARS)]] = Field(
        default=[], max_length=MAX_FILTER_VALUES, description="Document ids."
    )

    @field_validator("date_to")
    @classmethod
    def _ordered(cls, date_to: datetime.date | None, info: ValidationInfo) -> datetime.date | None:
        date_from = info.data.get("date_from")
        if date_to is not None and date_from is not None and date_to < date_from:
            raise PydanticCustomError("date_order", "must not be before date_from")
        return date_to

    @field_validator("language")
    @classmethod
    def _languages(cls, languages: list[str]) -> list[str]:
        return _each(fields.check_language, languages)

    @field_validator("doc_id")
    @classmethod
    def _doc_ids(cls, doc_ids: list[str]) -> list[str]:
        return _each(fields.check_doc_id, doc_ids)

    @field_validator("source")
    @classmethod
    def _sources(cls, sources: list[str]) -> list[str]:
        return _each(lambda source: fields.check_line("source", source, MAX_SITE_CHARS), sources)

    def filters(self) -> Filters:
        return Filters(
            date_from=self.date_from,
            date_to=self.date_to,
            languages=frozenset(language.lower() for language in self.language),
            sources=frozenset(source.casefold() for source in self.source),
            doc_ids=frozenset(self.doc_id),
        )


class SearchParams(FilterParams):
    """FilterParams, and the order of the results."""

    sort: Sort = Field(default="relevance", description="relevance (best first) or date (newest first).")


def _each(check: Callable[[str], object], values: list[str]) -> list[str]:
    """`values` if `check` passes each; else its rule as a pydantic error (a 422 naming the field)."""
    for value in values:
        try:
            check(value)
        except fields.FieldError as exc:
            raise PydanticCustomError("invalid_value", exc.rule) from None
    return values
