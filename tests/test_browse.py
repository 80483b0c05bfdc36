"""Browsing the archive: GET /documents lists documents newest first, a page at a time, with
filters and cursors that survive writes between pages; `newsqa list` prints the same list."""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import newsqa, serving
from test_page import DESKTOP, PHONE, assert_fits_width, open_page, screenshot

from indexer.clean import Document
from indexer.embed import Embedder
from indexer.settings import Settings, load_settings
from service.core.browse import Listing, decode_cursor, encode_cursor, sort_key
from service.core.errors import QueryError
from service.core.filters import Filters
from service.core.index import Index
from service.http.api import create_app

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip: conftest.py's browser fixture says what to install
    expect = None

TOKEN = "browse-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# (folder, id, date, language, site, text): three outlets, three languages, several days, two
# articles of one day (the tie goes to the smaller doc_id).
ARTICLES = [
    ("nrk", "no-kaffe", "2025-11-29", "no", "NRK", "Fylket vedtok en ny plan for kaffe i Son La."),
    ("nrk", "no-flom", "2025-11-03", "no", "NRK", "Flommen i Lang Son stengte veien i tre dager."),
    ("nrk", "no-vei", "2024-06-01", "no", "NRK", "Motorveien til Huu Nghi ble åpnet for trafikk."),
    ("vnx", "vi-lua", "2025-11-29", "vi", "VnExpress", "Cánh đồng lúa Mường Thanh được mùa năm nay."),
    ("vnx", "vi-soi", "2025-10-15", "vi", "VnExpress", "Tiệm sợi ở Lào Cai mở thêm cửa hàng mới."),
    ("wire", "en-market", "2025-12-01", "en", "Wire", "The coffee market in Son La opened a new hall."),
    ("wire", "en-roads", "2025-11-15", "en", "Wire", "The province paved forty kilometres of roads."),
    (
        "wire",
        "en-tea",
        "2023-01-20",
        "en",
        "Wire",
        "Farmers in Yen Chau harvested much tea.",
    ),
    ("wire", "en-rain", "2025-11-29", "en", "Wire", "Heavy rain flooded the lower town on Monday night."),
]
# Older briefs after them, enough to need a second page of Latest articles (20 a page).
BRIEFS = [
    ("briefs", f"en-brief-{day:02d}", f"2021-03-{day:02d}", "en", "Briefs", f"Market brief number {day}.")
    for day in range(1, 17)
]
NEWEST = [
    "en-market",
    "en-rain",
    "no-kaffe",
    "vi-lua",
    "en-roads",
    "no-flom",
    "vi-soi",
    "no-vei",
    "en-tea",
    *[f"en-brief-{day:02d}" for day in range(16, 0, -1)],
]


@pytest.fixture(scope="module")
def archive_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over an index of ARTICLES, one JSON Lines file per outlet's folder."""
    root = tmp_path_factory.mktemp("browse")
    for folder, doc_id, date, language, site, text in ARTICLES + BRIEFS:
        path = root / "articles" / folder / "feed.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"id": doc_id, "text": text, "date": date, "language": language, "site": site}
        with path.open("a", encoding="utf-8") as lines:
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
    return load_settings(index_dir=root / "index", admin_token=TOKEN, reload_interval=0)


@pytest.fixture(scope="module")
def archive(archive_settings: Settings, embedder: Embedder) -> Index:
    index, _ = Index.build([archive_settings.index_dir.parent / "articles"], archive_settings, embedder)
    return index


