"""The index directory on disk: versioned builds written atomically, and loaded with checks.

Layout of an index directory `ROOT`:

    ROOT/current -> versions/<version>      symlink, swapped atomically after a build
    ROOT/versions/<version>/manifest.json   format, model, chunking, counts, fingerprint
    ROOT/versions/<version>/documents.jsonl the cleaned articles (citations index into `text`)
    ROOT/versions/<version>/passages.jsonl  passages with offsets, row i = vector i
    ROOT/versions/<version>/vectors.npy     float32 unit vectors, row i = passage i (the next
                                            build's embedding cache: indexer/cache.py)
    ROOT/versions/<version>/dense.faiss     FAISS inner-product index of unit vectors (indexer/dense.py)
    ROOT/versions/<version>/sentences.npy   (passage row, start, end) of each passage's sentences
    ROOT/versions/<version>/sentence_vectors.npy  their unit vectors (float16), row for row
    ROOT/versions/<version>/lexical/        BM25 index (bm25s: JSON + .npy, no pickle)

A build writes into `versions/.tmp-*` and only then renames and re-points `current`, so a
crash or Ctrl-C at any moment leaves the previous index in place and loadable. Writers
(`newsqa index`, the service's write endpoints) take `ROOT/.write.lock` first
(`writer_lock`), so two processes never build on the same version and lose each other's work.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.dense import build_dense, read_dense, touch
from indexer.embed import NO_PROMPTS, declared_prompts
from indexer.errors import IndexBusyError, IndexFormatError, IndexNotFoundError, IndexWriteError, NewsqaError

FORMAT = "newsqa-index"
FORMAT_VERSION = 3  # 2: sentence vectors; 3: lexical terms analysed by each document's language
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
DENSE = "dense.faiss"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
LEXICAL = "lexical"
WRITE_LOCK = ".write.lock"
_STALE_TMP_SECONDS = 3600
_LOCK_POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


@dataclass
class StoredIndex:
    """Everything an index version holds, in memory."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    passages: list[Passage]
    dense: faiss.Index
    lexical: bm25s.BM25
    # Sentences of each passage, in passage order: rows `sentence_rows[i]:sentence_rows[i + 1]`
    # of `sentences` ((passage row, start, end) in document offsets) and `sentence_vectors`
    # (memory-mapped) belong to passage i.
    sentences: np.ndarray
    sentence_vectors: np.ndarray

    @property
    def sentence_rows(self) -> np.ndarray:
        return np.searchsorted(self.sentences[:, 0], np.arange(len(self.passages) + 1))

    # Row i is passage i's vector, memory-mapped; None for a version written before vectors.npy.
    vectors: np.ndarray | None = None


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


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    """A hash of the documents' ids and texts, independent of their order."""
    digest = hashlib.sha256()
    for doc_id, sha in sorted((doc.doc_id, doc.sha256) for doc in documents):
        digest.update(f"{doc_id}\0{sha}\n".encode())
    return digest.hexdigest()


def write_index(
    root: Path,
    documents: list[Document],
    passages: list[Passage],
    vectors: np.ndarray,
    lexical: bm25s.BM25,
    manifest: dict[str, Any],
    keep_versions: int = 3,
    sentences: np.ndarray | None = None,
    sentence_vectors: np.ndarray | None = None,
) -> Path:
    """Write a new version under `root` and make it current; return the version's folder.

    `manifest` holds the build's own fields (model, chunking...); its `dense` section says
    which FAISS index to build (flat when absent). This adds the format, version id, counts,
    fingerprint and file list.
    """
    if len(passages) != len(vectors):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
    sentences = np.zeros((0, 3), dtype=np.int64) if sentences is None else sentences
    if sentence_vectors is None:
        sentence_vectors = np.zeros((0, vectors.shape[1]), dtype=np.float16)
    if len(sentences) != len(sentence_vectors):
        raise ValueError(f"{len(sentences)} sentences but {len(sentence_vectors)} sentence vectors")
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    # Names sort by build time (to the microsecond), which pruning relies on.
    version = f"{created:%Y%m%dT%H%M%S.%f}Z-{uuid.uuid4().hex[:8]}"
    tmp = versions / f".tmp-{version}"
    try:
        tmp.mkdir()
        _write_jsonl(tmp / DOCUMENTS, (doc.to_dict() for doc in documents))
        _write_jsonl(tmp / PASSAGES, (passage.to_dict() for passage in passages))
        np.save(tmp / VECTORS, np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(build_dense(vectors, manifest.get("dense", {})), str(tmp / DENSE))
        lexical.save(str(tmp / LEXICAL), show_progress=False)
        np.save(tmp / SENTENCES, sentences.astype(np.int64))
        np.save(tmp / SENTENCE_VECTORS, sentence_vectors.astype(np.float16))
        sizes = _file_sizes(tmp)
        full_manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": created.isoformat(timespec="seconds"),
            **manifest,
            "counts": {"documents": len(documents), "passages": len(passages), "sentences": len(sentences)},
            "corpus_sha256": corpus_fingerprint(documents),
            "files": sizes,
            "sha256": {name: file_sha256(tmp / name) for name in sizes},
        }
        (tmp / MANIFEST).write_text(json.dumps(full_manifest, indent=2, ensure_ascii=False) + "\n")
        _fsync_tree(tmp)
        final = versions / version
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _point_current(root, final)
    _prune(versions, keep=keep_versions, current=final)
    return final


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
    paths = [stored.path / DENSE, stored.path / SENTENCE_VECTORS]
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
    touch(stored.dense)
    if stored.sentence_vectors.size:
        int(stored.sentence_vectors.reshape(-1).view(np.uint8)[:: os.sysconf("SC_PAGE_SIZE")].max())


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


