"""The search page and article view, driven in headless Chromium against a real uvicorn server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from helpers import serving

from indexer.settings import load_settings
from service.http.api import create_app

try:
    from playwright.sync_api import Error as PlaywrightError  # conftest.py's browser fixture uses it
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # the browser tests skip, saying what to install
    sync_playwright = None
    PlaywrightError = Exception

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium stalls on refused connections offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

VAN_SON = "What was Van Son ward instructed to concentrate on?"
OFF_TOPIC = "What is the boiling point of mercury?"


@pytest.fixture(scope="session")
def live_server(bundled, bundled_settings, embedder) -> Iterator[str]:
    with serving(create_app(bundled_settings, embedder)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory, embedder) -> Iterator[str]:
    """A server with no index at all: every API route answers 503."""
    settings = load_settings(index_dir=tmp_path_factory.mktemp("no-index") / "index")
    with serving(create_app(settings, embedder)) as base_url:
        yield base_url


@contextmanager
def open_page(browser: Any, base_url: str, viewport: dict[str, int]) -> Iterator[Page]:
    """A fresh page that records dialogs (an executed alert would open one), script errors and
    anything the Content-Security-Policy refused: every page must work under the policy."""
    context = browser.new_context(base_url=base_url, viewport=viewport)
    page = context.new_page()
    page.dialogs = []
    page.errors = []
    page.refused = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            page.refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield page
        assert page.errors == [], f"script errors on the page: {page.errors}"
        assert page.refused == [], f"the Content-Security-Policy refused: {page.refused}"
    finally:
        context.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    with open_page(browser, live_server, DESKTOP) as desktop_page:
        yield desktop_page


@pytest.fixture
def phone(browser, live_server) -> Iterator[Page]:
    with open_page(browser, live_server, PHONE) as phone_page:
        yield phone_page


def api_ask(base_url: str, question: str, mode: str = "hybrid") -> dict[str, Any]:
    response = httpx.post(f"{base_url}/ask", json={"question": question, "mode": mode, "top_k": 5})
    assert response.status_code == 200, response.text
    return response.json()


def api_document(base_url: str, doc_id: str) -> dict[str, Any]:
    return httpx.get(f"{base_url}/documents/{doc_id}").json()


def ask_in_page(page: Page, question: str) -> None:
    page.goto("/")
    page.fill("#question", question)
    page.press("#question", "Enter")


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def paragraphs(text: str) -> list[str]:
    """What a highlight marks: each paragraph gets its own <mark>, the line breaks none."""
    return [piece for piece in re.split(r"\n+", text) if piece]


def assert_fits_width(page: Page) -> None:
    """Nothing sticks out sideways: no horizontal scrolling at this viewport width."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px viewport"


def assert_citations_match(page: Page, base_url: str, citations: list[dict[str, Any]]) -> None:
    """Each card marks exactly the API's cited text, inside real context from its document."""
    cards = page.locator("#citations > li")
    expect(cards).to_have_count(len(citations))
    for card, citation in zip(cards.all(), citations, strict=True):
        document = api_document(base_url, citation["doc_id"])
        cited = card.locator(".cited")
        assert cited.text_content() == citation["text"]
        assert cited.locator("mark").all_text_contents() == paragraphs(citation["text"])
        assert card.locator("h3 a").text_content() == citation["title"]
        assert card.locator(".rank").text_content() == str(citation["rank"])
        assert card.locator(".lang").text_content() == document["language"]
        assert card.locator(".score").text_content() == f"score {citation['score']:.3f}"
        before = card.locator(".context").first.text_content()
        assert document["text"][: citation["start"]].endswith(before.removeprefix("…"))
        assert (before != "") == (citation["start"] > 0)


