"""Search and answers over a sharded archive (indexer/shards.py): shards find candidates, one
ingress fuses them and answers, so that the archive ranks and answers exactly as it would
served as one index.

A question goes to every shard once (`Shard.candidates`): each returns its passages nearest to
the question's vector and its best BM25 passages, scored with the archive's statistics (the
sum of all shards'), `depth` of each as one index would look at, and which of the question's
terms each candidate passage and document holds. The ingress (`ShardedIndex`) keeps the best
`depth` of each ranking over all shards, which are exactly those the whole archive's rankings
would hold, and runs the unchanged answer stage of `Index` over them: fusion, time, abstention
and the extractive answer weigh terms by the archive's statistics as well. What that stage
reads of the passages it answers from (sentences, their vectors, the next passage, the whole
document) is fetched from their shards in a second round (`Shard.details`).

Every call names the `ShardedManifest` it is for, so a question is answered from one version
of every shard even while a write makes new ones.
"""

from __future__ import annotations

import datetime
import heapq
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from indexer.chunk import Passage
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.lexicon import dictionaries
from indexer.settings import Mode, Settings
from indexer.shards import ShardedManifest, Statistics, read_sharded, shard_of
from indexer.store import StoredIndex, load_index, prefetch
from indexer.text import terms
from service.core.browse import DocumentPage, Listing, decode_cursor, encode_cursor, sort_key
from service.core.errors import DocumentNotFoundError
from service.core.filters import Filters, Sort
from service.core.index import Index
from service.core.lexical import Vocabulary
from service.core.masks import RowMasks
from service.core.results import AskResponse, Citation, SearchResponse
from service.core.temporal import dating_by
from service.core.translate import Concept, Translator

# Archive versions a shard keeps loaded: the one served and those a write just replaced, which
# questions begun before the switch still name.
KEPT_VERSIONS = 3
_WORD = re.compile(r"[\w'’-]+")


# --- what travels between the ingress and the shards -------------------------------------------


@dataclass(frozen=True)
class Question:
    """What every shard is asked for one question."""

    query: str
    vector: np.ndarray | None  # None: lexical search, no dense ranking
    concepts: list[Concept] | None  # the question's words over the archive's languages
    asked: frozenset[str]  # terms the answer stage may check a candidate passage or document for
    depth: int  # how many nearest passages one index would look at
    lexical_depth: int  # how many BM25 passages one index would look at
    filters: Filters | None


@dataclass(frozen=True)
class Candidate:
    """A passage a shard found, with what the ingress ranks and cites it by."""

    passage: Passage
    language: str
    holds: frozenset[str]  # the asked terms the passage holds


@dataclass
class Candidates:
    """One shard's answer to a `Question`: its nearest passages (chunk id, cosine, best
    sentence's cosine), best first by cosine; its best BM25 passages (chunk id, score); the
    candidates by chunk id; their documents without their text; and which asked terms each of
    those documents holds."""

    nearest: list[tuple[str, float, float]] = field(default_factory=list)
    lexical: list[tuple[str, float]] = field(default_factory=list)
    passages: dict[str, Candidate] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    mentions: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Detail:
    """What the answer stage reads of one passage: its sentences ((row, start, end) in its
    document) and their vectors, its whole document, and the passage after it with the same."""

    chunk_id: str
    sentences: np.ndarray
    vectors: np.ndarray
    document: Document
    following: Detail | None = None
    passage: Passage | None = None


class Pending(Protocol):
    """A call under way to a shard (a Ray Serve response, or one already answered)."""

    def result(self) -> Any: ...


class ShardClient(Protocol):
    """How the ingress calls one shard: `call("candidates", manifest, question)` starts
    `Shard.candidates(manifest, question)` there and returns at once."""

    def call(self, method: str, *args: Any) -> Pending: ...


@dataclass(frozen=True)
class Done:
    value: Any

    def result(self) -> Any:
        return self.value


class LocalShard:
    """A shard in this process (tests, and `newsqa` tools reading a sharded archive)."""

    def __init__(self, shard: Shard) -> None:
        self.shard = shard

    def call(self, method: str, *args: Any) -> Pending:
        return Done(getattr(self.shard, method)(*args))


