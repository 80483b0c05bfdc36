"""Stored script: hostile payloads through every field and every way in, rendered in a real browser.

Each payload class goes into the archive through files (.txt, .md, .html), JSON Lines and the
API, in every field a way in takes (id, title, text, url, date, language; a date is stored as its
ISO day, or refused by the API when it is none). Whatever is stored
must show as text on the search page and the article view: no dialog opens, no injected handler
runs, nothing the Content-Security-Policy has to refuse, and what is refused never gets stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from helpers import serving
from pydantic import SecretStr

from indexer.settings import Settings, load_settings
from service.core.index import Index
from service.http.api import create_app

TOKEN = "stored-script-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Each class of payload, with a marker word so a search finds the article that carries it.
# A payload that ran would open a dialog (alert) or set `window.pwned`.
PAYLOADS = {
    "tag": "<script>alert('tag')</script>",
    "handler": "<img src=x onerror=\"window.pwned=1;alert('handler')\">",
    "svg": "<svg/onload=alert('svg')>",
    "breakout": "\"'><script>alert('breakout')</script>",
    "attribute": "' onmouseover='window.pwned=1' x='",
    "close-script": "</script><script>alert('close')</script>",
    "template": "${main} $title {{7*7}} <%= 7*7 %>",
    "iframe": "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "entity": "&lt;script&gt;alert('entity')&lt;/script&gt;",
    "unicode": "\u202eevil\u2028<script>alert('unicode')</script>",
}
# Refused at the door wherever they come in: only http(s) URLs are stored.
SCRIPT_URLS = [
    "JaVaScRiPt:alert('url')",
    "data:text/html,<script>alert('url')</script>",
    " javascript:alert(1)",
]


def article_text(kind: str, payload: str) -> str:
    return f"Zebrafish{kind.replace('-', '')} report. The payload {payload} was filed by the desk."


def write_files(folder: Path) -> None:
    """The payloads through files: plain text, Markdown, HTML and JSON Lines."""
    lines = []
    for kind, payload in PAYLOADS.items():
        text = article_text(kind, payload)
        (folder / f"txt-{kind}.txt").write_text(f"{payload}\n\n{text}")
        (folder / f"md-{kind}.md").write_text(f"# {payload}\n\n{text} [link](javascript:alert('md'))\n")
        (folder / f"html-{kind}.html").write_text(
            f"<html><head><title>{payload}</title></head><body><article><h1>{payload}</h1>"
            f"<p>{text}</p><p onclick=\"alert('p')\">{text}</p><script>alert('page')</script>"
            "</article></body></html>"
        )
        lines.append({"id": f"jsonl-{kind}", "title": payload, "text": text, "date": payload})
        lines.append({"id": f"jsonl-url-{kind}", "text": text, "url": f"https://news.example/{payload}"})
    for number, url in enumerate(SCRIPT_URLS):
        lines.append({"id": f"jsonl-script-url-{number}", "text": "Script URL.", "url": url})
    lines.append({"id": "jsonl-language", "text": "Language.", "language": "<script>alert(1)</script>"})
    (folder / "feed.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[tuple[str, Index]]:
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "articles"
    folder.mkdir()
    write_files(folder)
    settings: Settings = load_settings(index_dir=root / "index", admin_token=SecretStr(TOKEN))
    index, report = Index.build([folder], settings, embedder)
    kinds = sorted(skip.kind for skip in report.skipped)
    assert kinds == ["field language"] + ["field url"] * len(SCRIPT_URLS), report.skipped
    with serving(create_app(settings, embedder)) as base_url:
        for kind, payload in PAYLOADS.items():  # and through the API, every field
            text = article_text(kind, payload)
            for article in (
                {"id": f"api-{kind}", "title": payload, "text": text},
                {"id": f"api-url-{kind}", "text": text, "url": f"https://news.example/{payload}"},
            ):
                response = httpx.post(f"{base_url}/documents", json=article, headers=AUTH, timeout=60)
                assert response.status_code == 201, response.text
        yield base_url, index


def test_script_urls_and_bad_fields_are_refused_at_every_door(hostile_server):
    base_url, index = hostile_server
    assert not any(doc_id.startswith("jsonl-script-url") for doc_id in index.documents)
    assert "jsonl-language" not in index.documents
    for url in SCRIPT_URLS:
        article = {"id": "api-script-url", "text": "Script URL.", "url": url}
        response = httpx.post(f"{base_url}/documents", json=article, headers=AUTH)
        assert response.status_code == 422, url
    for field, value in [
        ("id", "<script>"),
        ("language", "<script>"),
        ("title", "a\nb"),
        ("date", "<script>"),
    ]:
        article = {"id": "api-bad", "text": "Bad field.", field: value}
        response = httpx.post(f"{base_url}/documents", json=article, headers=AUTH)
        assert response.status_code == 422 and response.json()["detail"].startswith(f"{field}:"), field


def test_no_stored_payload_runs_on_the_page_or_the_article_view(browser, hostile_server):
    from test_page import DESKTOP, expect, open_page

    base_url, _ = hostile_server
    documents = httpx.get(f"{base_url}/health").json()["documents"]
    assert documents == 5 * len(PAYLOADS) + 2 * len(PAYLOADS)  # txt, md, html, 2 JSON Lines; 2 API
    with open_page(browser, base_url, DESKTOP) as page:
        for kind, payload in PAYLOADS.items():
            marker = f"Zebrafish{kind.replace('-', '')}"
            page.goto("/?" + urlencode({"q": f"{marker} report", "mode": "lexical"}))
            expect(page.locator("#citations > li").first).to_be_visible()
            cards = page.locator("#citations").text_content() or ""
            assert marker in cards
            for doc_id in (f"api-{kind}", f"api-url-{kind}", f"jsonl-{kind}", f"txt-{kind}", f"html-{kind}"):
                page.goto(f"/read/{quote(doc_id)}?start=0&end=20")
                expect(page.locator(".article-text")).to_contain_text(marker)
                page.locator(".article-text").hover()
            # Shown as text, where it was stored as text: the title of an API article.
            page.goto(f"/read/api-{kind}")
            assert page.locator("h1").text_content() == " ".join(payload.split())
            link = page.locator(".facts a")
            page.goto(f"/read/api-url-{kind}")
            assert link.get_attribute("href") == f"https://news.example/{payload}"
        page.wait_for_timeout(300)  # an injected handler would have fired by now
        assert page.dialogs == []
        assert page.evaluate("window.pwned") is None
