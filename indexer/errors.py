"""Domain exceptions: each carries a message meant for the person at the terminal or API."""

from __future__ import annotations


class NewsqaError(Exception):
    """Base class for every error newsqa reports to a user."""


class ConfigError(NewsqaError):
    """A setting or option has a value newsqa cannot use."""


class SourceError(NewsqaError):
    """An input file cannot be read as an article (the build skips it with a warning)."""


class NoDocumentsError(NewsqaError):
    """A build found nothing to index."""


class IndexNotFoundError(NewsqaError):
    """No index exists where one was expected."""


class IndexFormatError(NewsqaError):
    """An index exists but cannot be used: wrong format version, other model, damaged files."""


class IndexBusyError(NewsqaError):
    """Another writer held the index's write lock for longer than a writer waits."""


class IndexWriteError(NewsqaError):
    """The index directory cannot be created or written (permissions, a read-only disk)."""


class ModelError(NewsqaError):
    """The embedding model cannot be loaded."""


class ClusterError(NewsqaError):
    """Distributed indexing cannot run: Ray is not installed, or its cluster cannot be reached."""