# --- a shard -----------------------------------------------------------------------------------


class _ShardIndex(Index):
    """One shard's version, with BM25 weighed by the whole archive's statistics. It ranks only:
    no model (the ingress embeds questions), no Translator (the ingress sends the concepts)."""

    def __init__(self, stored: StoredIndex, settings: Settings, statistics: Statistics) -> None:
        prefetch(stored)
        stored.weigh_with(statistics)
        self.stored = stored
        self.settings = settings
        self.translator = None
        self.row_languages = stored.languages()
        self.masks = RowMasks(stored)


class Shard:
    """One shard of a sharded archive, as served: it answers for whichever archive version the
    ingress names, loading it on first use and keeping the last `KEPT_VERSIONS`."""

    def __init__(self, number: int, settings: Settings) -> None:
        self.number = number
        self.settings = settings
        self._versions: OrderedDict[str, _ShardIndex | None] = OrderedDict()
        self._loading = threading.Lock()

    def index(self, manifest: ShardedManifest) -> _ShardIndex | None:
        """This shard's index in the archive version `manifest` (None: it holds no documents)."""
        with self._loading:
            return self._index(manifest)

    def _index(self, manifest: ShardedManifest) -> _ShardIndex | None:
        if manifest.version in self._versions:
            self._versions.move_to_end(manifest.version)
            return self._versions[manifest.version]
        folder = manifest.shards[self.number].folder
        index = None
        if folder is not None:
            loaded = {s.name: s for held in self._versions.values() if held for s in held.stored.segments}
            stored = load_index(folder, model=self.settings.model, loaded=loaded)
            index = _ShardIndex(stored, self.settings, manifest.statistics())
        self._versions[manifest.version] = index
        while len(self._versions) > KEPT_VERSIONS:
            self._versions.popitem(last=False)
        return index

    def candidates(self, manifest: ShardedManifest, question: Question) -> Candidates:
        """This shard's part of the rankings of `question` (see the module's docstring)."""
        index = self.index(manifest)
        found = Candidates()
        if index is None:
            return found
        stored = index.stored
        allowed = index._allowed(question.filters)
        rows: list[int] = []
        if question.vector is not None:
            nearest, cosines = index._nearest(question.vector, question.depth, allowed)
            best = stored.best_sentences(nearest, question.vector)
            found.nearest = [
                (stored.passages[row].chunk_id, cosine, sentence)
                for row, cosine, sentence in zip(
                    nearest.tolist(), cosines.tolist(), best.tolist(), strict=True
                )
            ]
            rows += nearest.tolist()
        if question.lexical_depth:
            lexical = index._lexical(question.query, question.lexical_depth, allowed, question.concepts)
            found.lexical = [(stored.passages[row].chunk_id, score) for row, score in lexical]
            rows += [row for row, _ in lexical]
        holding = {term: stored.lexical.rows(term) for term in question.asked}
        for row in dict.fromkeys(rows):
            passage = stored.passages[row]
            document = stored.documents[passage.doc_id]
            found.passages[passage.chunk_id] = Candidate(
                passage,
                str(index.row_languages[row]),
                frozenset(term for term, held in holding.items() if _holds(held, row, row + 1)),
            )
            if passage.doc_id not in found.documents:
                found.documents[passage.doc_id] = replace(document, text="")
                first, end = stored.document_rows(passage.doc_id) or (0, 0)
                found.mentions[passage.doc_id] = frozenset(
                    term for term, held in holding.items() if _holds(held, first, end)
                )
        return found

    def details(self, manifest: ShardedManifest, chunk_ids: Sequence[str]) -> list[Detail]:
        """What the answer stage reads of the passages `chunk_ids` (`Detail`)."""
        index = self.index(manifest)
        assert index is not None  # the ingress asks a shard only of passages it found
        stored = index.stored
        details = []
        for chunk_id in chunk_ids:
            row = stored.row_of(chunk_id)
            if row is None:
                continue
            doc_id, number = chunk_id.rsplit("#", 1)
            document = stored.documents[doc_id]
            following = stored.row_of(f"{doc_id}#{int(number) + 1}")
            after = None
            if following is not None:
                sentences, vectors = stored.sentences_of(following)
                passage = stored.passages[following]
                after = Detail(passage.chunk_id, sentences, vectors, document, passage=passage)
            sentences, vectors = stored.sentences_of(row)
            details.append(Detail(chunk_id, sentences, vectors, document, after, stored.passages[row]))
        return details

    def document(self, manifest: ShardedManifest, doc_id: str) -> tuple[Document, int] | None:
        """The live document `doc_id` and how many passages it has, or None."""
        index = self.index(manifest)
        if index is None or doc_id not in index.documents:
            return None
        return index.documents[doc_id], index.passages_of(doc_id)

    def page(
        self, manifest: ShardedManifest, filters: Filters, limit: int, cursor: str | None
    ) -> DocumentPage:
        """This shard's part of a page of the archive's list (service/core/browse.py)."""
        index = self.index(manifest)
        if index is None:
            return DocumentPage(documents=[], next_cursor=None)
        return index.listing.page(filters, limit=limit, cursor=cursor)

    def status(self, manifest: ShardedManifest) -> dict[str, Any]:
        """What /health says of this shard: its counts and its passages' languages."""
        index = self.index(manifest)
        if index is None:
            return {"documents": 0, "passages": 0, "segments": 0, "languages": []}
        return {
            "documents": len(index.documents),
            "passages": index.passage_count,
            "segments": len(index.stored.segments),
            "languages": sorted(set(index.row_languages.tolist())),
        }


