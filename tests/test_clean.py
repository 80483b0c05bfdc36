"""Reading and cleaning articles: debris out, metadata in, bad files skipped with a warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from indexer.build import load_documents
from indexer.clean import clean
from indexer.settings import load_settings
from indexer.sources import RawArticle

ARTICLES = load_settings().articles_dir
DEBRIS = [
    "You have 500/500 characters left",
    "Please enter 5 or more characters",
    "Kommentar (0)",
    "Recent news",
    "Kilde:",
    "Urban planning adapts to two-tier local government model",  # a "Recent news" teaser
]


@pytest.fixture(scope="module")
def bundled_documents() -> dict[str, object]:
    documents, skipped = load_documents([ARTICLES])
    assert skipped == []
    return {doc.doc_id: doc for doc in documents}


def test_bundled_articles_lose_their_web_page_debris(bundled_documents):
    assert len(bundled_documents) == 5
    for document in bundled_documents.values():
        for debris in DEBRIS:
            assert debris not in document.text, (document.doc_id, debris)
        assert not document.text.rstrip().endswith("Comment")
        assert "\n\n\n" not in document.text


def test_bundled_articles_keep_their_content(bundled_documents):
    meeting = bundled_documents["000_1bc991a037106c5e"]
    assert meeting.text.endswith("support investors in project implementation.")
    assert "Van Son ward was instructed to concentrate on developing industrial clusters" in meeting.text
    renewal = bundled_documents["003_af987519a968d492"]
    assert renewal.text.endswith("Quang Long")  # the byline stays, the teasers after it go
    assert "Pú Nhung aims to expand coffee" in renewal.text


def test_metadata_title_url_language(bundled_documents):
    meeting = bundled_documents["000_1bc991a037106c5e"]
    assert meeting.title == "Provincial Party leaders meet with ward Party Committees"
    assert not meeting.text.startswith(meeting.title)
    norwegian = bundled_documents["002_2e08b7f49c7a1252"]
    assert norwegian.language == "no"
    assert norwegian.url == (
        "https://baolangson.vn/to-cong-tac-so-3-lam-viec-voi-cac-xa-thuoc-huyen-huu-lung-cu-5066424.html"
    )
    assert {doc.language for doc in bundled_documents.values()} == {"en", "no"}
    untitled = bundled_documents["001_1a9902fd9a5f4459"]
    assert untitled.title.startswith("At the working session")  # derived from the first sentence
    assert len(untitled.title) <= 91


def test_nothing_left_after_cleaning_is_an_error():
    raw = RawArticle(doc_id="x", text="Comment\n\nYou have 500/500 characters left\n", source="x.txt")
    with pytest.raises(Exception, match="no article text left"):
        clean(raw)


def test_every_format_is_read(tmp_path: Path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Road opens</title></head><body><nav>Home | News</nav>"
        "<article><h1>Road opens in Mộc Châu</h1><p>The new road opened on Monday after two years "
        "of work by the provincial authorities.</p><p>It links four wards.</p></article>"
        "<script>var tracking = 1;</script></body></html>"
    )
    (tmp_path / "note.md").write_text("# Market day\n\nFarmers sold **plums** in [Sơn La](http://x).\n")
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"id": "j1", "text": "First story about coffee.", "title": "Coffee", "url": "http://a"})
        + "\n"
        + json.dumps({"id": "j2", "text": "Second story about tea."})
        + "\n"
    )
    documents, skipped = load_documents([tmp_path])
    by_id = {doc.doc_id: doc for doc in documents}
    assert skipped == []
    assert set(by_id) == {"page", "note", "j1", "j2"}
    assert "It links four wards." in by_id["page"].text
    assert "tracking" not in by_id["page"].text
    assert by_id["note"].title == "Market day"
    assert by_id["note"].text == "Farmers sold plums in Sơn La."
    assert (by_id["j1"].title, by_id["j1"].url) == ("Coffee", "http://a")


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path: Path, caplog):
    (tmp_path / "good.txt").write_text("A good article about the harvest in the province.")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "latin1.txt").write_bytes("Kommunen får en ny vei.".encode("latin-1"))
    (tmp_path / "feed.jsonl").write_text('{"id": "ok", "text": "Fine line."}\n{broken\n{"id": "no-text"}\n')
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents([tmp_path])
    assert sorted(doc.doc_id for doc in documents) == ["good", "ok"]
    assert sorted(skip.kind for skip in skipped) == [
        "binary file",
        "empty file",
        "invalid JSON",
        "missing or empty 'text'",
        "not valid UTF-8",
    ]
    warnings = caplog.text
    for name in ("empty.txt: empty file", "binary.txt: binary file", "latin1.txt: not valid UTF-8"):
        assert name in warnings
    assert "feed.jsonl:2: invalid JSON" in warnings
    assert "feed.jsonl:3: missing or empty 'text'" in warnings


def test_duplicate_ids_keep_the_first(tmp_path: Path, caplog):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "story.txt").write_text("The first story.")
    (tmp_path / "story.md").write_text("The second story.")
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents([tmp_path])
    assert [doc.text for doc in documents] == ["The first story."]
    assert [skip.kind for skip in skipped] == ["duplicate id"]
    assert "already taken" in caplog.text


def test_a_deeply_nested_line_is_skipped_and_the_rest_indexed(tmp_path: Path, caplog):
    nested = '{"id":"bad","text":"x","extra":' + "[" * 1000 + "]" * 1000 + "}"
    huge = json.dumps({"id": "huge", "text": "x" * 4_000_001})
    lines = [json.dumps({"id": "ok", "text": "Coffee prices rose."}), nested, huge, '"just a string"']
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents([tmp_path])
    assert [doc.doc_id for doc in documents] == ["ok"]
    assert [(Path(skip.source).name, skip.reason) for skip in skipped] == [
        ("feed.jsonl:2", "invalid JSON (nested too deeply)"),
        ("feed.jsonl:3", "line longer than 4000000 characters"),
        ("feed.jsonl:4", "expected a JSON object"),
    ]
    assert "feed.jsonl:2: invalid JSON (nested too deeply)" in caplog.text


# Each breaks a rule the API answers 422 to (indexer/fields.py); a file must not get it stored.
BAD_FIELDS = [
    ({"id": "../../../tmp/x"}, "field id"),
    ({"id": "x" * 5000}, "field id"),
    ({"id": "a\x00b"}, "field id"),
    ({"id": "a\nb"}, "field id"),
    ({"id": "a b"}, "field id"),
    ({"language": "<script>"}, "field language"),
    ({"url": "JaVaScRiPt:alert(1)"}, "field url"),
    ({"url": "data:text/html,<script>alert(1)</script>"}, "field url"),
    ({"title": "Two\nlines"}, "field title"),
    ({"date": "d" * 101}, "field date"),
    ({"text": "t" * 1_000_001}, "field text"),
]


def test_json_lines_fields_follow_the_api_rules(tmp_path: Path, caplog):
    lines = [
        json.dumps({"id": f"bad{i}", "text": "Coffee.", **fields}) for i, (fields, _) in enumerate(BAD_FIELDS)
    ]
    lines.append(
        json.dumps({"id": "good", "text": "Coffee.", "url": "https://news.example/a", "language": "vi"})
    )
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        documents, skipped = load_documents([tmp_path])
    assert [(doc.doc_id, doc.url, doc.language) for doc in documents] == [
        ("good", "https://news.example/a", "vi")
    ]
    assert [skip.kind for skip in skipped] == [kind for _, kind in BAD_FIELDS]
    assert "feed.jsonl:7: field url: must be an absolute http or https URL" in caplog.text


def test_a_file_name_that_is_no_valid_id_becomes_one(tmp_path: Path):
    (tmp_path / "Tin tức Sơn La (1).txt").write_text("Coffee prices rose in Sơn La.")
    (tmp_path / "ok_name-2.md").write_text("Tea prices fell.")
    documents, skipped = load_documents([tmp_path])
    assert sorted(doc.doc_id for doc in documents) == ["Tin-tuc-Son-La-1", "ok_name-2"]
    assert skipped == []


def test_a_headline_only_article_is_kept(tmp_path: Path):
    brief = "Sơn La opens a new coffee processing plant"
    (tmp_path / "briefs.jsonl").write_text(json.dumps({"id": "brief", "title": brief, "text": brief}) + "\n")
    documents, skipped = load_documents([tmp_path])
    assert skipped == []
    (document,) = documents
    assert (document.title, document.text) == (brief, brief)


def test_a_page_url_that_is_not_http_is_left_out(tmp_path: Path, monkeypatch):
    # trafilatura drops such URLs itself today; newsqa's own rule holds whatever it returns.
    import trafilatura

    extracted = {
        "text": "The province harvested a record crop.",
        "title": "Harvest",
        "url": "javascript:alert(1)",
    }
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *args, **kwargs: extracted)
    (tmp_path / "page.html").write_text(
        "<html><body><p>The province harvested a record crop.</p></body></html>"
    )
    (document,), _ = load_documents([tmp_path])
    assert document.url is None and document.text == "The province harvested a record crop."
