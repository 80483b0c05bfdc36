"""Evaluation and benchmarks for newsqa."""