def _holds(rows: np.ndarray, first: int, end: int) -> bool:
    """Whether sorted `rows` has one in `first:end`."""
    at = int(np.searchsorted(rows, first))
    return at < len(rows) and int(rows[at]) < end


# --- the ingress -------------------------------------------------------------------------------


class ShardedIndex(Index):
    """A sharded archive as the service and the CLI use an `Index`: `search` and `ask` over
    all shards, documents and the list from the shards owning them. One object per archive
    version (`manifest`), like an Index: a reload swaps in a new one."""

    def __init__(
        self,
        manifest: ShardedManifest,
        shards: Sequence[ShardClient],
        embedder: Embedder,
        settings: Settings,
    ) -> None:
        self.sharded = manifest
        self.shards = list(shards)
        self.embedder = embedder
        self.settings = settings
        self.statistics = manifest.statistics()
        self.translator = _translator(self.statistics, settings, embedder)
        # What the HTTP layer reads of a version: its path.
        self.stored = _ArchiveView(manifest)  # type: ignore[assignment]
        self._statuses: list[dict[str, Any]] | None = None

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> ShardedIndex:
        """The sharded archive under `settings.index_dir`, its shards in this process."""
        manifest = read_sharded(settings.index_dir)
        shards = [LocalShard(Shard(number, settings)) for number in range(manifest.count)]
        return cls(manifest, shards, embedder or Embedder.from_settings(settings), settings)

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        sort: Sort = "relevance",
    ) -> SearchResponse:
        """`Index.search` over every shard (service/core/shards.py: the module's docstring)."""
        return _Pooled(self).search(query, top_k, mode, filters, sort)

    def ask(
        self,
        question: str,
        top_k: int = 5,
        mode: Mode = "hybrid",
        filters: Filters | None = None,
        sort: Sort = "relevance",
    ) -> AskResponse:
        """`Index.ask` over every shard: one answer stage over all shards' candidates."""
        return _Pooled(self).ask(question, top_k, mode, filters, sort)

    def rank(
        self, query: str, top_k: int, mode: Mode = "hybrid", vector: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        raise NotImplementedError("a sharded archive ranks chunk ids, not rows: use search")

    def live_shards(self) -> list[tuple[int, ShardClient]]:
        return [
            (i, shard) for i, shard in enumerate(self.shards) if self.sharded.shards[i].folder is not None
        ]

    def owner(self, doc_id: str) -> int:
        return shard_of(doc_id, self.sharded.count)

    @property
    def manifest(self) -> dict[str, object]:
        return {
            "format": "newsqa-shards",
            "version": self.sharded.version,
            "created_at": self.sharded.created_at,
            "shards": [str(s.folder) if s.folder else None for s in self.sharded.shards],
            "counts": {"documents": self.statistics.documents, "passages": self.statistics.passages},
        }

    @property
    def documents(self) -> Mapping[str, Document]:
        return _ShardedDocuments(self)

    @property
    def passage_count(self) -> int:
        return self.statistics.passages

    def passages_of(self, doc_id: str) -> int:
        found = self.shards[self.owner(doc_id)].call("document", self.sharded, doc_id).result()
        return 0 if found is None else int(found[1])

    def document(self, doc_id: str) -> Document:
        found = self.shards[self.owner(doc_id)].call("document", self.sharded, doc_id).result()
        if found is None:
            raise DocumentNotFoundError(f"unknown document id {doc_id!r}")
        document: Document = found[0]
        return document

    @cached_property
    def listing(self) -> ShardedListing:
        return ShardedListing(self.sharded, [shard for _, shard in self.live_shards()])

    def statuses(self) -> list[dict[str, Any]]:
        if self._statuses is None:
            self._statuses = [shard.call("status", self.sharded).result() for shard in self.shards]
        return self._statuses

    def languages(self) -> list[str]:
        return sorted({language for status in self.statuses() for language in status["languages"]})


def _translator(statistics: Statistics, settings: Settings, embedder: Embedder) -> Translator | None:
    """The Translator of the whole archive (as `translator_for` makes it for one index)."""
    if set(statistics.languages) <= {"en"}:
        return None
    vocabularies = statistics.language_terms()
    vocabularies.setdefault("en", frozenset())
    return Translator(vocabularies, dictionaries(settings.dictionaries), settings.translate, embedder.words())


@dataclass(frozen=True)
class _ArchiveView:
    """What the HTTP layer reads of `Index.stored`: where the version is, and its segments."""

    manifest: ShardedManifest

    @property
    def path(self) -> Any:
        return self.manifest.root / self.manifest.version

    @property
    def segments(self) -> list[object]:
        return []


class _ShardedDocuments(Mapping[str, Document]):
    """The archive's documents, each read from its shard when asked for."""

    def __init__(self, index: ShardedIndex) -> None:
        self.index = index

    def __getitem__(self, doc_id: str) -> Document:
        try:
            return self.index.document(doc_id)
        except DocumentNotFoundError:
            raise KeyError(doc_id) from None

    def __len__(self) -> int:
        return self.index.statistics.documents

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a sharded archive's documents are listed a page at a time (`listing`)")


class ShardedListing(Listing):
    """The archive's list: the lists of its shards (`shards`, those holding documents) merged,
    a page at a time. Needs no model: `newsqa list` reads it as it is."""

    def __init__(self, manifest: ShardedManifest, shards: Sequence[ShardClient]) -> None:
        self.manifest = manifest
        self.shards = shards

    @classmethod
    def open(cls, settings: Settings) -> ShardedListing:
        """The list of the sharded archive under `settings.index_dir`, its shards in this process."""
        manifest = read_sharded(settings.index_dir)
        numbers = [number for number, shard in enumerate(manifest.shards) if shard.folder is not None]
        return cls(manifest, [LocalShard(Shard(number, settings)) for number in numbers])

    def page(self, filters: Filters, limit: int = 20, cursor: str | None = None) -> DocumentPage:
        if cursor is not None:
            decode_cursor(cursor)  # a bad cursor is refused before any shard is asked
        pending = [shard.call("page", self.manifest, filters, limit, cursor) for shard in self.shards]
        pages = [call.result() for call in pending]
        if not pages:
            return DocumentPage(documents=[], next_cursor=None)
        key: Callable[[Any], tuple[int, str]] = lambda summary: sort_key(  # noqa: E731
            Document(summary.doc_id, "", "", "", "", date=summary.date)
        )
        merged = list(heapq.merge(*(page.documents for page in pages), key=key))
        more = len(merged) > limit or any(page.next_cursor for page in pages)
        shown = merged[:limit]
        return DocumentPage(
            documents=shown,
            next_cursor=encode_cursor(key(shown[-1])) if more and shown else None,
        )


# --- one question at the ingress ---------------------------------------------------------------


class _Pool:
    """The passages the shards found for one question, numbered in the order met (the
    question's "rows"), and what the answer stage reads of them: an `Index.stored` for them."""

    def __init__(self, manifest: ShardedManifest) -> None:
        self.manifest = manifest
        self.passages: list[Passage] = []
        self.languages: list[str] = []
        self.shard: list[int] = []
        self.rows: dict[str, int] = {}
        self.documents: dict[str, Document] = {}
        self.holds: list[frozenset[str]] = []
        self.mentions: dict[str, frozenset[str]] = {}
        self.sentences: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, shard: int, candidate: Candidate) -> int:
        chunk_id = candidate.passage.chunk_id
        if chunk_id not in self.rows:
            self.rows[chunk_id] = len(self.passages)
            self.passages.append(candidate.passage)
            self.languages.append(candidate.language)
            self.shard.append(shard)
            self.holds.append(candidate.holds)
        return self.rows[chunk_id]

    def row_of(self, chunk_id: str) -> int | None:
        return self.rows.get(chunk_id)

    def sentences_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sentences[row]

    def passages_with(self, term: str) -> np.ndarray:
        return np.array([row for row, held in enumerate(self.holds) if term in held], dtype=np.int64)