@pytest.fixture(scope="module")
def browse(archive: Index, archive_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    with TestClient(create_app(archive_settings, embedder)) as client:
        yield client


@pytest.fixture
def writable(
    archive: Index, archive_settings: Settings, embedder: Embedder, tmp_path: Path
) -> Iterator[TestClient]:
    """A client over a copy of the archive, to write to."""
    root = tmp_path / "index"
    shutil.copytree(archive_settings.index_dir, root, symlinks=True)
    settings = archive_settings.model_copy(update={"index_dir": root})
    with TestClient(create_app(settings, embedder)) as client:
        yield client


def listed(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/documents", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ids(page: dict[str, Any]) -> list[str]:
    return [item["doc_id"] for item in page["documents"]]


def walk(client: TestClient, limit: int, **params: Any) -> list[list[str]]:
    """Every page of the list, following `next_cursor` to the end."""
    pages, cursor = [], None
    while True:
        page = listed(client, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(ids(page))
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_documents_are_listed_newest_first_with_what_a_list_shows(browse, archive):
    page = listed(browse)
    # The days as stored, newest first; one day's articles by doc_id; 20 to a page by default.
    assert ids(page) == NEWEST[:20] and page["next_cursor"] is not None
    assert ids(listed(browse, limit=100)) == NEWEST
    first = page["documents"][0]
    stored = archive.document("en-market")
    assert first == {
        "doc_id": "en-market",
        "title": stored.title,
        "date": "2025-12-01",
        "date_source": first["date_source"],
        "language": "en",
        "source": stored.source,
        "site": "Wire",
        "url": None,
        "passages": 1,
    }
    assert first["date_source"] in (None, "metadata")  # a JSON Lines `date` is metadata
    assert all(item["passages"] == archive.passages_of(item["doc_id"]) >= 1 for item in page["documents"])


def test_pages_follow_the_cursor_with_none_lost_or_repeated(browse):
    whole = ids(listed(browse, limit=100))
    for limit in (1, 2, 4, 8, 9, 24):
        pages = walk(browse, limit)
        assert all(len(page) == limit for page in pages[:-1]) and 1 <= len(pages[-1]) <= limit
        assert [doc_id for page in pages for doc_id in page] == whole
    # A page that ends the list exactly says so: no empty page after it.
    assert walk(browse, 25) == [whole]


def test_a_page_continues_after_its_last_document_when_the_archive_changes_between_pages(writable):
    before = ids(listed(writable, limit=100))
    first = listed(writable, limit=4)
    assert ids(first) == before[:4]  # down to vi-lua, 2025-11-29
    newest = {"id": "en-newest", "text": "A ferry began crossing the Da river.", "date": "2026-01-05"}
    between = {
        "id": "en-between",
        "text": "A school opened in Dam Thuy.",
        "date": "2025-11-20",
    }
    for article in (newest, between):
        assert writable.post("/documents", json=article, headers=AUTH).status_code == 201
    assert writable.delete("/documents/no-vei", headers=AUTH).status_code == 200
    rest = []
    cursor = first["next_cursor"]
    while cursor:
        page = listed(writable, limit=2, cursor=cursor)
        rest += ids(page)
        cursor = page["next_cursor"]
    # Nothing shown is shown again, the article newer than the cursor is not slipped in, the
    # one after it takes its place by date, and the deleted one is gone.
    assert rest == ["en-between", "en-roads", "no-flom", "vi-soi", "en-tea", *NEWEST[9:]]
    assert ids(listed(writable, limit=2))[:1] == ["en-newest"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"language": "no"}, ["no-kaffe", "no-flom", "no-vei"]),
        ({"language": ["vi", "no"]}, ["no-kaffe", "vi-lua", "no-flom", "vi-soi", "no-vei"]),
        (
            {"date_from": "2025-11-03", "date_to": "2025-11-29"},
            ["en-rain", "no-kaffe", "vi-lua", "en-roads", "no-flom"],
        ),
        ({"date_from": "2025-11-30"}, ["en-market"]),
        ({"date_to": "2024-12-31", "source": "wire"}, ["en-tea"]),
        ({"date_to": "2024-12-31"}, ["no-vei", "en-tea", *NEWEST[9:]]),
        ({"source": "VNX"}, ["vi-lua", "vi-soi"]),  # the folder, in any case
        ({"source": "NRK", "date_from": "2025-01-01"}, ["no-kaffe", "no-flom"]),  # the site name
        ({"language": "en", "date_from": "2025-11-01", "date_to": "2025-11-30"}, ["en-rain", "en-roads"]),
        ({"language": "de"}, []),
        ({"doc_id": ["en-tea", "vi-lua", "nowhere"]}, ["vi-lua", "en-tea"]),
    ],
)
def test_filters_narrow_the_list_and_its_pages(browse, params, expected):
    assert ids(listed(browse, **params)) == expected
    pages = walk(browse, 1, **params)
    assert [doc_id for page in pages for doc_id in page] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"day": 1}').decode()}, "cursor"),
        ({"cursor": encode_cursor((0, "x")) + "x"}, "cursor"),
        ({"cursor": "x" * 5000}, "cursor"),
        ({"date_from": "29/11/2025"}, "date_from"),
        ({"date_to": "2025-13-01"}, "date_to"),
        ({"date_from": "2025-12-01", "date_to": "2025-11-01"}, "date_to"),
        ({"language": "x" * 100}, "language"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(browse, params, field):
    response = browse.get("/documents", params=params)
    assert response.status_code == 422, response.text
    assert re.match(rf"{field}(\.\d+)?: ", response.json()["detail"])  # language.0: the first value


def document(doc_id: str, date: str | None) -> Document:
    return Document(doc_id=doc_id, title=doc_id, text="text", language="en", source="x.txt", date=date)


class Segment:
    """What a Listing reads of a segment: its documents, and what it derives from them."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = {item.doc_id: item for item in documents}

    def derive(self, what: str, compute: Any) -> Any:
        return compute()


class Stored:
    """What a Listing reads of a StoredIndex: its segments with the documents deleted from
    each, and each live document's rows."""

    def __init__(self, *parts: list[Document], deleted: tuple[frozenset[str], ...] = ()) -> None:
        self.segments = [Segment(documents) for documents in parts]
        self.deleted = list(deleted) or [frozenset()] * len(parts)

    def parts(self) -> list[tuple[Segment, frozenset[str]]]:
        return list(zip(self.segments, self.deleted, strict=True))

    def document_rows(self, doc_id: str) -> tuple[int, int]:
        return (0, 1)


def test_undated_documents_come_last_and_match_no_date_range():
    dated = [document("c", "2025-01-02"), document("d", "2024-05-06")]
    listing = Listing(Stored([document("b", None), *dated, document("a", None)]))

    def page_ids(filters: Filters, **page: Any) -> list[str]:
        return [item.doc_id for item in listing.page(filters, **page).documents]

    assert page_ids(Filters()) == ["c", "d", "a", "b"]
    assert page_ids(Filters(date_to=datetime.date(2030, 1, 1))) == ["c", "d"]
    assert page_ids(Filters(date_from=datetime.date(2024, 5, 6))) == ["c", "d"]
    assert page_ids(Filters(date_from=datetime.date(2024, 5, 7))) == ["c"]
    # A cursor at an undated document continues among the undated ones.
    first = listing.page(Filters(), limit=3)
    assert decode_cursor(first.next_cursor) == sort_key(document("a", None))
    assert page_ids(Filters(), cursor=first.next_cursor) == ["b"]


def test_a_document_named_twice_by_the_filters_is_listed_once():
    nrk = Document(
        "a", "a", "text", "no", "feeds/nrk/a.txt", url="https://www.nrk.no/a", date="2025-02-01", site="NRK"
    )
    vg = Document("b", "b", "text", "no", "feeds/vg/b.txt", url="https://www.vg.no/b", date="2025-03-01")
    listing = Listing(Stored([nrk, vg, document("c", "2025-04-01")]))

    def page_ids(filters: Filters) -> list[str]:
        return [item.doc_id for item in listing.page(filters).documents]

    assert page_ids(Filters(sources=frozenset({"nrk", "nrk.no", "www.nrk.no", "vg"}))) == ["b", "a"]
    assert page_ids(Filters(doc_ids=frozenset({"a", "c", "zz"}), languages=frozenset({"no"}))) == ["a"]
    assert page_ids(Filters(languages=frozenset({"en", "no"}))) == ["c", "b", "a"]


def test_segments_are_merged_in_list_order_without_their_deleted_documents():
    old = [document("a", "2025-01-01"), document("b", "2025-03-01"), document("c", None)]
    new = [document("a", "2025-02-15"), document("d", "2025-02-01"), document("e", None)]
    listing = Listing(Stored(old, new, deleted=(frozenset({"a"}), frozenset())))
    first = listing.page(Filters(), limit=2)
    assert [(item.doc_id, item.date) for item in first.documents] == [
        ("b", "2025-03-01"),
        ("a", "2025-02-15"),
    ]
    rest = listing.page(Filters(), cursor=first.next_cursor)
    assert [item.doc_id for item in rest.documents] == ["d", "c", "e"] and rest.next_cursor is None
    january = Filters(date_from=datetime.date(2025, 1, 1), date_to=datetime.date(2025, 1, 31))
    assert listing.page(january).documents == []  # "a" of January is deleted: replaced by February's


def test_a_write_sorts_only_its_own_segment(writable):
    listed(writable)
    before = writable.app.state.index
    posted = {"id": "en-later", "text": "A bridge opened over the Da river.", "date": "2025-12-02"}
    assert writable.post("/documents", json=posted, headers=AUTH).status_code == 201
    after = writable.app.state.index
    assert after is not before and after.stored.segments[0] is before.stored.segments[0]
    after.stored.segments[0].derive("list order", lambda: pytest.fail("the shared segment was sorted again"))
    assert ids(listed(writable, limit=2)) == ["en-later", "en-market"]


def test_the_list_is_ordered_once_per_index_version(archive):
    listing = archive.listing
    assert archive.listing is listing
    assert [item.doc_id for item in listing.page(Filters(), limit=3).documents] == NEWEST[:3]
    with pytest.raises(QueryError, match=r"^limit: "):
        listing.page(Filters(), limit=0)


def test_list_prints_a_table_newest_first(archive, archive_settings):
    index_dir = str(archive_settings.index_dir)
    shown = newsqa("list", "--index-dir", index_dir, "--limit", "3", "--language", "no")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["DATE", "LANG", "PASSAGES", "ID", "TITLE"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["2025-11-29", "no", "1", "no-kaffe"],
        ["2025-11-03", "no", "1", "no-flom"],
        ["2024-06-01", "no", "1", "no-vei"],
    ]
    as_json = newsqa("list", "--index-dir", index_dir, "--limit", "2", "--date-from", "2025-11-29", "--json")
    assert as_json.returncode == 0, as_json.stderr
    page = json.loads(as_json.stdout)
    assert [item["doc_id"] for item in page["documents"]] == ["en-market", "en-rain"]
    assert page["next_cursor"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "Error: Invalid value for '--limit'"),
        (["--date-from", "yesterday"], "Error: Invalid value for --date-from: must be a day as YYYY-MM-DD"),
        (["--date-from", "2025-12-01", "--date-to", "2025-11-01"], "Error: Invalid value for --date-to: "),
        (["--language", "not a code"], "Error: Invalid value for --language: "),
        (["--cursor", "not a cursor"], "newsqa: error: cursor: not a cursor"),
    ],
)
def test_list_refuses_bad_values_in_one_line(archive_settings, archive, args, message):
    shown = newsqa("list", "--index-dir", str(archive_settings.index_dir), *args)
    assert shown.returncode == (1 if "--cursor" in args else 2)
    assert shown.stdout == ""
    assert message in shown.stderr and "Traceback" not in shown.stderr


