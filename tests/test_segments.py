"""Segments: writes add a segment, deletions mark rows, merges fold segments together, and
after any sequence of them the archive ranks and answers exactly as a rebuild of the same
articles in one segment would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import newsqa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import append_documents, build_documents
from indexer.check import check_index
from indexer.clean import Document, clean
from indexer.errors import IndexFormatError
from indexer.merge import commit_merge, merge_plan, write_merged
from indexer.settings import Settings, load_settings
from indexer.sources import RawArticle
from indexer.store import MANIFEST, StoredIndex, load_index, resolve, writer_lock
from service.core.index import MODES, Index

pytestmark = pytest.mark.slow

# Two versions of each article: a write may add one, replace it by the other, or delete it.
ARTICLES = {
    "roads": [
        "Roads in Moc Chau\n\nThe province paved 40 km of rural roads in 2025. Villages in Moc Chau cheered.",
        "Roads in Moc Chau\n\nThe district paved 55 km of mountain roads. Trucks reach the tea farms now.",
    ],
    "coffee": [
        "Coffee harvest\n\nFarmers in Mai Son picked coffee early this year, at good prices.",
        "Coffee harvest ends\n\nMai Son farmers sold their coffee to a new cooperative in Son La.",
    ],
    "flood": [
        "Flood in Lang Son\n\nHeavy rain flooded 300 houses. Soldiers helped families move to schools.",
        "Flood relief\n\nLang Son province sent rice and clean water to 300 flooded households.",
    ],
    "school": [
        "A new school\n\nThe commune opened a boarding school for 400 pupils from remote villages.",
        "School year\n\nTeachers in the commune welcomed 420 pupils to the new boarding school.",
    ],
    "kommune": [
        "Kommunen bygger vei\n\nProvinsen har asfaltert 40 km vei i distriktet. Komiteen er fornøyd.",
        "Kaffe i provinsen\n\nBøndene i distriktet høstet kaffe tidlig i år, til gode priser.",
    ],
}
LANGUAGES = {"kommune": "no"}
QUESTIONS = [
    "How many km of roads were paved?",
    "coffee prices in Mai Son",
    "Who helped families after the flood in Lang Son?",
    "boarding school pupils",
    "vei i distriktet",
    "kaffe",
]


def article(doc_id: str, variant: int) -> Document:
    return clean(
        RawArticle(
            doc_id=doc_id,
            text=ARTICLES[doc_id][variant],
            source="api",
            language=LANGUAGES.get(doc_id),
        )
    )


def ranking(index: Index, question: str, mode: str) -> list[tuple[str, float]]:
    return [(index.passages[row].chunk_id, score) for row, score in index.rank(question, 50, mode)]  # type: ignore[arg-type]


def assert_same_ranking(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """The same passages with the same scores (within 1e-6), in the same order but for ties."""
    assert len(found) == len(expected)
    assert np.allclose([s for _, s in found], [s for _, s in expected], atol=1e-6, rtol=0)

    def canonical(ranked: list[tuple[str, float]]) -> list[str]:
        return [chunk for chunk, _ in sorted(ranked, key=lambda item: (-round(item[1], 5), item[0]))]

    assert canonical(found) == canonical(expected)


def live_passages(stored: StoredIndex) -> dict[str, tuple[str, int, int, str]]:
    return {p.chunk_id: (p.doc_id, p.start, p.end, p.text) for _, p in stored.live_rows()}


def apply(settings_: Settings, embedder, current: StoredIndex, operation: tuple) -> StoredIndex:
    """One write, deletion or merge on `current`, as the service makes them (under the lock)."""
    with writer_lock(settings_.index_dir, 10):
        kind = operation[0]
        if kind == "put":
            _, doc_id, variant = operation
            return append_documents(current, [article(doc_id, variant)], (), settings_, embedder)
        if kind == "delete":
            doc_id = operation[1]
            if doc_id not in current.documents or len(current.documents) == 1:
                return current
            return append_documents(current, [], [doc_id], settings_, embedder)
        count = min(operation[1], len(current.segments))
        if count < 2 and not any(current.deleted):
            return current
        names = [segment.name for segment in current.segments[-max(count, 1) :]]
        merged = write_merged(current, names, settings_)
        return commit_merge(current, merged, settings_) or current


operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(sorted(ARTICLES)), st.integers(0, 1)),
        st.tuples(st.just("delete"), st.sampled_from(sorted(ARTICLES))),
        st.tuples(st.just("merge"), st.integers(1, 4)),
    ),
    min_size=1,
    max_size=7,
)


@given(operations=operations)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_writes_and_merges_rank_as_a_rebuild(operations, tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("segments")
    settings_ = load_settings(index_dir=root / "index")
    build_documents([article("roads", 0), article("coffee", 0)], settings_, embedder)
    current = load_index(settings_.index_dir)
    for operation in operations:
        current = apply(settings_, embedder, current, operation)
    # What was served in memory is what a reader loads from disk.
    loaded = load_index(settings_.index_dir)
    assert loaded.manifest == current.manifest
    assert check_index(settings_.index_dir).problems == []

    # The rebuild starts from a copy, so that it reuses the passages' vectors (as `newsqa index`
    # does): a passage embedded in another batch comes out with other padding, which moves its
    # cosines by up to about 1e-6 on its own. Everything else is computed anew, in one segment.
    rebuilt_settings = load_settings(index_dir=root / "rebuilt")
    shutil.copytree(settings_.index_dir, rebuilt_settings.index_dir, symlinks=True)
    build_documents(list(loaded.documents.values()), rebuilt_settings, embedder)
    rebuilt = Index.load(rebuilt_settings, embedder)
    assert len(rebuilt.stored.segments) == 1 and rebuilt.stored.deleted == [frozenset()]
    segmented = Index(loaded, embedder, settings_)
    assert dict(segmented.documents) == dict(rebuilt.documents)
    assert live_passages(loaded) == live_passages(rebuilt.stored)
    assert loaded.manifest["corpus_sha256"] == rebuilt.manifest["corpus_sha256"]
    for question in QUESTIONS:
        for mode in MODES:
            assert_same_ranking(ranking(segmented, question, mode), ranking(rebuilt, question, mode))
        answer, expected = segmented.ask(question).answer, rebuilt.ask(question).answer
        assert (answer and answer.text) == (expected and expected.text)


def test_a_write_adds_one_segment_and_marks_the_replaced_rows(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0), article("coffee", 0)], settings_, embedder)
    first = load_index(settings_.index_dir)
    with writer_lock(settings_.index_dir, 10):
        second = append_documents(first, [article("roads", 1), article("flood", 0)], (), settings_, embedder)
    assert [s.name for s in second.segments[:1]] == [first.segments[0].name]  # untouched, shared
    assert second.segments[0] is first.segments[0]
    assert len(second.segments) == 2 and second.deleted == [frozenset({"roads"}), frozenset()]
    assert second.documents["roads"].text == article("roads", 1).text
    assert set(second.documents) == {"roads", "coffee", "flood"} and len(second.documents) == 3
    # The old rows of "roads" stay in place but are never found.
    old_rows = range(*first.document_rows("roads"))
    assert not second.live[list(old_rows)].any()
    index = Index(second, embedder, settings_)
    for mode in MODES:
        for row, _ in index.rank("rural roads paved Moc Chau", 20, mode):  # type: ignore[arg-type]
            assert second.live[row]
    manifest = json.loads((resolve(settings_.index_dir) / MANIFEST).read_text())
    assert [part["deleted"] for part in manifest["segments"]] == [["roads"], []]
    assert manifest["counts"] == {"documents": 3, "passages": second.passage_count, "segments": 2}


def test_a_segment_whose_documents_are_all_deleted_leaves_the_version(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0)], settings_, embedder)
    with writer_lock(settings_.index_dir, 10):
        added = append_documents(
            load_index(settings_.index_dir), [article("coffee", 0)], (), settings_, embedder
        )
        gone = append_documents(added, [], ["coffee"], settings_, embedder)
    assert [s.name for s in gone.segments] == [added.segments[0].name]
    assert gone.deleted == [frozenset()]


def test_the_merge_policy_is_tiered_by_size(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index", merge_factor=3)
    build_documents([article("roads", 0)], settings_, embedder)
    current = load_index(settings_.index_dir)
    assert merge_plan(current, 3) == []
    with writer_lock(settings_.index_dir, 10):
        for doc_id in ("coffee", "flood"):
            current = append_documents(current, [article(doc_id, 0)], (), settings_, embedder)
    # Three segments of 1-9 passages: merged into one.
    assert merge_plan(current, 3) == [segment.name for segment in current.segments]
    assert merge_plan(current, 4) == []
    # A segment with a third of its rows deleted is rewritten without them.
    with writer_lock(settings_.index_dir, 10):
        merged = commit_merge(current, write_merged(current, merge_plan(current, 3), settings_), settings_)
        assert merged is not None and len(merged.segments) == 1
        shrunk = append_documents(merged, [], ["flood"], settings_, embedder)
    assert merge_plan(shrunk, 3) == [shrunk.segments[0].name]


def test_a_merge_keeps_the_deletions_that_landed_while_it_ran(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0), article("coffee", 0)], settings_, embedder)
    with writer_lock(settings_.index_dir, 10):
        snapshot = append_documents(
            load_index(settings_.index_dir), [article("flood", 0)], (), settings_, embedder
        )
    merged = write_merged(snapshot, [s.name for s in snapshot.segments], settings_)  # no lock held
    with writer_lock(settings_.index_dir, 10):  # meanwhile: a replacement, a deletion, an addition
        later = append_documents(
            snapshot, [article("coffee", 1), article("school", 0)], ["flood"], settings_, embedder
        )
        committed = commit_merge(later, merged, settings_)
    assert committed is not None
    assert {doc_id: doc.text for doc_id, doc in committed.documents.items()} == {
        "roads": article("roads", 0).text,
        "coffee": article("coffee", 1).text,
        "school": article("school", 0).text,
    }
    assert committed.deleted[0] == frozenset({"coffee", "flood"})
    assert check_index(settings_.index_dir).problems == []


def test_a_merge_whose_segments_are_gone_is_dropped(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0)], settings_, embedder)
    with writer_lock(settings_.index_dir, 10):
        snapshot = append_documents(
            load_index(settings_.index_dir), [article("flood", 0)], (), settings_, embedder
        )
    merged = write_merged(snapshot, [s.name for s in snapshot.segments], settings_)
    build_documents([article("school", 0)], settings_, embedder)  # a rebuild replaced every segment
    with writer_lock(settings_.index_dir, 10):
        assert commit_merge(load_index(settings_.index_dir), merged, settings_) is None
    assert not merged.segment.path.exists()
    assert set(load_index(settings_.index_dir).documents) == {"school"}


def test_an_index_of_the_previous_format_is_refused_with_the_command_that_rebuilds_it(index_copy):
    path = resolve(index_copy) / MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format_version": 3}))
    with pytest.raises(IndexFormatError) as refused:
        load_index(index_copy)
    assert "index format version 3, this newsqa reads version 4" in str(refused.value)
    assert f"rebuild it with `newsqa index --index-dir {index_copy}`" in str(refused.value)


@pytest.mark.subprocess
def test_optimize_merges_every_segment_into_one(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0), article("coffee", 0)], settings_, embedder)
    current = load_index(settings_.index_dir)
    with writer_lock(settings_.index_dir, 10):
        for doc_id in ("flood", "school"):
            current = append_documents(current, [article(doc_id, 0)], (), settings_, embedder)
        current = append_documents(current, [article("roads", 1)], ["coffee"], settings_, embedder)
    before = Index(current, embedder, settings_)
    done = newsqa("index", "--optimize", "--index-dir", str(settings_.index_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("merged 3 segments into one: 3 documents")  # the first is all deleted
    after = load_index(settings_.index_dir)
    assert len(after.segments) == 1 and after.deleted == [frozenset()]
    assert after.passage_count == len(after.passages) == current.passage_count
    optimized = Index(after, embedder, settings_)
    for question in QUESTIONS:
        assert_same_ranking(ranking(optimized, question, "hybrid"), ranking(before, question, "hybrid"))
    again = newsqa("index", "--optimize", "--index-dir", str(settings_.index_dir))
    assert again.returncode == 0 and again.stdout.startswith("already one segment without deletions")


def test_optimize_refuses_articles(tmp_path):
    done = newsqa("index", "somefolder", "--optimize", "--index-dir", str(tmp_path))
    assert done.returncode == 2 and "--optimize merges the --index-dir index" in done.stderr


def test_a_passage_count_never_counts_deleted_rows(tmp_path, embedder):
    settings_ = load_settings(index_dir=tmp_path / "index")
    build_documents([article("roads", 0), article("coffee", 0)], settings_, embedder)
    with writer_lock(settings_.index_dir, 10):
        stored = append_documents(load_index(settings_.index_dir), [], ["roads"], settings_, embedder)
    assert stored.passage_count == len(list(stored.live_rows())) < len(stored.passages)
    assert Path(stored.path).name == resolve(settings_.index_dir).name
