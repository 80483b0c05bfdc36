"""The bundled question set is sound, and the evaluation metrics are computed right."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from eval.metrics import ranking_metrics, token_f1
from eval.run import Question, answer_hit, evaluate, gold_rank, load_questions, relevant_passages
from indexer.chunk import Passage
from indexer.clean import Document
from service.core.results import Answer, AnswerSentence, AskResponse, Citation


def test_every_gold_string_is_in_its_stored_document(eval_archive):
    questions = load_questions()
    assert len({q.id for q in questions}) == len(questions) >= 60
    for question in questions:
        if question.answerable:
            text = eval_archive.documents[question.doc_id].text
            assert all(gold in text for gold in question.answers), question.id
        else:
            assert question.doc_id is None
    tags = Counter(tag for q in questions for tag in q.tags)
    assert tags["unanswerable"] >= 10
    assert tags["cross-lingual"] >= 20 and tags["no-diacritics"] >= 6
    # The Vietnamese set: each question asked with its diacritics and again without.
    vietnamese = {q.id: q for q in questions if q.language == "vi" and q.answerable}
    plain = [q for q in vietnamese.values() if "no-diacritics-vi" in q.tags]
    assert len(vietnamese) - len(plain) >= 30 and len(plain) >= 30
    assert all(q.question.isascii() for q in plain)


def _response(texts: list[tuple[str, str]], answer: str | None, offset: int = 0) -> AskResponse:
    """Citations of passages `doc#rank` whose span starts at `offset` in their document."""
    citations = [
        Citation(
            rank=i,
            doc_id=doc,
            title="t",
            chunk_id=f"{doc}#{i}",
            text=text,
            start=offset,
            end=offset + len(text),
            score=1,
        )
        for i, (doc, text) in enumerate(texts, start=1)
    ]
    sentence = AnswerSentence(text=answer or "", start=0, end=len(answer or ""))
    found = (
        Answer(text=answer, doc_id="a", start=0, end=len(answer), score=1, sentence=sentence)
        if answer
        else None
    )
    return AskResponse(question="q", answer=found, abstained=found is None, citations=citations, took_ms=1)


def test_gold_rank_and_answer_hit_by_hand():
    question = Question(id="q", question="q", answers=["40 km", "forty"], doc_id="a")
    response = _response([("b", "40 km elsewhere"), ("a", "no"), ("a", "paved 40 km")], "paved 40 km")
    relevant = {"a#3": 1}  # the right text in the wrong document (b#1) is not relevant
    assert gold_rank(relevant, response) == 3
    assert answer_hit(question, response)
    assert gold_rank(relevant, _response([("a", "no")], None)) is None
    assert not answer_hit(question, _response([("a", "40 km")], None))


def test_relevant_passages_are_those_of_the_document_holding_a_gold_answer():
    question = Question(id="q", question="q", answers=["40 km"], doc_id="a")
    passages = [
        Passage("a#1", "a", 0, 11, "paved 40 km", 3),
        Passage("a#2", "a", 12, 14, "no", 1),
        Passage("b#1", "b", 0, 5, "40 km", 2),
    ]
    assert relevant_passages(question, passages) == {"a#1": 1}


def test_ranking_metrics_by_hand():
    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d9": 1}, "q3": {"d2": 1}}
    run = {"q1": ["d1", "d2", "d3"], "q2": [], "q3": [f"x{i}" for i in range(10)] + ["d2"]}
    metrics = ranking_metrics(qrels, run, ["hit@1", "hit@3", "mrr@10", "ndcg@10", "recall@100"])
    # q1: relevant at ranks 1 and 3; DCG = 1 + 1/log2(4), ideal = 1 + 1/log2(3).
    assert metrics["q1"]["ndcg@10"] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert (metrics["q1"]["hit@1"], metrics["q1"]["mrr@10"], metrics["q1"]["recall@100"]) == (1, 1, 1)
    assert metrics["q2"] == dict.fromkeys(metrics["q2"], 0.0)  # nothing retrieved scores 0
    # q3: the relevant document is 11th: outside every top-10 figure, inside the top 100.
    assert (metrics["q3"]["mrr@10"], metrics["q3"]["ndcg@10"], metrics["q3"]["recall@100"]) == (0, 0, 1)
    assert ranking_metrics({"q": {"b": 1}}, {"q": ["a", "b"]}, ["mrr@10", "hit@1"])["q"] == {
        "mrr@10": 0.5,
        "hit@1": 0.0,
    }


def test_ranking_metrics_score_the_given_order_not_the_ids():
    # trec_eval sorts by score and breaks ties by id; the ranks given must be kept.
    metrics = ranking_metrics({"q": {"a": 1}}, {"q": ["z", "a"]}, ["hit@1", "mrr@10"])
    assert metrics["q"] == {"hit@1": 0.0, "mrr@10": 0.5}


def test_token_f1_by_hand():
    # SQuAD normalisation drops case, punctuation and articles: "the road is 40 km long" ->
    # [road, is, 40, km, long]; 2 of 5 predicted tokens match the 2 gold ones.
    assert token_f1("The road is 40 km long.", ["40 km"]) == pytest.approx(2 * 0.4 * 1 / 1.4)
    assert token_f1("Trần Hồng Quân", ["tran hong quan", "Trần Hồng Quân"]) == 1.0
    assert token_f1(None, ["x"]) == 0.0
    assert token_f1("nothing shared", ["40 km"]) == 0.0


class _FixedIndex:
    """Answers from a table, to check the metric arithmetic on a known case."""

    def __init__(self, responses: dict[str, AskResponse], passages: list[Passage]) -> None:
        self.responses = responses
        self.passages = passages
        self.documents = {"a": Document("a", "A", "x here. y. no", "en", "a.txt")}

    def ask(self, question: str, top_k: int, mode: str) -> AskResponse:
        return self.responses[question]


def test_metrics_on_a_hand_computed_case():
    questions = [
        Question(id="1", question="first", answers=["x"], doc_id="a", tags=["easy"]),
        Question(id="2", question="second", answers=["y"], doc_id="a"),
        Question(id="3", question="none", answers=[], doc_id=None, tags=["easy"]),
        Question(id="4", question="missed", answers=["y"], doc_id="a"),
    ]
    passages = [Passage("a#1", "a", 0, 6, "x here", 2), Passage("a#3", "a", 8, 9, "y", 1)]
    responses = {
        "first": _response([("a", "x here")], "x here"),  # rank 1, answer hit, spans exact
        "second": _response([("a", "no"), ("a", "no"), ("a", "y")], "no"),  # rank 3; spans inexact
        "none": _response([("a", "x here")], None),  # abstained, as it should
        "missed": _response([("a", "no")], None),  # nothing relevant, and a false abstention
    }
    report = evaluate(_FixedIndex(responses, passages), questions, ["hybrid"], top_k=10)  # type: ignore[arg-type]
    metrics = report["modes"]["hybrid"]
    assert (metrics["hit@1"], metrics["hit@3"], metrics["hit@5"]) == (0.3333, 0.6667, 0.6667)
    assert metrics["mrr@10"] == round((1 + 1 / 3 + 0) / 3, 4)
    assert metrics["ndcg@10"] == round((1 + 0.5 + 0) / 3, 4)  # one relevant passage each: 1/log2(4)
    assert (metrics["answer_hit"], metrics["answer_f1"]) == (0.3333, round((2 / 3) / 3, 4))
    # exact spans: "x here" at 0:6 twice, the answer and its sentence at 0:6 (4 of 4 for "first"
    # and "none"); "second": "no" claimed at 0:2 is "x ", "y" at 0:1 is "x", the answer "no" and
    # its sentence at 0:2 -> 0 of 5; "missed": "no" at 0:2 -> 0 of 1.
    assert metrics["citation_exact"] == round(4 / 10, 4)
    assert (metrics["abstain_precision"], metrics["abstain_recall"], metrics["false_abstain"]) == (
        0.5,
        1.0,
        0.3333,
    )
    assert metrics["latency_ms_p50"] == metrics["latency_ms_p95"] == 1.0
    assert report["by_tag"]["hybrid"]["easy"]["questions"] == 2
    assert report["by_tag"]["hybrid"]["easy"]["hit@1"] == 1.0
    assert report["by_tag"]["hybrid"]["easy"]["abstain_recall"] == 1.0
    failures = {failure["id"]: failure for failure in report["failures"]}
    assert sorted(failures) == ["2", "4"]
    assert failures["2"]["gold_rank"] == 3 and failures["2"]["answer"] == "no"
    assert [c["chunk_id"] for c in failures["2"]["top"]] == ["a#1", "a#2", "a#3"]
