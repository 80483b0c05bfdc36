"""Build an index: sources -> clean -> chunk -> embed -> store."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from indexer.cache import SpanEmbedding, embed_cached, passage_cache
from indexer.chunk import Passage, chunk, dated
from indexer.clean import Document, clean
from indexer.dense import dense_spec
from indexer.embed import BAR_FORMAT, NO_PROMPTS, Embedder, passage_input
from indexer.errors import NoDocumentsError, SourceError
from indexer.postings import Postings
from indexer.segments import Segment, reveal, write_segment
from indexer.settings import Settings
from indexer.sources import Skipped, find_files, read_file
from indexer.store import (
    StoredIndex,
    corpus_fingerprint,
    load_previous,
    update_fingerprint,
    write_version,
    writer_lock,
)
from indexer.text import analysis, sentence_spans, terms

log = logging.getLogger(__name__)

LIBRARIES = ("newsqa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "tiktoken")

# An API write embeds its passages two at a time: an article's 11 passages took 222 ms so against
# 288 ms in one batch (less padding), and each forward pass holds the model's CPU stream for
# about 40 ms, not the whole write, so the questions asked meanwhile wait less.
WRITE_BATCH_SIZE = 2
# The `source` of documents added through the HTTP API: a folder re-index keeps them.
API_SOURCE = "api"
# A change summary names the documents of each kind when there are at most this many.
_SHOWN_IDS = 5
# The manifest lists this many skipped inputs (with why); it counts them all.
_LISTED_SKIPS = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Changes:
    """What a build changed against the previous version: document ids, and how many passage
    vectors were embedded or reused from the previous version."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    embedded: int = 0
    reused: int = 0

    def counts(self) -> dict[str, int]:
        """The manifest's `changes` section."""
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "embedded": self.embedded,
            "reused": self.reused,
        }

    def summary(self) -> str:
        kinds = [(name, getattr(self, name)) for name in ("added", "updated", "removed")]
        named = [f"{name} {len(ids)}{_some(ids)}" for name, ids in kinds]
        return (
            f"{', '.join(named)}, unchanged {self.unchanged}; "
            f"embedded {self.embedded} passages, reused {self.reused}"
        )


def _some(ids: tuple[str, ...]) -> str:
    return f" ({', '.join(ids)})" if 0 < len(ids) <= _SHOWN_IDS else ""


def compare(previous: dict[str, Document], documents: list[Document]) -> Changes:
    """Documents added, updated (any field of the stored record differs) and removed since
    `previous`, and how many are unchanged."""
    current = {doc.doc_id for doc in documents}
    added = tuple(doc.doc_id for doc in documents if doc.doc_id not in previous)
    updated = tuple(doc.doc_id for doc in documents if doc.doc_id in previous and previous[doc.doc_id] != doc)
    removed = tuple(doc_id for doc_id in previous if doc_id not in current)
    return Changes(added, updated, removed, unchanged=len(documents) - len(added) - len(updated))


@dataclass(frozen=True)
class BuildReport:
    path: Path
    documents: int
    passages: int
    skipped: tuple[Skipped, ...]
    seconds: float
    changes: Changes = field(default_factory=Changes)

    def summary(self) -> str:
        return (
            f"indexed {self.documents} documents, {self.passages} passages{skip_summary(self.skipped)} "
            f"in {self.seconds:.1f} s -> {self.path}"
        )


def skip_summary(skipped: Iterable[Skipped]) -> str:
    """ ", 3 skipped (2 invalid JSON, 1 binary file)", or "" when nothing was skipped."""
    kinds = Counter(skip.kind for skip in skipped)
    if not kinds:
        return ""
    return f", {kinds.total()} skipped ({', '.join(f'{n} {kind}' for kind, n in kinds.most_common())})"


def skip_record(skipped: tuple[Skipped, ...]) -> dict[str, object]:
    """The manifest's `skipped` section: how many inputs were left out, and the first of them."""
    listed = [{"source": skip.source, "reason": skip.reason} for skip in skipped[:_LISTED_SKIPS]]
    return {"count": len(skipped), "inputs": listed}


