"""Score retrieval and extractive answers of an `Index` against a question set."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.settings import Mode
from service.index import Index
from service.models import AskResponse

QUESTIONS = Path(__file__).with_name("questions.jsonl")
CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Question:
    """An evaluation question; `answers` are exact substrings of the stored text of `doc_id`
    (any one of them is a correct answer); no answers means the archive cannot answer it."""

    id: str
    question: str
    answers: list[str]
    doc_id: str | None
    tags: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    with path.open(encoding="utf-8") as lines:
        return [Question(**json.loads(line)) for line in lines if line.strip()]


def gold_rank(question: Question, response: AskResponse) -> int | None:
    """Rank of the first citation from the right document that contains a gold answer."""
    for citation in response.citations:
        if citation.doc_id == question.doc_id and any(gold in citation.text for gold in question.answers):
            return citation.rank
    return None


def answer_hit(question: Question, response: AskResponse) -> bool:
    answer = response.answer
    return answer is not None and any(gold in answer.text for gold in question.answers)


def evaluate(index: Index, questions: list[Question], modes: list[Mode], top_k: int = 10) -> dict[str, Any]:
    """Metrics per mode, and for each mode the questions it got wrong."""
    report: dict[str, Any] = {"questions": len(questions), "modes": {}, "by_tag": {}, "failures": []}
    tags = sorted({tag for question in questions for tag in question.tags})
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    for mode in modes:
        ranks: dict[str, int | None] = {}
        hits: dict[str, bool] = {}
        abstained: dict[str, bool] = {}
        latencies = []
        for question in questions:
            response = index.ask(question.question, top_k=top_k, mode=mode)
            latencies.append(response.took_ms)
            ranks[question.id] = gold_rank(question, response)
            hits[question.id] = answer_hit(question, response)
            abstained[question.id] = response.abstained
            wrong = (
                not response.abstained
                if not question.answerable
                else ranks[question.id] != 1 or not hits[question.id]
            )
            if wrong:
                report["failures"].append(
                    {
                        "mode": mode,
                        "id": question.id,
                        "question": question.question,
                        "expected": question.answers,
                        "gold_rank": ranks[question.id],
                        "answer": response.answer.text if response.answer else None,
                        "top": [c.chunk_id for c in response.citations[:3]],
                    }
                )
        report["modes"][mode] = _metrics(answerable, unanswerable, ranks, hits, abstained, latencies, top_k)
        report["by_tag"][mode] = {
            tag: {
                "questions": sum(1 for q in questions if tag in q.tags),
                **_metrics(
                    [q for q in answerable if tag in q.tags],
                    [q for q in unanswerable if tag in q.tags],
                    ranks,
                    hits,
                    abstained,
                    latencies,
                    top_k,
                ),
            }
            for tag in tags
        }
    return report


def _metrics(
    answerable: list[Question],
    unanswerable: list[Question],
    ranks: dict[str, int | None],
    hits: dict[str, bool],
    abstained: dict[str, bool],
    latencies: list[float],
    top_k: int,
) -> dict[str, float | None]:
    def rank(question: Question) -> int:
        return ranks[question.id] or top_k + 1

    metrics = {f"hit@{k}": _share(answerable, lambda q, k=k: rank(q) <= k) for k in CUTOFFS}
    metrics["mrr@10"] = _mean([1 / rank(q) if rank(q) <= 10 else 0.0 for q in answerable])
    metrics["answer_hit"] = _share(answerable, lambda q: hits[q.id])
    metrics["abstain_recall"] = _share(unanswerable, lambda q: abstained[q.id])
    metrics["false_abstain"] = _share(answerable, lambda q: abstained[q.id])
    metrics["latency_ms_p50"] = round(statistics.median(latencies), 1)
    return metrics


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: a table of metrics per mode, then one per tag for each mode."""
    sections = [_table("mode", report["modes"])]
    for mode, by_tag in report["by_tag"].items():
        columns = ["questions", "hit@1", "hit@5", "answer_hit", "abstain_recall"]
        rows = {tag: {column: metrics[column] for column in columns} for tag, metrics in by_tag.items()}
        sections.append(f"By tag, {mode}:\n\n" + _table("tag", rows))
    return "\n\n".join(sections)


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


def _share(questions: list[Question], predicate: Any) -> float | None:
    """The share of `questions` for which `predicate` holds; None (no figure) for none."""
    return round(sum(1 for q in questions if predicate(q)) / len(questions), 4) if questions else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