def test_question_shows_answer_card_and_highlighted_citations(page, live_server):
    expected = api_ask(live_server, VAN_SON)
    assert expected["abstained"] is False
    ask_in_page(page, VAN_SON)

    answer = page.locator("#answer .answer-text")
    expect(answer).to_be_visible()
    assert answer.text_content() == expected["answer"]["text"] == "industrial clusters"
    sentence = expected["answer"]["sentence"]
    assert page.locator("#answer .answer-sentence").text_content() == sentence["text"]
    assert page.locator("#answer .answer-span").text_content() == "industrial clusters"
    assert "instructed to concentrate on developing industrial clusters" in sentence["text"]
    source = page.locator("#answer .source-link")
    assert source.text_content() == api_document(live_server, expected["answer"]["doc_id"])["title"]
    assert f"start={sentence['start']}&end={sentence['end']}" in source.get_attribute("href")
    assert page.locator("#asked").text_content() == VAN_SON
    expect(page.locator("#citations-heading")).to_have_text("Sources")
    assert_citations_match(page, live_server, expected["citations"])
    # The answer's sentence is picked out within the mark of the passage that holds it.
    answer_span = expected["answer"]["sentence"]
    (holder,) = [
        rank
        for rank, citation in enumerate(expected["citations"])
        if citation["doc_id"] == expected["answer"]["doc_id"]
        and citation["start"] <= answer_span["start"] < answer_span["end"] <= citation["end"]
    ][:1]
    marked = page.locator("#citations > li").nth(holder).locator(".answer-in-span")
    assert marked.text_content() == answer_span["text"]
    expect(page.locator("#intro")).to_be_hidden()
    assert page.url.endswith("/?" + urlencode({"q": VAN_SON}))
    passages = httpx.get(f"{live_server}/health").json()["passages"]
    expect(page.locator("#archive-info")).to_have_text(f"5 articles · {passages} passages")
    assert_fits_width(page)
    screenshot(page, "results-desktop.png")


def test_an_answer_from_a_norwegian_article_says_its_language_and_shows_the_gloss_apart(page, live_server):
    question = "What share of cases the communes' public administrative service centres handled were settled?"
    expected = api_ask(live_server, question)["answer"]
    assert expected["language"] == "no" and expected["text"] == "95 %"
    ask_in_page(page, question)
    expect(page.locator("#answer .answer-text")).to_have_text("95 %")
    assert page.locator("#answer .answer-sentence").get_attribute("lang") == "no"
    assert page.locator("#answer .source .lang").text_content() == "no"
    gloss = page.locator("#answer .gloss")
    if expected["gloss"] is None:  # no dictionary installed
        expect(gloss).to_have_count(0)
    else:  # beside the cited sentence, never in it, and said to be a gloss
        expect(gloss).to_have_text(f"Word-by-word gloss from Norwegian: {expected['gloss']}")
        assert gloss.get_attribute("lang") == "en"
        assert page.locator("#answer .answer-sentence").text_content() == expected["sentence"]["text"]


def test_citation_opens_article_with_span_marked_and_in_view(page, live_server):
    citation = api_ask(live_server, VAN_SON)["citations"][0]
    document = api_document(live_server, citation["doc_id"])
    assert citation["start"] > 2000, "pick a passage far enough down to need scrolling"
    ask_in_page(page, VAN_SON)
    page.locator("#citations > li").first.locator("h3 a").click()

    page.wait_for_url(f"**/read/{citation['doc_id']}?*")
    cited = page.locator("#cited")
    expect(cited).to_be_in_viewport()
    expect(cited).to_be_focused()
    assert page.evaluate("window.scrollY") > 0
    span = document["text"][citation["start"] : citation["end"]]
    assert cited.text_content() == span
    assert cited.locator("mark").all_text_contents() == paragraphs(span)
    assert page.locator(".article-text mark").count() == len(paragraphs(span))
    assert page.locator(".article-text").text_content() == document["text"]
    assert page.locator("h1").text_content() == document["title"]
    assert page.title() == f"{document['title']} — newsqa"
    facts = dict(
        zip(page.locator(".facts dt").all_text_contents(), page.locator(".facts dd").all(), strict=True)
    )
    assert facts["Language"].text_content() == document["language"]
    assert facts["Document"].text_content() == document["doc_id"]
    assert_fits_width(page)
    screenshot(page, "article-desktop.png", full_page=False)  # as scrolled, the span in view
    screenshot(page, "article-desktop-full.png")

    page.get_by_role("link", name="← Back to results").click()
    expect(page.locator("#answer .answer-text")).to_be_visible()
    assert page.locator("#question").input_value() == VAN_SON


