"""Reloads: `POST /admin/reload`, the polling of `current`, broken versions, and a late first index."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import segment_folder

from indexer.build import build_documents
from indexer.embed import Embedder
from indexer.errors import ConfigError
from indexer.segments import DENSE, SEGMENTS
from indexer.settings import Settings, load_settings
from indexer.store import MANIFEST, load_index
from service.core.index import Index
from service.http.api import create_app

TOKEN = "reload-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COFFEE = "003_af987519a968d492"
MEETING = "000_1bc991a037106c5e"


def settings_for(root: Path, interval: float) -> Settings:
    return load_settings(index_dir=root, admin_token=TOKEN, reload_interval=interval)


def served(client: TestClient) -> str:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    return response.headers["X-Index-Version"]


def new_version(settings: Settings, embedder: Embedder, drop: str = COFFEE) -> str:
    """What another process's `newsqa index` would do: write a version, here the newest good one's
    documents without one article."""
    good = sorted(
        p
        for p in (settings.index_dir / "versions").iterdir()
        if p.name[0] != "." and not p.name.endswith("-broken")
    )
    documents = [doc for doc in load_index(good[-1]).documents.values() if doc.doc_id != drop]
    return build_documents(documents, settings, embedder).path.name


def broken_version(root: Path) -> str:
    """A copy of the current version made current, its segment a copy with the FAISS file
    truncated (under a name of its own: a service reads only the segments it does not hold)."""
    current = (root / "current").resolve()
    name = f"{current.name}-broken"  # sorts after the current version
    manifest = json.loads((current / MANIFEST).read_text())
    (part,) = manifest["segments"]
    segment = shutil.copytree(root / SEGMENTS / part["name"], root / SEGMENTS / f"{part['name']}-broken")
    (segment / DENSE).write_bytes((segment / DENSE).read_bytes()[:100])
    part["name"] = segment.name
    broken = root / "versions" / name
    broken.mkdir()
    (broken / MANIFEST).write_text(json.dumps(manifest))
    link = root / ".current-test"
    os.symlink(Path("versions") / name, link)
    os.replace(link, root / "current")
    return name


def reloads(client: TestClient, trigger: str, outcome: str) -> float:
    prefix = f'newsqa_index_reloads_total{{outcome="{outcome}",trigger="{trigger}"}} '
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


def eventually(condition: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_admin_reload_swaps_in_the_current_version(index_copy, embedder):
    settings = settings_for(index_copy, interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        before = served(client)
        after = new_version(settings, embedder)
        assert served(client) == before  # polling is off: nothing changes by itself

        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {
            "version": after,
            "previous": before,
            "changed": True,
            "documents": 4,
            "passages": response.json()["passages"],
        }
        assert served(client) == after
        assert client.get(f"/documents/{COFFEE}").status_code == 404
        assert reloads(client, "admin", "ok") == 1

        again = client.post("/admin/reload", headers=AUTH).json()
        assert (again["version"], again["previous"], again["changed"]) == (after, after, False)


def test_a_broken_version_is_refused_and_the_old_one_kept(index_copy, embedder):
    settings = settings_for(index_copy, interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        before = served(client)
        name = broken_version(index_copy)
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 409
        detail = response.json()["detail"]
        damaged = segment_folder(index_copy) / DENSE
        assert damaged.parent.name.endswith("-broken") and (index_copy / "current").resolve().name == name
        assert detail.startswith(f"cannot reload: {damaged}: missing or truncated")
        assert detail.endswith(f"; still serving version {before}")
        assert served(client) == before
        assert client.get("/search", params={"q": "Pu Nhung coffee"}).json()["results"][0]["doc_id"] == COFFEE
        assert reloads(client, "admin", "failed") == 1


def test_polling_picks_up_a_new_version(index_copy, embedder):
    settings = settings_for(index_copy, interval=0.1)
    with TestClient(create_app(settings, embedder)) as client:
        after = new_version(settings, embedder)
        assert eventually(lambda: served(client) == after)
        assert client.get(f"/documents/{COFFEE}").status_code == 404
        assert reloads(client, "auto", "ok") == 1


def test_polling_logs_a_broken_version_once_and_keeps_serving(index_copy, embedder, caplog):
    caplog.set_level(logging.ERROR, logger="service.http.reload")
    settings = settings_for(index_copy, interval=0.05)
    with TestClient(create_app(settings, embedder)) as client:
        before = served(client)
        name = broken_version(index_copy)
        assert eventually(lambda: reloads(client, "auto", "failed") == 1)
        time.sleep(1)  # about 20 more polls
        assert served(client) == before
        assert reloads(client, "auto", "failed") == 1
        messages = [r.getMessage() for r in caplog.records if r.name == "service.http.reload"]
        assert len(messages) == 1
        assert messages[0].startswith(f"not serving index version {index_copy / 'versions' / name}: ")

        # The next good version is taken up as usual.
        after = new_version(settings, embedder)
        assert eventually(lambda: served(client) == after)


def test_a_service_started_without_an_index_picks_one_up(tmp_path, embedder, bundled_settings):
    settings = settings_for(tmp_path / "index", interval=0.1)
    with TestClient(create_app(settings, embedder)) as client:
        response = client.post("/ask", json={"question": "How much coffee does Pu Nhung grow?"})
        assert response.status_code == 503
        assert response.json()["detail"].startswith(f"no index in {tmp_path / 'index'}: build one with")

        Index.build([bundled_settings.articles_dir], settings, embedder)
        assert eventually(lambda: client.get("/health").status_code == 200)
        response = client.post("/ask", json={"question": "How much coffee does Pu Nhung grow?"})
        assert response.status_code == 200 and response.json()["citations"]


def test_the_polling_stops_with_the_app(index_copy, embedder, caplog):
    settings = settings_for(index_copy, interval=0.05)
    with TestClient(create_app(settings, embedder)) as client:
        served(client)
        time.sleep(0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # the lifespan cancelled the polling and waited for it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_reload_needs_the_admin_token(index_copy, embedder):
    settings = settings_for(index_copy, interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        assert client.post("/admin/reload").status_code == 401
        assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
    with TestClient(create_app(load_settings(index_dir=index_copy), embedder)) as client:
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 403
        assert "NEWSQA_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_reload_interval_fails_fast(value):
    with pytest.raises(ConfigError, match=r"^invalid setting: reload_interval: "):
        load_settings(reload_interval=value)


def test_the_served_index_is_kept_out_of_garbage_collections(index_copy, embedder):
    """A full collection would walk every object of the index and stall all requests while
    it does; the index swapped out is still collected."""
    settings = settings_for(index_copy, interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        first = weakref.ref(client.app.state.index)
        assert gc.get_freeze_count() > len(first().passages) * 3  # passages, their ids and texts
        new_version(settings, embedder)
        assert client.post("/admin/reload", headers=AUTH).status_code == 200
        new_version(settings, embedder, drop=MEETING)
        assert client.post("/admin/reload", headers=AUTH).status_code == 200
        assert first() is None
        assert gc.get_freeze_count() > len(client.app.state.index.passages) * 3
