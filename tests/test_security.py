"""Access control and limits over HTTP: bearer tokens, the body size limit, CORS."""

from __future__ import annotations

import hmac
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from helpers import serving
from pydantic import SecretStr

from indexer.settings import Settings, load_settings
from indexer.store import MANIFEST, resolve
from service.core.index import Index
from service.http.api import create_app
from service.http.security import require_admin

READER_TOKEN = "reader-s3cret"
COFFEE = "003_af987519a968d492"  # a bundled article
ADMIN_TOKEN = "admin-s3cret"
QUESTION = {"question": "How many communes in Son La met the new rural standards?", "top_k": 2}
MISSING = "this endpoint (NEWSQA_API_TOKEN is set) requires `Authorization: Bearer <token>`"
WRONG = "invalid token for this endpoint (NEWSQA_API_TOKEN is set)"
LIMIT = 4096
TOO_LARGE = f"request body is larger than the limit of {LIMIT} bytes (NEWSQA_MAX_BODY_BYTES)"


def app_with(settings: Settings, embedder: Any, **overrides: Any) -> FastAPI:
    """The service over the bundled index with `overrides` on its settings, plus a tiny admin
    route (the real write endpoints live on another branch) to exercise `require_admin`."""
    app = create_app(settings.model_copy(update=overrides), embedder)
    app.add_api_route(
        "/test-admin", lambda: {"ok": True}, methods=["POST"], dependencies=[Depends(require_admin)]
    )
    return app


@pytest.fixture(scope="module")
def guarded(bundled: Index, bundled_settings: Settings, embedder: Any) -> Iterator[TestClient]:
    app = app_with(
        bundled_settings, embedder, api_token=SecretStr(READER_TOKEN), admin_token=SecretStr(ADMIN_TOKEN)
    )
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_requests(client: TestClient, doc_id: str, headers: dict[str, str]) -> list[Any]:
    return [
        client.post("/ask", json=QUESTION, headers=headers),
        client.get("/search", params={"q": "coffee", "top_k": 2}, headers=headers),
        client.get(f"/documents/{doc_id}", headers=headers),
    ]


def test_read_endpoints_need_the_api_token_when_it_is_set(guarded, bundled):
    doc_id = next(iter(bundled.documents))
    for headers, detail in [
        ({}, MISSING),
        ({"Authorization": f"Basic {READER_TOKEN}"}, MISSING),
        (bearer(""), MISSING),
        (bearer("wrong"), WRONG),
        (bearer(ADMIN_TOKEN + "x"), WRONG),
        (bearer(READER_TOKEN + "x"), WRONG),
    ]:
        for response in read_requests(guarded, doc_id, headers):
            assert response.status_code == 401, (headers, response.text)
            assert response.json() == {"detail": detail}
            assert response.headers["www-authenticate"] == "Bearer"
    # An admin may read what they may change: the admin token opens the read endpoints too.
    for token in (READER_TOKEN, ADMIN_TOKEN):
        for response in read_requests(guarded, doc_id, bearer(token)):
            assert response.status_code == 200, response.text
    assert guarded.get(f"/documents/{doc_id}", headers=bearer(READER_TOKEN)).json()["doc_id"] == doc_id


def test_an_unauthorized_request_is_refused_before_its_body_is_judged(guarded):
    response = guarded.post("/ask", json={"question": ""})
    assert (response.status_code, response.json()) == (401, {"detail": MISSING})


def test_probes_and_the_schema_stay_open(guarded):
    assert guarded.get("/health").json()["status"] == "ok"
    assert guarded.get("/metrics").status_code == 200
    schema = guarded.get("/openapi.json").json()
    assert "401" in schema["paths"]["/ask"]["post"]["responses"]
    assert "401" not in schema["paths"]["/health"]["get"]["responses"]


def test_read_endpoints_are_open_without_an_api_token(client, bundled):
    for response in read_requests(client, next(iter(bundled.documents)), {}):
        assert response.status_code == 200, response.text


def test_write_endpoints_are_disabled_without_an_admin_token(client):
    # `client` runs with no NEWSQA_ADMIN_TOKEN: even a token that looks right is refused.
    app = client.app
    assert isinstance(app, FastAPI)
    app.add_api_route(
        "/test-admin", lambda: {"ok": True}, methods=["POST"], dependencies=[Depends(require_admin)]
    )
    for headers in ({}, bearer(ADMIN_TOKEN), bearer("")):
        response = client.post("/test-admin", headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "detail": "write endpoints are disabled: set NEWSQA_ADMIN_TOKEN when starting the service"
        }


