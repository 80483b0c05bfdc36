"""A sharded archive: the documents of one index directory split over S ordinary newsqa
indexes (shards) by a stable hash of their ids, and one manifest naming the version of every
shard that is served together.

    index-dir/
      shards.json            which version of each shard is served, switched in one rename
      shard-0-of-2/          an ordinary index directory (versions/, segments/, current)
      shard-1-of-2/
      statistics/<v>.json    one shard version's lexical statistics (`Statistics`)

A question is answered over all shards as over one index (service/core/shards.py): BM25 and
the answer stage weigh terms by statistics of the whole archive, the sum of every shard's
`Statistics`, written when its version is. A write goes to the shards owning its documents;
their new versions become visible to readers only when `shards.json` names them, all at once.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexer.build import API_SOURCE, BuildReport, _build, compare, load_documents, skip_summary
from indexer.cache import SpanEmbedding
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.errors import IndexFormatError, IndexNotFoundError, NoDocumentsError
from indexer.segments import fsync, new_name
from indexer.settings import Settings
from indexer.store import StoredIndex, load_index, load_previous, writer_lock

SHARDS = "shards.json"
FORMAT = "newsqa-shards"
STATISTICS = "statistics"
ENGLISH = "en"
# The day-source of a date read off a file's modification time (indexer/dates.py).
FILE_DATE = "file"


def shard_of(doc_id: str, shards: int) -> int:
    """The shard that owns `doc_id` among `shards`: a hash of the id, the same in every process
    and on every machine (Python's `hash` of a string is salted per process)."""
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_dir(root: Path, shard: int, shards: int) -> Path:
    return root / f"shard-{shard}-of-{shards}"


def is_sharded(root: Path) -> bool:
    return (root / SHARDS).is_file()


@dataclass(frozen=True)
class Statistics:
    """What the lexical scores of an archive (or one shard of it) depend on beyond a passage's
    own terms, summed over its live passages: how many there are and their total length (BM25's
    N and average length), and for each term how many passages hold it, how many documents, how
    many English documents (the answer stage's "common word" test) and in which languages'
    passages it occurs (the Translator's vocabularies). Statistics of shards add up to those of
    the archive they split, so a sharded archive scores exactly as the same archive in one index.
    """

    passages: int = 0
    length: float = 0.0
    documents: int = 0
    peers: int = 0  # English live documents
    # term -> (passages, documents, English documents, bit mask over `languages`)
    terms: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    # The newest publication day (ISO) among documents dated otherwise than by their file, and
    # among those dated by their file (service/core/temporal.py: dating).
    newest: str | None = None
    newest_file: str | None = None

    @property
    def average_length(self) -> float:
        return self.length / self.passages if self.passages else 1.0

    def frequency(self, term: str) -> int:
        found = self.terms.get(term)
        return found[0] if found else 0

    def document_count(self, term: str, peers: bool = False) -> int:
        found = self.terms.get(term)
        return 0 if found is None else found[2] if peers else found[1]

    def language_terms(self) -> dict[str, frozenset[str]]:
        """For each language, the terms its live passages use."""
        return {
            language: frozenset(term for term, (*_, mask) in self.terms.items() if mask >> bit & 1)
            for bit, language in enumerate(self.languages)
        }

    @classmethod
    def of(cls, stored: StoredIndex) -> Statistics:
        """The statistics of one loaded index version, segment by segment, without a pass over
        its passages in Python."""
        languages = tuple(sorted(stored.live_languages()))
        terms: dict[str, list[int]] = {}
        length = 0.0
        documents = peers = 0
        for segment, deleted in stored.parts():
            postings = segment.postings
            live = segment.live(deleted)
            length += float(postings.lengths[live].sum())
            live_documents = segment.live_documents(deleted)
            documents += int(np.count_nonzero(live_documents))
            english = live_documents & (segment.document_languages == ENGLISH)
            peers += int(np.count_nonzero(english))
            rows = postings.rows
            term_of = np.repeat(np.arange(len(postings.terms)), np.diff(postings.indptr))
            counted = live[rows]
            passages = _per_term(counted, postings.indptr)
            # One (term, document) pair per live posting, counted once per document.
            number = segment.passage_documents[rows]
            pairs = np.unique(term_of[counted] * max(len(segment.documents), 1) + number[counted])
            pair_terms, pair_documents = np.divmod(pairs, max(len(segment.documents), 1))
            in_documents = np.bincount(pair_terms, minlength=len(postings.terms))
            in_peers = np.bincount(pair_terms[english[pair_documents]], minlength=len(postings.terms))
            mask = np.zeros(len(postings.terms), dtype=np.int64)
            for bit, language in enumerate(languages):
                used = _per_term(counted & (segment.languages == language)[rows], postings.indptr)
                mask |= (used > 0).astype(np.int64) << bit
            columns = zip(
                postings.terms,
                passages.tolist(),
                in_documents.tolist(),
                in_peers.tolist(),
                mask.tolist(),
                strict=True,
            )
            for term, in_passages, in_docs, in_english, bits in columns:
                if not in_passages:
                    continue
                found = terms.setdefault(term, [0, 0, 0, 0])
                found[0] += in_passages
                found[1] += in_docs
                found[2] += in_english
                found[3] |= bits
        dated = [doc for doc in stored.documents.values() if doc.date]
        return cls(
            passages=stored.passage_count,
            length=length,
            documents=documents,
            peers=peers,
            terms={term: (a, b, c, d) for term, (a, b, c, d) in terms.items()},
            languages=languages,
            newest=max((str(doc.date)[:10] for doc in dated if doc.date_source != FILE_DATE), default=None),
            newest_file=max(
                (str(doc.date)[:10] for doc in dated if doc.date_source == FILE_DATE), default=None
            ),
        )

    @classmethod
    def combine(cls, parts: Sequence[Statistics]) -> Statistics:
        """The statistics of the archive made of `parts` (shards holding different documents)."""
        languages = tuple(sorted({language for part in parts for language in part.languages}))
        bit = {language: i for i, language in enumerate(languages)}
        terms: dict[str, list[int]] = {}
        for part in parts:
            remap = [bit[language] for language in part.languages]
            for term, (passages, documents, peers, mask) in part.terms.items():
                found = terms.setdefault(term, [0, 0, 0, 0])
                found[0] += passages
                found[1] += documents
                found[2] += peers
                found[3] |= sum(1 << remap[i] for i in range(len(remap)) if mask >> i & 1)
        return cls(
            passages=sum(part.passages for part in parts),
            length=sum(part.length for part in parts),
            documents=sum(part.documents for part in parts),
            peers=sum(part.peers for part in parts),
            terms={term: (a, b, c, d) for term, (a, b, c, d) in terms.items()},
            languages=languages,
            newest=max((part.newest for part in parts if part.newest), default=None),
            newest_file=max((part.newest_file for part in parts if part.newest_file), default=None),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "passages": self.passages,
            "length": self.length,
            "documents": self.documents,
            "peers": self.peers,
            "languages": list(self.languages),
            "newest": self.newest,
            "newest_file": self.newest_file,
            "terms": {term: list(values) for term, values in self.terms.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statistics:
        return cls(
            passages=int(data["passages"]),
            length=float(data["length"]),
            documents=int(data["documents"]),
            peers=int(data["peers"]),
            terms={term: (int(a), int(b), int(c), int(d)) for term, (a, b, c, d) in data["terms"].items()},
            languages=tuple(data["languages"]),
            newest=data.get("newest"),
            newest_file=data.get("newest_file"),
        )


def _per_term(counted: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """For each term column of postings, how many of its postings `counted` marks."""
    inside = np.concatenate([[0], np.cumsum(counted, dtype=np.int64)])
    counts: np.ndarray = inside[indptr[1:]] - inside[indptr[:-1]]
    return counts


@dataclass(frozen=True)
class ShardVersion:
    """One shard as served: its index version folder (None for a shard without documents)
    and the file holding that version's `Statistics`."""

    folder: Path | None
    statistics: Path | None


@dataclass(frozen=True)
class ShardedManifest:
    """`shards.json`: the version of the sharded archive and the shard versions it is made of."""

    root: Path
    version: str
    shards: tuple[ShardVersion, ...]
    created_at: str = ""

    @property
    def count(self) -> int:
        return len(self.shards)

    def statistics(self) -> Statistics:
        """The archive's statistics: the sum of its shards'."""
        return Statistics.combine(
            [read_statistics(shard.statistics) for shard in self.shards if shard.statistics]
        )


def read_sharded(root: Path) -> ShardedManifest:
    """The sharded archive `root/shards.json` describes; IndexNotFoundError without one."""
    path = root / SHARDS
    if not path.is_file():
        raise IndexNotFoundError(
            f"no sharded index in {root}: build one with `newsqa index --shards 2 --index-dir {root}`"
        )
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError("not a newsqa shards manifest")
        shards = tuple(
            ShardVersion(
                root / entry["version"] if entry.get("version") else None,
                root / entry["statistics"] if entry.get("statistics") else None,
            )
            for entry in data["shards"]
        )
        return ShardedManifest(root, str(data["version"]), shards, str(data.get("created_at", "")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"{path}: unreadable shards manifest ({exc})") from None


def read_statistics(path: Path) -> Statistics:
    try:
        return Statistics.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"{path}: unreadable shard statistics ({exc})") from None


def write_statistics(root: Path, stored: StoredIndex) -> Path:
    """Write the statistics of the shard version `stored` under `root/statistics/`, durably."""
    folder = root / STATISTICS / stored.root.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stored.path.name}.json"
    _write_atomic(path, json.dumps(Statistics.of(stored).to_json(), ensure_ascii=False))
    return path


def write_sharded(root: Path, shards: Sequence[ShardVersion]) -> ShardedManifest:
    """Make `shards` the served versions of the sharded archive `root`, all at once: one file
    written aside, fsynced and renamed over `shards.json`. Call holding `sharded_lock(root)`."""
    version = new_name()
    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    data = {
        "format": FORMAT,
        "version": version,
        "created_at": created,
        "shards": [
            {
                "version": str(shard.folder.relative_to(root)) if shard.folder else None,
                "statistics": str(shard.statistics.relative_to(root)) if shard.statistics else None,
            }
            for shard in shards
        ],
    }
    _write_atomic(root / SHARDS, json.dumps(data, indent=2) + "\n")
    _prune_statistics(root, {shard.statistics for shard in shards if shard.statistics})
    return ShardedManifest(root, version, tuple(shards), created)


def optimize_sharded(settings: Settings) -> list[tuple[StoredIndex, int]]:
    """`newsqa index --optimize` for a sharded archive: every shard's segments merged into one
    (indexer/merge.py: optimize), then the merged versions served together. Holds the archive's
    write lock throughout, so writes through the API wait. Returns what `optimize` returns for
    each shard that holds documents."""
    from indexer.merge import optimize

    root = settings.index_dir
    done = []
    with sharded_lock(root, settings.lock_timeout):
        manifest = read_sharded(root)
        versions = list(manifest.shards)
        for number, shard in enumerate(manifest.shards):
            if shard.folder is None:
                continue
            stored, merged = optimize(
                settings.model_copy(update={"index_dir": shard_dir(root, number, manifest.count)})
            )
            if merged:
                versions[number] = ShardVersion(stored.path, write_statistics(root, stored))
            done.append((stored, merged))
        if versions != list(manifest.shards):
            write_sharded(root, versions)
    return done


def check_sharded(root: Path) -> tuple[list[Path], list[str]]:
    """The version folders a sharded archive serves, and what is wrong with its manifest and
    statistics: a shard version that is gone, or statistics that are not those of its shard
    (they would weigh every shard's terms wrongly). Each version's own check is `check_index`."""
    try:
        manifest = read_sharded(root)
    except IndexFormatError as exc:
        return [], [str(exc)]
    folders: list[Path] = []
    problems: list[str] = []
    for shard in manifest.shards:
        if shard.folder is None:
            continue
        if not shard.folder.is_dir() or shard.statistics is None:
            problems.append(f"{root / SHARDS}: names {shard.folder}, which is gone or has no statistics")
            continue
        folders.append(shard.folder)
        try:
            recorded = read_statistics(shard.statistics)
            actual = Statistics.of(load_index(shard.folder))
        except (IndexFormatError, IndexNotFoundError) as exc:
            problems.append(str(exc))
            continue
        if recorded != actual:
            problems.append(f"{shard.statistics}: not the statistics of {shard.folder}; rebuild the shard")
    return folders, problems


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{os.urandom(4).hex()}-{path.name}")
    try:
        tmp.write_text(text)
        fsync(tmp)
        os.replace(tmp, path)
        fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _prune_statistics(root: Path, keep: set[Path]) -> None:
    """Drop statistics files of shard versions that no longer exist."""
    for path in (root / STATISTICS).glob("*/*.json"):
        if path not in keep and not (root / path.parent.name / "versions" / path.stem).is_dir():
            path.unlink(missing_ok=True)


@contextmanager
def sharded_lock(root: Path, timeout: float) -> Iterator[None]:
    """The write lock of a sharded archive: held from reading `shards.json` to replacing it."""
    with writer_lock(root, timeout):
        yield


def build_sharded(
    paths: Iterable[Path],
    settings: Settings,
    embedder: Embedder,
    shards: int,
    progress: bool = False,
    *,
    full: bool = False,
    embed: SpanEmbedding | None = None,
) -> BuildReport:
    """Index the articles under `paths` into a sharded archive of `shards` shards under
    `settings.index_dir`, and serve the new versions of all shards together.

    Each shard is built as `newsqa index` builds an index (reusing the vectors its previous
    version holds) from the documents whose ids hash to it; documents added through the API
    stay, as in `build_index`. Changing the number of shards builds new shard folders. An
    unsharded index in `settings.index_dir` is split the same way: its vectors are reused and
    its API documents kept (it stays on disk, unserved, until removed)."""
    started = time.perf_counter()
    root = settings.index_dir
    documents, skipped = load_documents(paths, progress)
    if not documents:
        raise NoDocumentsError(f"no readable articles found: nothing to index{skip_summary(skipped)}")
    with sharded_lock(root, settings.lock_timeout):
        unsharded = None if is_sharded(root) else load_previous(root)
        previous = [load_previous(shard_dir(root, number, shards)) for number in range(shards)]
        before = {
            doc.doc_id: doc
            for stored in [unsharded, *previous]
            if stored
            for doc in stored.documents.values()
        }
        given = {doc.doc_id for doc in documents}
        documents += [doc for doc in before.values() if doc.source == API_SOURCE and doc.doc_id not in given]
        owned: list[list[Document]] = [[] for _ in range(shards)]
        for doc in documents:
            owned[shard_of(doc.doc_id, shards)].append(doc)
        versions: list[ShardVersion] = []
        embedded = reused = passages = 0
        for number, part in enumerate(owned):
            folder = shard_dir(root, number, shards)
            if not part:
                versions.append(ShardVersion(None, None))
                continue
            shard_settings = settings.model_copy(update={"index_dir": folder})
            with writer_lock(folder, settings.lock_timeout):
                cache = previous[number] or unsharded
                report = _build(part, cache, shard_settings, embedder, progress, (), started, full, embed)
            stored = load_index(folder)
            passages += stored.passage_count
            versions.append(ShardVersion(report.path, write_statistics(root, stored)))
            embedded += report.changes.embedded
            reused += report.changes.reused
        write_sharded(root, versions)
    total = replace(compare(before, documents), embedded=embedded, reused=reused)
    return BuildReport(
        root / SHARDS, len(documents), passages, tuple(skipped), time.perf_counter() - started, total
    )
