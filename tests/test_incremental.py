"""Incremental indexing: a re-index embeds only what changed and gives what a full rebuild gives."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import rerecord, segment_folder

from indexer.build import build_documents, build_index, chunk_documents
from indexer.cache import VectorCache, embed_cached
from indexer.check import check_index
from indexer.clean import Document
from indexer.embed import Embedder, passage_input
from indexer.segments import DENSE, PASSAGES, VECTORS
from indexer.settings import Settings, load_settings
from indexer.store import StoredIndex, load_index
from service.core.index import MODES, Index

ADDED = "004_35521d4b9ef64c69"
UPDATED = "001_1a9902fd9a5f4459"
QUERIES = [
    "Who is the Chairman of the provincial People's Committee?",
    "CT03 expressway Hanoi Hoa Binh Son La Dien Bien",
    "How many communes met the new rural standards?",
    "Pu Nhung coffee hectares",
    "two-tier local government model",
    "arbeidsgruppe nr. 3",
    "Who won the football world cup?",
]


class CountingEmbedder:
    """The real embedder, keeping every text it is asked to embed, or to measure (chunking)."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.embedded: list[str] = []
        self.measured: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def fits(self, text: str) -> bool:
        self.measured.append(text)
        return self.inner.fits(text)

    def embed(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed(texts, batch_size=batch_size, progress=progress)

    def embed_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        self.embedded.extend(texts)
        return self.inner.embed_spans(texts, spans, batch_size=batch_size, progress=progress)


def counting(embedder: Embedder) -> Embedder:
    return CountingEmbedder(embedder)  # type: ignore[return-value]


def inputs(stored: StoredIndex) -> list[str]:
    return [passage_input(stored.documents[p.doc_id].title, p.text) for p in stored.passages]


@pytest.fixture
def copy_settings(index_copy: Path) -> Settings:
    """Settings for a copy of the bundled index."""
    return load_settings(index_dir=index_copy)


def make_older(folder: Path) -> None:
    """Turn a copy of the bundled articles into an older state of the archive: without ADDED,
    with another last paragraph in UPDATED, and with an article since deleted."""
    added = folder / f"{ADDED}.txt"
    added.rename(folder.parent / added.name)
    updated = folder / f"{UPDATED}.txt"
    shutil.copy(updated, folder.parent / updated.name)
    text = updated.read_text()
    last = next(line for line in text.splitlines() if "Song Lam Tay Bac Fertilizer Plant" in line)
    updated.write_text(text.replace(last, "The delegation also visited the new market in Mai Son commune."))
    (folder / "retired.txt").write_text(
        "Ferry service ends\n\nThe river ferry at Ta Hoc stopped running after the new bridge opened."
    )


def make_newer(folder: Path) -> None:
    """Undo `make_older`: the folder holds the bundled articles again."""
    (folder / "retired.txt").unlink()
    for name in (f"{ADDED}.txt", f"{UPDATED}.txt"):
        shutil.move(folder.parent / name, folder / name)


def test_a_reindex_equals_a_full_rebuild_and_embeds_only_what_changed(bundled_settings, embedder, tmp_path):
    folder = shutil.copytree(bundled_settings.articles_dir, tmp_path / "archive" / "articles")
    make_older(folder)
    settings = load_settings(index_dir=tmp_path / "B")
    build_index([folder], settings, embedder)
    before = load_index(settings.index_dir)

    make_newer(folder)
    full_settings = load_settings(index_dir=tmp_path / "A")
    build_index([folder], full_settings, embedder)
    spy = counting(embedder)
    report = build_index([folder], settings, spy)

    full, incremental = Index.load(full_settings, embedder), Index.load(settings, embedder)
    assert list(incremental.documents.values()) == list(full.documents.values())
    assert list(incremental.passages) == list(full.passages)
    # A build writes its version as one segment.
    (built,), (rebuilt,) = incremental.stored.segments, full.stored.segments
    assert np.allclose(built.vectors, rebuilt.vectors, atol=1e-5)
    assert np.array_equal(built.sentences, rebuilt.sentences)
    sentence_vectors = [np.asarray(s.sentence_vectors, dtype=np.float32) for s in (built, rebuilt)]
    assert np.allclose(*sentence_vectors, atol=2e-3)  # float16 on disk
    dense = built.dense.reconstruct_n(0, built.dense.ntotal)
    assert np.allclose(dense, rebuilt.dense.reconstruct_n(0, rebuilt.dense.ntotal), atol=1e-5)
    for query in QUERIES:
        for mode in MODES:
            got, want = incremental.search(query, 10, mode), full.search(query, 10, mode)
            assert [r.chunk_id for r in got.results] == [r.chunk_id for r in want.results], (query, mode)
            assert [r.score for r in got.results] == pytest.approx([r.score for r in want.results], abs=1e-5)
            got_answer, want_answer = incremental.ask(query, 5, mode), full.ask(query, 5, mode)
            assert got_answer.answer == want_answer.answer or (
                got_answer.answer is not None
                and want_answer.answer is not None
                and got_answer.answer.model_dump(exclude={"score"})
                == want_answer.answer.model_dump(exclude={"score"})
            ), (query, mode)

    # Only passages whose embedded text the old version lacked went to the model: all of the
    # added article's, and those of the updated one that its new last paragraph reaches.
    new_inputs = [text for text in inputs(incremental.stored) if text not in set(inputs(before))]
    assert sorted(spy.embedded) == sorted(new_inputs)
    embedded_from = {
        p.doc_id
        for p in incremental.passages
        if passage_input(incremental.documents[p.doc_id].title, p.text) in set(spy.embedded)
    }
    assert embedded_from == {ADDED, UPDATED}
    # Only those two were chunked again: the others kept their passages.
    titles = {text.split("\n", 1)[0] for text in spy.measured}
    assert titles == {full.documents[ADDED].title, full.documents[UPDATED].title}
    updated_passages = [p for p in incremental.passages if p.doc_id == UPDATED]
    assert (
        0
        < sum(
            passage_input(incremental.documents[UPDATED].title, p.text) in spy.embedded
            for p in updated_passages
        )
        < len(updated_passages)
    )

    changes = report.changes
    assert (changes.added, changes.updated, changes.removed, changes.unchanged) == (
        (ADDED,),
        (UPDATED,),
        ("retired",),
        3,
    )
    assert (changes.embedded, changes.reused) == (len(spy.embedded), len(full.passages) - len(spy.embedded))
    assert incremental.manifest["changes"] == changes.counts()
    assert check_index(settings.index_dir, embedder).problems == []


def test_an_unchanged_folder_embeds_nothing_and_full_embeds_everything(copy_settings, embedder):
    before = load_index(copy_settings.index_dir)
    spy = counting(embedder)
    report = build_index([copy_settings.articles_dir], copy_settings, spy)
    assert spy.embedded == [] and spy.measured == []  # nothing embedded, nothing chunked again
    assert report.path != before.path
    assert (
        report.changes.summary()
        == "added 0, updated 0, removed 0, unchanged 5; embedded 0 passages, reused 60"
    )
    after = load_index(copy_settings.index_dir)
    assert list(after.passages) == list(before.passages)
    (written,), (previous,) = after.segments, before.segments
    assert written.path != previous.path  # a new segment, with the vectors reused
    assert np.array_equal(written.vectors, previous.vectors)

    report = build_index([copy_settings.articles_dir], copy_settings, spy, full=True)
    assert sorted(spy.embedded) == sorted(inputs(before))
    assert (report.changes.embedded, report.changes.reused, report.changes.unchanged) == (60, 0, 5)
    assert spy.measured


def test_passages_with_wrong_offsets_are_chunked_again_not_copied(copy_settings, bundled, embedder):
    path = segment_folder(copy_settings.index_dir) / PASSAGES
    lines = path.read_text().splitlines()
    damaged = json.loads(lines[3])
    damaged["start"] += 1
    lines[3] = json.dumps(damaged, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")
    rerecord(path.parent)  # so that it loads as the previous version

    spy = counting(embedder)
    build_index([copy_settings.articles_dir], copy_settings, spy)
    assert list(load_index(copy_settings.index_dir).passages) == list(bundled.passages)
    measured_titles = {text.split("\n", 1)[0] for text in spy.measured}
    assert measured_titles == {bundled.documents[damaged["doc_id"]].title}
    assert check_index(copy_settings.index_dir, embedder).problems == []


def test_other_chunk_settings_chunk_and_embed_again(copy_settings, embedder):
    before = load_index(copy_settings.index_dir)
    smaller = copy_settings.model_copy(update={"chunk_tokens": 96})
    spy = counting(embedder)
    report = build_index([copy_settings.articles_dir], smaller, spy)
    after = load_index(smaller.index_dir)
    assert list(after.passages) == chunk_documents(list(before.documents.values()), smaller, embedder)
    assert len(after.passages) > len(before.passages)
    assert sorted(spy.embedded) == sorted(text for text in inputs(after) if text not in set(inputs(before)))
    assert report.changes.unchanged == 5 and report.changes.embedded == len(spy.embedded) > 0


def api_document(doc_id: str, title: str, text: str) -> Document:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return Document(doc_id=doc_id, title=title, text=text, language="en", source="api", sha256=sha)


def test_a_folder_reindex_keeps_api_documents_unless_a_file_has_their_id(copy_settings, embedder, tmp_path):
    note = api_document(
        "harvest-note", "Tea harvest", "Growers in Bac Yen picked the first tea of the season on May 2."
    )
    current = list(load_index(copy_settings.index_dir).documents.values())
    spy = counting(embedder)
    report = build_documents([*current, note], copy_settings, spy)  # as POST /documents does
    assert report.changes.added == ("harvest-note",) and report.changes.unchanged == 5
    assert spy.embedded == [passage_input(note.title, note.text)]

    # The folder lacks the note: re-indexing it keeps the note, and embeds nothing.
    report = build_index([copy_settings.articles_dir], copy_settings, spy)
    assert (report.changes.removed, report.changes.unchanged, report.changes.embedded) == ((), 6, 0)
    index = Index.load(copy_settings, embedder)
    assert index.documents["harvest-note"] == note
    assert index.search("Bac Yen tea harvest", 1).results[0].doc_id == "harvest-note"

    # A file with the note's id replaces it: the file wins, reported as updated.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "harvest-note.txt").write_text("Tea harvest\n\nGrowers in Bac Yen picked tea on May 3.")
    report = build_index([copy_settings.articles_dir, extra], copy_settings, spy)
    assert (report.changes.updated, report.changes.unchanged) == (("harvest-note",), 5)
    replaced = load_index(copy_settings.index_dir).documents["harvest-note"]
    assert replaced.source == str(extra / "harvest-note.txt")
    assert replaced.text == "Growers in Bac Yen picked tea on May 3."


def test_the_cache_answers_only_for_its_own_model(embedder):
    text = passage_input("Tea harvest", "Growers in Bac Yen picked the first tea of the season.")
    marker = np.zeros((1, embedder.dimension), dtype=np.float32)
    marker[0, 0] = 1.0
    sentence_marker = np.zeros((1, embedder.dimension), dtype=np.float32)
    sentence_marker[0, 1] = 1.0
    same = VectorCache(embedder.name, embedder.dimension)
    same.add([text], marker, sentence_marker, np.array([0, 1]))
    spy = counting(embedder)
    spans = [[(12, 30)], [(0, 9)]]
    vectors, sentence_vectors, embedded = embed_cached(spy, [text, "something else"], spans, same)
    assert embedded == 1 and spy.embedded == ["something else"]
    assert np.array_equal(vectors[0], marker[0])
    assert np.array_equal(sentence_vectors[0], sentence_marker[0])
    assert np.allclose(vectors[1], embedder.embed(["something else"])[0], atol=1e-5)
    _, expected = embedder.embed_spans(["something else"], [[(0, 9)]])
    assert np.allclose(sentence_vectors[1], expected[0], atol=1e-5)

    other = VectorCache("another/model", embedder.dimension)
    other.add([text], marker, sentence_marker, np.array([0, 1]))
    vectors, _, embedded = embed_cached(spy, [text], [[(12, 30)]], other)
    assert embedded == 1 and not np.array_equal(vectors[0], marker[0])
    with pytest.raises(ValueError, match="1 inputs but vectors of shape"):
        wrong = np.zeros((2, embedder.dimension), dtype=np.float32)
        same.add([text], wrong, sentence_marker, np.array([0, 1]))


def missing_vectors(segment: Path) -> None:
    (segment / VECTORS).unlink()


def truncated_vectors(segment: Path) -> None:
    path = segment / VECTORS
    path.write_bytes(path.read_bytes()[:1000])


@pytest.mark.parametrize("damage", [missing_vectors, truncated_vectors])
def test_a_previous_version_without_usable_vectors_means_embedding_everything(
    copy_settings, embedder, damage, caplog
):
    damage(segment_folder(copy_settings.index_dir))
    spy = counting(embedder)
    with caplog.at_level(logging.WARNING):
        report = build_index([copy_settings.articles_dir], copy_settings, spy)
    assert (report.changes.embedded, report.changes.reused) == (60, 0)
    # The damaged version cannot be compared with: all is new.
    assert report.changes.added and "previous index not used" in caplog.text
    assert check_index(copy_settings.index_dir, embedder).problems == []


def test_check_finds_vectors_that_differ_from_the_faiss_index(copy_settings):
    segment = segment_folder(copy_settings.index_dir)
    path = segment / VECTORS
    vectors = np.load(path)
    vectors[[0, 59]] = vectors[[59, 0]]  # same size, still unit vectors: only the comparison tells
    np.save(path, vectors)
    rerecord(segment)
    assert check_index(copy_settings.index_dir).problems == [
        f"{path}: 2 of 60 vectors differ from those in {segment / DENSE} (rows 0, 59)"
    ]

    vectors[[0, 59]] = vectors[[59, 0]]
    vectors[7] *= 2
    np.save(path, vectors)
    rerecord(segment)
    assert check_index(copy_settings.index_dir).problems == [
        f"{path}: 1 vectors are not of unit length (rows 7)",
        f"{path}: 1 of 60 vectors differ from those in {segment / DENSE} (rows 7)",
    ]

    np.save(path, vectors[:59])
    rerecord(segment)  # as if the build itself had written 59 rows
    assert check_index(copy_settings.index_dir).problems == [f"{path}: 59 vectors for 60 passages"]


def newsqa(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from service.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})


def test_the_command_prints_what_changed(copy_settings, tmp_path):
    folder = shutil.copytree(copy_settings.articles_dir, tmp_path / "articles")
    (folder / f"{ADDED}.txt").unlink()
    result = newsqa("index", str(folder), "--index-dir", str(copy_settings.index_dir))
    assert result.returncode == 0, result.stderr
    changes, summary = result.stdout.splitlines()
    # The records' `source` (the file path) changed with the folder, their embedded text did not.
    assert changes.startswith("added 0, updated 4 (")
    assert changes.endswith(f"), removed 1 ({ADDED}), unchanged 0; embedded 0 passages, reused 48")
    assert summary.startswith("indexed 4 documents, 48 passages in ")

    result = newsqa("index", str(folder), "--index-dir", str(copy_settings.index_dir), "--full")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "added 0, updated 0, removed 0, unchanged 4; embedded 48 passages, reused 0"
    )

    result = newsqa("index", "--check", "--full")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().endswith("--check builds nothing: --full does not apply")
