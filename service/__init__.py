"""The newsqa HTTP API, command line and retrieval."""

import indexer  # noqa: F401  (first: it sets how long OpenMP threads spin, before faiss or torch load)
