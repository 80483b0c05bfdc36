"""Reading, cleaning, chunking, embedding and indexing news articles."""

import os

# What this package sets in the environment on import, which the user did not: a baseline
# measured as a plain install runs (eval/bench/naive.py) leaves it out.
DEFAULTED_ENV: dict[str, str] = {}

# OpenMP threads (libgomp's: FAISS's and torch's) spin for about 70 us when idle, then sleep,
# instead of 300,000 spins: spinning longer, they took a core from the threads embedding the
# next question, and a FAISS search waited for its own thread the scheduler had given away
# (figures: docs/benchmarks.md, "OpenMP spinning"). Read once, when the runtime loads (the
# first import of faiss or torch), so it is set here, before any of ours; the user's setting wins.
if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = DEFAULTED_ENV["GOMP_SPINCOUNT"] = "3000"
