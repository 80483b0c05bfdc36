"""Sort, recency and temporal questions: what a question says about time (in English and
Norwegian, relative to the archive's newest day), the date order, the recency boost that moves
a newer article up only for a question asking for the latest, a named period, and "when"
answers that are the date."""

from __future__ import annotations

import datetime
import json

import pytest
from fastapi.testclient import TestClient

from eval.run import load_questions
from indexer.clean import Document
from indexer.embed import Embedder
from indexer.settings import Settings, load_settings
from service.core.index import Index
from service.core.temporal import (
    Period,
    by_date,
    dating,
    newest_day,
    period_boosted,
    recency_boosted,
    time_intent,
)
from service.http.api import create_app

NEWEST = datetime.date(2025, 11, 29)  # a Saturday
D = datetime.date


@pytest.mark.parametrize(
    ("question", "first", "last"),
    [
        ("What did the province decide in 2022?", D(2022, 1, 1), D(2022, 12, 31)),
        ("What did the province decide about coffee in November 2025?", D(2025, 11, 1), D(2025, 11, 30)),
        ("What happened in October?", D(2025, 10, 1), D(2025, 10, 31)),
        ("What happened in November?", D(2025, 11, 1), D(2025, 11, 30)),  # this November
        ("What happened last November?", D(2024, 11, 1), D(2024, 11, 30)),  # the one before
        ("What happened last October?", D(2025, 10, 1), D(2025, 10, 31)),
        ("What was decided this year?", D(2025, 1, 1), D(2025, 12, 31)),
        ("What was decided last year?", D(2024, 1, 1), D(2024, 12, 31)),
        ("What was decided last month?", D(2025, 10, 1), D(2025, 10, 31)),
        ("What was opened on 29 November?", D(2025, 11, 29), D(2025, 11, 29)),
        ("What was opened on November 23, 2025?", D(2025, 11, 23), D(2025, 11, 23)),
        ("What happened this week?", D(2025, 11, 24), D(2025, 11, 30)),
        ("Hva vedtok fylket i 2022?", D(2022, 1, 1), D(2022, 12, 31)),
        ("Hva skjedde i november?", D(2025, 11, 1), D(2025, 11, 30)),
        ("Hva skjedde i oktober 2025?", D(2025, 10, 1), D(2025, 10, 31)),
        ("Hva skjedde i november i fjor?", D(2024, 11, 1), D(2024, 11, 30)),
        ("Hva skjedde i fjor?", D(2024, 1, 1), D(2024, 12, 31)),
        ("Hva skjedde forrige måned?", D(2025, 10, 1), D(2025, 10, 31)),
        ("Hva skjedde den 29. november?", D(2025, 11, 29), D(2025, 11, 29)),
    ],
)
def test_a_named_period_is_read_relative_to_the_archives_newest_day(question, first, last):
    period = time_intent(question, NEWEST).period
    assert period is not None and (period.first, period.last) == (first, last)
    assert period.text.casefold() in question.casefold()


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest news about the flood in Lang Son?",
        "Which are the newest articles on coffee?",
        "What was the most recent decision on the expressway?",
        "What has the province done recently about roads?",
        "Show recent reports on the harvest",
        "What happened today?",
        "Hva er siste nytt om flommen?",
        "Hva er de nyeste sakene om kaffe?",
        "Hva skjedde i dag?",
        "Tin mới nhất về lũ lụt ở Thái Nguyên là gì?",
    ],
)
def test_recency_intent_in_english_norwegian_and_vietnamese(question):
    assert time_intent(question, NEWEST).recent


@pytest.mark.parametrize(
    "question",
    [
        "What proportion of voters took part in the recent legislative polls?",  # an event, not news
        "Which district aims to meet the new rural standard by 2025?",
        "What was the vision of the planning for 2021-2030?",
        "What share of the 2025 plan is complete?",
        "How many hectares of coffee does the commune currently maintain?",
        "When did construction of the expressway begin?",  # asks for a date, names no period
        "Who chaired the meeting in the last quarter of the session?",
    ],
)
def test_questions_without_time_intent(question):
    assert not time_intent(question, NEWEST)