def test_write_endpoints_need_the_admin_token(guarded, monkeypatch):
    missing = guarded.post("/test-admin")
    assert (missing.status_code, missing.json()) == (
        401,
        {"detail": "this endpoint requires `Authorization: Bearer <token>`"},
    )
    assert missing.headers["www-authenticate"] == "Bearer"
    for token in ("wrong", READER_TOKEN, ADMIN_TOKEN[:-1]):
        response = guarded.post("/test-admin", headers=bearer(token))
        assert (response.status_code, response.json()) == (401, {"detail": "invalid token for this endpoint"})

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    response = guarded.post("/test-admin", headers=bearer(ADMIN_TOKEN))
    assert (response.status_code, response.json()) == (200, {"ok": True})
    assert compared == [(ADMIN_TOKEN.encode(), ADMIN_TOKEN.encode())]  # constant time, not `==`


# --- the body size limit ---------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_app(bundled: Index, bundled_settings: Settings, embedder: Any) -> FastAPI:
    return app_with(bundled_settings, embedder, max_body_bytes=LIMIT)


def padded_question(size: int) -> bytes:
    """An /ask body of exactly `size` bytes (valid JSON; the padding is whitespace)."""
    body = json.dumps(QUESTION).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_bodies_over_the_limit_are_refused_by_content_length(limited_app):
    with TestClient(limited_app) as test_client:
        ok = test_client.post(
            "/ask", content=padded_question(LIMIT), headers={"content-type": "application/json"}
        )
        assert ok.status_code == 200, ok.text
        refused = test_client.post(
            "/ask", content=padded_question(LIMIT + 1), headers={"content-type": "application/json"}
        )
        assert (refused.status_code, refused.json()) == (413, {"detail": TOO_LARGE})


def test_streamed_bodies_are_counted(limited_app):
    def chunks(size: int) -> Iterator[bytes]:
        body = padded_question(size)
        yield from (body[i : i + 1000] for i in range(0, len(body), 1000))

    with TestClient(limited_app) as test_client:
        headers = {"content-type": "application/json"}
        ok = test_client.post("/ask", content=chunks(LIMIT), headers=headers)
        assert ok.status_code == 200, ok.text
        refused = test_client.post("/ask", content=chunks(LIMIT + 1), headers=headers)
        assert (refused.status_code, refused.json()) == (413, {"detail": TOO_LARGE})


def test_the_limit_holds_on_a_real_server(limited_app):
    with serving(limited_app) as base_url:
        port = urlsplit(base_url).port

        def post_chunked(size: int) -> tuple[int, dict[str, Any]]:
            body = padded_question(size)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(
                "POST",
                "/ask",
                body=(body[i : i + 512] for i in range(0, len(body), 512)),
                headers={"Content-Type": "application/json"},
                encode_chunked=True,  # Transfer-Encoding: chunked, no Content-Length
            )
            response = connection.getresponse()
            result = response.status, json.loads(response.read())
            connection.close()
            return result

        assert post_chunked(LIMIT)[0] == 200
        assert post_chunked(LIMIT + 1) == (413, {"detail": TOO_LARGE})
        assert post_chunked(20 * LIMIT) == (413, {"detail": TOO_LARGE})

        # A declared length over the limit is refused before any of the body is sent.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("POST", "/ask")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(100 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (413, {"detail": TOO_LARGE})
        connection.close()


def test_the_default_limit_is_two_mebibytes():
    assert load_settings().max_body_bytes == 2 * 1024 * 1024


