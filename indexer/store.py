"""The index directory on disk: versions made of immutable segments, written atomically and
durably, and loaded with checks.

Layout of an index directory `ROOT`:

    ROOT/current -> versions/<version>      symlink, swapped atomically after every write
    ROOT/versions/<version>/manifest.json   format, model, chunking, counts, fingerprint, and
                                            the segments the version is made of, each with
                                            the ids of its documents deleted since it was written
    ROOT/segments/<segment>/                one segment's documents, passages, vectors, FAISS
                                            index, postings and sentences (indexer/segments.py)

A write adds one small segment and a new manifest naming it beside the segments before it;
a replaced or deleted document is marked deleted in the segment that holds it. Merges
(indexer/merge.py) fold segments together. A segment or manifest is written under a `.tmp-`
name, fsynced and renamed, and only then does `current` move: a crash or kill -9 at any moment
leaves the previous version or the new one, complete. Writers (`newsqa index`, the service's
write endpoints, merges as they commit) take `ROOT/.write.lock` first (`writer_lock`), so two
processes never write on the same version and lose each other's work.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import faiss
import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.dense import touch
from indexer.embed import NO_PROMPTS, declared_prompts
from indexer.errors import IndexBusyError, IndexFormatError, IndexNotFoundError, IndexWriteError, NewsqaError
from indexer.postings import ArchivePostings, Totals
from indexer.segments import (
    DENSE,
    SEGMENTS,
    SENTENCE_VECTORS,
    Segment,
    fsync,
    new_name,
    read_segment,
)

FORMAT = "newsqa-index"
# 2: sentence vectors; 3: lexical terms analysed by each document's language; 4: segments
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
VERSIONS = "versions"
WRITE_LOCK = ".write.lock"
_STALE_TMP_SECONDS = 3600
_LOCK_POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


class LiveDocuments(Mapping[str, Document]):
    """The live documents of a version's segments, by id: each in the one segment where it
    is not deleted."""

    def __init__(self, segments: Sequence[Segment], deleted: Sequence[frozenset[str]]) -> None:
        self._parts = list(zip(segments, deleted, strict=True))
        self._count = sum(len(segment.documents) - len(gone) for segment, gone in self._parts)

    def locate(self, doc_id: str) -> int | None:
        """The position of the segment holding the live document `doc_id`, or None."""
        for position in range(len(self._parts) - 1, -1, -1):
            segment, gone = self._parts[position]
            if doc_id in segment.documents and doc_id not in gone:
                return position
        return None

    def __getitem__(self, doc_id: str) -> Document:
        position = self.locate(doc_id)
        if position is None:
            raise KeyError(doc_id)
        return self._parts[position][0].documents[doc_id]

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.locate(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        for segment, gone in self._parts:
            for doc_id in segment.documents:
                if doc_id not in gone:
                    yield doc_id

    def __len__(self) -> int:
        return self._count


class Rows(Sequence[Passage]):
    """The passages of a version's segments laid end to end: archive row i. Rows of deleted
    documents stay in place (rows never move while a version is served); searches skip them."""

    def __init__(self, segments: Sequence[Segment], offsets: np.ndarray) -> None:
        self._segments = list(segments)
        self._starts: list[int] = offsets[:-1].tolist()
        self._size = int(offsets[-1])

    @overload
    def __getitem__(self, row: int) -> Passage: ...
    @overload
    def __getitem__(self, row: slice) -> Sequence[Passage]: ...

    def __getitem__(self, row: int | slice) -> Passage | Sequence[Passage]:
        if isinstance(row, slice):
            return [self._row(i) for i in range(*row.indices(self._size))]
        return self._row(row)

    def _row(self, row: int) -> Passage:
        if not -self._size <= row < self._size:
            raise IndexError(row)
        row %= self._size
        position = bisect.bisect_right(self._starts, row) - 1
        return self._segments[position].passages[row - self._starts[position]]

    def __len__(self) -> int:
        return self._size

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same passages, a list among them."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are

    def __iter__(self) -> Iterator[Passage]:
        for segment in self._segments:
            yield from segment.passages


class StoredIndex:
    """One index version in memory: its segments, with the rows of deleted documents masked.

    Archive row `offsets[i] + r` is row r of segment i. Every search skips the rows where
    `live` is False, and BM25 statistics count only live rows, so a version scores as the same
    documents written into one segment would.
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        segments: Sequence[Segment],
        deleted: Sequence[frozenset[str]],
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.segments = list(segments)
        self.deleted = list(deleted)
        sizes = [len(segment.passages) for segment in self.segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        masks = [segment.live(gone) for segment, gone in zip(self.segments, self.deleted, strict=True)]
        self.live = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
        # Live rows of each segment.
        self.live_counts = [int(np.count_nonzero(mask)) for mask in masks]
        self.lexical = ArchivePostings([s.postings for s in self.segments], self.offsets[:-1], self.live)
        self.documents = LiveDocuments(self.segments, self.deleted)
        self.passages = Rows(self.segments, self.offsets)
        self.passage_count = int(np.count_nonzero(self.live))

    @property
    def root(self) -> Path:
        """The index directory this version belongs to."""
        return self.path.parent.parent

    def weigh_with(self, totals: Totals) -> None:
        """Score BM25 with the statistics of the whole archive this version is one shard of."""
        self.lexical = ArchivePostings(
            [s.postings for s in self.segments], self.offsets[:-1], self.live, totals
        )

    def parts(self) -> list[tuple[Segment, frozenset[str]]]:
        return list(zip(self.segments, self.deleted, strict=True))

    def live_rows(self) -> Iterator[tuple[int, Passage]]:
        """(archive row, passage) of every live passage, in row order."""
        for row in np.flatnonzero(self.live).tolist():
            yield row, self.passages[row]

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For archive `rows`, the position of each one's segment and its row there."""
        positions = np.searchsorted(self.offsets, rows, side="right") - 1
        return positions, rows - self.offsets[positions]

    def document_rows(self, doc_id: str) -> tuple[int, int] | None:
        """Archive rows `first:end` of the live document `doc_id`'s passages, or None."""
        position = self.documents.locate(doc_id)
        if position is None:
            return None
        first, end = self.segments[position].document_rows.get(doc_id, (0, 0))
        offset = int(self.offsets[position])
        return offset + first, offset + end

    def row_of(self, chunk_id: str) -> int | None:
        """The archive row of the live passage `chunk_id`, or None."""
        doc_id = chunk_id.rsplit("#", 1)[0]
        position = self.documents.locate(doc_id)
        if position is None:
            return None
        local = self.segments[position].rows.get(chunk_id)
        return None if local is None else int(self.offsets[position]) + local

    def nearest(
        self, vector: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Archive rows and cosines of the `depth` live passages nearest to `vector`, best first.

        Each segment's FAISS index is searched for `depth` more results than it has deleted
        rows, so that `depth` live ones come back whenever it holds them. With `allowed` (a
        boolean mask over archive rows, false on deleted ones) only those rows are searched,
        and `depth` of them come back whenever that many are allowed (`_nearest_allowed`)."""
        found_rows, found_scores = [], []
        query = vector[None, :]
        for position, segment in enumerate(self.segments):
            total = segment.dense.ntotal
            if total == 0:
                continue
            offset = int(self.offsets[position])
            if allowed is not None:
                rows, scores = _nearest_allowed(segment, vector, depth, allowed[offset : offset + total])
                found_rows.append(rows + offset)
                found_scores.append(scores)
                continue
            dead = total - self.live_counts[position]
            scores, rows = segment.dense.search(query, min(depth + dead, total))
            keep = rows[0] >= 0
            archive = rows[0][keep] + offset
            live = self.live[archive] if dead else slice(None)
            found_rows.append(archive[live])
            found_scores.append(scores[0][keep][live])
        if not found_rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(found_rows) == 1:
            return found_rows[0][:depth], found_scores[0][:depth]
        rows, scores = np.concatenate(found_rows), np.concatenate(found_scores)
        order = np.lexsort((rows, -scores))[:depth]
        return rows[order], scores[order]

    def sentences_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The sentences of archive row `row` ((passage row, start, end), start and end in its
        document's text) and their unit vectors, float32."""
        position = int(np.searchsorted(self.offsets, row, side="right") - 1)
        segment = self.segments[position]
        local = row - int(self.offsets[position])
        first, last = segment.sentence_rows[local], segment.sentence_rows[local + 1]
        vectors = np.asarray(segment.sentence_vectors[first:last], dtype=np.float32)
        return segment.sentences[first:last], vectors

    def best_sentences(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The best cosine to `vector` among the sentences of each passage in `rows` (-1 for none)."""
        best = np.full(len(rows), -1.0, dtype=np.float32)
        positions, local = self.locate(rows)
        for position in np.unique(positions).tolist():
            at = positions == position
            best[at] = _best_sentences(self.segments[position], local[at], vector)
        return best

    def languages(self) -> np.ndarray:
        """Each archive row's document language."""
        return np.concatenate([s.languages for s in self.segments]) if self.segments else np.zeros(0, str)

    def passage_documents(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each archive row's document number (documents numbered segment after segment), and
        for each document number whether it is live and its language."""
        numbers, live, languages = [], [], []
        start = 0
        for segment, gone in self.parts():
            numbers.append(segment.passage_documents + start)
            live.append(segment.live_documents(gone))
            languages.append(segment.document_languages)
            start += len(segment.documents)
        if not numbers:
            return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, str)
        return np.concatenate(numbers), np.concatenate(live), np.concatenate(languages)

    def live_languages(self) -> set[str]:
        """The languages of the live documents."""
        return set().union(*(segment.live_languages(gone) for segment, gone in self.parts()))


# A filtered search of a segment with at most this many allowed rows scores their vectors
# directly, one matrix product over the index's memory-mapped rows, rather than asking FAISS: 2,000
# rows took 0.4 ms, about what an IVF search with a selector takes, and 4,096 rows 2.2 ms
# (50k random vectors, 2 cores; commit message of this change).
EXACT_ROWS = 2048


def _nearest_allowed(
    segment: Segment, vector: np.ndarray, depth: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local rows and cosines of the `depth` rows of `segment` nearest to `vector` among those
    `allowed`, best first: `depth` of them whenever that many are allowed.

    FAISS skips the rows an ID selector leaves out. An IVF index scans only the cells nearest
    to the query, which may hold fewer allowed rows than asked for: then, as when few rows
    are allowed at all, every allowed row is scored exactly."""
    count = int(np.count_nonzero(allowed))
    want = min(depth, count)
    if count > EXACT_ROWS:
        bitmap = np.packbits(allowed, bitorder="little")  # row i is bit i % 8 of byte i // 8
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        scores, rows = segment.dense.search(vector[None, :], want, params=_selecting(segment.dense, selector))
        keep = rows[0] >= 0
        if int(np.count_nonzero(keep)) >= want:
            return rows[0][keep], scores[0][keep]
    candidates = np.flatnonzero(allowed)
    cosines = segment.derive("float vectors", lambda: _float_vectors(segment.dense))[candidates] @ vector
    if count > want:
        best = np.argpartition(-cosines, want - 1)[:want]
        candidates, cosines = candidates[best], cosines[best]
    order = np.lexsort((candidates, -cosines))
    return candidates[order], cosines[order]


def _float_vectors(index: faiss.Index) -> np.ndarray:
    """The float vectors of `index` (a flat index, or the re-scoring copy of an IVF one) as a
    read-only view: the pages `prefetch` has read already, where vectors.npy would be a second
    copy of them to read from disk."""
    inner: Any = faiss.downcast_index(index)
    flat: Any = faiss.downcast_index(inner.refine_index) if hasattr(inner, "refine_index") else inner
    vectors: np.ndarray = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    vectors.flags.writeable = False
    return vectors


def _selecting(index: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    """Search parameters for `index` (flat, or IVF re-scored by IndexRefineFlat) that search
    only the rows `selector` keeps, with the index's own `nprobe` and re-scoring factor."""
    inner: Any = faiss.downcast_index(index)
    if not hasattr(inner, "refine_index"):
        flat = faiss.SearchParameters()
        flat.sel = selector
        return flat
    cells = faiss.SearchParametersIVF()
    cells.sel = selector
    cells.nprobe = faiss.extract_index_ivf(index).nprobe
    refine = faiss.IndexRefineSearchParameters()
    refine.k_factor = inner.k_factor
    refine.base_index_params = cells
    return refine


def _best_sentences(segment: Segment, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    firsts, lasts = segment.sentence_rows[rows], segment.sentence_rows[rows + 1]
    counts = lasts - firsts
    best = np.full(len(rows), -1.0, dtype=np.float32)
    if counts.sum() == 0:
        return best
    # Rows of all their sentences, passage after passage, in one read of the memory map.
    starts = np.cumsum(counts) - counts
    sentences = np.repeat(firsts - starts, counts) + np.arange(counts.sum())
    similarity = np.asarray(segment.sentence_vectors[sentences], dtype=np.float32) @ vector
    some = counts > 0
    best[some] = np.maximum.reduceat(similarity, starts[some])
    return best


class _WriterLock:
    """This process's hold on one index directory's lock file: a thread lock for the threads of
    this process (re-entrant, so a writer may call another function that locks), and the
    file's `flock` for other processes, taken while any thread here holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.threads = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


_LOCKS: dict[Path, _WriterLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def writer_lock(root: Path, timeout: float) -> Iterator[None]:
    """Hold the write lock of the index directory `root` for the block.

    Every writer of a version takes it, so writers in any process follow one another: each
    reads the current version after the one before it has made its own current. The lock is
    `flock` on `root/.write.lock`, which the kernel releases when its holder exits, kill -9
    included. Waits up to `timeout` seconds, then raises IndexBusyError naming the holder.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError(f"cannot write the index directory {root}: {exc.strerror}") from None
    path = (root / WRITE_LOCK).resolve()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, _WriterLock(path))
    deadline = time.monotonic() + timeout
    if not lock.threads.acquire(timeout=timeout):
        raise IndexBusyError(f"{root}: another write in this process took over {timeout:g} s; try again")
    try:
        if lock.depth == 0:
            lock.fd = _flock(path, deadline, timeout)
        lock.depth += 1
        try:
            yield
        finally:
            lock.depth -= 1
            if lock.depth == 0 and lock.fd is not None:
                os.close(lock.fd)  # closing the file releases the flock
                lock.fd = None
    finally:
        lock.threads.release()


def _flock(path: Path, deadline: float, timeout: float) -> int:
    """An open descriptor of `path` holding its exclusive flock, once the holder lets go."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"{path.parent}: the index is being written by another process "
                        f"({_holder(path)}) and it did not finish within {timeout:g} s "
                        "(NEWSQA_LOCK_TIMEOUT); try again when it has"
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)
        # Who holds it, for the message a waiting writer gives (information only).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown holder"
    except OSError:
        return "unknown holder"


_MODULUS = 1 << 256


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    """A hash of the documents' ids and texts, independent of their order: the sum of each
    document's own hash, so that a write updates it for the documents it changes
    (`update_fingerprint`) without reading the archive."""
    return f"{sum(_document_hash(doc) for doc in documents) % _MODULUS:064x}"


def update_fingerprint(fingerprint: str, added: Iterable[Document], removed: Iterable[Document]) -> str:
    """`fingerprint` of a corpus with the documents `added` and without those `removed`."""
    total = int(fingerprint, 16) + sum(map(_document_hash, added)) - sum(map(_document_hash, removed))
    return f"{total % _MODULUS:064x}"


def _document_hash(document: Document) -> int:
    return int.from_bytes(hashlib.sha256(f"{document.doc_id}\0{document.sha256}".encode()).digest())


def write_version(
    root: Path,
    parts: Sequence[tuple[Segment, frozenset[str]]],
    manifest: dict[str, Any],
    fingerprint: str,
    keep_versions: int = 3,
) -> StoredIndex:
    """Write a version of `root` made of `parts` (segments, each with its deleted document ids),
    make it current and return it. Call with the writer lock held.

    `manifest` holds the build's own fields (model, chunking, changes...); this adds the format,
    version id, counts, fingerprint and segments. The manifest is fsynced before `current`
    moves to it, and `current` is fsynced before this returns: once it has, the version is durable.
    """
    versions = root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    version = new_name()
    segments = [segment for segment, _ in parts]
    deleted = [gone for _, gone in parts]
    stored = StoredIndex(versions / version, {}, segments, deleted)
    stored.manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **manifest,
        "counts": {
            "documents": len(stored.documents),
            "passages": stored.passage_count,
            "segments": len(segments),
        },
        "corpus_sha256": fingerprint,
        # The dense index of the largest segment (each segment's is in its segment.json).
        "dense": max(segments, key=lambda segment: len(segment.passages)).info["dense"] if segments else {},
        "segments": [
            {"name": segment.name, "passages": len(segment.passages), "deleted": sorted(gone)}
            for segment, gone in parts
        ],
    }
    tmp = versions / f".tmp-{version}"
    try:
        tmp.mkdir()
        (tmp / MANIFEST).write_text(json.dumps(stored.manifest, indent=2, ensure_ascii=False) + "\n")
        fsync(tmp / MANIFEST)
        fsync(tmp)
        tmp.rename(stored.path)
        fsync(versions)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _point_current(root, stored.path)
    _prune(root, keep=keep_versions, current=stored.path)
    return stored


def resolve(root: Path) -> Path:
    """The version folder to load for `root`: `root` itself if it holds a manifest,
    else what `root/current` points to."""
    if (root / MANIFEST).is_file():
        return root
    current = root / "current"
    if current.exists() and (current / MANIFEST).is_file():
        return current.resolve()
    raise IndexNotFoundError(f"no index in {root}: build one with `newsqa index --index-dir {root}`")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The checked manifest of a version folder."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{path}: unreadable manifest ({exc}); {_rebuild(folder)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{path}: not a newsqa index manifest; {_rebuild(folder)}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format version {manifest.get('format_version')!r}, this newsqa reads "
            f"version {FORMAT_VERSION}; {_rebuild(folder)}"
        )
    segments = manifest.get("segments")
    if not isinstance(segments, list) or not all(
        isinstance(part, dict) and isinstance(part.get("name"), str) and isinstance(part.get("deleted"), list)
        for part in segments
    ):
        raise IndexFormatError(f"{path}: no valid list of segments; {_rebuild(folder)}")
    return manifest


_PREFETCH_STEP = 8 << 20


def prefetch(stored: StoredIndex) -> None:
    """Bring the memory-mapped files of an index about to serve (`dense.faiss`,
    `sentence_vectors.npy`) into memory now, so that the first questions do not each wait for
    the pages they touch. Builds, which load the previous version only for its vectors, do not
    call it; nor does an index whose files would fill more than half the memory left (in a
    container, what its cgroup leaves): there the pages come and go as questions need them.

    The kernel first reads the files into the page cache (at 200,000 passages, from a cold page
    cache, the first 122 searches' p99 went from 80 ms to 10 ms; one call per 8 MiB, as the
    kernel caps how much one request reads ahead). Then every page is read once, which maps it
    into this process: at 200,000 passages, the first 62 questions' `ask` p50 went from 10.6 ms
    to 5.6 ms and their p99 from 32 to 13 ms (1.1 s at load).
    """
    segments = [segment for segment in stored.segments if not segment.prefetched]
    paths = [path for segment in segments for path in (segment.path / DENSE, segment.path / SENTENCE_VECTORS)]
    available = _memory_available()
    if available is not None and sum(path.stat().st_size for path in paths) > available / 2:
        return
    if hasattr(os, "posix_fadvise"):  # not Linux: pages are read as they are touched
        for path in paths:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(descriptor).st_size
                for offset in range(0, size, _PREFETCH_STEP):
                    os.posix_fadvise(descriptor, offset, _PREFETCH_STEP, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(descriptor)
    for segment in segments:
        touch(segment.dense)
        if segment.sentence_vectors.size:
            int(segment.sentence_vectors.reshape(-1).view(np.uint8)[:: os.sysconf("SC_PAGE_SIZE")].max())
        segment.prefetched = True


def _memory_available() -> int | None:
    """Bytes of memory this process may still fill: the machine's available memory, or what
    its cgroup's limit leaves (cgroup v2) when that is less; None where neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def load_index(
    root: Path, model: str | None = None, loaded: Mapping[str, Segment] | None = None
) -> StoredIndex:
    """Load the current version under `root`, checking it before use.

    Segments found in `loaded` (by name) are taken from there, not read again: a service that
    picks up a new version reads only the segments it does not hold yet.

    With `model` given, an index built with any other model is refused: its vectors
    would not be comparable with the queries'. So is one embedded with other prompts than
    the model's folder declares now (`stale_prompts`).
    """
    folder = resolve(root)
    manifest = read_manifest(folder)
    built_with = manifest.get("model", {}).get("name")
    if model is not None and built_with != model:
        raise IndexFormatError(
            f"index {folder} was built with model {built_with!r} but the service uses "
            f"{model!r}; {_rebuild(folder)} (or set NEWSQA_MODEL={built_with})"
        )
    if model is not None and (stale := stale_prompts(manifest)):
        raise IndexFormatError(f"index {folder} {stale}; {_rebuild(folder)}")
    loaded = loaded or {}
    segments, deleted = [], []
    for part in manifest["segments"]:
        name = part["name"]
        try:
            segment = loaded.get(name) or read_segment(folder.parent.parent, name)
        except IndexFormatError as exc:
            raise IndexFormatError(f"{exc}; {_rebuild(folder)}") from None
        gone = frozenset(part["deleted"])
        if not gone <= segment.documents.keys():
            raise IndexFormatError(
                f"{folder / MANIFEST}: deletes documents segment {name} does not hold; {_rebuild(folder)}"
            )
        segments.append(segment)
        deleted.append(gone)
    stored = StoredIndex(folder, manifest, segments, deleted)
    counts = manifest.get("counts", {})
    if (counts.get("documents"), counts.get("passages")) != (len(stored.documents), stored.passage_count):
        raise IndexFormatError(
            f"index {folder} is inconsistent: manifest counts {counts}, its segments hold "
            f"{len(stored.documents)} documents and {stored.passage_count} passages; {_rebuild(folder)}"
        )
    return stored


def load_previous(root: Path) -> StoredIndex | None:
    """The current version under `root` for a new build to compare with and reuse vectors
    from; None when there is none, or (with a warning) when it cannot be loaded, since a
    rebuild is what repairs a damaged index.

    A version embedded with other prompts than its model declares now is returned all the
    same, for its documents (those added through the API among them): the embedding cache
    (indexer/cache.py) does not reuse its vectors.
    """
    try:
        previous = load_index(root)
    except IndexNotFoundError:
        return None
    except NewsqaError as exc:
        log.warning("previous index not used, everything is embedded again: %s", exc)
        return None
    if stale := stale_prompts(previous.manifest):
        log.warning("previous vectors not reused, everything is embedded again: index %s", stale)
    return previous


def stale_prompts(manifest: dict[str, Any]) -> str | None:
    """Why the vectors of an index with `manifest` no longer match its model's prompts (the
    model's folder was edited after the build), or None when they do or it cannot be told.
    An index written before prompts were recorded was embedded without any."""
    model = manifest.get("model", {})
    name = model.get("name")
    declared = declared_prompts(name) if isinstance(name, str) else None
    recorded = model.get("prompts", NO_PROMPTS)
    if declared is None or declared == recorded:
        return None
    return f"was embedded with prompts {recorded} but model {name!r} now declares {declared}"


def _rebuild(folder: Path) -> str:
    root = folder.parent.parent if folder.parent.name == VERSIONS else folder
    return f"rebuild it with `newsqa index --index-dir {root}`"


def _point_current(root: Path, version: Path) -> None:
    link = root / f".current-{os.urandom(4).hex()}"
    os.symlink(version.relative_to(root), link)
    os.replace(link, root / "current")
    fsync(root)


def _prune(root: Path, keep: int, current: Path) -> None:
    """Drop all but the newest `keep` versions (never the current one), the segments no
    version left names, and leftovers of writes and merges that died more than an hour ago."""
    versions = root / VERSIONS
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), reverse=True)
    for old in done[keep:]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
    named: set[str] = set()
    for version in versions.iterdir():
        if version.name.startswith("."):
            continue
        try:
            named.update(part["name"] for part in json.loads((version / MANIFEST).read_text())["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # a version that cannot be read may still name any segment: keep them all
    now = time.time()
    for folder in (root / SEGMENTS).iterdir():
        if folder.name.startswith("."):
            if now - folder.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        elif folder.name not in named:
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in versions.glob(".tmp-*"):
        if now - leftover.stat().st_mtime > _STALE_TMP_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)
