"""Reading, cleaning, chunking, embedding and indexing news articles."""

import os

# OpenMP threads (FAISS's and torch's) sleep when idle instead of spinning for a while first.
# Spinning, they took a core from the OpenVINO threads embedding the next question, and a
# FAISS search waited for its own thread the scheduler had given away: at 20k passages HTTP
# /ask took 6.7 ms (p50) and 11-21 ms (p99) spinning, 5.0 and 6-8.5 ms sleeping; indexing
# throughput did not change. Read once, when the runtime loads (the first import of faiss
# or torch), so it is set here, before any of ours; a value already set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
