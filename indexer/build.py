"""Build an index: sources -> clean -> chunk -> embed -> store."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import bm25s
import numpy as np

from indexer.chunk import Passage, chunk
from indexer.clean import Document, clean
from indexer.dense import dense_spec
from indexer.embed import Embedder, passage_input
from indexer.errors import NoDocumentsError, SourceError
from indexer.settings import Settings
from indexer.sources import find_files, read_file
from indexer.store import write_index
from indexer.text import sentence_spans, terms

log = logging.getLogger(__name__)

LIBRARIES = ("newsqa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "bm25s", "tiktoken")


@dataclass(frozen=True)
class BuildReport:
    path: Path
    documents: int
    passages: int
    skipped: int
    seconds: float

    def summary(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (
            f"indexed {self.documents} documents, {self.passages} passages{skipped} "
            f"in {self.seconds:.1f} s -> {self.path}"
        )


def load_documents(paths: Iterable[Path]) -> tuple[list[Document], int]:
    """Cleaned documents from `paths`, and how many inputs were skipped (each with a warning)."""
    documents: dict[str, Document] = {}
    skipped = 0
    for path in find_files(paths):
        try:
            raws = list(read_file(path))
        except SourceError as exc:
            log.warning("skipped %s", exc)
            skipped += 1
            continue
        for raw in raws:
            try:
                document = clean(raw)
            except SourceError as exc:
                log.warning("skipped %s", exc)
                skipped += 1
                continue
            if document.doc_id in documents:
                log.warning(
                    "skipped %s: document id %r is already taken by %s",
                    raw.source,
                    raw.doc_id,
                    documents[raw.doc_id].source,
                )
                skipped += 1
                continue
            documents[document.doc_id] = document
    return list(documents.values()), skipped


def chunk_documents(documents: list[Document], settings: Settings, embedder: Embedder) -> list[Passage]:
    """Passages of all documents, each within the chunk size and the model's input limit."""
    passages: list[Passage] = []
    for document in documents:

        def fits(text: str, title: str = document.title) -> bool:
            return embedder.fits(passage_input(title, text))

        passages.extend(
            chunk(document, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap, fits=fits)
        )
    return passages


def sentence_table(passages: list[Passage], documents: dict[str, Document]) -> np.ndarray:
    """(passage row, start, end) of every sentence of every passage, in passage order; offsets
    are into the document's text, and a sentence cut by a passage boundary is cut there too."""
    rows = [
        (row, start, end)
        for row, passage in enumerate(passages)
        for start, end in sentence_spans(documents[passage.doc_id].text, passage.start, passage.end)
    ]
    return np.array(rows, dtype=np.int64).reshape(len(rows), 3)


def _input_spans(
    passages: list[Passage], documents: dict[str, Document], sentences: np.ndarray
) -> list[list[tuple[int, int]]]:
    """The sentences' offsets within each passage's embedded input (the header comes first)."""
    spans: list[list[tuple[int, int]]] = [[] for _ in passages]
    for row, start, end in sentences.tolist():
        passage = passages[row]
        shift = len(passage_input(documents[passage.doc_id].title, "")) - passage.start
        spans[row].append((start + shift, end + shift))
    return spans


def lexical_index(passages: list[Passage], documents: dict[str, Document]) -> bm25s.BM25:
    """BM25 over folded, stemmed terms of each passage with its document title."""
    retriever = bm25s.BM25()
    corpus = [terms(f"{documents[p.doc_id].title}\n{p.text}") for p in passages]
    retriever.index(corpus, show_progress=False)
    return retriever


def build_index(
    paths: Iterable[Path], settings: Settings, embedder: Embedder, progress: bool = False
) -> BuildReport:
    """Index the articles under `paths` into `settings.index_dir` and make it current."""
    started = time.perf_counter()
    documents, skipped = load_documents(paths)
    if not documents:
        raise NoDocumentsError("no readable articles found: nothing to index")
    return build_documents(documents, settings, embedder, progress=progress, skipped=skipped, started=started)


def build_documents(
    documents: list[Document],
    settings: Settings,
    embedder: Embedder,
    progress: bool = False,
    skipped: int = 0,
    started: float | None = None,
) -> BuildReport:
    """Write cleaned `documents` as a new version of `settings.index_dir` and make it current.

    The one way an index version is written: the indexer and the live-archive endpoints
    both go through here.
    """
    started = time.perf_counter() if started is None else started
    passages = chunk_documents(documents, settings, embedder)
    by_id = {doc.doc_id: doc for doc in documents}
    sentences = sentence_table(passages, by_id)
    vectors, sentence_vectors = embedder.embed_spans(
        [passage_input(by_id[p.doc_id].title, p.text) for p in passages],
        _input_spans(passages, by_id, sentences),
        batch_size=settings.embed_batch_size,
        progress=progress,
    )
    manifest = {
        "model": {
            "name": embedder.name,
            "dimension": embedder.dimension,
            "max_tokens": embedder.max_tokens,
            "backend": embedder.backend,  # for the record: every backend gives the same vectors
        },
        "chunking": {
            "tokenizer": "cl100k_base",
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "boundaries": "sentence",
            "header": "document title",
            "sentences": "pooled from the passage's own token embeddings",
        },
        "dense": dense_spec(len(passages), settings.index_type, settings.ann_threshold, settings.ivf_nprobe),
        "lexical": {"method": "bm25 (bm25s lucene)", "terms": "folded, english stemmer, en+no stopwords"},
        "libraries": {name: version(name) for name in LIBRARIES},
    }
    path = write_index(
        settings.index_dir,
        documents,
        passages,
        vectors,
        lexical_index(passages, by_id),
        manifest,
        keep_versions=settings.keep_versions,
        sentences=sentences,
        sentence_vectors=sentence_vectors,
    )
    return BuildReport(path, len(documents), len(passages), skipped, time.perf_counter() - started)
