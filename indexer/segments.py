"""Segments: the immutable pieces an index version is made of.

A segment holds some documents with everything a search needs of them, and never changes once
written. A write adds a small segment; deleting or replacing a document marks it deleted in the
version's manifest (indexer/store.py), and a merge (indexer/merge.py) writes the live rows of
several segments as one. Layout of `ROOT/segments/<name>/`:

    segment.json            counts, dense index parameters, file sizes and sha256
    documents.jsonl         the cleaned articles (citations index into `text`)
    passages.jsonl          passages with offsets, local row i = vector i
    vectors.npy             float32 unit vectors, row i = passage i
    dense.faiss             FAISS inner-product index of the vectors (indexer/dense.py)
    sentences.npy           (passage row, start, end) of each passage's sentences
    sentence_vectors.npy    their unit vectors (float16), row for row
    postings.npz            term frequencies and passage lengths (indexer/postings.py)

A segment is written under `segments/.tmp-<name>`, fsynced, and renamed: a folder without the
prefix is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.dense import build_dense, read_dense
from indexer.errors import IndexFormatError
from indexer.postings import Postings

SEGMENTS = "segments"
INFO = "segment.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
DENSE = "dense.faiss"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
POSTINGS = "postings.npz"
# A segment written before its version (a merge's, a write's embedded before the writer lock) has
# this prefix until `reveal` renames it, with the lock held: pruning leaves it alone meanwhile.
MERGING = ".merging-"

T = TypeVar("T")


@dataclass(eq=False)
class Segment:
    """One segment, loaded: its documents, passages, dense index, postings and sentences, with
    what a search looks up in them (rows of each document and passage)."""

    name: str
    path: Path
    info: dict[str, Any]
    documents: dict[str, Document]
    passages: list[Passage]
    dense: faiss.Index
    postings: Postings
    # (local passage row, start, end) of every sentence, in passage order, and their vectors
    # (memory-mapped float16).
    sentences: np.ndarray
    sentence_vectors: np.ndarray
    vectors: np.ndarray  # memory-mapped float32, row i = passage i
    prefetched: bool = field(default=False)

    def __post_init__(self) -> None:
        # A document's passages are consecutive rows (a segment is written document by document).
        self.document_rows: dict[str, tuple[int, int]] = {}
        for row, passage in enumerate(self.passages):
            first, end = self.document_rows.get(passage.doc_id, (row, row))
            if end != row:
                raise IndexFormatError(
                    f"{self.path / PASSAGES}: the passages of {passage.doc_id!r} are not consecutive"
                )
            self.document_rows[passage.doc_id] = (first, row + 1)
        self.rows = {passage.chunk_id: row for row, passage in enumerate(self.passages)}
        self.sentence_rows = np.searchsorted(self.sentences[:, 0], np.arange(len(self.passages) + 1))
        languages = {doc_id: document.language for doc_id, document in self.documents.items()}
        self.languages = np.array([languages[p.doc_id] for p in self.passages], dtype=object).astype(str)
        # Each passage's document, numbered in the order of `documents`.
        numbers = {doc_id: i for i, doc_id in enumerate(self.documents)}
        self.passage_documents = np.array([numbers[p.doc_id] for p in self.passages], dtype=np.int64)
        self.document_languages = np.array(
            [doc.language for doc in self.documents.values()], dtype=object
        ).astype(str)
        self._derived: dict[tuple[str, frozenset[str]], Any] = {}
        self._from_documents: dict[str, Any] = {}

    def _remember(self, what: str, deleted: frozenset[str], compute: Callable[[], T]) -> T:
        """`compute()`, remembered under `what` while the segment's deleted documents are
        `deleted` (each version after a write shares the segments before it)."""
        key = (what, deleted)
        if key not in self._derived:
            if len(self._derived) >= 32:  # deletions a merge or an older version used: done with
                self._derived = {}
            self._derived[key] = compute()
        found: T = self._derived[key]
        return found

    def derive(self, what: str, compute: Callable[[], T]) -> T:
        """`compute()`, remembered under `what` for as long as the segment is loaded: what a
        search or a listing derives from the segment's documents alone, which never change
        (unlike what `_remember` keeps per set of deletions, and drops when those pile up)."""
        if what not in self._from_documents:
            self._from_documents[what] = compute()
        found: T = self._from_documents[what]
        return found

    def language_terms(self, language: str, deleted: frozenset[str]) -> frozenset[str]:
        """The terms the live passages in `language` use, while `deleted` documents are gone."""

        def compute() -> frozenset[str]:
            postings = self.postings
            rows = postings.rows
            # How many of each term's passages count: a running count over the postings.
            counted = (self.languages == language)[rows] & self.live(deleted)[rows]
            inside = np.concatenate([[0], np.cumsum(counted)])
            counts = inside[postings.indptr[1:]] - inside[postings.indptr[:-1]]
            return frozenset(
                term for term, count in zip(postings.terms, counts.tolist(), strict=True) if count
            )

        return self._remember(f"terms {language}", deleted, compute)

    def live_languages(self, deleted: frozenset[str]) -> frozenset[str]:
        """The languages of the live documents."""
        return self._remember(
            "languages", deleted, lambda: frozenset(self.languages[self.live(deleted)].tolist())
        )

    def live_documents(self, deleted: frozenset[str]) -> np.ndarray:
        """Whether each document (in the order of `documents`) is live."""
        return self._remember(
            "documents",
            deleted,
            lambda: np.array([doc_id not in deleted for doc_id in self.documents], dtype=bool),
        )

    def live(self, deleted: Iterable[str]) -> np.ndarray:
        """Which rows are live when `deleted` documents of this segment are gone."""
        keep = np.ones(len(self.passages), dtype=bool)
        for doc_id in deleted:
            if doc_id in self.document_rows:
                first, end = self.document_rows[doc_id]
                keep[first:end] = False
        return keep


def new_name() -> str:
    """A segment or version name that sorts by creation time (to the microsecond)."""
    created = datetime.now(UTC)
    return f"{created:%Y%m%dT%H%M%S.%f}Z-{os.urandom(4).hex()}"


def write_segment(
    root: Path,
    documents: list[Document],
    passages: list[Passage],
    vectors: np.ndarray,
    sentences: np.ndarray,
    sentence_vectors: np.ndarray,
    postings: Postings,
    dense: dict[str, Any],
    hidden: bool = False,
) -> Segment:
    """Write a segment under `root/segments`, durably, and return it loaded.

    `dense` says which FAISS index to build (indexer/dense.py: dense_spec). Passages must come
    document by document, in the order of `documents`. A `hidden` segment (a merge's) keeps
    the `MERGING` prefix until it is renamed to its name.
    """
    if not len(passages) == len(vectors) == len(postings.lengths):
        raise ValueError(
            f"{len(passages)} passages, {len(vectors)} vectors, {len(postings.lengths)} posting rows"
        )
    if len(sentences) != len(sentence_vectors):
        raise ValueError(f"{len(sentences)} sentences but {len(sentence_vectors)} sentence vectors")
    folder = root / SEGMENTS
    folder.mkdir(parents=True, exist_ok=True)
    name = new_name()
    tmp = folder / f".tmp-{name}"
    try:
        tmp.mkdir()
        _write_jsonl(tmp / DOCUMENTS, (doc.to_dict() for doc in documents))
        _write_jsonl(tmp / PASSAGES, (passage.to_dict() for passage in passages))
        np.save(tmp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(
            build_dense(np.ascontiguousarray(vectors, dtype=np.float32), dense), str(tmp / DENSE)
        )
        np.save(tmp / SENTENCES, sentences.astype(np.int64).reshape(-1, 3))
        np.save(tmp / SENTENCE_VECTORS, sentence_vectors.astype(np.float16))
        postings.save(tmp / POSTINGS)
        sizes = {path.name: path.stat().st_size for path in sorted(tmp.iterdir())}
        info = {
            "name": name,
            "counts": {"documents": len(documents), "passages": len(passages), "sentences": len(sentences)},
            "dense": dense,
            "files": sizes,
            "sha256": {file: file_sha256(tmp / file) for file in sizes},
        }
        (tmp / INFO).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        fsync_tree(tmp)
        final = folder / (MERGING + name if hidden else name)
        tmp.rename(final)
        fsync(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    segment = _open(final, info, documents, passages)
    segment.name = name
    return segment


def reveal(segment: Segment) -> None:
    """Give a hidden segment its name (`MERGING` dropped), durably, so that a version may name it."""
    final = segment.path.parent / segment.name
    if segment.path != final:
        segment.path.rename(final)
        fsync(final.parent)
        segment.path = final


def read_segment(root: Path, name: str) -> Segment:
    """The segment `name` of the index directory `root`, checked against its segment.json."""
    path = root / SEGMENTS / name
    reading = path / INFO
    try:
        info = json.loads(reading.read_text())
        for file, size in info["files"].items():
            if not (path / file).is_file() or (path / file).stat().st_size != size:
                raise IndexFormatError(f"{path / file}: missing or truncated")
        reading = path / DOCUMENTS
        documents = [Document(**record) for record in read_jsonl(reading)]
        reading = path / PASSAGES
        passages = [Passage.from_record(record) for record in read_jsonl(reading)]
        return _open(path, info, documents, passages)
    except IndexFormatError:
        raise
    except Exception as exc:  # the parsers raise many unrelated types on damaged files
        raise IndexFormatError(f"{reading}: damaged, cannot be read ({first_line(exc)})") from None


def _open(path: Path, info: dict[str, Any], documents: list[Document], passages: list[Passage]) -> Segment:
    """The segment in `path`, whose documents and passages are already read."""
    reading = path / DENSE
    try:
        dense = read_dense(reading, info.get("dense", {}))
        reading = path / POSTINGS
        postings = Postings.load(reading)
        reading = path / SENTENCES
        sentences = np.load(reading, allow_pickle=False)
        reading = path / SENTENCE_VECTORS
        sentence_vectors = np.load(reading, mmap_mode="r", allow_pickle=False)
        reading = path / VECTORS
        vectors = read_vectors(reading)
    except Exception as exc:  # the parsers raise many unrelated types on damaged files
        raise IndexFormatError(f"{reading}: damaged, cannot be read ({first_line(exc)})") from None
    counts = info.get("counts", {})
    if not (
        counts.get("documents") == len(documents)
        and counts.get("passages") == len(passages) == dense.ntotal == len(postings.lengths) == len(vectors)
        and counts.get("sentences") == len(sentences) == len(sentence_vectors)
        and (len(sentences) == 0 or 0 <= sentences[:, 0].min() <= sentences[:, 0].max() < len(passages))
        and (len(documents) == 0 or vectors.shape[1] == dense.d)
    ):
        raise IndexFormatError(
            f"segment {path} is inconsistent: {INFO} counts {counts}, {len(documents)} documents, "
            f"{len(passages)} passages, {dense.ntotal} vectors in {DENSE}, {len(vectors)} in {VECTORS}, "
            f"{len(postings.lengths)} posting rows, {len(sentences)} sentences with "
            f"{len(sentence_vectors)} vectors"
        )
    return Segment(
        name=path.name,
        path=path,
        info=info,
        documents={doc.doc_id: doc for doc in documents},
        passages=passages,
        dense=dense,
        postings=postings,
        sentences=sentences,
        sentence_vectors=sentence_vectors,
        vectors=vectors,
    )


def read_vectors(path: Path) -> np.ndarray:
    """The float32 vectors in `path`, memory-mapped read-only: (passages, dimension)."""
    vectors: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.ndim != 2:
        raise ValueError(f"{path.name} holds {vectors.dtype} of shape {vectors.shape}, not float32 rows")
    return vectors


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks (index files can be gigabytes)."""
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        fsync(path)


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