# The page: Latest articles, the date on the article page, and the date and language controls,
# driven in headless Chromium against a real uvicorn server (as tests/test_page.py does).


@pytest.fixture(scope="module")
def archive_server(archive: Index, archive_settings: Settings, embedder: Embedder) -> Iterator[str]:
    with serving(create_app(archive_settings, embedder)) as base_url:
        yield base_url


def newest(base_url: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/documents", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["documents"]


def shown_links(page: Any) -> list[str | None]:
    return [link.get_attribute("href") for link in page.locator("#latest-list h2 a").all()]


def read_links(documents: list[dict[str, Any]]) -> list[str]:
    return [f"/read/{item['doc_id']}" for item in documents]


def test_latest_articles_are_newest_first_and_page_with_the_cursor(browser, archive_server):
    expected = newest(archive_server)
    with open_page(browser, archive_server, DESKTOP) as page:
        page.goto("/")
        page.get_by_role("link", name="Latest articles").click()
        items = page.locator("#latest-list > li")
        expect(items).to_have_count(20)
        assert page.url == f"{archive_server}/?view=latest"
        expect(page.locator("#intro")).to_be_hidden()
        expect(page.locator("#latest-scope")).to_have_text("Newest first")
        expect(page.locator("#status")).to_have_text("20 articles shown, more to come")
        first = items.first
        assert first.locator("h2 a").text_content() == expected[0]["title"]
        assert first.locator("time").get_attribute("datetime") == first.locator("time").text_content()
        assert first.locator(".lang").text_content() == "en"
        assert first.locator(".site").text_content() == "Wire"
        assert first.locator(".passages").text_content() == "1 passage"
        screenshot(page, "latest-desktop.png")

        with page.expect_request(lambda request: "cursor=" in request.url) as request:
            page.get_by_role("button", name="More articles").click()
        assert parse_qs(urlsplit(request.value.url).query)["limit"] == ["20"]
        expect(items).to_have_count(len(expected))
        expect(page.locator("#latest-more")).to_be_hidden()
        expect(page.locator("#status")).to_have_text(f"{len(expected)} articles shown")
        assert shown_links(page) == read_links(expected)
        assert page.locator("#latest-list time").all_text_contents() == [item["date"] for item in expected]

        # An article opened from the list shows its date, and leads back to the list.
        items.nth(2).locator("h2 a").click()
        page.wait_for_url("**/read/no-kaffe")
        facts = dict(
            zip(page.locator(".facts dt").all_text_contents(), page.locator(".facts dd").all(), strict=True)
        )
        assert facts["Date"].text_content() == "2025-11-29"
        assert facts["Date"].locator("time").get_attribute("datetime") == "2025-11-29"
        page.get_by_role("link", name="Latest articles").click()
        expect(items).to_have_count(20)


def test_latest_articles_follow_the_date_and_language_controls(browser, archive_server):
    with open_page(browser, archive_server, DESKTOP) as page:
        page.goto("/?" + urlencode({"view": "latest", "language": "vi", "from": "2025-11-01"}))
        expect(page.locator("#latest-list > li")).to_have_count(1)
        assert shown_links(page) == ["/read/vi-lua"]
        assert page.locator("#language").input_value() == "vi"
        assert page.locator("#date-from").input_value() == "2025-11-01"
        expect(page.locator("#latest-scope")).to_have_text("Newest first · from 2025-11-01 · in Vietnamese")

        page.select_option("#language", "no")
        expect(page.locator("#latest-list > li")).to_have_count(2)
        assert shown_links(page) == read_links(newest(archive_server, language="no", date_from="2025-11-01"))
        assert parse_qs(urlsplit(page.url).query) == {
            "view": ["latest"],
            "from": ["2025-11-01"],
            "language": ["no"],
        }
        page.fill("#date-to", "2025-11-10")
        expect(page.locator("#latest-list > li")).to_have_count(1)
        assert shown_links(page) == ["/read/no-flom"]
        assert parse_qs(urlsplit(page.url).query)["to"] == ["2025-11-10"]

        page.fill("#date-from", "2025-11-20")  # after `to`: the API's own message
        expect(page.locator("#error")).to_contain_text("date_to: must not be before date_from")
        page.fill("#date-from", "2030-01-01")
        page.fill("#date-to", "")
        expect(page.locator("#latest-empty")).to_be_visible()
        expect(page.locator("#latest-list > li")).to_have_count(0)

        page.go_back()  # the address held each choice
        expect(page.locator("#latest-list > li")).to_have_count(0)
        assert page.locator("#date-to").input_value() == "2025-11-10"


def test_a_search_sends_and_keeps_the_date_and_language_controls(browser, archive_server):
    question = "What did the province decide about coffee?"
    with open_page(browser, archive_server, DESKTOP) as page:
        page.goto("/")
        page.select_option("#language", "no")
        page.fill("#date-from", "2025-11-01")
        page.fill("#date-to", "2025-11-30")
        page.fill("#question", question)
        with page.expect_request("**/ask") as request:
            page.press("#question", "Enter")
        sent = {"date_from": "2025-11-01", "date_to": "2025-11-30", "language": ["no"]}
        assert request.value.post_data_json == {"question": question, "mode": "hybrid", "top_k": 5, **sent}
        cards = page.locator("#citations > li")
        expect(cards).to_have_count(2)  # the Norwegian articles of November 2025, no others
        assert cards.locator(".lang").all_text_contents() == ["no", "no"]
        assert sorted(cards.locator("time").all_text_contents()) == ["2025-11-03", "2025-11-29"]
        screenshot(page, "filtered-results-desktop.png")
        assert parse_qs(urlsplit(page.url).query) == {
            "q": [question],
            "from": ["2025-11-01"],
            "to": ["2025-11-30"],
            "language": ["no"],
        }

        # The address alone asks the same again, the controls set from it.
        with page.expect_request("**/ask") as again:
            page.goto(page.url)
        assert again.value.post_data_json == request.value.post_data_json
        assert page.locator("#language").input_value() == "no"
        assert page.locator("#date-from").input_value() == "2025-11-01"
        assert page.locator("#date-to").input_value() == "2025-11-30"
        expect(cards).to_have_count(2)

        # A changed control asks again, with it.
        with page.expect_request("**/ask") as changed:
            page.select_option("#language", "")
        assert "language" not in changed.value.post_data_json
        expect(cards).to_have_count(5)
        assert "language" not in parse_qs(urlsplit(page.url).query)


def test_latest_articles_fit_a_phone(browser, archive_server):
    with open_page(browser, archive_server, PHONE) as page:
        page.goto("/?view=latest")
        expect(page.locator("#latest-list > li")).to_have_count(20)
        assert_fits_width(page)
        screenshot(page, "latest-phone.png", full_page=False)


def test_an_article_dated_by_its_file_says_so(tmp_path, embedder, browser):
    """A file with no date in it or about it is dated by its modification day, and the list,
    the Latest articles view and the article page say that it is the file's date."""
    articles = tmp_path / "articles"
    articles.mkdir()
    path = articles / "undated.txt"
    path.write_text("Ferry crossing\n\nA ferry began crossing the Da river at Muong Lay.")
    changed = datetime.datetime(2025, 10, 5, 12, tzinfo=datetime.UTC).timestamp()
    os.utime(path, (changed, changed))
    settings = load_settings(index_dir=tmp_path / "index")
    Index.build([articles], settings, embedder)
    with serving(create_app(settings, embedder)) as base_url:
        (listed_item,) = newest(base_url)
        assert (listed_item["date"], listed_item["date_source"]) == ("2025-10-05", "file")
        article = httpx.get(f"{base_url}/read/{listed_item['doc_id']}")
        assert article.status_code == 200
        assert (
            '<dt>Date</dt><dd><time datetime="2025-10-05">2025-10-05</time> '
            '<span class="hint">(the file\'s date: no publication date was found)</span></dd>'
        ) in article.text
        with open_page(browser, base_url, DESKTOP) as page:
            page.goto("/?view=latest")
            expect(page.locator("#latest-list .date-file")).to_have_text("2025-10-05 (file date)")
            page.locator("#latest-list h2 a").click()
            note = "(the file's date: no publication date was found)"
            expect(page.locator(".facts .hint")).to_have_text(note)
