"""Errors of the retrieval core at query time: a query it cannot run, a document it does not
have. Each is a NewsqaError (indexer/errors.py), which the API and the CLI translate."""

from __future__ import annotations

from indexer.errors import NewsqaError


class QueryError(NewsqaError):
    """A question or search query newsqa cannot run (blank, too long...)."""


class DocumentNotFoundError(NewsqaError):
    """No document has the requested id."""
