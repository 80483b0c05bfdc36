"""Score retrieval and extractive answers of an `Index` against a question set."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eval.metrics import Qrels, Run, exact_match, percentile, ranking_metrics, token_f1
from indexer.chunk import Passage
from indexer.clean import Document
from indexer.errors import NewsqaError
from indexer.settings import Mode
from service.core.results import AskResponse

QUESTIONS = Path(__file__).with_name("questions.jsonl")
CUTOFFS = (1, 3, 5, 10)
RANKING = [*(f"hit@{k}" for k in CUTOFFS), "mrr@10", "ndcg@10"]
# Every figure reported per mode, in the order of the JSON report and the Markdown table.
METRICS = [
    *RANKING,
    "answer_hit",
    "answer_f1",
    "exact_match",
    "answer_words",
    "type_accuracy",
    "citation_exact",
    "abstain_precision",
    "abstain_recall",
    "false_abstain",
    "latency_ms_p50",
    "latency_ms_p95",
]


@dataclass(frozen=True)
class Question:
    """An evaluation question; `answers` are exact substrings of the stored text of `doc_id`
    (any one of them is a correct answer); no answers means the archive cannot answer it.
    `answer_type` is the type a short answer should have (service/core/spans.py), where tagged."""

    id: str
    question: str
    answers: list[str]
    doc_id: str | None
    tags: list[str] = field(default_factory=list)
    answer_type: str | None = None
    language: str = "en"  # the question's
    near: list[str] = field(default_factory=list)  # the documents an unanswerable one nearly asks about

    def pair(self, documents: dict[str, Document]) -> str:
        """The language pair: the question's, then that of its document (or of the documents
        an unanswerable one nearly asks about, "any" if none is named), such as "en→no"."""
        about = self.near[0] if self.near else self.doc_id
        language = documents[about].language if about in documents else "any"
        return f"{self.language}→{language}"

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


class Answerer(Protocol):
    """What the evaluation needs of an `Index`."""

    @property
    def passages(self) -> list[Passage]: ...

    @property
    def documents(self) -> dict[str, Document]: ...

    def ask(self, question: str, top_k: int, mode: Mode) -> AskResponse: ...


class QuestionSetError(NewsqaError):
    """A question set line that is not a question."""


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The questions of a JSON Lines file; raises QuestionSetError naming the bad line."""
    questions = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                question = Question(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise QuestionSetError(
                    f"{path}:{number}: not a question ({exc}); expected JSON with "
                    "id, question, answers, doc_id and optional tags"
                ) from None
            if not isinstance(question.answers, list) or (question.answers and not question.doc_id):
                raise QuestionSetError(
                    f"{path}:{number}: answers must be a list, with the doc_id holding them"
                )
            questions.append(question)
    return questions


def relevant_passages(question: Question, passages: list[Passage]) -> dict[str, int]:
    """The passages of the question's document that contain a gold answer: its qrels."""
    return {
        passage.chunk_id: 1
        for passage in passages
        if passage.doc_id == question.doc_id and any(gold in passage.text for gold in question.answers)
    }


def gold_rank(relevant: dict[str, int], response: AskResponse) -> int | None:
    """Rank of the first citation that is a relevant passage."""
    return next((c.rank for c in response.citations if c.chunk_id in relevant), None)


def answer_hit(question: Question, response: AskResponse) -> bool:
    """Whether the answer's sentence holds a gold answer (what a sentence-level answer scored)."""
    answer = response.answer
    return answer is not None and any(gold in answer.sentence.text for gold in question.answers)


def exact_spans(response: AskResponse, documents: dict[str, Document]) -> tuple[int, int]:
    """How many of the response's spans (citations, the answer and its sentence) satisfy
    `document.text[start:end] == text`, and how many it has."""
    spans: list[tuple[str, int, int, str]] = [(c.doc_id, c.start, c.end, c.text) for c in response.citations]
    if (answer := response.answer) is not None:
        spans.append((answer.doc_id, answer.start, answer.end, answer.text))
        spans.append((answer.doc_id, answer.sentence.start, answer.sentence.end, answer.sentence.text))
    exact = sum(
        1
        for doc_id, start, end, text in spans
        if doc_id in documents and documents[doc_id].text[start:end] == text
    )
    return exact, len(spans)


@dataclass
class _Outcome:
    """What one mode did with one question."""

    response: AskResponse
    rank: int | None
    hit: bool
    f1: float
    em: bool
    exact: tuple[int, int]


def evaluate(
    index: Answerer, questions: list[Question], modes: list[Mode], top_k: int = 10
) -> dict[str, Any]:
    """Metrics per mode and per tag, and for each mode the questions it got wrong.

    Relevance is judged per passage: a returned passage is relevant when it belongs to the
    question's document and contains a gold answer; hit@k, MRR@10 and nDCG@10 come from
    trec_eval over those judgements.
    """
    skipped = [q.id for q in questions if not _about(q, index.documents)]
    questions = [q for q in questions if q.id not in skipped]
    qrels: Qrels = {q.id: relevant_passages(q, index.passages) for q in questions if q.answerable}
    tags = sorted({tag for question in questions for tag in question.tags})
    pairs = {question.id: question.pair(index.documents) for question in questions}
    report: dict[str, Any] = {
        "questions": len(questions),
        "skipped": skipped,
        "modes": {},
        "by_tag": {},
        "by_pair": {},
        "failures": [],
    }
    for mode in modes:
        outcomes: dict[str, _Outcome] = {}
        for question in questions:
            response = index.ask(question.question, top_k=top_k, mode=mode)
            relevant = qrels.get(question.id, {})
            outcomes[question.id] = _Outcome(
                response=response,
                rank=gold_rank(relevant, response),
                hit=answer_hit(question, response),
                f1=token_f1(response.answer.text if response.answer else None, question.answers),
                em=exact_match(response.answer.text if response.answer else None, question.answers),
                exact=exact_spans(response, index.documents),
            )
        run: Run = {
            qid: [c.chunk_id for c in outcome.response.citations] for qid, outcome in outcomes.items()
        }
        ranking = ranking_metrics(qrels, run, RANKING)
        report["modes"][mode] = _metrics(questions, outcomes, ranking)
        report["by_tag"][mode] = {
            tag: {
                "questions": sum(1 for q in questions if tag in q.tags),
                **_metrics([q for q in questions if tag in q.tags], outcomes, ranking),
            }
            for tag in tags
        }
        report["by_pair"][mode] = {
            pair: {
                "questions": sum(1 for q in questions if pairs[q.id] == pair),
                **_metrics([q for q in questions if pairs[q.id] == pair], outcomes, ranking),
            }
            for pair in sorted(set(pairs.values()))
        }
        report["failures"] += [
            _failure(mode, question, outcomes[question.id])
            for question in questions
            if _failed(question, outcomes[question.id])
        ]
    return report


def _about(question: Question, documents: dict[str, Document]) -> bool:
    """Whether the index holds what `question` is about: its document, or the documents an
    unanswerable one nearly asks about. A question set may cover more than one archive (the
    bundled one, and the eval archive's other languages)."""
    if question.answerable:
        return question.doc_id in documents
    return all(doc_id in documents for doc_id in question.near)


def _failed(question: Question, outcome: _Outcome) -> bool:
    if not question.answerable:
        return not outcome.response.abstained
    return outcome.rank != 1 or not outcome.hit


def _failure(mode: str, question: Question, outcome: _Outcome) -> dict[str, Any]:
    response = outcome.response
    return {
        "mode": mode,
        "id": question.id,
        "question": question.question,
        "tags": question.tags,
        "expected": question.answers,
        "doc_id": question.doc_id,
        "gold_rank": outcome.rank,
        "answer": response.answer.text if response.answer else None,
        "answer_doc_id": response.answer.doc_id if response.answer else None,
        "top": [
            {"chunk_id": c.chunk_id, "score": c.score, "text": _shorten(c.text)}
            for c in response.citations[:3]
        ],
    }


def _metrics(
    questions: list[Question], outcomes: dict[str, _Outcome], ranking: dict[str, dict[str, float]]
) -> dict[str, float | None]:
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    abstained = [q for q in questions if outcomes[q.id].response.abstained]
    metrics = {name: _mean([ranking.get(q.id, {}).get(name, 0.0) for q in answerable]) for name in RANKING}
    metrics["answer_hit"] = _share(answerable, lambda q: outcomes[q.id].hit)
    metrics["answer_f1"] = _mean([outcomes[q.id].f1 for q in answerable])
    metrics["exact_match"] = _share(answerable, lambda q: outcomes[q.id].em)
    answers = [a for q in answerable if (a := outcomes[q.id].response.answer) is not None]
    metrics["answer_words"] = _mean([float(len(a.text.split())) for a in answers])
    typed = [q for q in answerable if q.answer_type]
    metrics["type_accuracy"] = _share(typed, lambda q: _answer_type(outcomes[q.id].response) == q.answer_type)
    exact = [outcomes[q.id].exact for q in questions]
    metrics["citation_exact"] = _ratio(sum(e for e, _ in exact), sum(n for _, n in exact))
    metrics["abstain_precision"] = _share(abstained, lambda q: not q.answerable)
    metrics["abstain_recall"] = _share(unanswerable, lambda q: outcomes[q.id].response.abstained)
    metrics["false_abstain"] = _share(answerable, lambda q: outcomes[q.id].response.abstained)
    latencies = [outcomes[q.id].response.took_ms for q in questions]
    metrics["latency_ms_p50"] = percentile(latencies, 50)
    metrics["latency_ms_p95"] = percentile(latencies, 95)
    return metrics


def _answer_type(response: AskResponse) -> str | None:
    return response.answer.type if response.answer else None


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: metrics per mode, per tag for each mode, then the failures."""
    counted = f"{report['questions']} questions."
    if report.get("skipped"):
        counted += f" {len(report['skipped'])} skipped: what they ask about is not in this index."
    sections = [counted, _table("mode", report["modes"])]
    columns = [
        "questions",
        "hit@1",
        "hit@5",
        "ndcg@10",
        "answer_hit",
        "answer_f1",
        "exact_match",
        "abstain_recall",
        "false_abstain",
    ]
    for mode, by_tag in report["by_tag"].items():
        if not by_tag:
            continue
        rows = {tag: {column: metrics[column] for column in columns} for tag, metrics in by_tag.items()}
        sections.append(f"By tag, {mode}:\n\n" + _table("tag", rows))
        by_pair = report.get("by_pair", {}).get(mode)
        if by_pair:
            rows = {pair: {column: values[column] for column in columns} for pair, values in by_pair.items()}
            sections.append(f"By language pair (question→article), {mode}:\n\n" + _table("pair", rows))
    if report["failures"]:
        sections.append("Failures (gold not ranked first, answer without the gold, or not abstained):")
        sections.append("\n".join(_failure_line(failure) for failure in report["failures"]))
    return "\n\n".join(sections)


def _failure_line(failure: dict[str, Any]) -> str:
    expected = " | ".join(failure["expected"]) or "(abstain)"
    top = ", ".join(c["chunk_id"] for c in failure["top"]) or "nothing"
    rank = failure["gold_rank"] or "–"
    answer = f'"{_shorten(failure["answer"], 90)}"' if failure["answer"] else "abstained"
    return (
        f"- {failure['mode']} {failure['id']} [{', '.join(failure['tags'])}] {failure['question']} "
        f"— expected: {expected}; gold rank {rank}; top: {top}; answer: {answer}"
    )


def _table(label: str, rows: dict[str, dict[str, Any]]) -> str:
    columns = list(next(iter(rows.values())))
    lines = [f"| {label} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics[c]) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value}"


def _shorten(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _share(questions: list[Question], predicate: Callable[[Question], bool]) -> float | None:
    """The share of `questions` for which `predicate` holds; None (no figure) for none."""
    return _ratio(sum(1 for q in questions if predicate(q)), len(questions))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
