"""Serving a sharded archive (indexer/shards.py) behind the same API: the app's index is a
`ShardedIndex` over the version `shards.json` names, swapped like any index when it moves.

Writes go to the shards owning their documents: each affected shard gets a new version as an
API write makes one (indexer/build.py: append_documents) and its statistics, then one rename of
`shards.json` serves all of them at once. A reader never sees half a write: every question names
the archive version it started on to each shard (service/core/shards.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from starlette.datastructures import State

from indexer.build import _build, append_documents
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.errors import IndexNotFoundError
from indexer.segments import Segment
from indexer.settings import Settings
from indexer.shards import ShardVersion, read_sharded, shard_dir, shard_of, write_sharded, write_statistics
from indexer.store import load_index, writer_lock
from service.core.index import Index
from service.core.shards import LocalShard, Shard, ShardClient, ShardedIndex
from service.http.observability import Metrics
from service.http.reload import Reloader


class ShardedReloader(Reloader):
    """`Reloader` of a sharded archive: its versions are those of `shards.json`, and its shards
    are `clients` (Ray Serve deployments), or shards in this process when none are given."""

    def __init__(
        self,
        state: State,
        settings: Settings,
        embedder: Embedder,
        metrics: Metrics | None,
        clients: Sequence[ShardClient] | None = None,
    ) -> None:
        super().__init__(state, settings, embedder, metrics)
        self.clients = list(clients) if clients is not None else None
        self.local: dict[int, LocalShard] = {}

    def _target(self) -> Path | None:
        try:
            manifest = read_sharded(self.settings.index_dir)
        except IndexNotFoundError:
            return None
        return manifest.root / manifest.version

    def _load(self, folder: Path | None) -> Index:
        manifest = read_sharded(self.settings.index_dir)
        return ShardedIndex(manifest, self._clients(manifest.count), self.embedder, self.settings)

    def _clients(self, count: int) -> list[ShardClient]:
        if self.clients is not None:
            if len(self.clients) != count:
                raise IndexNotFoundError(
                    f"{self.settings.index_dir} has {count} shards, this service was started with "
                    f"{len(self.clients)}: start it with --shards {count}"
                )
            return self.clients
        for number in range(count):
            if number not in self.local:
                self.local[number] = LocalShard(Shard(number, self.settings))
        return [self.local[number] for number in range(count)]

    def prepare(self, documents: list[Document]) -> Segment | None:
        """Nothing ahead of the lock: each shard's documents are embedded into its own folder
        by `write`."""
        return None

    def write(
        self, documents: list[Document], removed: Iterable[str] = (), prepared: Segment | None = None
    ) -> Index:
        """Write `documents` and delete `removed` in the shards owning them, then serve the new
        versions of those shards with the others in one new `shards.json`. Call inside
        `writing()`, after `latest()`."""
        base = self.latest()
        assert isinstance(base, ShardedIndex)
        manifest = base.sharded
        root = self.settings.index_dir
        versions = list(manifest.shards)
        removed = list(removed)
        for number in sorted(
            {shard_of(doc.doc_id, manifest.count) for doc in documents}
            | {shard_of(doc_id, manifest.count) for doc_id in removed}
        ):
            folder = shard_dir(root, number, manifest.count)
            settings = self.settings.model_copy(update={"index_dir": folder})
            mine = [doc for doc in documents if shard_of(doc.doc_id, manifest.count) == number]
            gone = [doc_id for doc_id in removed if shard_of(doc_id, manifest.count) == number]
            with writer_lock(folder, self.settings.lock_timeout):
                current = versions[number].folder
                if current is None:  # a shard with no documents yet
                    report = _build(mine, None, settings, self.embedder, False, (), 0.0, False)
                    stored = load_index(report.path)
                else:
                    stored = load_index(current, model=self.settings.model)
                    stored = append_documents(stored, mine, gone, settings, self.embedder)
            live = len(stored.documents) > 0
            versions[number] = (
                ShardVersion(stored.path, write_statistics(root, stored))
                if live
                else ShardVersion(None, None)
            )
        written = write_sharded(root, versions)
        index = ShardedIndex(written, self._clients(written.count), self.embedder, self.settings)
        self._swap(index, "write", settle_all=False)
        return index

    def _merge_later(self) -> None:
        """Shards merge their segments when `newsqa index --optimize` runs on their folders."""