class _PoolVocabulary(Vocabulary):
    """`Vocabulary` of the whole archive for one question: term statistics from the archive's
    `Statistics`, and which passages and documents hold a term from what the shards said of
    the question's candidates (the only ones the answer stage asks about)."""

    def __init__(self, statistics: Statistics, pool: _Pool) -> None:
        self.statistics = statistics
        self.pool = pool
        self.documents = statistics.documents
        self.peer_count = statistics.peers if statistics.peers else statistics.documents

    def passages_with(self, term: str) -> np.ndarray:
        return self.pool.passages_with(term)

    def idf(self, term: str) -> float | None:
        seen = self.statistics.frequency(term)
        return math.log(1 + self.statistics.passages / seen) if seen else None

    def document_count(self, term: str, peers: bool = False) -> int:
        if peers and not self.statistics.peers:  # no English documents: all are peers
            return self.statistics.document_count(term)
        return self.statistics.document_count(term, peers=peers)

    def mentions(self, doc_id: str, term: str) -> bool:
        return term in self.pool.mentions.get(doc_id, frozenset())


class _Pooled(Index):
    """`Index`'s search and answer stage for one question over a sharded archive: its ranking
    gathered from the shards (`_rank`), everything after it unchanged."""

    def __init__(self, sharded: ShardedIndex) -> None:
        self.sharded = sharded
        self.settings = sharded.settings
        self.embedder = sharded.embedder
        self.translator = sharded.translator
        self.pool = _Pool(sharded.sharded)
        self.stored = self.pool  # type: ignore[assignment]
        self.vocabulary = _PoolVocabulary(sharded.statistics, self.pool)
        self.row_languages = np.zeros(0, dtype=str)
        self.foreign_rows = np.zeros(0, dtype=bool)
        statistics = sharded.statistics
        newest = statistics.newest or statistics.newest_file
        self._dating_rule = dating_by(statistics.newest is not None)
        self._newest = datetime.date.fromisoformat(newest) if newest else None

    @property
    def _dating(self) -> Callable[[Document], datetime.date | None]:
        return self._dating_rule

    @property
    def newest_day(self) -> datetime.date | None:
        return self._newest

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.pool.documents

    @property
    def passages(self) -> Sequence[Passage]:
        return self.pool.passages

    def _rank(
        self,
        query: str,
        top_k: int,
        mode: Mode,
        vector: np.ndarray | None,
        filters: Filters | None = None,
    ) -> tuple[list[tuple[int, float]], tuple[np.ndarray, np.ndarray] | None]:
        depth = max(self.settings.candidates, top_k)
        concepts = self.translator.concepts(query) if self.translator is not None else None
        question = Question(
            query=query,
            vector=vector,
            concepts=concepts,
            asked=_asked(query, concepts),
            depth=depth,
            lexical_depth=0 if mode == "dense" else top_k if mode == "lexical" else depth,
            filters=filters,
        )
        shards = self.sharded.live_shards()
        pending = [
            (number, shard.call("candidates", self.sharded.sharded, question)) for number, shard in shards
        ]
        nearest: list[tuple[float, int, float]] = []
        lexical: list[tuple[int, float]] = []
        for number, call in pending:
            found: Candidates = call.result()
            # In chunk-id order, so that the rows of a question do not depend on which shard answered first.
            for chunk_id in sorted(found.passages):
                self.pool.add(number, found.passages[chunk_id])
            self.pool.documents.update(found.documents)
            self.pool.mentions.update(found.mentions)
            nearest += [(cosine, self.pool.rows[chunk_id], best) for chunk_id, cosine, best in found.nearest]
            lexical += [(self.pool.rows[chunk_id], score) for chunk_id, score in found.lexical]
        self.row_languages = np.array(self.pool.languages, dtype=str)
        covered = self.settings.model_covers
        self.foreign_rows = np.array([not covered(language) for language in self.pool.languages], dtype=bool)
        lexical = sorted(lexical, key=lambda item: (-item[1], item[0]))[: question.lexical_depth]
        if vector is None:
            return lexical[:top_k], None
        nearest = sorted(nearest, key=lambda item: (-item[0], item[1]))[:depth]
        rows = np.array([row for _, row, _ in nearest], dtype=np.int64)
        cosines = np.array([cosine for cosine, _, _ in nearest], dtype=np.float32)
        if mode == "lexical":
            return lexical, (rows, cosines)
        dense = sorted(
            ((row, max(cosine, best)) for cosine, row, best in nearest), key=lambda item: (-item[1], item[0])
        )
        if mode == "dense":
            return dense[:top_k], (rows, cosines)
        return self._fuse(query, dense, lexical)[:top_k], (rows, cosines)

    def _prepare_answer(self, citations: list[Citation]) -> None:
        """Fetch, from their shards, the sentences and documents of the passages the answer
        stage reads: the cited ones and the passage after each."""
        wanted: dict[int, list[str]] = {}
        for citation in citations:
            row = self.pool.rows[citation.chunk_id]
            wanted.setdefault(self.pool.shard[row], []).append(citation.chunk_id)
        shards = self.sharded.shards
        pending = [
            (number, shards[number].call("details", self.sharded.sharded, ids))
            for number, ids in wanted.items()
        ]
        for number, call in pending:
            for detail in call.result():
                self.pool.documents[detail.document.doc_id] = detail.document
                self._keep(number, detail)
                if detail.following is not None:
                    self._keep(number, detail.following)

    def _keep(self, shard: int, detail: Detail) -> None:
        row = self.pool.rows.get(detail.chunk_id)
        if row is None:
            assert detail.passage is not None
            row = self.pool.add(shard, Candidate(detail.passage, detail.document.language, frozenset()))
        self.pool.sentences[row] = (detail.sentences, np.asarray(detail.vectors, dtype=np.float32))


