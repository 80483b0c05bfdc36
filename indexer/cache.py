"""The embedding cache: a build embeds only the texts that the previous version did not embed."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from indexer.embed import Embedder, passage_input
from indexer.store import StoredIndex, stale_prompts

# What embeds passages with their sentence spans: `Embedder.embed_spans`, or a stand-in with its
# arguments (texts, spans, batch size, progress) and results, such as indexer/distributed.py's.
SpanEmbedding = Callable[[list[str], list[list[tuple[int, int]]], int, bool], tuple[np.ndarray, np.ndarray]]


class VectorCache:
    """Vectors already computed by one model, found by the exact text that was embedded.

    Keys are sha256 digests of the embedded input (for a passage, `passage_input(title, text)`),
    so a passage whose text or title changed, or that a new chunking cut differently, misses.
    Any embedding inputs can be added, from any arrays (memory-mapped ones are read on demand),
    each with the vectors of its spans (a passage's sentences), which one forward pass gave too.
    """

    def __init__(self, model: str, dimension: int) -> None:
        self.model = model
        self.dimension = dimension
        # (vectors, span vectors, first span row of each input)
        self._arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rows: dict[bytes, tuple[int, int]] = {}  # input digest -> (array, row)

    def add(
        self,
        inputs: Sequence[str | None],
        vectors: np.ndarray,
        span_vectors: np.ndarray,
        span_rows: np.ndarray,
    ) -> None:
        """Remember `vectors[i]` as the vector of `inputs[i]`, and `span_vectors[span_rows[i]:
        span_rows[i + 1]]` as its spans' (rows whose input is None are left out)."""
        if vectors.shape != (len(inputs), self.dimension) or len(span_rows) != len(inputs) + 1:
            raise ValueError(f"{len(inputs)} inputs but vectors of shape {vectors.shape}")
        array = len(self._arrays)
        self._arrays.append((vectors, span_vectors, span_rows))
        for row, text in enumerate(inputs):
            if text is not None:
                self._rows.setdefault(_digest(text), (array, row))

    def get(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The vector of `text` and its spans' vectors, if it was added."""
        found = self._rows.get(_digest(text))
        if found is None:
            return None
        vectors, span_vectors, span_rows = self._arrays[found[0]]
        row = found[1]
        return vectors[row], span_vectors[span_rows[row] : span_rows[row + 1]]

    def __len__(self) -> int:
        return len(self._rows)


def passage_cache(previous: StoredIndex | None, embedder: Embedder) -> VectorCache | None:
    """The passage vectors of `previous`'s live documents, when it was built with `embedder`'s
    model at the same dimension and with the prompts the model declares now; else None."""
    if previous is None or stale_prompts(previous.manifest):
        return None
    model = previous.manifest.get("model", {})
    if model.get("name") != embedder.name or model.get("dimension") != embedder.dimension:
        return None
    cache = VectorCache(embedder.name, embedder.dimension)
    for segment, gone in previous.parts():
        titles = {doc_id: doc.title for doc_id, doc in segment.documents.items() if doc_id not in gone}
        inputs = [
            passage_input(titles[p.doc_id], p.text) if p.doc_id in titles else None for p in segment.passages
        ]
        cache.add(inputs, segment.vectors, segment.sentence_vectors, segment.sentence_rows)
    return cache


def embed_cached(
    embedder: Embedder,
    inputs: Sequence[str],
    spans: Sequence[list[tuple[int, int]]],
    cache: VectorCache | None,
    batch_size: int = 32,
    progress: bool = False,
    embed: SpanEmbedding | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Unit vectors for `inputs` and for their `spans` (`Embedder.embed_spans`), embedding only
    the inputs `cache` lacks, with `embed` when given (a Ray cluster: indexer/distributed.py).
    A cache of another model or dimension is ignored. `progress` says on stderr how many were
    reused, and shows a bar of those embedded.

    Returns:
        The vectors, float32 of shape (len(inputs), dimension); the span vectors, one row per
        span, input by input; and how many inputs were embedded (the rest came from `cache`).
    """
    if cache is not None and (cache.model, cache.dimension) != (embedder.name, embedder.dimension):
        cache = None
    firsts = np.cumsum([0, *(len(each) for each in spans)])
    vectors = np.empty((len(inputs), embedder.dimension), dtype=np.float32)
    span_vectors = np.empty((firsts[-1], embedder.dimension), dtype=np.float32)
    missing: list[int] = []
    for row, text in enumerate(inputs):
        found = cache.get(text) if cache is not None else None
        if found is None or len(found[1]) != len(spans[row]):
            missing.append(row)
        else:
            vectors[row], span_vectors[firsts[row] : firsts[row + 1]] = found
    if progress and len(missing) < len(inputs):
        reused = len(inputs) - len(missing)
        tqdm.write(f"Embedding: {reused} of {len(inputs)} passages reused from the current index", sys.stderr)
    if missing:
        new, new_spans = (embed or embedder.embed_spans)(
            [inputs[row] for row in missing], [spans[row] for row in missing], batch_size, progress
        )
        vectors[missing] = new
        at = 0
        for row in missing:
            count = len(spans[row])
            span_vectors[firsts[row] : firsts[row + 1]] = new_spans[at : at + count]
            at += count
    return vectors, span_vectors, len(missing)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