# --- CORS ----------------------------------------------------------------------------------

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def test_cors_is_off_by_default(client):
    preflight = client.options("/ask", headers={"Origin": "http://elsewhere.example", **PREFLIGHT})
    assert preflight.status_code == 204  # a plain OPTIONS answer: no CORS headers
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/health", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_only_the_configured_origins(bundled, bundled_settings, embedder):
    app = app_with(
        bundled_settings, embedder, cors_origins=["http://news.example"], api_token=SecretStr(READER_TOKEN)
    )
    with TestClient(app) as test_client:
        allowed = test_client.options("/ask", headers={"Origin": "http://news.example", **PREFLIGHT})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://news.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "POST" in allowed.headers["access-control-allow-methods"]

        other = test_client.options("/ask", headers={"Origin": "http://evil.example", **PREFLIGHT})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers

        # Errors carry the header too, so the calling page can read their `detail`.
        refused = test_client.post("/ask", json=QUESTION, headers={"Origin": "http://news.example"})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "http://news.example"


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ('["http://a.example", "https://b.example:8443"]', ["http://a.example", "https://b.example:8443"]),
        ("http://a.example, https://b.example", ["http://a.example", "https://b.example"]),
        ("", []),
    ],
)
def test_cors_origins_from_the_environment(monkeypatch, value, origins):
    monkeypatch.setenv("NEWSQA_CORS_ORIGINS", value)
    assert load_settings().cors_origins == origins


# --- the article view --------------------------------------------------------------------


def test_the_article_view_is_locked_without_the_token(guarded, bundled):
    doc_id, document = next(iter(bundled.documents.items()))
    locked = guarded.get(f"/read/{doc_id}", params={"start": 0, "end": 10})
    assert locked.status_code == 401
    assert 'id="locked"' in locked.text and document.text[:40] not in locked.text
    assert '<script src="/static/auth.js" defer></script>' in locked.text
    wrong = guarded.get(f"/read/{doc_id}", headers=bearer("wrong"))
    assert wrong.status_code == 401 and document.text[:40] not in wrong.text
    opened = guarded.get(f"/read/{doc_id}", params={"start": 0, "end": 10}, headers=bearer(READER_TOKEN))
    assert opened.status_code == 200 and 'id="cited"' in opened.text
    assert guarded.get("/static/auth.js").headers["content-type"].startswith("text/javascript")


# --- the page in a browser, with a token -------------------------------------------------


