"""Dates: normalising a written date, a document's publication day and where it came from, the
date expressions of a text with exact offsets, and their way through a build, a merge and the API."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import rerecord, segment_folder

from indexer.build import append_documents, build_index
from indexer.check import check_index
from indexer.clean import clean
from indexer.dates import mentions, normalise, publication_date, url_date
from indexer.embed import Embedder
from indexer.merge import commit_merge, write_merged
from indexer.segments import PASSAGES
from indexer.settings import load_settings
from indexer.sources import RawArticle
from indexer.store import load_index, writer_lock
from service.http.api import create_app

REFERENCE = datetime.date(2025, 11, 30)


@pytest.mark.parametrize(
    ("value", "language", "day"),
    [
        ("2025-11-29T08:30:00+07:00", None, "2025-11-29"),  # the day as written, not UTC's
        ("2025-11-29", "vi", "2025-11-29"),
        ("Sat, 29 Nov 2025 01:30:00 GMT", None, "2025-11-29"),
        ("November 29, 2025", "en", "2025-11-29"),
        ("29. november 2025", "no", "2025-11-29"),
        ("lørdag 29. nov. 2025", "no", "2025-11-29"),
        ("ngày 29/11/2025", "vi", "2025-11-29"),
        ("29 tháng 11 năm 2025", "vi", "2025-11-29"),
        ("29/11/2025", None, "2025-11-29"),
        ("11/12/2025", "no", "2025-12-11"),  # day first, as Norwegian writes it
        ("11/12/2025", "vi", "2025-12-11"),
        ("11/12/2025", "en", "2025-11-12"),
    ],
)
def test_a_written_date_is_normalised_to_its_iso_day(value, language, day):
    assert normalise(value, language) == day


@pytest.mark.parametrize(
    "value", ["may", "now", "yesterday", "2,000", "15%", "2025", "November 2025", "soon"]
)
def test_what_names_no_day_is_no_date(value):
    assert normalise(value, "en") is None


def expressions(
    text: str, language: str, reference: datetime.date | None = REFERENCE
) -> list[tuple[str, str]]:
    found = mentions(text, language, reference)
    assert all(start < end for start, end, _ in found)
    return [(text[start:end], day) for start, end, day in found]


def test_english_date_expressions_are_found_with_exact_offsets():
    text = (
        "On November 29, the board met. On June 6, 2022, it issued Resolution No. 22-NQ/TU. "
        "It may rain now; 2,000 people, 15% of them, 2021-2025. Nov. 3 too, and 29th November 2025."
    )
    assert expressions(text, "en") == [
        ("November 29", "2025-11-29"),
        ("June 6, 2022", "2022-06-06"),
        ("Nov. 3", "2025-11-03"),
        ("29th November 2025", "2025-11-29"),
    ]


def test_norwegian_date_expressions_are_found():
    text = (
        "Den 29. november jobbet gruppen (beslutning nr. 58 datert 20. november 2025). "
        "Møtet 1.12.2024 og 14. oktober 2025; 4-12-1031 og 3,5 mill."
    )
    assert expressions(text, "no") == [
        ("29. november", "2025-11-29"),
        ("20. november 2025", "2025-11-20"),
        ("1.12.2024", "2024-12-01"),
        ("14. oktober 2025", "2025-10-14"),
    ]


def test_vietnamese_date_expressions_are_found():
    text = (
        "Ngày 8/10/2025, nông dân thu hoạch. Mưa từ ngày 6 đến ngày 9/10. Ngày 29 tháng 11 năm 2025, "
        "hội nghị 23/11; đường dây 500/50 kV, 11.640 ha, tháng 11/2025, niên vụ 2025–2026."
    )
    assert expressions(text, "vi") == [
        ("8/10/2025", "2025-10-08"),
        ("9/10", "2025-10-09"),
        ("29 tháng 11 năm 2025", "2025-11-29"),
        ("23/11", "2025-11-23"),
    ]


def test_a_day_without_a_year_takes_the_year_nearest_the_publication_day():
    text = "The fair opens on December 5, closed on November 2 and opens again on January 20."
    assert expressions(text, "en") == [
        ("December 5", "2025-12-05"),  # a coming day, five days after the article
        ("November 2", "2025-11-02"),
        ("January 20", "2026-01-20"),
    ]
    new_year = datetime.date(2026, 1, 2)
    assert expressions("Sales rose on December 29.", "en", new_year) == [("December 29", "2025-12-29")]
    assert expressions(text, "en", reference=None) == []  # no year to put it in


def test_url_dates_are_read_from_the_path():
    assert url_date("https://nrk.no/nyheter/2025/11/29/flom-i-lang-son") == "2025-11-29"
    assert url_date("https://baomoi.vn/tin-20251129-lu-lut.html") == "2025-11-29"
    assert url_date("https://example.org/articles/123456789") is None
    assert url_date("https://example.org/2025/13/45/") is None


def test_the_publication_date_comes_from_metadata_then_url_then_text_then_file():
    text = "Ngày 27/11/2025, UBND tỉnh Nghệ An tổ chức hội nghị."
    url = "https://example.vn/2025/11/28/giam-ngheo"
    fallback = ("2026-12-01", "file")
    assert publication_date(text, "vi", metadata="29/11/2025", urls=(url,), fallback=fallback) == (
        "2025-11-29",
        "metadata",
    )
    assert publication_date(text, "vi", metadata="soon", urls=(None, url), fallback=fallback) == (
        "2025-11-28",
        "url",
    )
    assert publication_date(text, "vi", urls=("https://example.vn/giam-ngheo",), fallback=fallback) == (
        "2025-11-27",
        "text",
    )
    assert publication_date("Tỉnh Nghệ An tổ chức hội nghị.", "vi", fallback=fallback) == fallback
    assert publication_date("Tỉnh Nghệ An tổ chức hội nghị.", "vi") is None


def test_a_date_further_down_is_no_dateline():
    text = "The province met. " * 30 + "On June 6, 2022, it issued a resolution."
    assert publication_date(text, "en") is None


def write_articles(folder: Path) -> None:
    """Articles dated each way, and an old file modification time for those with no date."""
    folder.mkdir()
    (folder / "feed.jsonl").write_text(
        json.dumps(
            {
                "id": "meta",
                "text": "Farmers in Mai Son picked coffee.",
                "date": "29. november 2025",
                "language": "no",
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "bad-date",
                "text": "Farmers in Son La sold tea on November 3.",
                "date": "soon",
                "url": "https://example.org/2025/11/28/tea",
            }
        )
        + "\n"
    )
    (folder / "dateline.txt").write_text(
        "Roads in Moc Chau\n\nOn June 6, 2022, the province began paving roads. "
        "By November 23 it had paved 40 km.\n\nSource: https://example.org/roads"
    )
    (folder / "page.html").write_text(
        '<html><head><title>Flood in Lang Son</title><meta property="article:published_time" '
        'content="2025-11-29T08:30:00+07:00"></head><body><article><h1>Flood in Lang Son</h1>'
        "<p>Heavy rain flooded 300 houses in Lang Son province, and soldiers helped families move "
        "to schools.</p><p>The provincial committee met on November 28 to plan the rebuilding of the "
        "roads and bridges the water took away.</p></article></body></html>"
    )
    (folder / "plain.txt").write_text("A new school\n\nThe commune opened a boarding school for 400 pupils.")
    stamp = datetime.datetime(2024, 3, 15, 12, tzinfo=datetime.UTC).timestamp()
    for path in folder.iterdir():
        os.utime(path, (stamp, stamp))


@pytest.mark.slow
def test_the_build_dates_documents_and_passages_and_a_merge_keeps_them(tmp_path, embedder):
    write_articles(tmp_path / "articles")
    settings = load_settings(index_dir=tmp_path / "index")
    build_index([tmp_path / "articles"], settings, embedder)
    stored = load_index(settings.index_dir)
    dated = {doc_id: (doc.date, doc.date_source) for doc_id, doc in stored.documents.items()}
    assert dated == {
        "meta": ("2025-11-29", "metadata"),
        "bad-date": ("2025-11-28", "url"),  # "soon" is no date: the article stays, dated otherwise
        "dateline": ("2022-06-06", "text"),
        "page": ("2025-11-29", "metadata"),  # the page's article:published_time
        "plain": ("2024-03-15", "file"),
    }
    passage_dates = {
        (passage.doc_id, stored.documents[passage.doc_id].text[start:end], day)
        for passage in stored.passages
        for start, end, day in passage.dates
    }
    assert passage_dates == {
        ("bad-date", "November 3", "2025-11-03"),
        ("dateline", "June 6, 2022", "2022-06-06"),
        ("dateline", "November 23", "2022-11-23"),  # the year nearest its publication day
        ("page", "November 28", "2025-11-28"),
    }
    assert all(p.start <= s < e <= p.end for p in stored.passages for s, e, _ in p.dates)

    added = clean(RawArticle("flood", "Flood\n\nOn 29 November 2025 rain flooded 300 houses.", "api"))
    with writer_lock(settings.index_dir, 10):
        current = append_documents(stored, [added], (), settings, embedder)
    merged = write_merged(current, [segment.name for segment in current.segments], settings)
    with writer_lock(settings.index_dir, 10):
        committed = commit_merge(current, merged, settings)
    assert committed is not None and len(committed.segments) == 1
    after = load_index(settings.index_dir)
    assert {(p.chunk_id, p.dates) for p in after.passages} == {
        (p.chunk_id, p.dates) for p in (*stored.passages, *current.segments[-1].passages)
    }
    assert after.documents["flood"].date == "2025-11-29" and after.documents["flood"].date_source == "text"
    assert check_index(settings.index_dir).problems == []


@pytest.mark.slow
def test_check_finds_a_passage_date_outside_its_passage(tmp_path, embedder):
    write_articles(tmp_path / "articles")
    settings = load_settings(index_dir=tmp_path / "index")
    build_index([tmp_path / "articles"], settings, embedder)
    segment = segment_folder(settings.index_dir)
    records = [json.loads(line) for line in (segment / PASSAGES).read_text().splitlines()]
    dated = next(record for record in records if record["dates"])
    dated["dates"] = [[dated["end"] - 1, dated["end"] + 5, "2025-11-31"]]
    (segment / PASSAGES).write_text("".join(json.dumps(record) + "\n" for record in records))
    rerecord(segment)
    problems = check_index(settings.index_dir).problems
    assert any("outside the passage" in problem for problem in problems), problems
    assert any("'2025-11-31'" in problem and "not an ISO day" in problem for problem in problems), problems


@pytest.mark.slow
def test_passages_of_an_older_segment_without_dates_still_load(tmp_path, embedder):
    write_articles(tmp_path / "articles")
    settings = load_settings(index_dir=tmp_path / "index")
    build_index([tmp_path / "articles"], settings, embedder)
    segment = segment_folder(settings.index_dir)
    records = [json.loads(line) for line in (segment / PASSAGES).read_text().splitlines()]
    (segment / PASSAGES).write_text(
        "".join(json.dumps({k: v for k, v in record.items() if k != "dates"}) + "\n" for record in records)
    )
    rerecord(segment)
    stored = load_index(settings.index_dir)
    assert len(stored.passages) == len(records) and all(p.dates == () for p in stored.passages)
    assert check_index(settings.index_dir).problems == []


TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def live(index_copy: Path, embedder: Embedder) -> Iterator[TestClient]:
    settings = load_settings(index_dir=index_copy, admin_token=TOKEN, reload_interval=0)
    with TestClient(create_app(settings, embedder)) as client:
        yield client


def test_an_api_write_is_dated_by_its_field_its_text_or_its_arrival(live):
    posted = [
        {
            "id": "given",
            "text": "Kaffe i provinsen høstes tidlig.",
            "language": "no",
            "date": "29. november 2025",
        },
        {"id": "dateline", "text": "Ngày 27/11/2025, UBND tỉnh Nghệ An tổ chức hội nghị giảm nghèo."},
        {"id": "undated", "text": "The commune opened a boarding school for 400 pupils.", "date": " "},
    ]
    for article in posted:
        assert live.post("/documents", json=article, headers=AUTH).status_code == 201
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    dated = {article["id"]: live.get(f"/documents/{article['id']}").json() for article in posted}
    assert {doc_id: (body["date"], body["date_source"]) for doc_id, body in dated.items()} == {
        "given": ("2025-11-29", "metadata"),
        "dateline": ("2025-11-27", "text"),
        "undated": (today, "received"),
    }


def test_an_api_write_whose_date_is_no_date_is_refused_naming_the_field(live):
    article = {"id": "bad", "text": "Farmers sold tea.", "date": "next week"}
    response = live.post("/documents", json=article, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == "date: not a date (use ISO 8601, e.g. 2026-11-23)"
    batch = {"documents": [{"id": "ok", "text": "Tea.", "date": "2025-11-29"}, article]}
    response = live.post("/documents/batch", json=batch, headers=AUTH)
    assert response.status_code == 422 and response.json()["detail"].startswith(
        "documents.1.date: not a date"
    )
    assert live.get("/documents/ok").status_code == 404
