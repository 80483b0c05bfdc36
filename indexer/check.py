"""`newsqa index --check`: verify an index directory file by file, naming each problem's file."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.dense import read_dense
from indexer.embed import Embedder, passage_input
from indexer.errors import IndexFormatError, IndexNotFoundError
from indexer.postings import Postings
from indexer.segments import (
    DENSE,
    DOCUMENTS,
    INFO,
    PASSAGES,
    POSTINGS,
    SEGMENTS,
    SENTENCE_VECTORS,
    SENTENCES,
    VECTORS,
    file_sha256,
    read_jsonl,
    read_vectors,
)
from indexer.store import MANIFEST, corpus_fingerprint, read_manifest, resolve

# Passages re-embedded to check that vector row i is passage i: evenly spread over the index.
ALIGNMENT_SAMPLE = 16
# A re-embedded passage must find its own row among this many nearest stored vectors
# (not necessarily first: a passage may be repeated word for word).
_ALIGNMENT_DEPTH = 10
# vectors.npy rows are compared in blocks of this many, so a large index is never read whole.
_BLOCK = 65_536
# How far a stored vector's length may be from 1 (float32 rounding is about 1e-7).
_NORM_TOLERANCE = 1e-4

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

T = TypeVar("T")


@dataclass
class CheckReport:
    """What `check_index` found: the version folder, its counts, and one line per problem."""

    folder: Path | None = None
    documents: int = 0
    passages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return f"ok: {self.documents} documents, {self.passages} passages"


def check_index(root: Path, embedder: Embedder | None = None) -> CheckReport:
    """Check the index version `root` points to (or `root` itself, if it is one).

    Checks that the manifest is readable and of a format this newsqa reads, and that the
    documents it deletes are in their segments and its counts and fingerprint agree with what
    its segments hold live. In each segment: that every file its segment.json lists is there at
    the recorded size and sha256 (so same-size damage is found too); that each part loads; that
    its counts, documents, passages, FAISS vectors and postings agree; that every passage's
    offsets give its text back from its document; that every sentence lies inside its passage;
    that vectors.npy has a unit vector per passage, equal to the FAISS index's own float copy
    (flat, or the exact re-scoring copy of IVF); and, with `embedder`, that re-embedding a
    sample of passages finds each one's own vector, i.e. that row i of the FAISS index is passage i.
    """
    report = CheckReport()
    try:
        folder = resolve(root)
        manifest = read_manifest(folder)  # nothing else can be trusted without it
    except (IndexNotFoundError, IndexFormatError) as exc:
        report.problems.append(str(exc))
        return report
    report.folder = folder
    problems = report.problems
    live: dict[str, Document] = {}
    for part in manifest["segments"]:
        segment = folder.parent.parent / SEGMENTS / part["name"]
        checked = _check_segment(segment, manifest, problems, embedder)
        if checked is None:
            continue
        documents, passages = checked
        by_id = {doc.doc_id: doc for doc in documents}
        gone = set(part["deleted"])
        if unknown := sorted(gone - by_id.keys()):
            problems.append(
                f"{folder / MANIFEST}: deletes {', '.join(unknown[:5])}, not in segment {segment.name}"
            )
        for doc_id, document in by_id.items():
            if doc_id in gone:
                continue
            if doc_id in live:
                problems.append(f"{segment / DOCUMENTS}: {doc_id!r} is live in another segment too")
            live[doc_id] = document
        report.passages += sum(passage.doc_id not in gone for passage in passages)
    report.documents = len(live)
    counts = manifest.get("counts", {})
    if (counts.get("documents"), counts.get("passages")) != (report.documents, report.passages):
        problems.append(
            f"{folder / MANIFEST}: counts {counts}, the segments hold {report.documents} live documents "
            f"and {report.passages} live passages"
        )
    if manifest.get("corpus_sha256") != corpus_fingerprint(live.values()):
        problems.append(f"{folder / MANIFEST}: corpus fingerprint differs from the live documents'")
    return report


def _check_segment(
    folder: Path, manifest: dict[str, Any], problems: list[str], embedder: Embedder | None
) -> tuple[list[Document], list[Passage]] | None:
    """Check one segment folder, adding what is wrong to `problems`; returns its documents and
    passages, or None when they cannot be read."""
    try:
        info = json.loads((folder / INFO).read_text())
        files, hashes = dict(info["files"]), dict(info.get("sha256", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{folder / INFO}: missing or unreadable ({_first_line(exc)})")
        return None
    for name, size in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing (listed in {INFO})")
        elif path.stat().st_size != size:
            problems.append(
                f"{path}: {path.stat().st_size} bytes, {INFO} recorded {size} (changed or truncated)"
            )
        elif name in hashes and file_sha256(path) != hashes[name]:
            problems.append(f"{path}: content differs from the sha256 {INFO} recorded (damaged)")

    def load(path: Path, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            problems.append(f"{path}: cannot be read ({_first_line(exc)})")
            return None

    documents = load(
        folder / DOCUMENTS, lambda: [Document(**record) for record in read_jsonl(folder / DOCUMENTS)]
    )
    passages = load(
        folder / PASSAGES, lambda: [Passage.from_record(record) for record in read_jsonl(folder / PASSAGES)]
    )
    dense = load(folder / DENSE, lambda: read_dense(folder / DENSE, info.get("dense", {})))
    postings = load(folder / POSTINGS, lambda: Postings.load(folder / POSTINGS))
    vectors = load(folder / VECTORS, lambda: read_vectors(folder / VECTORS))
    sentences = load(folder / SENTENCES, lambda: np.load(folder / SENTENCES))
    sentence_vectors = load(
        folder / SENTENCE_VECTORS, lambda: np.load(folder / SENTENCE_VECTORS, mmap_mode="r")
    )

    counts = info.get("counts", {})
    by_id: dict[str, Document] = {}
    if documents is not None:
        by_id = {doc.doc_id: doc for doc in documents}
        if len(by_id) != len(documents):
            problems.append(f"{folder / DOCUMENTS}: {len(documents) - len(by_id)} repeated doc_id(s)")
        if (expected := counts.get("documents")) != len(documents):
            problems.append(f"{folder / DOCUMENTS}: {len(documents)} documents, {INFO} counts {expected}")
    if passages is not None:
        if (expected := counts.get("passages")) != len(passages):
            problems.append(f"{folder / PASSAGES}: {len(passages)} passages, {INFO} counts {expected}")
        if documents is not None:
            problems.extend(_passage_problems(folder / PASSAGES, passages, by_id))
        if dense is not None and dense.ntotal != len(passages):
            problems.append(f"{folder / DENSE}: {dense.ntotal} vectors for {len(passages)} passages")
        if postings is not None and len(postings.lengths) != len(passages):
            problems.append(
                f"{folder / POSTINGS}: postings of {len(postings.lengths)} rows for {len(passages)} passages"
            )
        if vectors is not None:
            dimension = manifest.get("model", {}).get("dimension")
            problems.extend(_vector_problems(folder / VECTORS, vectors, len(passages), dimension, dense))
        if sentences is not None and sentence_vectors is not None:
            problems.extend(
                _sentence_problems(folder, sentences, sentence_vectors, counts.get("sentences"), passages)
            )
    aligned = passages is not None and dense is not None and dense.ntotal == len(passages) > 0
    if embedder is not None and aligned and by_id and not problems:
        assert passages is not None and dense is not None
        problems.extend(_alignment_problems(folder / DENSE, passages, by_id, dense, embedder))
    if documents is None or passages is None:
        return None
    return documents, passages


def _passage_problems(path: Path, passages: list[Passage], documents: dict[str, Document]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for line, passage in enumerate(passages, start=1):
        where = f"{path}: line {line} ({passage.chunk_id})"
        if passage.chunk_id in seen:
            problems.append(f"{where}: repeated chunk_id")
        seen.add(passage.chunk_id)
        document = documents.get(passage.doc_id)
        if document is None:
            problems.append(f"{where}: unknown doc_id {passage.doc_id!r}")
        elif not 0 <= passage.start < passage.end <= len(document.text):
            problems.append(f"{where}: offsets {passage.start}:{passage.end} outside its document")
        elif document.text[passage.start : passage.end] != passage.text:
            problems.append(
                f"{where}: documents[{passage.doc_id!r}].text[{passage.start}:{passage.end}] "
                "is not the passage text"
            )
        problems.extend(f"{where}: {problem}" for problem in _date_problems(passage))
    return problems


def _date_problems(passage: Passage) -> Iterator[str]:
    """Each date of `passage` must lie inside it and be an ISO day ("2025-11-29")."""
    for start, end, day in passage.dates:
        if not passage.start <= start < end <= passage.end:
            yield f"date offsets {start}:{end} outside the passage {passage.start}:{passage.end}"
        if not _is_iso_day(day):
            yield f"date {day!r} at {start}:{end} is not an ISO day"


def _is_iso_day(day: object) -> bool:
    if not isinstance(day, str) or not _ISO_DAY.fullmatch(day):
        return False
    try:
        datetime.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _sentence_problems(
    folder: Path,
    sentences: np.ndarray,
    vectors: np.ndarray,
    expected: object,
    passages: list[Passage],
) -> list[str]:
    """sentences.npy holds (passage row, start, end) in passage order, each span inside its
    passage; sentence_vectors.npy one unit vector per sentence."""
    path = folder / SENTENCES
    if sentences.ndim != 2 or sentences.shape[1:] != (3,):
        return [f"{path}: shape {sentences.shape}, expected (sentences, 3)"]
    problems = []
    if expected != len(sentences):
        problems.append(f"{path}: {len(sentences)} sentences, {INFO} counts {expected}")
    if len(vectors) != len(sentences):
        problems.append(f"{folder / SENTENCE_VECTORS}: {len(vectors)} vectors for {len(sentences)} sentences")
    rows, starts, ends = sentences.T
    if len(rows) and (np.any(np.diff(rows) < 0) or rows[0] < 0 or rows[-1] >= len(passages)):
        return [*problems, f"{path}: passage rows out of order or out of range"]
    bounds = np.array([(p.start, p.end) for p in passages], dtype=np.int64).reshape(len(passages), 2)
    outside = np.flatnonzero((starts < bounds[rows, 0]) | (ends > bounds[rows, 1]) | (starts >= ends))
    if len(outside):
        where = _rows([int(row) for row in outside])
        problems.append(f"{path}: {len(outside)} sentence(s) outside their passage (rows {where})")
    for first in range(0, min(len(vectors), len(sentences)), _BLOCK):
        norms = np.linalg.norm(np.asarray(vectors[first : first + _BLOCK], dtype=np.float32), axis=1)
        if np.any(np.abs(norms - 1) > 1e-2):  # float16 on disk
            problems.append(f"{folder / SENTENCE_VECTORS}: vectors that are not unit length")
            break
    return problems


def _vector_problems(
    path: Path, vectors: np.ndarray, passages: int, dimension: int | None, dense: faiss.Index | None
) -> list[str]:
    rows, columns = vectors.shape
    if rows != passages:
        return [f"{path}: {rows} vectors for {passages} passages"]
    if columns != dimension:
        return [f"{path}: vectors of dimension {columns}, the manifest's model has {dimension}"]
    floats = _float_copy(dense) if dense is not None and dense.ntotal == rows and dense.d == columns else None
    off_unit: list[int] = []
    differing: list[int] = []
    for start in range(0, rows, _BLOCK):
        block = np.asarray(vectors[start : start + _BLOCK])
        norms = np.linalg.norm(block, axis=1)
        off_unit.extend(start + np.flatnonzero(~(np.abs(norms - 1) <= _NORM_TOLERANCE)))
        if floats is not None:
            stored = floats.reconstruct_n(start, len(block))
            differing.extend(start + np.flatnonzero(~np.isclose(block, stored, atol=1e-6).all(axis=1)))
    problems = []
    if off_unit:
        problems.append(f"{path}: {len(off_unit)} vectors are not of unit length (rows {_rows(off_unit)})")
    if differing:
        problems.append(
            f"{path}: {len(differing)} of {rows} vectors differ from those in {path.parent / DENSE} "
            f"(rows {_rows(differing)})"
        )
    return problems


def _float_copy(dense: faiss.Index) -> faiss.Index | None:
    """The part of `dense` that holds the exact float vectors: the flat index itself, or the
    re-scoring copy of an IVF index; None for an index that keeps none."""
    index = faiss.downcast_index(dense)
    if isinstance(index, faiss.IndexRefine):
        index = faiss.downcast_index(index.refine_index)
    return index if isinstance(index, faiss.IndexFlat) else None


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(row) for row in rows[:5])
    return shown + (", ..." if len(rows) > 5 else "")


def _alignment_problems(
    path: Path,
    passages: list[Passage],
    documents: dict[str, Document],
    dense: faiss.Index,
    embedder: Embedder,
) -> list[str]:
    rows = sorted({round(i) for i in np.linspace(0, len(passages) - 1, min(ALIGNMENT_SAMPLE, len(passages)))})
    vectors = embedder.embed(
        [passage_input(documents[passages[row].doc_id].title, passages[row].text) for row in rows]
    )
    ivf = faiss.try_extract_index_ivf(dense)
    if ivf is not None:  # an approximate index: scan every cell, so a miss means misplaced rows
        ivf.nprobe = ivf.nlist
    _, found = dense.search(vectors, min(_ALIGNMENT_DEPTH, dense.ntotal))
    misplaced = [row for row, neighbours in zip(rows, found, strict=True) if row not in neighbours]
    if not misplaced:
        return []
    shown = ", ".join(str(row) for row in misplaced[:5])
    return [
        f"{path}: vectors do not line up with passages.jsonl: {len(misplaced)} of {len(rows)} "
        f"sampled passages (rows {shown}) do not find their own vector"
    ]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
