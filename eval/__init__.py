"""Evaluation and benchmarks for newsqa."""

import indexer  # noqa: F401  (first: it sets how OpenMP threads wait, before faiss or torch load)
