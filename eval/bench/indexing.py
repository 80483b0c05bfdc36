"""Indexing throughput: passages per second of a whole build with one backend."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from eval.bench.options import TARGETS
from eval.synth import write_archive
from indexer.build import build_documents, load_documents
from indexer.embed import Embedder
from indexer.settings import Settings


def indexing_throughput(embedder: Embedder, passages: int, settings: Settings, work: Path) -> dict[str, Any]:
    """Passages per second of `build_documents` (chunk, embed, BM25, write) with `embedder`, over
    a synthetic sample of about `passages` passages; the model has loaded before the clock starts."""
    archive = work / f"throughput-{passages}.jsonl"
    if not archive.exists():
        write_archive(archive, passages, settings, seed=1)
    documents, _ = load_documents([archive])
    embedder.embed(["warm up the runtime"])
    index_dir = Path(tempfile.mkdtemp(prefix=f"throughput-{embedder.backend}-", dir=work))
    try:
        built = build_documents(documents, settings.model_copy(update={"index_dir": index_dir}), embedder)
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
    rate = round(built.passages / built.seconds, 1)
    return {
        "backend": embedder.backend,
        "device": embedder.device,
        "passages": built.passages,
        "seconds": round(built.seconds, 1),
        "passages_per_s": rate,
        "pass": rate >= TARGETS["indexing_passages_per_s"][1],
    }
