"""Concurrent requests embed at the same time (FastAPI runs sync routes in a thread pool): every
backend must give each thread its own texts' vectors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from indexer.backends import BACKENDS, installed
from indexer.embed import Embedder


@pytest.mark.parametrize("backend", [backend for backend in BACKENDS if installed(backend)])
def test_threads_embedding_at_once_get_their_own_vectors(backend, embedder):
    model = embedder if embedder.backend == backend else Embedder(backend=backend)
    # Batches of different sizes and lengths, so that a shared inference request would mix them up.
    batches = [
        [f"Question {n} about coffee in Pu Nhung" + " and roads" * (n % 7) for n in range(size)]
        for size in (1, 2, 3, 5, 8, 13) * 4
    ]
    expected = [model.embed(batch) for batch in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(model.embed, batches))
    for batch_vectors, reference in zip(found, expected, strict=True):
        assert batch_vectors.shape == reference.shape
        np.testing.assert_allclose(batch_vectors, reference, atol=1e-4)