def test_the_page_asks_for_the_token_once_and_sends_it(bundled, bundled_settings, embedder, browser):
    # The browser helpers of tests/test_page.py (pytest puts tests/ on the path).
    from test_page import VAN_SON, expect

    app = create_app(bundled_settings.model_copy(update={"api_token": SecretStr(READER_TOKEN)}), embedder)
    with serving(app) as base_url:
        page, prompts = page_answering(browser, base_url, READER_TOKEN)
        page.goto("/?" + urlencode({"q": VAN_SON}))
        expect(page.locator("#answer .answer-text")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('newsqa-token')") == READER_TOKEN
        # The article view is locked for a plain link; its script asks again with the token.
        page.locator("#citations > li").first.locator("h3 a").click()
        expect(page.locator("#cited")).to_be_focused()
        assert page.locator("#locked").count() == 0
        assert prompts == ["This archive needs an access token:"]  # once, for the whole tab
        page.context.close()

        page, prompts = page_answering(browser, base_url, "wrong")
        page.goto("/?" + urlencode({"q": VAN_SON}))
        expect(page.locator("#error")).to_contain_text(WRONG)
        assert page.evaluate("sessionStorage.getItem('newsqa-token')") is None
        page.context.close()


def page_answering(browser: Any, base_url: str, token: str) -> tuple[Any, list[str]]:
    """A page in a fresh context (its own sessionStorage) that answers every prompt with `token`."""
    page = browser.new_context(base_url=base_url).new_page()
    prompts: list[str] = []

    def answer(dialog: Any) -> None:
        prompts.append(dialog.message)
        dialog.accept(token)

    page.on("dialog", answer)
    return page, prompts


# --- headers, methods and redirects -------------------------------------------------------


def test_every_response_carries_the_security_headers(client, bundled):
    doc_id = next(iter(bundled.documents))
    pages = [client.get("/"), client.get(f"/read/{doc_id}"), client.get("/read/no-such-id")]
    data = [
        client.get("/health"),
        client.post("/ask", json=QUESTION),
        client.post("/ask", json={}),
        client.get("/static/app.js"),
        client.get("/no-such-route"),
    ]
    for response in pages + data:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    for response in pages:
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    for response in data:
        assert response.headers["content-security-policy"].startswith("default-src 'none';")


def test_head_and_options_are_answered_on_every_route(client):
    for path in ("/health", "/", "/static/app.js", "/search?q=coffee", "/metrics"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
        options = client.options(path)
        assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS"), path
    assert client.options("/ask").headers["allow"] == "OPTIONS, POST"
    assert client.head("/ask").status_code == 405
    assert client.options("/no-such-route").status_code == 404


def test_no_redirect_reflects_the_host_header(client):
    for path in ("/search/?q=a", "/health/", "/docs/"):
        response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
        assert response.status_code == 404, path
        assert "location" not in response.headers


def test_health_tells_a_probe_no_more_than_it_needs(client):
    index = client.get("/health").json()["index"]
    assert {"libraries", "sha256", "files", "segments"}.isdisjoint(index)
    assert index["skipped"] == {"count": 0}
    assert {"version", "counts", "model"} <= set(index)


def test_health_names_no_deleted_document(index_copy, embedder):
    """The version's manifest lists the ids deleted from each segment; /health answers anyone."""
    settings = load_settings(index_dir=index_copy, admin_token=SecretStr("health-token"))
    with TestClient(create_app(settings, embedder)) as client:
        deleted = client.delete(f"/documents/{COFFEE}", headers={"Authorization": "Bearer health-token"})
        assert deleted.status_code == 200, deleted.text
        health = client.get("/health")
    assert health.status_code == 200
    assert COFFEE in resolve(index_copy).joinpath(MANIFEST).read_text()  # what it would leak
    assert COFFEE not in health.text
    assert health.json()["index"]["counts"]["segments"] == 1


# --- stored script: the document URL ----------------------------------------------------------


HOSTILE_URLS = [
    "JaVaScRiPt:alert(sessionStorage.getItem('newsqa-token'))",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "https:/no-host",
    "file:///etc/passwd",
]


@pytest.fixture(scope="module")
def writable(tmp_path_factory, embedder: Any) -> Iterator[TestClient]:
    settings = load_settings(
        index_dir=tmp_path_factory.mktemp("writable") / "index", admin_token=SecretStr(ADMIN_TOKEN)
    )
    from indexer.build import build_documents
    from indexer.clean import Document

    seed = Document("seed", "Seed", "The seed article about coffee farms.", "en", "api")
    build_documents([seed], settings, embedder)
    with TestClient(create_app(settings, embedder)) as test_client:
        yield test_client


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_only_web_urls_are_stored(writable, url):
    article = {"id": "hostile", "text": "Coffee prices rose in the province.", "url": url}
    response = writable.post("/documents", json=article, headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "url: must be an absolute http or https URL"
    assert writable.get("/documents/hostile").status_code == 404


def test_a_web_url_is_stored_and_linked(writable):
    article = {"id": "fine", "text": "Coffee prices rose.", "url": "https://news.example/a?b=1&c=2"}
    assert writable.post("/documents", json=article, headers=bearer(ADMIN_TOKEN)).status_code == 201
    page = writable.get("/read/fine").text
    assert '<a href="https://news.example/a?b=1&amp;c=2" rel="noopener noreferrer">' in page


def test_an_old_index_with_a_script_url_renders_no_link(tmp_path, embedder):
    # Written before the field rules: the URL is shown as text, never as a link.
    from indexer.build import build_documents
    from indexer.clean import Document

    settings = load_settings(index_dir=tmp_path / "index")
    hostile = Document("old", "Old", "Coffee.", "en", "api", url="javascript:alert(1)")
    build_documents([hostile], settings, embedder)
    with TestClient(create_app(settings, embedder)) as test_client:
        page = test_client.get("/read/old").text
    assert "<dd>javascript:alert(1)</dd>" in page and 'href="javascript' not in page


def test_the_api_docs_are_served_from_installed_files(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "<script>" not in page.text
        assert "script-src 'self';" in page.headers["content-security-policy"]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        asset = client.get(f"/static/docs/{name}")
        assert asset.status_code == 200 and len(asset.content) > 100_000, name
    assert client.get("/static/docs/../api.py").status_code == 404


def test_the_docs_can_be_turned_off(bundled, bundled_settings, embedder):
    app = create_app(bundled_settings.model_copy(update={"docs": False}), embedder)
    with TestClient(app) as test_client:
        assert test_client.get("/docs").status_code == 404
        assert test_client.get("/redoc").status_code == 404
        assert test_client.get("/openapi.json").status_code == 200
