"""The newsqa HTTP API, command line and retrieval."""

import indexer  # noqa: F401  (first: it sets how OpenMP threads wait, before faiss or torch load)
