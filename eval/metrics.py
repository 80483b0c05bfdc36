"""Ranking metrics from pytrec_eval (TREC's trec_eval), answer token-F1 and latency percentiles."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

import numpy as np
import pytrec_eval

# qrels: query id -> {passage or document id -> graded relevance}; a run: query id -> ranked ids.
Qrels = dict[str, dict[str, int]]
Run = dict[str, list[str]]


# Our metric names -> trec_eval measures; "mrr@k" is recip_rank over the run's top k.
TREC_MEASURES = {
    **{f"hit@{k}": f"success.{k}" for k in (1, 3, 5, 10)},
    "ndcg@10": "ndcg_cut.10",
    "recall@100": "recall.100",
}


def ranking_metrics(qrels: Qrels, run: Run, names: list[str]) -> dict[str, dict[str, float]]:
    """Per judged query, the metrics `names` (keys of TREC_MEASURES, or "mrr@K") of `run`
    against `qrels`, computed by trec_eval.

    Rankings go to trec_eval with scores that fall with rank, so it scores exactly the order
    given (trec_eval itself sorts by score and breaks ties by id). A judged query with no
    ranking retrieved nothing and scores 0.
    """
    judged = {qid: relevance for qid, relevance in qrels.items() if any(r > 0 for r in relevance.values())}
    results: dict[str, dict[str, float]] = {qid: dict.fromkeys(names, 0.0) for qid in judged}
    plain = {name: TREC_MEASURES[name] for name in names if not name.startswith("mrr@")}
    passes = [(run, plain)] + [
        ({qid: ranking[: int(name[4:])] for qid, ranking in run.items()}, {name: "recip_rank"})
        for name in names
        if name.startswith("mrr@")
    ]
    for ranked, measures in passes:
        if not measures:
            continue
        evaluator = pytrec_eval.RelevanceEvaluator(judged, set(measures.values()))
        for qid, values in evaluator.evaluate(_scored(ranked, judged)).items():
            results[qid].update({name: values[trec.replace(".", "_")] for name, trec in measures.items()})
    return results


def _scored(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    # trec_eval leaves out a query with an empty ranking; a dummy id keeps it, unjudged.
    return {
        qid: {doc: float(len(ranking) - rank) for rank, doc in enumerate(ranking)} or {"\0none": 0.0}
        for qid, ranking in run.items()
        if qid in qrels
    }


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | {"–", "—", "’", "‘", "“", "”", "…"}


def normalize_answer(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation or English articles, split
    on white space; diacritics are kept (NFC), as the gold strings carry them."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(" " if char in _PUNCTUATION else char for char in text)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str | None, golds: list[str]) -> float:
    """SQuAD token F1 of `prediction` against the best-matching gold answer; 0 for no answer."""
    if prediction is None or not golds:
        return 0.0
    predicted = normalize_answer(prediction)
    best = 0.0
    for gold in golds:
        expected = normalize_answer(gold)
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def exact_match(prediction: str | None, golds: list[str]) -> bool:
    """SQuAD exact match: `prediction` normalised equals some gold answer normalised."""
    return prediction is not None and any(normalize_answer(prediction) == normalize_answer(g) for g in golds)


def percentile(values: list[float], q: float) -> float | None:
    """The `q`-th percentile (linear interpolation, as numpy), rounded to 0.1; None for no values."""
    return round(float(np.percentile(values, q)), 1) if values else None
