"""Swapping the served index: after a write or a merge, on `POST /admin/reload`, and when
`current` moves.

The app serves whatever `Index` object `app.state.index` holds. A swap is one attribute
assignment, so a request that has taken an index keeps it to the end: its citations always
point into that version's documents. Writes, merge commits and reloads take one lock, so they
never interleave; writes also take the index directory's write lock (indexer/store.py:
writer_lock), so that a `newsqa index` in another process never builds on a version a write
here is replacing. A new version is loaded from the segments already in memory, reading only
those it adds. After a write, merges (indexer/merge.py) run in a background thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from indexer.build import append_documents, prepare_segment
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.errors import IndexNotFoundError, NewsqaError
from indexer.merge import commit_merge, merge_plan, write_merged
from indexer.segments import Segment
from indexer.settings import Settings
from indexer.store import load_index, resolve, writer_lock
from service.core.index import Index
from service.http.observability import Metrics
from service.http.schemas import ADMIN_ONLY, CONFLICT, ReloadResponse
from service.http.security import require_admin

log = logging.getLogger(__name__)


class IndexUnavailableError(NewsqaError):
    """The service has no usable index loaded."""


class ConflictError(NewsqaError):
    """The archive's present state does not allow the request (a broken version to reload,
    the last document to delete)."""


def version_of(index: Index) -> str:
    return str(index.manifest.get("version", index.stored.path.name))


class Reloader:
    """Loads index versions of `settings.index_dir` and swaps them into `state.index`."""

    def __init__(self, state: State, settings: Settings, embedder: Embedder, metrics: Metrics | None) -> None:
        self.state = state
        self.settings = settings
        self.embedder = embedder
        self.metrics = metrics
        self.lock = threading.Lock()
        # A version that failed to load while polling: not retried until `current` moves again.
        self.skipped: Path | None = None
        self.merger: threading.Thread | None = None
        self.merging = True  # False: no new merge starts (shutting down)
        state.index, state.index_error = None, None

    @property
    def index(self) -> Index | None:
        index: Index | None = self.state.index
        return index

    def start(self) -> None:
        """Load the current version, if there is a usable one; without, the app answers 503."""
        with self.lock:
            target = self._target()
            try:
                self._swap(self._load(target), "start")
            except NewsqaError as exc:
                log.error("%s", exc)
                self.state.index_error = str(exc)
                self.skipped = target

    def reload(self) -> tuple[Index, str | None]:
        """Load what `current` points to now and serve it; returns it and the version it replaced.

        Raises ConflictError, and keeps serving the old index, when it cannot be loaded.
        """
        with self.lock:
            previous = self.index
            before = version_of(previous) if previous is not None else None
            try:
                index = self._load(self._target())
            except NewsqaError as exc:
                self._count("admin", "failed")
                still = f"; still serving version {before}" if before else ""
                raise ConflictError(f"cannot reload: {exc}{still}") from None
            self.skipped = None
            self._swap(index, "admin")
            return index, before

    def reload_if_moved(self) -> bool:
        """Swap in the version `current` points to if it is not the one served (polling).

        A version that fails to load is logged once and skipped until `current` moves again;
        a write in progress makes this a no-op until the next poll.
        """
        if not self.lock.acquire(blocking=False):
            return False
        try:
            target = self._target()
            served = self.index.stored.path if self.index is not None else None
            if target is None or target in (served, self.skipped):
                return False
            try:
                index = self._load(target)
            except Exception as exc:  # a broken version must never stop the polling
                self.skipped = target
                self._count("auto", "failed")
                log.error("not serving index version %s: %s", target, exc)
                if self.index is None:
                    self.state.index_error = str(exc)
                return False
            self._swap(index, "auto")
            log.info("now serving index version %s", version_of(index))
            return True
        finally:
            self.lock.release()

    async def watch(self) -> None:
        """Poll `current` every `settings.reload_interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.settings.reload_interval)
            await run_in_threadpool(self.reload_if_moved)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold both locks a write needs: this service's, and the index directory's across
        processes. Inside, `latest()` is the newest version and nothing else writes. A write
        needs a version to start from: without one it fails before creating anything."""
        with self.lock:
            if self.index is None and self._target() is None:
                raise IndexUnavailableError(self.state.index_error or "no index is loaded")
            with writer_lock(self.settings.index_dir, self.settings.lock_timeout):
                yield

    def latest(self) -> Index:
        """The index to base a write on: the served one, or a newer version written by another
        process and not yet picked up (so a write never undoes it). Call inside `writing()`."""
        target = self._target()
        index = self.index
        if target is not None and (index is None or target != index.stored.path) and target != self.skipped:
            try:
                index = self._load(target)
                self._swap(index, "auto")
            except NewsqaError as exc:
                self.skipped = target
                log.error("not serving index version %s: %s", target, exc)
        if index is None:
            raise IndexUnavailableError(self.state.index_error or "no index is loaded")
        return index

    def prepare(self, documents: list[Document]) -> Segment | None:
        """`documents` chunked, embedded and written as a hidden segment, outside any lock:
        the slow part of a write, while merges and reads go on (indexer/build.py)."""
        return prepare_segment(documents, self.settings, self.embedder)

    def write(
        self, documents: list[Document], removed: Iterable[str] = (), prepared: Segment | None = None
    ) -> Index:
        """Add (or replace) `documents` and delete the documents `removed` in a new version, and
        serve it; then merge segments in the background if the merge policy says so. Call
        inside `writing()`, after `latest()`; `prepared` is `prepare(documents)` when it ran."""
        base = self.latest()
        stored = append_documents(base.stored, documents, removed, self.settings, self.embedder, prepared)
        index = Index(stored, self.embedder, self.settings)
        self._swap(index, "write", settle_all=False)
        self._merge_later()
        return index

    def _merge_later(self) -> None:
        """Start a merge in the background if the served version needs one and none runs.
        Call holding `lock`."""
        index = self.index
        if not self.merging or index is None or (self.merger is not None and self.merger.is_alive()):
            return
        names = merge_plan(index.stored, self.settings.merge_factor)
        if names:
            self.merger = threading.Thread(
                target=self._merge, args=(index, names), name="newsqa-merge", daemon=True
            )
            self.merger.start()

    def _merge(self, base: Index, names: list[str]) -> None:
        """Merge the segments `names` of `base` and serve the result (indexer/merge.py): the
        merged segment is written without any lock; only its commit takes them, from the
        version current then, so writes that landed meanwhile stay."""
        started = time.perf_counter()
        try:
            merged = write_merged(base.stored, names, self.settings)
            with self.writing():
                current = self.latest()
                stored = commit_merge(current.stored, merged, self.settings)
                if stored is not None:
                    self._swap(Index(stored, self.embedder, self.settings), "merge", settle_all=False)
                    if self.metrics is not None:
                        self.metrics.merges.observe(time.perf_counter() - started)
                self._merge_later()
        except Exception:  # a failed merge leaves the archive as it was; the next write retries
            log.exception("merge of %d segments failed", len(names))

    def stop_merging(self, timeout: float = 60.0) -> None:
        """Start no more merges and wait for one running to finish (shutdown)."""
        self.merging = False
        if self.merger is not None:
            self.merger.join(timeout)

    def _target(self) -> Path | None:
        try:
            return resolve(self.settings.index_dir)
        except IndexNotFoundError:
            return None

    def _load(self, folder: Path | None) -> Index:
        # Without a target, `resolve` raises IndexNotFoundError saying how to build an index.
        folder = folder or resolve(self.settings.index_dir)
        served = {segment.name: segment for segment in self.index.stored.segments} if self.index else {}
        return Index(
            load_index(folder, model=self.settings.model, loaded=served), self.embedder, self.settings
        )

    def _swap(self, index: Index, trigger: str, settle_all: bool = True) -> None:
        self.state.index = index  # the one assignment requests see: old or new, never a mix
        self.state.index_error = None
        self._count(trigger, "ok")
        if settle_all:
            settle()
        else:
            gc.freeze()  # what the new version added; the old one shares its segments

    def _count(self, trigger: str, outcome: str) -> None:
        if self.metrics is not None and trigger != "start":
            self.metrics.reloads.labels(trigger, outcome).inc()


def settle() -> None:
    """Collect what the index swapped out left behind, then keep every object alive now (most
    of them the served index's passages, documents and terms) out of the garbage collector's
    scans from here on: Python's full collection would otherwise walk them all, and hold
    every request meanwhile (345 ms at 200k passages). The next swap collects them again,
    once they are garbage. Objects frozen so still go when nothing refers to them any more."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def get_reloader(request: Request) -> Reloader:
    reloader: Reloader = request.app.state.reloader
    return reloader


ReloaderDep = Annotated[Reloader, Depends(get_reloader)]
router = APIRouter(dependencies=[Depends(require_admin)], tags=["admin"])


@router.post("/admin/reload", response_model=ReloadResponse, responses={**ADMIN_ONLY, **CONFLICT})
def reload(reloader: ReloaderDep) -> ReloadResponse:
    """Load the version `current` points to and serve it from the next request on; requests
    already running finish on the old one. A version that cannot be loaded is refused (409)
    and the old one stays in service."""
    index, previous = reloader.reload()
    version = version_of(index)
    return ReloadResponse(
        version=version,
        previous=previous,
        changed=version != previous,
        documents=len(index.documents),
        passages=index.passage_count,
    )
