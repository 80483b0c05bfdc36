"""Merges: the live rows of several segments written as one, as Lucene merges its segments.

Every write adds a segment, so an archive that takes articles all day gathers many small ones,
and every search visits each. The merge policy is tiered by size: a segment's tier is the order
of magnitude of its live passages (1-9, 10-99, 100-999...), and as soon as `merge_factor` segments
share a tier they are merged into one of the next. A segment with at least a third of its rows
deleted is rewritten without them. `newsqa index --optimize` merges everything into one segment.

A merge runs in three steps, of which only the last holds the writer lock:
1. pick the segments from a version (`merge_plan`);
2. write their live rows as a new segment (`write_merged`): no embedding, the vectors, postings
   and sentences are copied; the segment is written under a hidden name, so nothing prunes it;
3. under the writer lock, with the version current then (`commit_merge`): documents deleted
   from the merged segments while step 2 ran are marked deleted in the new segment too, the
   new segment takes the place of the ones it merges, and a version naming it becomes current.
   A merged segment gone by then (all its documents deleted, or another merge took it) has
   all its documents marked deleted in the new one; if all are gone (a rebuild), the merge is
   dropped.
Writes that land while a merge runs are never lost: step 3 starts from the version they made.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.dense import dense_spec
from indexer.postings import Postings
from indexer.segments import Segment, reveal, write_segment
from indexer.settings import Settings
from indexer.store import StoredIndex, load_index, write_version, writer_lock

log = logging.getLogger(__name__)

# A segment with this share of its rows deleted is rewritten without them.
EXPUNGE_SHARE = 1 / 3
# Fields of a version's manifest that each version writes anew (store.write_version).
_OWN_FIELDS = {
    "format",
    "format_version",
    "version",
    "created_at",
    "counts",
    "corpus_sha256",
    "dense",
    "segments",
}


@dataclass(frozen=True)
class Merged:
    """A merged segment not yet in any version, and what it was made from: each source
    segment's name with the documents deleted from it when the merge began, and the ids of
    the documents it brought."""

    segment: Segment
    sources: tuple[tuple[str, frozenset[str]], ...]
    brought: tuple[frozenset[str], ...]
    seconds: float


def _written(merged: Merged, name: str) -> frozenset[str]:
    return merged.brought[[source for source, _ in merged.sources].index(name)]


def merge_plan(stored: StoredIndex, merge_factor: int) -> list[str]:
    """Names of the segments of `stored` to merge now (none: nothing to do)."""
    tiers: dict[int, list[str]] = defaultdict(list)
    for segment, live in zip(stored.segments, stored.live_counts, strict=True):
        tiers[int(math.log10(max(live, 1)))].append(segment.name)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= merge_factor:
            return tiers[tier][:merge_factor]
    for segment, live in zip(stored.segments, stored.live_counts, strict=True):
        if segment.passages and len(segment.passages) - live >= EXPUNGE_SHARE * len(segment.passages):
            return [segment.name]
    return []


def write_merged(stored: StoredIndex, names: list[str], settings: Settings) -> Merged:
    """The live rows of the segments `names` of `stored`, in version order, written as one
    segment under a hidden name (see the module's doc). Holds no lock."""
    started = time.perf_counter()
    chosen = [(segment, gone) for segment, gone in stored.parts() if segment.name in names]
    documents, passages, vectors, sentences, sentence_vectors, postings = [], [], [], [], [], []
    rows = 0
    for segment, gone in chosen:
        live = segment.live(gone)
        documents += [doc for doc_id, doc in segment.documents.items() if doc_id not in gone]
        passages += [passage for passage, keep in zip(segment.passages, live.tolist(), strict=True) if keep]
        vectors.append(np.asarray(segment.vectors[live]))
        renumber = np.cumsum(live) - 1 + rows
        kept = live[segment.sentences[:, 0]]
        table = segment.sentences[kept].copy()
        table[:, 0] = renumber[table[:, 0]]
        sentences.append(table)
        sentence_vectors.append(np.asarray(segment.sentence_vectors[kept]))
        postings.append(segment.postings.select(live))
        rows += int(np.count_nonzero(live))
    dimension = int(chosen[0][0].dense.d)
    merged = write_segment(
        settings.index_dir,
        documents,
        passages,
        np.concatenate(vectors) if vectors else np.zeros((0, dimension), np.float32),
        np.concatenate(sentences) if sentences else np.zeros((0, 3), np.int64),
        np.concatenate(sentence_vectors) if sentence_vectors else np.zeros((0, dimension), np.float16),
        Postings.concatenate(postings),
        dense_spec(len(passages), settings.index_type, settings.ann_threshold, settings.ivf_nprobe),
        hidden=True,
    )
    sources = tuple((segment.name, gone) for segment, gone in chosen)
    brought = tuple(frozenset(segment.documents.keys() - gone) for segment, gone in chosen)
    return Merged(merged, sources, brought, time.perf_counter() - started)


def commit_merge(current: StoredIndex, merged: Merged, settings: Settings) -> StoredIndex | None:
    """Make a version of `current` with `merged` in place of its sources current, and return it;
    None (and the merged segment removed) when a source is no longer in `current`. Call with
    the writer lock held, `current` being the current version."""
    names = [name for name, _ in merged.sources]
    positions = {segment.name: i for i, segment in enumerate(current.segments)}
    segment = merged.segment
    present = [name for name in names if name in positions]
    if not present:
        log.info("merge of %d segments dropped: they are all gone from the version", len(names))
        shutil.rmtree(segment.path, ignore_errors=True)
        return None
    # Documents deleted from the sources since the merge began are deleted from it as well; a
    # source gone from the version (its documents all deleted, or merged by another merge)
    # takes all of its documents with it.
    deleted = frozenset().union(
        *(
            current.deleted[positions[name]] - before
            if name in positions
            else frozenset(segment.documents.keys() & _written(merged, name))
            for name, before in merged.sources
        )
    )
    reveal(segment)
    first = min(positions[name] for name in present)
    parts: list[tuple[Segment, frozenset[str]]] = []
    for i, part in enumerate(current.parts()):
        if i == first and len(deleted) < len(segment.documents):
            parts.append((segment, deleted))
        elif part[0].name not in names:
            parts.append(part)
    manifest: dict[str, Any] = {
        **{key: value for key, value in current.manifest.items() if key not in _OWN_FIELDS},
        "changes": {"merged_segments": len(names), "merged_passages": len(segment.passages)},
    }
    stored = write_version(
        current.root, parts, manifest, current.manifest["corpus_sha256"], settings.keep_versions
    )
    log.info(
        "merged %d segments into %s (%d passages) in %.2f s",
        len(names),
        segment.name,
        len(segment.passages),
        merged.seconds,
    )
    return stored


def optimize(settings: Settings) -> tuple[StoredIndex, int]:
    """Merge every segment of the current version of `settings.index_dir` into one, dropping
    deleted rows; returns the version now current and how many segments were merged (0: it
    was one segment without deletions already). Writes may land meanwhile; they stay."""
    root = settings.index_dir
    snapshot = load_index(root, model=settings.model)
    names = [segment.name for segment in snapshot.segments]
    if len(names) <= 1 and not any(snapshot.deleted):
        return snapshot, 0
    merged = write_merged(snapshot, names, settings)
    with writer_lock(root, settings.lock_timeout):
        current = load_index(root, loaded={segment.name: segment for segment in snapshot.segments})
        stored = commit_merge(current, merged, settings)
    if stored is None:
        return current, 0
    return stored, len(names)
