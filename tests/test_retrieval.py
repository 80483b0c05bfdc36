"""Search and ask over the bundled articles with the real model and indexes."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import IndexFormatError
from indexer.text import terms
from service.core.errors import QueryError
from service.core.index import top_positive
from service.core.lexical import Vocabulary

QUESTIONS = Path(__file__).parents[1] / "eval" / "questions.jsonl"

MEETING = "000_1bc991a037106c5e"
RENEWAL = "003_af987519a968d492"
RURAL = "004_35521d4b9ef64c69"


def assert_exact(index, items):
    for item in items:
        assert index.documents[item.doc_id].text[item.start : item.end] == item.text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_finds_the_passage(bundled, mode):
    response = bundled.search("What was Van Son ward instructed to concentrate on?", top_k=3, mode=mode)
    assert [r.rank for r in response.results] == [1, 2, 3]
    assert any("Van Son ward was instructed" in r.text for r in response.results)
    assert_exact(bundled, response.results)
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("query", ["Dien Bien Pu Nhung coffee", "Điện Biên Pú Nhung coffee"])
def test_lexical_matching_folds_diacritics(bundled, query):
    top = bundled.search(query, top_k=1, mode="lexical").results[0]
    assert top.doc_id == RENEWAL
    assert "Pú Nhung" in top.text


def test_dense_search_understands_a_paraphrase(bundled):
    top = bundled.search("share of poor households in the province", top_k=1, mode="dense").results[0]
    assert (top.doc_id, "poverty rate" in top.text) == (RURAL, True)


def test_title_header_puts_passages_in_context(bundled):
    # The passage about Pú Nhung never names the province; the article title and dateline do.
    response = bundled.search("Dien Bien coffee and macadamia expansion", top_k=3, mode="dense")
    assert any(r.doc_id == RENEWAL and "macadamia" in r.text for r in response.results)


@pytest.mark.parametrize(
    ("question", "doc_id", "fact"),
    [
        ("What did Nghiem ask Thao Nguyen ward to focus on?", MEETING, "high-tech and organic agriculture"),
        ("What was Van Son ward instructed to concentrate on?", MEETING, "industrial clusters"),
        # The guide's own question: not the photo caption "A leader of Van Son ward speaks at
        # the meeting.", and the answer lies in the passage after the one that names Nghiem.
        ("what did Nghiem ask of Van Son ward", MEETING, "industrial clusters"),
        ("How many communes in Son La have met the new rural standards?", RURAL, "65 communes"),
        ("What is the poverty rate in Son La province?", RURAL, "18.66%"),
        # Not "In implementing the key tasks of Resolution No. 22-NQ/TU, Son La province has
        # also successfully achieved the set goals.": the question's own number is no figure.
        ("What poverty rate did Son La reach with Resolution No. 22-NQ/TU?", RURAL, "18.66%"),
        ("Who is the head of Na Sang village?", RENEWAL, "Quàng Văn Việt"),
    ],
)
def test_ask_answers_with_an_exact_sentence(bundled, question, doc_id, fact):
    response = bundled.ask(question, top_k=5)
    assert not response.abstained
    answer = response.answer
    assert answer is not None and answer.doc_id == doc_id
    assert fact in answer.sentence.text
    assert answer.text in answer.sentence.text
    assert_exact(
        bundled, [answer, answer.sentence.model_copy(update={"doc_id": doc_id}), *response.citations]
    )


def test_answer_is_the_clause_that_answers(bundled):
    answer = bundled.ask("what did Nghiem ask of Van Son ward").answer
    assert answer is not None
    assert answer.sentence.text.startswith(
        "Van Son ward was instructed to concentrate on developing industrial clusters"
    )
    assert "Moc Son" not in answer.sentence.text  # the other clause is about another ward
    assert answer.text == "industrial clusters"


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of mercury?",
        "Who won the 2018 FIFA World Cup?",
        "How much did the CT03 expressway cost?",  # on topic, but no figure in the archive
        "How many tourists visited Moc Chau in 2023?",  # a year the archive never mentions
        # The archive gives the poverty rate after the resolution ("decreased to 18.66%"), and
        # dates the resolution: neither is the rate before it.
        "What was the poverty rate in Son La before the resolution?",
    ],
)
def test_ask_abstains_when_the_archive_has_no_answer(bundled, question):
    response = bundled.ask(question)
    assert response.abstained and response.answer is None
    assert len(response.citations) == 5  # the closest passages are still offered


def test_queries_are_checked(bundled):
    with pytest.raises(QueryError, match="must not be blank"):
        bundled.ask("   ")
    with pytest.raises(QueryError, match="longer than 1000"):
        bundled.search("x" * 1001)
    with pytest.raises(QueryError, match="unknown mode"):
        bundled.search("x", mode="fuzzy")  # type: ignore[arg-type]
    assert bundled.search("zzzqqq", mode="lexical").results == []


@pytest.mark.parametrize("matched", [0, 3, 50, 400, 2_500, 9_000, 10_000])
@pytest.mark.parametrize("depth", [1, 50])
def test_top_positive_finds_the_best_matching_rows(matched, depth):
    # BM25 scores: zero for the rows a query does not match, ties among those it does.
    rng = np.random.default_rng(matched + depth)
    scores = np.zeros(10_000, dtype=np.float32)
    rows = rng.choice(len(scores), matched, replace=False)
    scores[rows] = rng.integers(1, 40, matched) / 4
    found = top_positive(scores, depth)
    assert len(found) == min(matched, depth) == len(set(found.tolist()))
    assert (scores[found] > 0).all()
    expected = np.sort(scores[scores > 0])[::-1][:depth]
    assert np.array_equal(np.sort(scores[found])[::-1], expected)


def test_questions_asked_at_once_get_the_answers_asked_alone(bundled):
    """Requests run in a thread pool, and each hybrid question ranks BM25 in another thread
    while FAISS searches: answers must not depend on what else is being asked."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()][:24]
    asked = [(question, mode) for question in questions for mode in ("hybrid", "dense", "lexical")]

    def ask(item):
        return bundled.ask(item[0], mode=item[1]).model_dump(exclude={"took_ms"})

    alone = [ask(item) for item in asked]
    with ThreadPoolExecutor(max_workers=4) as pool:
        at_once = list(pool.map(ask, asked * 2))
    assert at_once == alone * 2


