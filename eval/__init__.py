"""Evaluation and benchmarks for newsqa."""

import indexer  # noqa: F401  (first: it sets how long OpenMP threads spin, before faiss or torch load)