def same_ranking(one: Sequence[Citation], other: Sequence[Citation], tolerance: float = 2e-6) -> bool:
    """Whether `other` ranks as `one` does, up to ties: the same scores position by position
    (within `tolerance`, relative above 1: float32 sums added in another order), and at each
    run of equal scores the same passages in any order, except a run the end of the list cuts,
    where any of the tied passages may be the ones kept. What "ranks exactly as one index"
    means for a sharded archive: passages that tie on score come in the order of the rows they
    were met in, which sharding changes."""

    def equal(a: float, b: float) -> bool:
        return abs(a - b) <= tolerance * max(1.0, abs(a))

    if len(one) != len(other) or not all(equal(a.score, b.score) for a, b in zip(one, other, strict=True)):
        return False
    start = 0
    while start < len(one):
        end = start + 1
        while end < len(one) and equal(one[end].score, one[start].score):
            end += 1
        ids = {citation.chunk_id for citation in one[start:end]}
        if end < len(one) and ids != {citation.chunk_id for citation in other[start:end]}:
            return False
        start = end
    return True


def _asked(query: str, concepts: list[Concept] | None) -> frozenset[str]:
    """The terms the answer stage may check a candidate for: the question's own, word by word
    and as a whole, and every form of its concepts."""
    asked = set(terms(query))
    for word in _WORD.findall(query):
        asked.update(terms(word))
    for concept in concepts or ():
        asked.update(concept.members)
        asked.add(concept.key)
    return frozenset(asked)