def load_documents(paths: Iterable[Path], progress: bool = False) -> tuple[list[Document], list[Skipped]]:
    """Cleaned documents from `paths`, and the inputs left out (each also logged as a warning):
    unreadable files, bad JSON Lines lines, fields that break their rules (indexer/fields.py),
    articles with no text left after cleaning, and repeated ids. `progress` shows a bar of the
    files read, naming the file being read."""
    documents: dict[str, Document] = {}
    skipped: list[Skipped] = []

    def skip(source: str, reason: str) -> None:
        skipped.append(Skipped(source, reason))
        log.warning("skipped %s", skipped[-1])

    files = find_files(paths)
    with _bar(len(files), "Reading", "files", progress) as bar:
        show = _postfix(bar)
        for path in _counted(files, bar):
            show(f"{len(documents)} articles, {len(skipped)} skipped, {path.name}")
            try:
                items = list(read_file(path))
            except SourceError as exc:
                skip(str(path), _reason(exc, str(path)))
                continue
            for raw in items:
                show(f"{len(documents)} articles, {len(skipped)} skipped, {path.name}")
                if isinstance(raw, Skipped):  # read_file has logged it
                    skipped.append(raw)
                    continue
                try:
                    document = clean(raw)
                except SourceError as exc:
                    skip(raw.source, _reason(exc, raw.source))
                    continue
                if document.doc_id in documents:
                    taken = documents[raw.doc_id].source
                    skip(raw.source, f"duplicate id ({raw.doc_id!r} is already taken by {taken})")
                    continue
                documents[document.doc_id] = document
        bar.set_postfix_str(f"{len(documents)} articles, {len(skipped)} skipped", refresh=False)
    return list(documents.values()), skipped


