"""Reading, cleaning, chunking, embedding and indexing news articles."""

import os

# What this package sets in the environment on import, which the user did not: a baseline
# measured as a plain install runs (eval/bench/naive.py) leaves it out.
DEFAULTED_ENV: dict[str, str] = {}

# OpenMP threads (libgomp's: FAISS's and torch's) spin for about 70 us when idle, then sleep,
# instead of 300,000 spins. Spinning longer, they took a core from the OpenVINO threads
# embedding the next question, and a FAISS search waited for its own thread the scheduler had
# given away: at 20k passages in-process `ask` took 5.8-6.0 ms (p50) and 17-19 ms (p99), and
# 4.0-4.4 and 6-8.5 ms with this. Torch's own one-query embedding is unchanged (7.2 ms), which
# OMP_WAIT_POLICY=PASSIVE would slow to 10-13 ms. Read once, when the runtime loads (the first
# import of faiss or torch), so it is set here, before any of ours; the user's setting wins.
if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = DEFAULTED_ENV["GOMP_SPINCOUNT"] = "3000"
