"""The retrieval core: search, answers and what they return, with no HTTP or CLI in it."""