@contextlib.contextmanager
def _bar(total: int, step: str, unit: str, progress: bool) -> Iterator[tqdm]:
    """A progress bar on stderr for one step of a build, shown when `progress`; it stays on
    the terminal when done, with the step's count, time and rate. Meanwhile warnings logged
    to the console print above the bar, not through it."""
    redirect = logging_redirect_tqdm() if progress else contextlib.nullcontext()
    with (
        redirect,
        tqdm(
            total=total,
            desc=step,
            unit=f" {unit}",
            bar_format=BAR_FORMAT,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar,
    ):
        yield bar


def _counted(items: Iterable[T], bar: tqdm) -> Iterator[T]:
    """`items`, counting each on `bar` once its turn of the loop is done (`continue` included)."""
    for item in items:
        yield item
        bar.update()


def _postfix(bar: tqdm) -> Callable[[str], None]:
    """A function that puts its text after `bar`, redrawn at most every `bar.mininterval`
    seconds: the file being read shows while it is read, not once it is done."""
    shown = 0.0

    def show(text: str) -> None:
        nonlocal shown
        bar.set_postfix_str(text, refresh=False)
        if not bar.disable and (now := time.monotonic()) - shown >= bar.mininterval:
            bar.refresh()
            shown = now

    return show


def _reason(error: SourceError, source: str) -> str:
    """`error`'s message without the source it starts with."""
    message = str(error)
    return message.removeprefix(f"{source}: ")


def chunk_documents(
    documents: list[Document],
    settings: Settings,
    embedder: Embedder,
    previous: StoredIndex | None = None,
    progress: bool = False,
) -> list[Passage]:
    """Passages of all documents, each within the chunk size and the model's input limit,
    with the date expressions inside each (indexer/chunk.py: dated).

    A document that `previous` holds with the same title and text keeps its passages from
    there when `previous` was chunked the same way (settings and model): chunking is
    deterministic, so they are the passages it would get again. `progress` shows a bar of
    the documents chunked, with the passages so far.
    """
    reusable = _reusable_passages(previous, settings, embedder)
    passages: list[Passage] = []
    with _bar(len(documents), "Chunking", "documents", progress) as bar:
        show = _postfix(bar)
        for document in _counted(documents, bar):
            show(f"{len(passages)} passages")
            earlier = reusable.get(document.doc_id)
            if earlier is not None and (earlier[0].title, earlier[0].text) == (document.title, document.text):
                kept = earlier[1]
                # Citations must stay exact: a damaged passages.jsonl is chunked again, not copied.
                if all(document.text[p.start : p.end] == p.text for p in kept):
                    passages.extend(kept)
                    continue

            def fits(text: str, title: str = document.title) -> bool:
                return embedder.fits(passage_input(title, text))

            passages.extend(
                chunk(document, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap, fits=fits)
            )
        bar.set_postfix_str(f"{len(passages)} passages", refresh=False)
    # Dated after chunking, kept passages too: a document's publication day (the year of a date
    # written without one) may have changed while its text did not.
    return dated(passages, {document.doc_id: document for document in documents})


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


def chunking(settings: Settings) -> dict[str, object]:
    """The manifest's `chunking` section: how passages were cut."""
    return {
        "tokenizer": "cl100k_base",
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "boundaries": "sentence",
        "header": "document title",
        "sentences": "pooled from the passage's own token embeddings",
    }


def _reusable_passages(
    previous: StoredIndex | None, settings: Settings, embedder: Embedder
) -> dict[str, tuple[Document, list[Passage]]]:
    """The documents of `previous` with their passages, if it was chunked as `settings` and
    `embedder` would chunk now (the model's tokenizer and limit decide where long sentences are cut)."""
    if previous is None:
        return {}
    model = previous.manifest.get("model", {})
    if (
        previous.manifest.get("chunking") != chunking(settings)
        or model.get("name") != embedder.name
        or model.get("max_tokens") != embedder.max_tokens
        or model.get("prompts", NO_PROMPTS) != embedder.prompts  # a prompt takes tokens of a passage
    ):
        return {}
    by_document: dict[str, tuple[Document, list[Passage]]] = {}
    for segment, gone in previous.parts():
        for passage in segment.passages:
            if passage.doc_id not in gone:
                by_document.setdefault(passage.doc_id, (segment.documents[passage.doc_id], []))[1].append(
                    passage
                )
    return by_document


def postings_of(passages: list[Passage], documents: dict[str, Document]) -> Postings:
    """Term frequencies of each passage with its document title, analysed by the rules of
    the document's language (`indexer.text.terms`), for BM25."""
    return Postings.build(
        [terms(f"{documents[p.doc_id].title}\n{p.text}", documents[p.doc_id].language) for p in passages]
    )


def build_index(
    paths: Iterable[Path],
    settings: Settings,
    embedder: Embedder,
    progress: bool = False,
    *,
    full: bool = False,
    embed: SpanEmbedding | None = None,
) -> BuildReport:
    """Index the articles under `paths` into `settings.index_dir` and make it current.

    The new version holds exactly the articles under `paths`, plus the documents added
    through the API (`source == "api"`) that no input replaces by id. Passages whose
    embedded text the current version already holds reuse its vectors, unless `full`; the
    others are embedded by `embed` when given (a Ray cluster: indexer/distributed.py), else by
    `embedder`, which chunks in any case. `progress` shows a bar on stderr for each step:
    reading, chunking, embedding, writing.
    """
    started = time.perf_counter()
    documents, skipped = load_documents(paths, progress)
    if not documents:
        raise NoDocumentsError(f"no readable articles found: nothing to index{skip_summary(skipped)}")
    # From reading the current version to making the new one current, no other writer (the
    # service's write endpoints, another `newsqa index`) may write: the documents it added
    # through the API are carried over from the version read here.
    with writer_lock(settings.index_dir, settings.lock_timeout):
        previous = load_previous(settings.index_dir)
        if previous is not None:
            given = {doc.doc_id for doc in documents}
            documents += [
                doc
                for doc in previous.documents.values()
                if doc.source == API_SOURCE and doc.doc_id not in given
            ]
        return _build(documents, previous, settings, embedder, progress, tuple(skipped), started, full, embed)


def build_documents(
    documents: list[Document],
    settings: Settings,
    embedder: Embedder,
    progress: bool = False,
    started: float | None = None,
    *,
    full: bool = False,
    embed: SpanEmbedding | None = None,
) -> BuildReport:
    """Write cleaned `documents` as a new version of `settings.index_dir` and make it current.

    The one way an index version is written: the indexer and the live-archive endpoints
    both go through here. Passages whose embedded text (title header and passage) the
    current version already holds reuse its vectors, unless `full`; the result is the same
    as embedding everything; `embed`, when given, embeds in place of `embedder` (as in
    `build_index`). Holds the writer lock from reading the current version to
    making the new one current; a caller that decided on `documents` from that version
    (the service's writes) takes the lock first, so no other writer can come between.
    """
    started = time.perf_counter() if started is None else started
    with writer_lock(settings.index_dir, settings.lock_timeout):
        previous = load_previous(settings.index_dir)
        return _build(documents, previous, settings, embedder, progress, (), started, full, embed)


def _build(
    documents: list[Document],
    previous: StoredIndex | None,
    settings: Settings,
    embedder: Embedder,
    progress: bool,
    skipped: tuple[Skipped, ...],
    started: float,
    full: bool,
    embed: SpanEmbedding | None = None,
) -> BuildReport:
    """Write `documents` as one segment, and a version made of it alone."""
    segment, embedded = write_documents(
        documents, None if full else previous, settings, embedder, progress, embed=embed
    )
    changes = compare(dict(previous.documents) if previous is not None else {}, documents)
    changes = replace(changes, embedded=embedded, reused=len(segment.passages) - embedded)
    manifest = {
        **build_record(settings, embedder, {d.language for d in documents}),
        "changes": changes.counts(),
        "skipped": skip_record(skipped),
    }
    stored = write_version(
        settings.index_dir,
        [(segment, frozenset())],
        manifest,
        corpus_fingerprint(documents),
        settings.keep_versions,
    )
    return BuildReport(
        stored.path, len(documents), stored.passage_count, skipped, time.perf_counter() - started, changes
    )


def write_documents(
    documents: list[Document],
    previous: StoredIndex | None,
    settings: Settings,
    embedder: Embedder,
    progress: bool = False,
    batch_size: int | None = None,
    hidden: bool = False,
    embed: SpanEmbedding | None = None,
) -> tuple[Segment, int]:
    """Chunk and embed `documents` and write them as a new segment of `settings.index_dir`;
    returns it and how many passages were embedded (the others reuse vectors `previous` holds).
    Passages are embedded `batch_size` at a time (default `settings.embed_batch_size`); a
    `hidden` segment is named in no version until `segments.reveal` renames it. `embed`, when
    given, embeds the passages in place of `embedder` (indexer/cache.py: SpanEmbedding)."""
    passages = chunk_documents(documents, settings, embedder, previous, progress)
    by_id = {doc.doc_id: doc for doc in documents}
    sentences = sentence_table(passages, by_id)
    vectors, sentence_vectors, embedded = embed_cached(
        embedder,
        [passage_input(by_id[p.doc_id].title, p.text) for p in passages],
        _input_spans(passages, by_id, sentences),
        passage_cache(previous, embedder),
        batch_size=batch_size or settings.embed_batch_size,
        progress=progress,
        embed=embed,
    )
    with _bar(2, "Writing", "steps", progress) as bar:
        bar.set_postfix_str("lexical postings")
        postings = postings_of(passages, by_id)
        bar.update()
        bar.set_postfix_str("vectors, dense index, files")
        segment = write_segment(
            settings.index_dir,
            documents,
            passages,
            vectors,
            sentences,
            sentence_vectors,
            postings,
            dense_spec(len(passages), settings.index_type, settings.ann_threshold, settings.ivf_nprobe),
            hidden=hidden,
        )
        bar.set_postfix_str("", refresh=False)
        bar.update()
    return segment, embedded


def build_record(settings: Settings, embedder: Embedder, languages: Iterable[str]) -> dict[str, object]:
    """The manifest's record of how the archive was built: model, chunking, lexical analysis
    of each of its `languages`, and library versions."""
    return {
        "model": {
            "name": embedder.name,
            "dimension": embedder.dimension,
            "max_tokens": embedder.max_tokens,
            "backend": embedder.backend,  # for the record: every backend gives the same vectors
            # Before each question and passage, for a model that has them (absent: none); an
            # index is only used with the prompts it was embedded with (indexer/store.py).
            **({"prompts": embedder.prompts} if any(embedder.prompts.values()) else {}),
        },
        "chunking": chunking(settings),
        "lexical": {
            "method": "bm25 (lucene variant, k1 1.5, b 0.75), statistics of the whole archive",
            "terms": "folded, stop words dropped, analysed by each document's language",
            "languages": {language: analysis(language) for language in sorted(languages)},
        },
        "libraries": library_versions(),
    }


@functools.cache
def library_versions() -> dict[str, str]:
    """The versions of the libraries an index depends on, read once (42 ms a write otherwise)."""
    return {name: version(name) for name in LIBRARIES}


def prepare_segment(documents: list[Document], settings: Settings, embedder: Embedder) -> Segment:
    """`documents` chunked, embedded and written as a hidden segment, for `append_documents` to
    name in a version. Needs no lock: the slow part of a write, done before the writer lock is
    taken, so merges and other writers do not wait for it."""
    segment, _ = write_documents(
        documents, None, settings, embedder, batch_size=WRITE_BATCH_SIZE, hidden=True
    )
    return segment


def append_documents(
    current: StoredIndex,
    documents: list[Document],
    removed: Iterable[str],
    settings: Settings,
    embedder: Embedder,
    prepared: Segment | None = None,
) -> StoredIndex:
    """A new version of `current`: `documents` added (replacing live documents with their ids)
    in one new segment, and the live documents `removed` deleted. Call with the writer lock
    held, `current` being the current version; `prepared` is the documents' segment from
    `prepare_segment`, if it was made beforehand.

    Only the new documents are chunked and embedded; the segments before stay as they are,
    with the replaced and removed documents marked deleted. A segment left with no live
    document leaves the version.
    """
    started = time.perf_counter()
    removed = set(removed)
    gone = {doc.doc_id for doc in documents} | removed
    replaced = [current.documents[doc_id] for doc_id in gone if doc_id in current.documents]
    parts = [(segment, deleted | (gone & segment.documents.keys())) for segment, deleted in current.parts()]
    parts = [(segment, deleted) for segment, deleted in parts if len(deleted) < len(segment.documents)]
    if documents:
        segment = prepared or prepare_segment(documents, settings, embedder)
        reveal(segment)
        parts.append((segment, frozenset()))
    previous = {doc.doc_id for doc in replaced}
    changes = Changes(
        added=tuple(doc.doc_id for doc in documents if doc.doc_id not in previous),
        updated=tuple(doc.doc_id for doc in documents if doc.doc_id in previous),
        removed=tuple(sorted(removed & previous)),
        unchanged=len(current.documents) - len(replaced),
        embedded=len(parts[-1][0].passages) if documents else 0,
    )
    languages = set(current.manifest.get("lexical", {}).get("languages", {})) | {
        d.language for d in documents
    }
    manifest = {
        **build_record(settings, embedder, languages),
        "changes": changes.counts(),
        "skipped": skip_record(()),
    }
    fingerprint = update_fingerprint(current.manifest["corpus_sha256"], documents, replaced)
    stored = write_version(settings.index_dir, parts, manifest, fingerprint, settings.keep_versions)
    log.info("wrote %s in %.2f s: %s", stored.path.name, time.perf_counter() - started, changes.summary())
    return stored