def load_index(root: Path, model: str | None = None) -> StoredIndex:
    """Load the current version under `root`, checking it before use.

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
    for name, size in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            raise IndexFormatError(f"{path}: missing or truncated; {_rebuild(folder)}")
    reading = folder / DOCUMENTS  # named in the error if it cannot be parsed
    try:
        documents = [Document(**record) for record in _read_jsonl(reading)]
        reading = folder / PASSAGES
        passages = [Passage(**record) for record in _read_jsonl(reading)]
        reading = folder / DENSE
        dense = read_dense(reading, manifest.get("dense", {}))
        reading = folder / LEXICAL
        lexical = bm25s.BM25.load(str(reading), show_progress=False)
        reading = folder / SENTENCES
        sentences = np.load(reading)
        reading = folder / SENTENCE_VECTORS
        sentence_vectors = np.load(reading, mmap_mode="r")
        reading = folder / VECTORS
        vectors = read_vectors(folder) if VECTORS in manifest.get("files", {}) else None
    except Exception as exc:  # the parsers raise many unrelated types on damaged files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndexFormatError(f"{reading}: damaged, cannot be read ({reason}); {_rebuild(folder)}") from None
    counts = manifest.get("counts", {})
    if not (
        counts.get("documents") == len(documents)
        and counts.get("passages") == len(passages) == dense.ntotal
        and counts.get("sentences") == len(sentences) == len(sentence_vectors)
        and (len(sentences) == 0 or 0 <= sentences[:, 0].min() <= sentences[:, 0].max() < len(passages))
        and (vectors is None or vectors.shape == (len(passages), dense.d))
    ):
        stored = "" if vectors is None else f" ({vectors.shape[0]} rows of {vectors.shape[1]} in {VECTORS})"
        raise IndexFormatError(
            f"index {folder} is inconsistent: manifest counts {counts}, {len(documents)} "
            f"documents, {len(passages)} passages, {dense.ntotal} vectors{stored}, {len(sentences)} "
            f"sentences with {len(sentence_vectors)} vectors; {_rebuild(folder)}"
        )
    return StoredIndex(
        path=folder,
        manifest=manifest,
        documents={doc.doc_id: doc for doc in documents},
        passages=passages,
        dense=dense,
        lexical=lexical,
        sentences=sentences,
        sentence_vectors=sentence_vectors,
        vectors=vectors,
    )


def load_previous(root: Path) -> StoredIndex | None:
    """The current version under `root` for a new build to compare with and reuse vectors
    from; None when there is none, or (with a warning) when it cannot be loaded, since a
    rebuild is what repairs a damaged index.

    A version embedded with other prompts than its model declares now comes without its
    vectors, so that none is reused beside vectors embedded with the new prompts; its
    documents (those added through the API among them) are still carried over.
    """
    try:
        previous = load_index(root)
    except IndexNotFoundError:
        return None
    except NewsqaError as exc:
        log.warning("previous index not used, everything is embedded again: %s", exc)
        return None
    if previous.vectors is not None and (stale := stale_prompts(previous.manifest)):
        log.warning("previous vectors not reused, everything is embedded again: index %s", stale)
        previous.vectors = None
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


def read_vectors(folder: Path) -> np.ndarray:
    """The float32 vectors of a version folder, memory-mapped read-only: (passages, dimension)."""
    vectors: np.ndarray = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.ndim != 2:
        raise ValueError(f"{VECTORS} holds {vectors.dtype} of shape {vectors.shape}, not float32 rows")
    return vectors


def _rebuild(folder: Path) -> str:
    root = folder.parent.parent if folder.parent.name == "versions" else folder
    return f"rebuild it with `newsqa index --index-dir {root}`"


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks (index files can be gigabytes)."""
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_current(root: Path, version: Path) -> None:
    link = root / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(version.relative_to(root), link)
    os.replace(link, root / "current")
    _fsync(root)


def _prune(versions: Path, keep: int, current: Path) -> None:
    """Drop all but the newest `keep` versions (never the current one), and leftovers of
    builds that died more than an hour ago."""
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), reverse=True)
    for old in done[keep:]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in versions.glob(".tmp-*"):
        if time.time() - leftover.stat().st_mtime > _STALE_TMP_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)
