"""Writes that land while the service merges segments in the background are never lost: the
merge is written from the version it started on, and committed on the version current then."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from indexer.build import build_documents
from indexer.check import check_index
from indexer.clean import clean
from indexer.segments import INFO, MERGING, SEGMENTS
from indexer.settings import load_settings
from indexer.sources import RawArticle
from indexer.store import load_index, writer_lock
from service.http import reload
from service.http.api import create_app

pytestmark = pytest.mark.slow

TOKEN = "merge-race-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = {
    "roads": "Roads in Moc Chau\n\nThe province paved 40 km of rural roads in 2025.",
    "coffee": "Coffee harvest\n\nFarmers in Mai Son picked coffee early this year, at good prices.",
}


def test_writes_during_a_merge_are_all_kept(tmp_path, embedder, monkeypatch):
    settings = load_settings(
        index_dir=tmp_path / "index", admin_token=TOKEN, reload_interval=0, merge_factor=2
    )
    build_documents(
        [clean(RawArticle(doc_id=doc_id, text=text, source="api")) for doc_id, text in BASE.items()],
        settings,
        embedder,
    )
    started, release = threading.Event(), threading.Event()
    real = reload.write_merged

    def slow_merge(*args, **kwargs):
        merged = real(*args, **kwargs)  # written from the version the merge started on
        started.set()
        assert release.wait(60)
        return merged

    monkeypatch.setattr(reload, "write_merged", slow_merge)
    expected = dict(BASE)
    with TestClient(create_app(settings, embedder)) as client:

        def post(doc_id: str, text: str) -> None:
            response = client.post("/documents", json={"id": doc_id, "text": text}, headers=AUTH)
            assert response.status_code in (200, 201), response.text
            expected[doc_id] = text

        post("flood", "Flood in Lang Son\n\nHeavy rain flooded 300 houses near the border.")
        assert started.wait(60)  # two segments of one tier: the merge began, and waits
        merger = client.app.state.reloader.merger
        merging = [segment.name for segment in client.app.state.index.stored.segments]
        # Meanwhile: a new article, a replaced one and a deleted one, all in the merged segments.
        post("school", "A new school\n\nThe commune opened a boarding school for 400 pupils.")
        post("flood", "Flood relief\n\nLang Son province sent rice and water to 300 flooded households.")
        assert client.delete("/documents/coffee", headers=AUTH).status_code == 200
        del expected["coffee"]
        release.set()
        # The merge commits, and the merges it leads to (every segment is of one tier) follow.
        while merger is not None and merger.is_alive():
            merger.join(60)
            merger = client.app.state.reloader.merger
        served = client.app.state.index
        assert "merged_segments" in served.manifest["changes"]  # the last version is a merge's
        for doc_id, text in expected.items():
            document = client.get(f"/documents/{doc_id}").json()
            assert document["text"] == text.split("\n\n", 1)[1]
        assert client.get("/documents/coffee").status_code == 404
        found = client.get(
            "/search", params={"q": "rice and water for flooded households", "top_k": 1}
        ).json()
        assert found["results"][0]["doc_id"] == "flood"
        assert found["results"][0]["title"] == "Flood relief"

    stored = load_index(settings.index_dir)
    assert {doc_id: doc.text for doc_id, doc in stored.documents.items()} == {
        doc_id: text.split("\n\n", 1)[1] for doc_id, text in expected.items()
    }
    assert check_index(settings.index_dir).problems == []
    assert stored.manifest == served.manifest
    assert not {segment.name for segment in stored.segments} & set(merging)  # all merged away


def test_a_write_embeds_before_it_waits_for_the_writer_lock(tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "index", admin_token=TOKEN, reload_interval=0)
    build_documents(
        [clean(RawArticle(doc_id=doc_id, text=text, source="api")) for doc_id, text in BASE.items()],
        settings,
        embedder,
    )
    segments = settings.index_dir / SEGMENTS
    with TestClient(create_app(settings, embedder)) as client:
        answers: list[int] = []
        article = {"id": "flood", "text": "Flood in Lang Son\n\nHeavy rain flooded 300 houses."}
        with writer_lock(settings.index_dir, 60):  # another writer (a merge's commit, say) holds it
            poster = threading.Thread(
                target=lambda: answers.append(
                    client.post("/documents", json=article, headers=AUTH).status_code
                )
            )
            poster.start()
            deadline = time.monotonic() + 60
            while not any((hidden / INFO).exists() for hidden in segments.glob(f"{MERGING}*")):
                assert time.monotonic() < deadline, "the write did not embed while the lock was held"
                time.sleep(0.01)
            assert not answers  # embedded and written, but not acknowledged: no version names it yet
        poster.join(60)
        assert answers == [201]
        assert not list(segments.glob(f"{MERGING}*"))  # named by the version now
        assert client.get("/documents/flood").status_code == 200
    assert check_index(settings.index_dir).problems == []
