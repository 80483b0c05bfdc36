"""The embedding cache: a build embeds only the texts that the previous version did not embed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from indexer.embed import Embedder, passage_input
from indexer.store import StoredIndex


class VectorCache:
    """Vectors already computed by one model, found by the exact text that was embedded.

    Keys are sha256 digests of the embedded input (for a passage, `passage_input(title, text)`),
    so a passage whose text or title changed, or that a new chunking cut differently, misses.
    Any embedding inputs can be added, from any arrays (memory-mapped ones are read on demand).
    """

    def __init__(self, model: str, dimension: int) -> None:
        self.model = model
        self.dimension = dimension
        self._arrays: list[np.ndarray] = []
        self._rows: dict[bytes, tuple[int, int]] = {}  # input digest -> (array, row)

    def add(self, inputs: Sequence[str | None], vectors: np.ndarray) -> None:
        """Remember `vectors[i]` as the vector of `inputs[i]` (rows whose input is None are left out)."""
        if vectors.shape != (len(inputs), self.dimension):
            raise ValueError(f"{len(inputs)} inputs but vectors of shape {vectors.shape}")
        array = len(self._arrays)
        self._arrays.append(vectors)
        for row, text in enumerate(inputs):
            if text is not None:
                self._rows.setdefault(_digest(text), (array, row))

    def get(self, text: str) -> np.ndarray | None:
        """The vector of `text`, if it was added."""
        found = self._rows.get(_digest(text))
        return None if found is None else self._arrays[found[0]][found[1]]

    def __len__(self) -> int:
        return len(self._rows)


def passage_cache(previous: StoredIndex | None, embedder: Embedder) -> VectorCache | None:
    """The passage vectors of `previous`, when it stored them (vectors.npy) and was built
    with `embedder`'s model at the same dimension; else None."""
    if previous is None or previous.vectors is None:
        return None
    model = previous.manifest.get("model", {})
    if model.get("name") != embedder.name or model.get("dimension") != embedder.dimension:
        return None
    cache = VectorCache(embedder.name, embedder.dimension)
    titles = {doc_id: doc.title for doc_id, doc in previous.documents.items()}
    # A passage of a document the version lacks (a damaged index) is left out, not guessed.
    inputs = [
        passage_input(titles[p.doc_id], p.text) if p.doc_id in titles else None for p in previous.passages
    ]
    cache.add(inputs, previous.vectors)
    return cache


def embed_cached(
    embedder: Embedder,
    inputs: Sequence[str],
    cache: VectorCache | None,
    batch_size: int = 32,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Unit vectors for `inputs` (row i for `inputs[i]`), embedding only what `cache` lacks.

    A cache of another model or dimension is ignored.

    Returns:
        The vectors, float32 of shape (len(inputs), dimension), and how many of them were
        embedded (the rest came from `cache`).
    """
    if cache is not None and (cache.model, cache.dimension) != (embedder.name, embedder.dimension):
        cache = None
    vectors = np.empty((len(inputs), embedder.dimension), dtype=np.float32)
    missing: list[int] = []
    for row, text in enumerate(inputs):
        found = cache.get(text) if cache is not None else None
        if found is None:
            missing.append(row)
        else:
            vectors[row] = found
    if missing:
        texts = [inputs[row] for row in missing]
        vectors[missing] = embedder.embed(texts, batch_size=batch_size, progress=progress)
    return vectors, len(missing)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