def test_almost_every_question_of_the_evaluation_set_has_no_time_intent():
    """The recency boost and the period boost leave these questions alone: only the temporal
    questions, and two others that name a period ("in 2024", "on November 23"), have intent."""
    with_intent = {
        q.id for q in load_questions() if "temporal" not in q.tags and time_intent(q.question, NEWEST)
    }
    assert with_intent == {"q050", "q107"}


def test_a_period_holds_its_days_only():
    november = Period(D(2025, 11, 1), D(2025, 11, 30), "in November")
    assert D(2025, 11, 1) in november and D(2025, 11, 30) in november
    assert D(2025, 10, 31) not in november and None not in november


def test_rankings_by_date_recency_and_period():
    days = {1: D(2025, 11, 29), 2: D(2025, 6, 1), 3: None, 4: D(2025, 11, 29), 5: D(2023, 1, 1)}
    ranked = [(5, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (1, 0.5)]
    # Newest first; one day's rows keep their relevance order; undated last.
    assert [row for row, _ in by_date(ranked, days.get)] == [4, 1, 2, 5, 3]
    # Half of each score decays, halved every 30 days: the two-year-old 0.9 falls below this
    # week's 0.5, but no score falls below half of itself.
    boosted = recency_boosted(ranked, days.get, NEWEST, half_life_days=30)
    assert [row for row, _ in boosted] == [4, 1, 5, 2, 3]
    assert dict(boosted)[4] == pytest.approx(0.6)
    assert dict(boosted)[2] == pytest.approx(0.8 * (0.5 + 0.5 * 0.5 ** (181 / 30)))
    assert dict(boosted)[5] == pytest.approx(0.9 * (0.5 + 0.5 * 0.5 ** (1063 / 30)))
    assert dict(boosted)[3] == pytest.approx(dict(boosted)[5] / 0.9 * 0.7)  # undated: as the oldest
    raised = period_boosted(ranked, lambda row: row == 2)
    assert [row for row, _ in raised][:2] == [2, 5]


def test_a_file_date_counts_as_undated_where_other_documents_have_better_ones():
    def document(doc_id: str, date: str | None, source: str | None) -> Document:
        return Document(doc_id, doc_id, "text", "en", f"{doc_id}.txt", date=date, date_source=source)

    copied = document("copied", "2026-12-01", "file")
    dated = [document("a", "2025-11-28", "text"), document("b", "2025-10-01", "metadata"), copied]
    day_of = dating(dated)
    assert newest_day(dated, day_of) == D(2025, 11, 28) and day_of(copied) is None
    only_files = [copied, document("old", "2026-01-01", "file")]
    assert newest_day(only_files, dating(only_files)) == D(2026, 12, 1)


# (id, publication day, text): three articles on Son La's coffee, the oldest the fullest; a
# bridge opened on a day its article names.
ARTICLES = [
    (
        "coffee-2023",
        "2023-03-10",
        "Son La coffee harvest. Farmers in Son La harvested coffee on 600 hectares this season, and "
        "the coffee harvest brought growers record prices for their beans.",
    ),
    (
        "coffee-2025",
        "2025-06-01",
        "Son La farmers finished the coffee harvest. The coffee harvest covered 500 hectares of the "
        "province's gardens.",
    ),
    (
        "coffee-market",
        "2025-11-28",
        "A market hall for coffee opened in Son La. Traders from the province sell coffee beans there.",
    ),
    (
        "bridge",
        "2025-11-20",
        "A new bridge over the Da river. On November 29, 2025, the province opened the new bridge over "
        "the Da river. The bridge is 300 metres long and carries two lanes.",
    ),
]


@pytest.fixture(scope="module")
def archive_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over an index of ARTICLES, their days given in a JSON Lines feed."""
    root = tmp_path_factory.mktemp("temporal")
    feed = root / "articles" / "feed.jsonl"
    feed.parent.mkdir()
    records = [{"id": doc_id, "text": text, "date": day, "language": "en"} for doc_id, day, text in ARTICLES]
    feed.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return load_settings(index_dir=root / "index", reload_interval=0)


@pytest.fixture(scope="module")
def archive(archive_settings: Settings, embedder: Embedder) -> Index:
    index, _ = Index.build([archive_settings.index_dir.parent / "articles"], archive_settings, embedder)
    return index


def _days(archive: Index, doc_ids: list[str]) -> list[str | None]:
    return [archive.documents[doc_id].date for doc_id in doc_ids]


def test_sort_by_date_orders_the_relevant_passages_newest_first(archive):
    query = "coffee harvest in Son La"
    by_relevance = archive.search(query, top_k=10).results
    by_day = archive.search(query, top_k=10, sort="date").results
    days = _days(archive, [result.doc_id for result in by_day])
    assert days == sorted(days, reverse=True) and days[0] == "2025-11-28"
    # The same passages, each with its score; one day's passages keep their relevance order.
    assert {(r.chunk_id, r.score) for r in by_day} == {(r.chunk_id, r.score) for r in by_relevance}
    relevance_order = [r.chunk_id for r in by_relevance]
    for day in set(days):
        same_day = [r.chunk_id for r in by_day if archive.documents[r.doc_id].date == day]
        assert same_day == [chunk for chunk in relevance_order if chunk in same_day]
    assert [r.rank for r in by_day] == list(range(1, len(by_day) + 1))


def test_search_sorts_by_date_within_its_filters_over_http(archive, archive_settings, embedder):
    params = {"q": "coffee in Son La", "top_k": 10, "sort": "date", "date_from": "2025-01-01"}
    with TestClient(create_app(archive_settings, embedder)) as client:
        response = client.get("/search", params=params)
        assert response.status_code == 200, response.text
        days = _days(archive, [result["doc_id"] for result in response.json()["results"]])
        assert days == sorted(days, reverse=True) and days[0] == "2025-11-28" and days[-1] >= "2025-01-01"
        answered = client.post("/ask", json={"question": "How did the coffee harvest go?", "sort": "date"})
        assert answered.status_code == 200, answered.text
        body = answered.json()
    cited = _days(archive, [citation["doc_id"] for citation in body["citations"]])
    # The cited passage holding the answer leads; the others follow newest first.
    leads = body["answer"] is not None and body["citations"][0]["doc_id"] == body["answer"]["doc_id"]
    rest = cited[1:] if leads else cited
    assert rest == sorted(rest, reverse=True)


def test_the_recency_boost_moves_a_newer_article_up_only_for_a_question_asking_for_the_latest(archive):
    def ranked(question: str) -> list[str]:
        return [result.doc_id for result in archive.search(question, top_k=3).results]

    plain = ranked("How did the coffee harvest in Son La go?")
    assert plain.index("coffee-2023") < plain.index("coffee-market")
    latest = ranked("What is the latest on the coffee harvest in Son La?")
    assert latest[0] == "coffee-market"  # published a day before the newest in the archive
    assert latest.index("coffee-2023") < latest.index("coffee-2025")  # both long decayed to half


@pytest.mark.parametrize(
    "question",
    [
        "How did the coffee harvest in Son La go?",
        "When did the province open the bridge over the Da river?",
        "How long is the bridge?",
    ],
)
def test_a_question_without_time_intent_ranks_exactly_as_retrieval_does(archive, question):
    """No boost touches it: the same passages, in the same order, with the same scores."""
    for mode in ("hybrid", "dense", "lexical"):
        found = [(r.chunk_id, r.score) for r in archive.search(question, top_k=5, mode=mode).results]
        ranked = [
            (archive.passages[row].chunk_id, round(score, 6))
            for row, score in archive.rank(question, 5, mode)
        ]
        assert found == ranked


def test_a_named_period_lifts_the_article_published_in_it(archive):
    """Neither article writes its year: the period matches the day each was published."""
    question = "How many hectares did the coffee harvest in Son La cover in 2023?"
    unboosted = [archive.passages[row].doc_id for row, _ in archive.rank(question, 3)]
    assert unboosted[0] == "coffee-2025"
    assert archive.search(question, top_k=1).results[0].doc_id == "coffee-2023"
    question = question.replace("2023", "2025")
    assert archive.search(question, top_k=1).results[0].doc_id == "coffee-2025"


def test_a_when_answer_is_the_date_its_passage_names(archive):
    response = archive.ask("When did the province open the new bridge over the Da river?")
    answer = response.answer
    assert answer is not None and answer.type == "date"
    assert answer.text == "November 29, 2025"
    assert archive.documents[answer.doc_id].text[answer.start : answer.end] == answer.text