def test_article_view_shows_source_url(page, live_server):
    document = api_document(live_server, "002_2e08b7f49c7a1252")
    page.goto("/read/002_2e08b7f49c7a1252?start=0&end=20")
    link = page.locator(".facts a")
    assert link.text_content() == link.get_attribute("href") == document["url"]
    assert page.locator(".facts dd").first.text_content() == "no"
    assert page.locator("#cited mark").all_text_contents() == [document["text"][0:20]]


def test_abstention_is_plain_and_offers_closest_passages(page, live_server):
    expected = api_ask(live_server, OFF_TOPIC)
    assert expected["abstained"] is True and expected["answer"] is None
    ask_in_page(page, OFF_TOPIC)

    expect(page.locator("#answer .abstained h2")).to_have_text("The archive does not answer this")
    expect(page.locator("#answer .answer-text")).to_have_count(0)
    expect(page.locator("#citations-heading")).to_have_text("Closest passages")
    assert_citations_match(page, live_server, expected["citations"])
    screenshot(page, "abstained-desktop.png")


@pytest.mark.parametrize("question", ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">'])
def test_markup_in_a_question_is_shown_as_text(page, live_server, question):
    ask_in_page(page, question)
    expect(page.locator("#results")).to_be_visible()
    assert page.locator("#asked").text_content() == question
    assert page.locator("#results script, #results img").count() == 0

    page.goto("/?" + urlencode({"q": question}))
    expect(page.locator("#asked")).to_have_text(question)
    assert page.locator("#results script, #results img").count() == 0
    page.wait_for_timeout(200)  # an injected onerror handler would have fired by now
    assert page.dialogs == []


def test_question_in_the_address_is_asked_on_load(page, live_server):
    question = "How many communes in Son La met the new rural standards?"
    expected = api_ask(live_server, question, mode="lexical")
    with page.expect_request("**/ask") as request:
        page.goto("/?" + urlencode({"q": question, "mode": "lexical"}))
    assert request.value.post_data_json == {"question": question, "mode": "lexical", "top_k": 5}
    expect(page.locator("#answer .answer-text")).to_have_text(expected["answer"]["text"])
    assert page.locator("#question").input_value() == question
    expect(page.locator("#mode-lexical")).to_be_checked()


def test_empty_question_gets_a_message_and_no_request(page):
    page.goto("/")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/ask") else None)
    for blank in ["", "   "]:
        page.fill("#question", blank)
        page.press("#question", "Enter")
        expect(page.locator("#error")).to_be_visible()
        expect(page.locator("#error .error-title")).to_have_text("Type a question first.")
    expect(page.locator("#results")).to_be_hidden()
    assert asked == []


def test_mode_switch_changes_the_request_mode(page, live_server):
    ask_in_page(page, VAN_SON)
    expect(page.locator("#answer .answer-text")).to_be_visible()
    for mode in ["dense", "hybrid", "lexical"]:
        expected = api_ask(live_server, VAN_SON, mode=mode)
        with page.expect_request("**/ask") as request:
            page.click(f"label[for=mode-{mode}]")
        assert request.value.post_data_json["mode"] == mode
        expect(page.locator("#status")).to_contain_text(f"5 passages · {mode} · ")
        first_score = page.locator("#citations > li .score").first
        expect(first_score).to_have_text(f"score {expected['citations'][0]['score']:.3f}")
    page.fill("#question", OFF_TOPIC)  # the chosen mode holds for the next question
    with page.expect_request("**/ask") as request:
        page.press("#question", "Enter")
    assert request.value.post_data_json == {"question": OFF_TOPIC, "mode": "lexical", "top_k": 5}


def test_api_errors_are_shown_with_their_detail(page):
    page.goto("/?" + urlencode({"q": "x" * 1001}))
    expect(page.locator("#error .error-title")).to_have_text("The service could not take this question.")
    expect(page.locator("#error")).to_contain_text("question: String should have at most 1000 characters")
    expect(page.locator("#results")).to_be_hidden()


def test_service_without_index_says_so(browser, empty_server):
    detail = httpx.post(f"{empty_server}/ask", json={"question": VAN_SON}).json()["detail"]
    assert "no index" in detail
    with open_page(browser, empty_server, DESKTOP) as page:
        page.goto("/")
        page.fill("#question", VAN_SON)
        page.press("#question", "Enter")
        expect(page.locator("#error .error-title")).to_have_text("The search service is unavailable.")
        expect(page.locator("#error p").nth(1)).to_have_text(detail)
        expect(page.locator("#archive-info")).to_have_text("No archive loaded")
        response = page.goto("/read/000_1bc991a037106c5e")
        assert response.status == 503
        expect(page.locator("h1")).to_have_text("The archive is not loaded")


def test_results_and_article_fit_a_phone(phone, live_server):
    phone.goto("/?" + urlencode({"q": VAN_SON}))
    expect(phone.locator("#answer .answer-text")).to_be_visible()
    expect(phone.locator("#citations > li")).to_have_count(5)
    assert_fits_width(phone)
    screenshot(phone, "results-phone.png")

    phone.locator("#citations > li").nth(1).locator("h3 a").click()
    expect(phone.locator("#cited")).to_be_in_viewport()
    assert_fits_width(phone)
    screenshot(phone, "article-phone.png", full_page=False)


def test_unknown_article_is_a_readable_404(live_server):
    response = httpx.get(f"{live_server}/read/<script>alert(1)</script>")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Article not found</h1>" in response.text
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in response.text
    assert "<script>alert" not in response.text


@pytest.mark.parametrize("offsets", ["start=20&end=10", "start=0&end=999999", "start=a&end=b"])
def test_article_with_bad_offsets_is_shown_unmarked(live_server, offsets):
    response = httpx.get(f"{live_server}/read/000_1bc991a037106c5e?{offsets}")
    assert response.status_code == 200
    assert "<mark" not in response.text
    assert "The cited passage is not within this article" in response.text


def test_pages_stay_out_of_the_api_schema_and_assets_revalidate(live_server):
    paths = set(httpx.get(f"{live_server}/openapi.json").json()["paths"])
    reads = {"/ask", "/search", "/documents/{doc_id}", "/health"}
    assert paths == reads | {"/documents", "/documents/batch", "/admin/reload"}
    page = httpx.get(f"{live_server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/static/app.js"' in page.text and "http" not in page.text.split("<body>")[0]
    css = httpx.get(f"{live_server}/static/app.css")
    assert css.headers["content-type"].startswith("text/css")
    again = httpx.get(f"{live_server}/static/app.css", headers={"if-none-match": css.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(f"{live_server}/static/page.html").status_code == 404


def test_the_policy_is_enforced_in_the_browser(page, live_server):
    """The page runs under its Content-Security-Policy, and the policy bites: an inline script
    added to the page is refused (and reported), not run."""
    page.goto("/?" + urlencode({"q": VAN_SON}))
    expect(page.locator("#answer .answer-text")).to_be_visible()
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.ran") is None
    assert any("inline script" in refused for refused in page.refused)
    page.refused.clear()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_render_offline(browser, live_server, path):
    with open_page(browser, live_server, DESKTOP) as page:
        outside: list[str] = []

        def only_loopback(route: Any) -> None:
            if route.request.url.startswith(live_server):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_loopback)
        page.goto(path)
        if path == "/docs":
            expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible(timeout=20_000)
            expect(page.locator(".swagger-ui")).to_contain_text("/ask")
        else:
            expect(page.locator("redoc h1").first).to_contain_text("newsqa", timeout=20_000)
            expect(page.locator("redoc")).to_contain_text("/documents/batch")
        screenshot(page, f"api{path.replace('/', '-')}.png", full_page=False)
        assert outside == []
        # ReDoc always asks for Redocly's logo from its CDN: the policy refuses it, and ReDoc
        # hides the image. That refusal is the policy working; nothing else may be refused.
        page.refused = [text for text in page.refused if "cdn.redoc.ly/redoc/logo-mini.svg" not in text]
