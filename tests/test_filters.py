"""Filters inside retrieval: a filtered search returns `top_k` passages whenever that many match,
in every mode, on an exact (flat) and an IVF index, over one segment or several with deletions;
every result satisfies the filter; bad filter values are a 422 naming the field, or a one-line
CLI error."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import newsqa

from eval.bench.filtered import SHARES, filtered_search
from indexer import store
from indexer.build import append_documents
from indexer.clean import Document, clean
from indexer.settings import Settings, load_settings
from indexer.sources import RawArticle
from indexer.store import writer_lock
from service.core.filters import Filters
from service.core.index import MODES, Index

pytestmark = pytest.mark.slow

SITES = ["Harbour Gazette", "Mountain Post", "Valley Times"]
TOPICS = [
    "the ferry timetable and the new harbour crane",
    "coffee prices paid to farmers at the cooperative",
    "a landslide that closed the mountain road",
    "the school canteen and free lunches for pupils",
    "a fire in the old sawmill by the river",
    "the football club's new stadium lights",
]
FIRST_DAY = datetime.date(2024, 1, 1)


def article(number: int) -> dict[str, str]:
    """Synthetic article `number`: one short passage, published every sixth day from 2024,
    every fourth one in Norwegian, from one of three sites in turn."""
    day = FIRST_DAY + datetime.timedelta(days=6 * number)
    topic = TOPICS[number % len(TOPICS)]
    if number % 4 == 0:
        text = f"Kommunestyret møttes igjen i dag. Sak nummer {number} gjaldt {topic} og budsjettet."
        language = "no"
    else:
        text = f"The council met again today. Item {number} on its agenda was {topic}, and the budget."
        language = "en"
    return {
        "id": f"a{number:03d}",
        "title": f"Council item {number}",
        "text": text,
        "date": day.isoformat(),
        "language": language,
        "site": SITES[number % len(SITES)],
    }


def cleaned(number: int) -> Document:
    fields = article(number)
    return clean(
        RawArticle(
            doc_id=fields["id"],
            text=fields["text"],
            source="api",
            title=fields["title"],
            date=fields["date"],
            language=fields["language"],
            site=fields["site"],
        )
    )


def build(settings: Settings, articles: Path, embedder) -> Index:
    index, _ = Index.build([settings.articles_dir, articles], settings, embedder)
    return index


def add_segment(index: Index, settings: Settings, embedder) -> Index:
    """A second segment of 30 more articles, with 12 of the first segment's deleted."""
    with writer_lock(settings.index_dir, 10):
        append_documents(
            index.stored,
            [cleaned(number) for number in range(120, 150)],
            [f"a{number:03d}" for number in range(0, 120, 10)],
            settings,
            embedder,
        )
    return Index.load(settings, embedder)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, embedder) -> dict[str, Index]:
    """The bundled articles and 120 dated ones, as a flat and as an IVF index (scanning one
    cell of its three), each in one segment and in two with deletions."""
    folder = tmp_path_factory.mktemp("filtered")
    articles = folder / "articles"
    articles.mkdir()
    lines = [json.dumps(article(number), ensure_ascii=False) for number in range(120)]
    (articles / "council.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = {}
    for kind, overrides in {
        "flat": {"index_type": "flat"},
        "ivf": {"index_type": "ivf-sq8", "ivf_nprobe": 1},
    }.items():
        settings = load_settings(index_dir=folder / kind, **overrides)
        if kind == "ivf":  # the flat build's vectors, re-indexed
            shutil.copytree(folder / "flat", settings.index_dir, symlinks=True)
        found[kind] = build(settings, articles, embedder)
        segmented = load_settings(index_dir=folder / f"{kind}-segments", **overrides)
        shutil.copytree(settings.index_dir, segmented.index_dir, symlinks=True)
        found[f"{kind}-segments"] = add_segment(Index.load(segmented, embedder), segmented, embedder)
    assert found["ivf"].stored.segments[0].info["dense"]["type"] == "ivf-sq8"
    assert len(found["flat-segments"].stored.segments) == 2
    return found


# Each keeps the council articles only (the bundled ones have other dates or none).
FILTERS = {
    "a handful": Filters(date_from=datetime.date(2024, 3, 1), date_to=datetime.date(2024, 3, 20)),
    "a year": Filters(date_from=datetime.date(2025, 1, 1), date_to=datetime.date(2025, 12, 31)),
    "norwegian": Filters(languages=frozenset({"no"})),
    "one site": Filters(sources=frozenset({"mountain post"}), date_to=datetime.date(2026, 6, 30)),
    "ids": Filters(doc_ids=frozenset({"a005", "a010", "a077", "a121", "a140", "missing"})),
    "late": Filters(date_from=datetime.date(2025, 12, 1), languages=frozenset({"en", "no"})),
}
QUERY = "coffee prices paid to farmers"


def matching_rows(index: Index, filters: Filters) -> set[int]:
    return {
        row for row, passage in index.stored.live_rows() if filters.matches(index.documents[passage.doc_id])
    }


def expected_count(index: Index, filters: Filters, mode: str, top_k: int) -> int:
    """How many results a search that applies `filters` inside retrieval returns: `top_k`, or
    every matching passage when fewer match (in lexical mode, those BM25 finds at all)."""
    rows = matching_rows(index, filters)
    if mode == "lexical":
        rows &= {row for row, _ in index.rank(QUERY, len(index.passages), "lexical")}
    return min(top_k, len(rows))


@pytest.mark.parametrize("kind", ["flat", "ivf", "flat-segments", "ivf-segments"])
@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("selector", [False, True], ids=["exact-below", "faiss-selector"])
def test_filtered_search_returns_k_matching_results(archives, kind, name, selector, monkeypatch):
    """`top_k` results whenever that many passages match, each from a matching document; with
    `selector`, every filtered dense search goes through FAISS's ID selector (and an IVF probe
    that comes back short, through the exact fallback)."""
    if selector:
        monkeypatch.setattr(store, "EXACT_ROWS", 0)
    index, filters = archives[kind], FILTERS[name]
    for mode in MODES:
        for top_k in (3, 10):
            results = index.search(QUERY, top_k=top_k, mode=mode, filters=filters).results
            assert len(results) == expected_count(index, filters, mode, top_k), (mode, top_k)
            assert all(filters.matches(index.document(result.doc_id)) for result in results)
            assert len({result.chunk_id for result in results}) == len(results)


@pytest.mark.parametrize("kind", ["flat", "flat-segments"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_filtered_dense_search_is_the_exact_best_of_the_matching(archives, kind, name, monkeypatch):
    """On an exact index the filtered dense ranking is the unfiltered one's matching rows, best
    first, however deep they lie in it, both through FAISS's selector and scored directly."""
    index, filters = archives[kind], FILTERS[name]
    rows = matching_rows(index, filters)
    ranked = index.stored.nearest(index.embedder.embed_query(QUERY), len(index.passages))
    expected = [int(row) for row in ranked[0] if int(row) in rows][:10]
    for threshold in (0, store.EXACT_ROWS):
        monkeypatch.setattr(store, "EXACT_ROWS", threshold)
        found, cosines = index.stored.nearest(
            index.embedder.embed_query(QUERY), 10, index.masks.rows(filters)
        )
        assert found.tolist() == expected
        assert np.all(np.diff(cosines) <= 1e-6)


def test_a_top_k_cut_after_retrieval_would_fail_these_filters(archives):
    """The filters above keep passages the unfiltered ranking leaves out of its first 50: cutting
    its results afterwards would return fewer than `top_k`."""
    index = archives["flat"]
    unfiltered = {row for row, _ in index.rank(QUERY, 50, "hybrid")}
    for name in ("a handful", "norwegian", "ids"):
        rows = matching_rows(index, FILTERS[name])
        assert len(rows & unfiltered) < min(10, len(rows)), name


def test_ask_answers_from_and_abstains_by_the_allowed_passages(archives):
    """`ask` cites only matching passages, and with a filter that keeps nothing relevant it
    abstains: the closest allowed passage decides, not the closest in the whole archive."""
    index = archives["flat-segments"]
    norwegian = FILTERS["norwegian"]
    response = index.ask("What did the council discuss about coffee prices?", top_k=5, filters=norwegian)
    assert len(response.citations) == 5
    assert all(index.document(c.doc_id).language == "no" for c in response.citations)
    nothing = Filters(doc_ids=frozenset({"missing"}))
    empty = index.ask("What did the council discuss about coffee prices?", filters=nothing)
    assert empty.abstained and empty.citations == []
    assert index.search(QUERY, filters=nothing).results == []


def test_masks_are_remembered_and_read_only(archives):
    index = archives["flat-segments"]
    filters = FILTERS["a year"]
    mask = index.masks.rows(filters)
    assert index.masks.rows(Filters(date_from=filters.date_from, date_to=filters.date_to)) is mask
    assert not mask.flags.writeable
    assert set(np.flatnonzero(mask).tolist()) == matching_rows(index, filters)
    # deleted documents' rows are never kept, though their documents match
    deleted = index.stored.document_rows("a010")
    assert deleted is None and not mask[~index.stored.live].any()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2025-02-30"}, "date_from"),
        ({"date_from": "29.11.2025"}, "date_from"),
        ({"date_to": "2025-11"}, "date_to"),
        ({"date_from": "2025-11-02", "date_to": "2025-11-01"}, "date_to"),
        ({"sort": "newest"}, "sort"),
        ({"language": "english!"}, "language"),
        ({"doc_id": [f"d{i}" for i in range(101)]}, "doc_id"),
        ({"doc_id": "a/b"}, "doc_id"),
        ({"source": "x" * 201}, "source"),
    ],
)
def test_bad_filter_values_are_422_naming_the_field(client, params, field):
    search = client.get("/search", params={"q": "flood", **params})
    assert search.status_code == 422
    assert search.json()["detail"].startswith(field)
    assert search.json()["errors"][0]["loc"][:2] == ["query", field]
    repeatable = {"language", "source", "doc_id"}
    body = {
        key: [value] if key in repeatable and isinstance(value, str) else value
        for key, value in params.items()
    }
    ask = client.post("/ask", json={"question": "What flooded?", **body})
    assert ask.status_code == 422
    assert ask.json()["detail"].startswith(field)
    assert ask.json()["errors"][0]["loc"][:2] == ["body", field]


def test_http_filters_narrow_search_and_ask(client, bundled):
    doc_id = sorted(bundled.documents)[1]
    search = client.get("/search", params={"q": "flood", "top_k": 8, "doc_id": doc_id, "sort": "relevance"})
    assert search.status_code == 200
    results = search.json()["results"]
    assert len(results) == min(8, bundled.passages_of(doc_id))
    assert {result["doc_id"] for result in results} == {doc_id}
    ask = client.post("/ask", json={"question": "What happened?", "doc_id": [doc_id], "top_k": 3})
    assert ask.status_code == 200
    assert {citation["doc_id"] for citation in ask.json()["citations"]} == {doc_id}
    languages = client.get("/search", params=[("q", "flood"), ("language", "xx"), ("language", "yy")])
    assert languages.status_code == 200 and languages.json()["results"] == []
    norwegian = client.get("/search", params={"q": "flom", "top_k": 5, "language": "no"}).json()["results"]
    assert norwegian and {result["language"] for result in norwegian} == {"no"}
    shouted = client.get("/search", params={"q": "flom", "top_k": 5, "language": "NO"}).json()["results"]
    assert shouted == norwegian  # language codes match whatever their case


def test_cli_filter_flags(bundled, bundled_settings):
    doc_id = sorted(bundled.documents)[2]
    index_dir = str(bundled_settings.index_dir)
    found = newsqa("search", "flood", "--index-dir", index_dir, "--json", "-k", "4", "--doc-id", doc_id)
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert len(results) == min(4, bundled.passages_of(doc_id)) and {r["doc_id"] for r in results} == {doc_id}
    bad = newsqa("ask", "What flooded?", "--index-dir", index_dir, "--date-from", "2025-13-01")
    assert bad.returncode == 2
    assert "Error: Invalid value for --date-from: must be a day as YYYY-MM-DD" in bad.stderr
    assert "Traceback" not in bad.stderr
    backwards = newsqa("search", "x", "--date-from", "2025-02-01", "--date-to", "2025-01-01")
    assert backwards.returncode == 2 and "Invalid value for --date-to" in backwards.stderr


def test_stored_index_reads_its_masks_per_segment(archives):
    """A filter over documents of both segments keeps rows in each."""
    index = archives["ivf-segments"]
    mask = index.masks.rows(FILTERS["ids"])
    first = int(index.stored.offsets[1])
    assert mask[:first].any() and mask[first:].any()


def test_bench_filtered_search_keeps_the_shares_asked_for(archives):
    """`newsqa bench`'s filtered figures: date ranges keeping about 1%, 10% and 50% of the
    passages, each search complete, and its timings against the same questions unfiltered."""
    index = archives["flat-segments"]
    report = filtered_search(index, [QUERY, "Who won the football match?", "landslide on the road"])
    assert [run["share"] for run in report["filters"]] == list(SHARES)
    for run in report["filters"]:
        assert run["share"] <= run["kept"] < run["share"] + 0.05
        assert run["complete"] and 0 < run["p50"] <= run["p99"]
    assert 0 < report["unfiltered_ms"]["p50"] <= report["unfiltered_ms"]["p99"]