def test_vocabulary_knows_which_documents_mention_a_term(bundled):
    """`mentions` binary-searches a term's posting list for a document's rows; against the
    documents of every row of the list, for every term and document."""
    vocabulary = Vocabulary(bundled.stored)
    mentioned = 0
    for term in vocabulary.lexical.terms:
        rows = vocabulary.passages_with(term)
        assert np.all(np.diff(rows) > 0)  # in row order, as `mentions` needs
        documents = {bundled.passages[row].doc_id for row in rows}
        assert vocabulary.document_count(term) == len(documents)
        for doc_id in bundled.documents:
            assert vocabulary.mentions(doc_id, term) == (doc_id in documents)
        mentioned += len(documents)
    assert vocabulary.mentions(MEETING, terms("Nghiem")[0])
    assert not vocabulary.mentions(RENEWAL, terms("Nghiem")[0])
    assert mentioned > 1000


def test_a_segment_needs_each_documents_passages_together(bundled):
    """`mentions` looks a document up as one span of rows: a segment whose passages of one
    document are apart is refused when it is loaded."""
    (segment,) = bundled.stored.segments
    passages = segment.passages
    shuffled = [passages[-1], *passages[:-1]] if passages[-1].doc_id != passages[0].doc_id else None
    assert shuffled is not None
    with pytest.raises(IndexFormatError, match="not consecutive"):
        dataclasses.replace(segment, passages=shuffled)
