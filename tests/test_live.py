"""The live archive: writes through the API are cleaned, durable, visible, guarded, and safe under load
and under kill -9."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from helpers import free_port, serving, stored_records
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from indexer.build import build_documents
from indexer.check import check_index
from indexer.clean import clean
from indexer.embed import Embedder
from indexer.segments import SEGMENTS
from indexer.settings import Settings, load_settings
from indexer.sources import RawArticle
from indexer.store import load_index
from service.core.index import Index
from service.http.api import create_app

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COFFEE = "003_af987519a968d492"  # the bundled article about Pú Nhung's coffee and pineapples
FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_settings(index_copy: Path) -> Settings:
    return load_settings(index_dir=index_copy, admin_token=TOKEN, reload_interval=0)


@pytest.fixture
def live(live_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    with TestClient(create_app(live_settings, embedder)) as client:
        yield client


def article(doc_id: str, text: str, **fields: str) -> dict[str, str]:
    return {"id": doc_id, "text": text, **fields}


FLOOD = (
    "Muong Lay floods\n\nHeavy rain flooded the lower town of Muong Lay on Monday night.\n\n"
    "Forty-two houses were evacuated and the Da river rose 3.5 metres.\n\nComment\n\nShare"
)


def test_an_added_article_is_cleaned_stored_and_found(live, live_settings, embedder):
    response = live.post(
        "/documents", json=article("flood-1", FLOOD, url="https://example.org/f"), headers=AUTH
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "doc_id": "flood-1",
        "title": "Muong Lay floods",  # the headline line, as for an indexed file
        "language": "en",
        "passages": 1,
        "version": body["version"],
    }
    document = live.get("/documents/flood-1").json()
    assert document["text"] == (  # comment-box debris dropped, as the indexer does
        "Heavy rain flooded the lower town of Muong Lay on Monday night.\n\n"
        "Forty-two houses were evacuated and the Da river rose 3.5 metres."
    )
    assert (document["source"], document["url"]) == ("api", "https://example.org/f")

    found = live.get("/search", params={"q": "How many houses were evacuated in Muong Lay?", "top_k": 1})
    assert found.headers["X-Index-Version"] == body["version"]
    (result,) = found.json()["results"]
    assert result["doc_id"] == "flood-1"
    assert document["text"][result["start"] : result["end"]] == result["text"]

    # Durable: a fresh load of the directory, as after a restart, holds it, and the index checks out.
    reloaded = Index.load(live_settings, embedder)
    assert reloaded.document("flood-1").text == document["text"]
    assert reloaded.manifest["version"] == body["version"]
    assert check_index(live_settings.index_dir, embedder).problems == []


def test_posting_an_existing_id_replaces_the_article(live, live_settings, embedder):
    first = live.post("/documents", json=article("flood-1", FLOOD), headers=AUTH).json()
    replaced = live.post(
        "/documents", json=article("flood-1", "The water in Muong Lay fell back by Wednesday."), headers=AUTH
    )
    assert replaced.status_code == 200
    assert replaced.json()["version"] != first["version"]
    assert live.get("/documents/flood-1").json()["text"] == "The water in Muong Lay fell back by Wednesday."
    assert live.get("/health").json()["documents"] == 6
    results = live.get("/search", params={"q": "houses evacuated Muong Lay", "top_k": 50}).json()["results"]
    assert all("evacuated" not in r["text"] for r in results if r["doc_id"] == "flood-1")

    # Posting what is stored already writes no new version.
    again = live.post(
        "/documents", json=article("flood-1", "The water in Muong Lay fell back by Wednesday."), headers=AUTH
    )
    assert (again.status_code, again.json()["version"]) == (200, replaced.json()["version"])
    assert Index.load(live_settings, embedder).document("flood-1").text.endswith("by Wednesday.")


def test_a_deleted_article_is_gone_for_good(live, live_settings, embedder):
    before = live.get("/search", params={"q": "Pu Nhung coffee hectares", "top_k": 3}).json()["results"]
    assert before[0]["doc_id"] == COFFEE

    response = live.delete(f"/documents/{COFFEE}", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"doc_id": COFFEE, "version": response.json()["version"]}
    assert live.get(f"/documents/{COFFEE}").status_code == 404
    after = live.get("/search", params={"q": "Pu Nhung coffee hectares", "top_k": 50}).json()["results"]
    assert COFFEE not in {r["doc_id"] for r in after}
    assert COFFEE not in Index.load(live_settings, embedder).documents

    missing = live.delete(f"/documents/{COFFEE}", headers=AUTH)
    assert (missing.status_code, missing.json()) == (404, {"detail": f"unknown document id {COFFEE!r}"})


def test_a_batch_is_one_new_version(live, live_settings, embedder):
    batch = [
        article(f"b{i}", f"The school in Ban {i} got {i + 2} new classrooms this year.") for i in range(3)
    ]
    batch.append(article(COFFEE, "Pu Nhung now grows tea instead of coffee."))
    response = live.post("/documents/batch", json={"documents": batch}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(d["doc_id"], d["created"], d["passages"]) for d in body["documents"]] == [
        ("b0", True, 1),
        ("b1", True, 1),
        ("b2", True, 1),
        (COFFEE, False, 1),
    ]
    stored = Index.load(live_settings, embedder)
    assert stored.manifest["version"] == body["version"]
    assert len(stored.documents) == 8
    assert stored.document(COFFEE).text == "Pu Nhung now grows tea instead of coffee."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            article("a/b", "Some text."),
            "id: must be 1-200 of the characters A-Z a-z 0-9 _ . : @ + -, starting with a letter, digit or _",
        ),
        (
            article("x" * 201, "Some text."),
            "id: String should have at most 200 characters",
        ),
        (
            article("bad\nid", "Some text."),
            "id: must be 1-200 of the characters A-Z a-z 0-9 _ . : @ + -, starting with a letter, digit or _",
        ),
        (article("ok", ""), "text: must not be blank"),
        (article("ok", " \n\t "), "text: must not be blank"),
        ({"id": "ok"}, "text: Field required"),
        (
            article("ok", "Some text.", title="two\nlines"),
            "title: must be one line without control characters",
        ),
        (
            article("ok", "Some text.", language="english!"),
            "language: must be a language code such as en, no or vi",
        ),
        ({"id": 7, "text": "Some text."}, "id: Input should be a valid string"),
    ],
)
def test_invalid_articles_are_refused_with_the_reason(live, body, detail):
    response = live.post("/documents", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_text_that_cleans_to_nothing_is_refused(live):
    response = live.post("/documents", json=article("debris", "Comment\n\nShare\n\nPrint"), headers=AUTH)
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "text: nothing is left of article 'debris' after cleaning"},
    )
    assert live.get("/documents/debris").status_code == 404


def test_a_batch_with_a_repeated_id_is_refused(live):
    batch = [article("twice", "First text."), article("twice", "Second text.")]
    response = live.post("/documents/batch", json={"documents": batch}, headers=AUTH)
    assert (response.status_code, response.json()["detail"]) == (422, "documents: repeated id(s): twice")


WRITES = [
    ("POST", "/documents", {"json": article("x1", "A small article.")}),
    ("POST", "/documents/batch", {"json": {"documents": [article("x1", "A small article.")]}}),
    ("DELETE", f"/documents/{COFFEE}", {}),
    ("POST", "/admin/reload", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_writes_need_the_admin_token(live, method, path, kwargs):
    missing = live.request(method, path, **kwargs)
    assert (missing.status_code, missing.json()) == (
        401,
        {"detail": "this endpoint requires `Authorization: Bearer <token>`"},
    )
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    for header in (f"Bearer {TOKEN}x", "Bearer x", f"Basic {TOKEN}", TOKEN):
        wrong = live.request(method, path, headers={"Authorization": header}, **kwargs)
        assert wrong.status_code == 401, header
    assert live.get("/health").json()["documents"] == 5  # nothing was written


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_writes_are_disabled_without_an_admin_token(client, method, path, kwargs):
    response = client.request(method, path, headers=AUTH, **kwargs)
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "write endpoints are disabled: set NEWSQA_ADMIN_TOKEN when starting the service"},
    )


def test_writes_without_an_index_answer_503(tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "none", admin_token=TOKEN, reload_interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        response = client.post("/documents", json=article("x1", "A small article."), headers=AUTH)
        assert response.status_code == 503
        assert response.json()["detail"].startswith(f"no index in {tmp_path / 'none'}: build one with")
        assert not (tmp_path / "none").exists()


def test_the_last_document_cannot_be_deleted(tmp_path, embedder, bundled):
    settings = load_settings(index_dir=tmp_path / "one", admin_token=TOKEN, reload_interval=0)
    build_documents([bundled.document(COFFEE)], settings, embedder)
    with TestClient(create_app(settings, embedder)) as client:
        response = client.delete(f"/documents/{COFFEE}", headers=AUTH)
        assert (response.status_code, response.json()) == (
            409,
            {"detail": f"{COFFEE!r} is the last document: an index needs at least one"},
        )
        assert client.get(f"/documents/{COFFEE}").status_code == 200


FUZZED = [
    ("/documents", "POST", GenerationMode.NEGATIVE),
    ("/documents/batch", "POST", GenerationMode.NEGATIVE),
    ("/documents/{doc_id}", "DELETE", GenerationMode.POSITIVE),
    ("/admin/reload", "POST", GenerationMode.POSITIVE),
]


@pytest.mark.parametrize(
    ("path", "method", "generation"), FUZZED, ids=[f"{m} {p} {g.value}" for p, m, g in FUZZED]
)
@pytest.mark.parametrize("token", [True, False], ids=["token", "no token"])
def test_the_write_endpoints_answer_as_documented(live, client, path, method, generation, token):
    """Schemathesis, as in tests/test_fuzz.py: with the token, invalid articles (valid ones would
    each write a version) and deletes of random ids; without it, everything (403)."""
    app = live.app if token else client.app
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    mode = generation if token else GenerationMode.POSITIVE

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=15,
        deadline=timedelta(seconds=30),
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answers_as_documented(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=AUTH, checks=FUZZ_CHECKS)
        if token:
            assert response.status_code not in (401, 403), response.text
        else:
            assert response.status_code in (403, 422), response.text  # 422: a body that is not JSON

    answers_as_documented()


# --- under load, on a real server -------------------------------------------------------------------

QUERIES = [
    ("GET", "/search", {"params": {"q": "Pu Nhung coffee hectares", "top_k": 5}}),
    ("POST", "/ask", {"json": {"question": "How many hectares of coffee does Pu Nhung maintain?"}}),
    ("GET", "/search", {"params": {"q": "bridge opened over the Da river", "top_k": 8, "mode": "lexical"}}),
    ("POST", "/ask", {"json": {"question": "How many spans does the new bridge in Song Ma have?"}}),
    ("GET", "/search", {"params": {"q": "new rural standards in Son La", "top_k": 5, "mode": "dense"}}),
]


def bridge(i: int) -> dict[str, str]:
    return article(
        f"bridge-{i}",
        f"The river town of Song {['Ma', 'Da', 'Lo', 'Cau', 'Gam'][i % 5]} {i} opened a new bridge over "
        f"the Da river in week {i}. The bridge has {i % 7 + 2} spans and cost {i * 3 + 10} billion dong.",
    )


def test_reloads_and_writes_under_query_load_never_give_a_bad_answer(index_copy, embedder):
    """4 clients query without pause while the index is reloaded, rewritten by a batch of 50
    additions, a single addition and a delete, and rebuilt by another process. Every response
    must be a 200 whose citations all match the documents of the version it names."""
    settings = load_settings(index_dir=index_copy, admin_token=TOKEN, reload_interval=0.2, keep_versions=50)
    stop = threading.Event()
    responses: list[tuple[str, dict[str, Any]]] = []  # (version, body)
    failures: list[str] = []

    def query_forever(base_url: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base_url, timeout=60) as http:
            while not stop.is_set():
                method, path, kwargs = rng.choice(QUERIES)
                try:
                    response = http.request(method, path, **kwargs)
                except httpx.HTTPError as exc:
                    failures.append(f"{method} {path}: {exc!r}")
                    continue
                if response.status_code != 200:
                    failures.append(f"{method} {path}: {response.status_code} {response.text}")
                    continue
                responses.append((response.headers["X-Index-Version"], response.json()))

    with (
        serving(create_app(settings, embedder)) as base_url,
        httpx.Client(base_url=base_url, timeout=300) as admin,
    ):
        clients = [threading.Thread(target=query_forever, args=(base_url, seed)) for seed in range(4)]
        for thread in clients:
            thread.start()
        try:
            wait_for(lambda: len(responses) >= 20, "the clients to get going")
            served = admin.get("/health").json()["index"]["version"]

            # Another process writes a version (as `newsqa index` does); an admin reload swaps it in
            # (unless the polling was quicker: then it reloads the same version again).
            documents = list(Index.load(settings, embedder).documents.values())
            outside = clean(RawArticle("outside-1", "Song Ma opened a ferry pier in 2024.", source="api"))
            written = build_documents([*documents, outside], settings, embedder).path.name
            reload = admin.post("/admin/reload", headers=AUTH).json()
            assert reload["version"] == written != served

            batch = admin.post(
                "/documents/batch", json={"documents": [bridge(i) for i in range(50)]}, headers=AUTH
            )
            assert batch.status_code == 200 and all(d["created"] for d in batch.json()["documents"]), (
                batch.text
            )
            single = admin.post("/documents", json=bridge(50), headers=AUTH)
            assert single.status_code == 201, single.text
            deleted = admin.delete(f"/documents/{COFFEE}", headers=AUTH)
            assert deleted.status_code == 200, deleted.text

            # Another process rebuilds; the polling picks it up without being asked.
            documents = list(Index.load(settings, embedder).documents.values())
            rebuilt = build_documents(documents[:-1], settings, embedder).path.name
            wait_for(
                lambda: admin.get("/health").headers["X-Index-Version"] == rebuilt, "the automatic reload"
            )
            seen = len(responses)
            wait_for(lambda: len(responses) >= seen + 20, "queries on the last version")
            metrics = admin.get("/metrics").text
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=120)

    assert failures == []
    versions = {version: stored_documents(index_copy, version) for version, _ in responses}
    checked = 0
    for version, body in responses:
        documents = versions[version]
        spans = body.get("results") or body.get("citations") or []
        if body.get("answer"):
            spans = [*spans, body["answer"]]
        for span in spans:
            assert documents[span["doc_id"]][span["start"] : span["end"]] == span["text"], (version, span)
            checked += 1
    assert len(versions) >= 5  # start, reload, batch, single, delete, rebuild: most were served
    assert rebuilt in versions
    assert 'newsqa_index_reloads_total{outcome="ok",trigger="admin"} 1.0' in metrics
    assert re.search(r'newsqa_index_reloads_total\{outcome="ok",trigger="auto"\} [12]\.0', metrics)
    assert 'newsqa_index_reloads_total{outcome="ok",trigger="write"} 3.0' in metrics
    print(
        f"\nload test: {len(responses)} responses, {len(failures)} failures, {checked} spans checked, "
        f"{len(versions)} versions served; writes: 51 additions (batch of 50 + 1), 1 delete; "
        "reloads: 1 admin + 1 automatic"
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def stored_documents(root: Path, version: str) -> dict[str, str]:
    return {doc_id: record["text"] for doc_id, record in stored_records(root / "versions" / version).items()}


# --- kill -9 during writes ------------------------------------------------------------------------


def test_kill_9_during_writes_leaves_the_old_or_the_new_state(index_copy, embedder):
    """The service is SIGKILLed while a client posts articles one after another: during the
    embedding, while the new segment's files are being written, and just after `current` moved
    (each start of the service loads the model: about 30 s a run on 2 busy cores).
    Afterwards the directory passes `check_index` and holds exactly the acknowledged articles,
    plus perhaps the one in flight: never a mix."""
    rng = random.Random(20261123)
    versions, segments = index_copy / "versions", index_copy / SEGMENTS

    def unfinished() -> set[Path]:
        """Segments and versions being written (`.tmp-` folders), or left by a kill."""
        return {*segments.glob(".tmp-*"), *versions.glob(".tmp-*")}

    def embedding(started: float, took: float) -> None:
        time.sleep(max(0.0, started + rng.uniform(0.2, 0.6) * took - time.monotonic()))

    def writing_files(started: float, took: float) -> None:
        # The new segment's files are written under `segments/.tmp-*`; its version's manifest follows.
        earlier = set(segments.glob(".tmp-*"))  # left by an earlier kill
        wait_for(lambda: bool(set(segments.glob(".tmp-*")) - earlier), "a segment being written", poll=0.001)
        time.sleep(rng.uniform(0.0, 0.02))

    def after_the_swap(started: float, took: float) -> None:
        current = (index_copy / "current").resolve()
        wait_for(lambda: (index_copy / "current").resolve() != current, "current to move", poll=0.001)

    expected = set(load_index(index_copy).documents)
    outcomes = []
    for run, moment in enumerate([embedding, writing_files, after_the_swap]):
        acknowledged, in_flight = kill_during_writes(index_copy, f"kill-{run}", rng.randint(1, 2), moment)
        leftovers = len(unfinished())
        report = check_index(index_copy, embedder)
        assert report.problems == [], report.problems
        stored = set(load_index(index_copy).documents)
        before = expected | set(acknowledged)
        assert stored in (before, before | {in_flight}), (run, sorted(stored ^ before))
        state = "new state" if stored != before else "old state"
        outcomes.append(f"{moment.__name__}: {len(acknowledged)} acknowledged, {state}, {leftovers} tmp left")
        expected = stored
    Index.load(load_settings(index_dir=index_copy), embedder)  # loads as the restarted service would
    print("\nkill -9: " + "; ".join(outcomes))


def kill_during_writes(
    root: Path, prefix: str, let_through: int, moment: Callable[[float, float], None]
) -> tuple[list[str], str]:
    """Serve `root` in a subprocess and post articles one by one; after `let_through` writes,
    SIGKILL the service once `moment(start of the write, duration of the last one)` returns.
    Returns the ids acknowledged and the id in flight at the kill."""
    port = free_port()
    env = {**os.environ, "NEWSQA_ADMIN_TOKEN": TOKEN, "NEWSQA_RELOAD_INTERVAL": "0", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-c", "from service.cli import main; main()", "serve"]
    server = subprocess.Popen(
        [*command, "--index-dir", str(root), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    started: list[float] = []
    took: list[float] = []
    errors: list[str] = []

    def write_until_killed() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            for i in range(100):
                started.append(time.monotonic())
                try:
                    response = http.post("/documents", json=bridge(i) | {"id": f"{prefix}-{i}"}, headers=AUTH)
                except httpx.HTTPError:
                    return  # the kill
                if response.status_code != 201:
                    errors.append(f"{prefix}-{i}: {response.status_code} {response.text}")
                    return
                took.append(time.monotonic() - started[-1])
                acknowledged.append(f"{prefix}-{i}")

    try:
        wait_for(lambda: healthy(base_url), "the service to start")
        writer = threading.Thread(target=write_until_killed)
        writer.start()
        wait_for(lambda: len(started) > let_through or not writer.is_alive(), "the writes")
        moment(started[-1], took[-1])
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        writer.join(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert errors == []
    return acknowledged, f"{prefix}-{len(acknowledged)}"


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
