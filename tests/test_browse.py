"""Browsing the archive: GET /documents lists documents newest first, a page at a time, with
filters and cursors that survive writes between pages; `newsqa list` prints the same list."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import newsqa

from indexer.clean import Document
from indexer.embed import Embedder
from indexer.settings import Settings, load_settings
from service.core.browse import decode_cursor, encode_cursor, sort_key
from service.core.errors import QueryError
from service.core.filters import Filters
from service.core.index import Index
from service.http.api import create_app

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


@pytest.fixture(scope="module")
def archive_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over an index of ARTICLES, one JSON Lines file per outlet's folder."""
    root = tmp_path_factory.mktemp("browse")
    for folder, doc_id, date, language, site, text in ARTICLES:
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
    assert page["next_cursor"] is None
    # The days as stored, newest first; one day's articles by doc_id.
    assert ids(page) == [
        "en-market",
        "en-rain",
        "no-kaffe",
        "vi-lua",
        "en-roads",
        "no-flom",
        "vi-soi",
        "no-vei",
        "en-tea",
    ]
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
    for limit in (1, 2, 4, 8, 9):
        pages = walk(browse, limit)
        assert all(len(page) == limit for page in pages[:-1]) and 1 <= len(pages[-1]) <= limit
        assert [doc_id for page in pages for doc_id in page] == whole
    # A page that ends the list exactly says so: no empty page after it.
    assert walk(browse, 9) == [whole]


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
    assert rest == ["en-between", "en-roads", "no-flom", "vi-soi", "en-tea"]
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
        ({"date_to": "2024-12-31"}, ["no-vei", "en-tea"]),
        ({"source": "VNX"}, ["vi-lua", "vi-soi"]),  # the folder, in any case
        ({"source": "NRK", "date_from": "2025-01-01"}, ["no-kaffe", "no-flom"]),  # the site name
        ({"language": "en", "date_from": "2025-11-01", "date_to": "2025-11-30"}, ["en-rain", "en-roads"]),
        ({"language": "de"}, []),
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
    ],
)
def test_bad_parameters_are_refused_naming_the_field(browse, params, field):
    response = browse.get("/documents", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}:")


def document(doc_id: str, date: str | None) -> Document:
    return Document(doc_id=doc_id, title=doc_id, text="text", language="en", source="x.txt", date=date)


def test_undated_documents_come_last_in_doc_id_order():
    documents = [
        document("b", None),
        document("c", "2025-01-02"),
        document("a", None),
        document("d", "2024-05-06"),
    ]
    ordered = sorted(documents, key=sort_key)
    assert [item.doc_id for item in ordered] == ["c", "d", "a", "b"]
    # A cursor at an undated document continues among the undated ones.
    assert decode_cursor(encode_cursor(sort_key(ordered[2]))) == sort_key(ordered[2])


def test_a_date_range_leaves_out_undated_documents(archive):
    listing = archive.listing
    assert archive.listing is listing  # ordered once per index version
    assert [item.doc_id for item in listing.page(Filters(), limit=3).documents] == [
        "en-market",
        "en-rain",
        "no-kaffe",
    ]
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
        (["--date-from", "yesterday"], "Error: Invalid value for '--date-from'"),
        (
            ["--date-from", "2025-12-01", "--date-to", "2025-11-01"],
            "Error: Invalid value for --date-to: is before --date-from",
        ),
    ],
)
def test_list_refuses_bad_values_in_one_line(archive_settings, archive, args, message):
    shown = newsqa("list", "--index-dir", str(archive_settings.index_dir), *args)
    assert shown.returncode == 2
    assert shown.stdout == ""
    assert message in shown.stderr and "Traceback" not in shown.stderr
