"""The index directory: round trip, atomic rebuilds, and clear errors for unusable indexes."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from helpers import NEEDS_SMAPS, resident_bytes, segment_folder

from indexer import store
from indexer.errors import IndexFormatError, IndexNotFoundError, NoDocumentsError
from indexer.segments import DENSE, INFO, SEGMENTS, SENTENCE_VECTORS
from indexer.settings import load_settings
from service.core.index import Index


@pytest.fixture()
def small_articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "roads.txt").write_text("Roads in Mộc Châu\n\nThe province paved 40 km of rural roads in 2025.")
    (folder / "coffee.txt").write_text("Coffee harvest\n\nFarmers in Mai Sơn picked coffee early this year.")
    return folder


def test_round_trip_keeps_content(small_articles, tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "index")
    built, report = Index.build([small_articles], settings, embedder)
    assert (report.documents, report.passages, report.skipped) == (2, 2, ())
    loaded = Index.load(settings, embedder)
    assert loaded.documents == built.documents
    assert list(loaded.stored.passages) == list(built.stored.passages)
    (segment,) = loaded.stored.segments  # a build writes one segment
    vectors = segment.dense.reconstruct_n(0, segment.dense.ntotal)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(segment.vectors, vectors)
    manifest = json.loads((report.path / "manifest.json").read_text())
    assert manifest["model"] == {
        "name": settings.model,
        "dimension": 384,
        "max_tokens": 256,
        "backend": embedder.backend,
    }
    assert manifest["counts"] == {"documents": 2, "passages": 2, "segments": 1}
    assert manifest["segments"] == [{"name": segment.name, "passages": 2, "deleted": []}]
    info = json.loads((segment.path / INFO).read_text())
    assert info["counts"] == {"documents": 2, "passages": 2, "sentences": 2}
    assert manifest["chunking"]["chunk_tokens"] == settings.chunk_tokens
    assert manifest["corpus_sha256"] == store.corpus_fingerprint(loaded.documents.values())
    assert (tmp_path / "index" / "current").resolve() == report.path


def test_a_crash_mid_build_leaves_the_old_index(small_articles, tmp_path, embedder, monkeypatch):
    settings = load_settings(index_dir=tmp_path / "index")
    _, first = Index.build([small_articles], settings, embedder)
    (small_articles / "new.txt").write_text("Tea prices\n\nTea prices rose in the highlands.")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the FAISS file is being written

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        Index.build([small_articles], settings, embedder)
    monkeypatch.undo()

    survivor = Index.load(settings, embedder)
    assert survivor.stored.path == first.path
    assert set(survivor.documents) == {"roads", "coffee"}
    assert [p.name for p in (tmp_path / "index" / "versions").iterdir()] == [first.path.name]
    # Nor is anything left of the segment it was writing.
    assert list((tmp_path / "index" / SEGMENTS).iterdir()) == [segment_folder(settings.index_dir)]

    _, second = Index.build([small_articles], settings, embedder)
    assert set(Index.load(settings, embedder).documents) == {"roads", "coffee", "new"}
    assert second.path != first.path


def test_old_versions_are_pruned(small_articles, tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "index", keep_versions=2)
    paths, segments = [], []
    for _ in range(3):
        paths.append(Index.build([small_articles], settings, embedder)[1].path)
        segments.append(segment_folder(settings.index_dir).name)
    remaining = sorted(p.name for p in (tmp_path / "index" / "versions").iterdir())
    assert remaining == sorted(p.name for p in paths[1:])
    # With the segment that only the pruned version named.
    assert sorted(p.name for p in (tmp_path / "index" / SEGMENTS).iterdir()) == sorted(segments[1:])


def test_nothing_to_index_keeps_the_old_index(small_articles, tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "index")
    _, first = Index.build([small_articles], settings, embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoDocumentsError):
        Index.build([empty], settings, embedder)
    assert Index.load(settings, embedder).stored.path == first.path


def test_unusable_indexes_give_clear_errors(small_articles, tmp_path, embedder):
    with pytest.raises(IndexNotFoundError, match="build one with `newsqa index --index-dir"):
        Index.load(load_settings(index_dir=tmp_path / "nothing"), embedder)

    settings = load_settings(index_dir=tmp_path / "index")
    _, report = Index.build([small_articles], settings, embedder)
    with pytest.raises(IndexFormatError, match="built with model 'sentence-transformers/all-MiniLM-L6-v2'"):
        Index.load(load_settings(index_dir=tmp_path / "index", model="some/other-model"), embedder)

    manifest_path = report.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexFormatError, match="format version 99"):
        Index.load(settings, embedder)

    manifest_path.write_text(json.dumps(manifest))
    dense = segment_folder(settings.index_dir) / DENSE
    dense.write_bytes(dense.read_bytes()[:100])
    with pytest.raises(IndexFormatError, match=r"dense\.faiss: missing or truncated; rebuild it"):
        Index.load(settings, embedder)


@NEEDS_SMAPS
def test_serving_maps_the_memory_mapped_files_in_at_load(bundled_settings, bundled, embedder, monkeypatch):
    folder = segment_folder(bundled_settings.index_dir)
    loaded = Index.load(bundled_settings, embedder)  # a fresh mapping of each file
    resident = resident_bytes(folder)
    size = (folder / SENTENCE_VECTORS).stat().st_size
    assert resident[SENTENCE_VECTORS] >= size - 4096  # every page, the header's aside
    del loaded, resident

    # Where the files would fill more than half the memory left, pages are left to come on demand.
    monkeypatch.setattr(store, "_memory_available", lambda: 1000)
    before = resident_bytes(folder)
    Index.load(bundled_settings, embedder)
    after = resident_bytes(folder)
    assert after.get(SENTENCE_VECTORS, 0) - before.get(SENTENCE_VECTORS, 0) < size / 2
