"""Public benchmarks in BEIR layout: index a corpus with the same pipeline, rank documents, score.

A BEIR dataset is a folder with `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl`
(`_id`, `text`) and `qrels/<split>.tsv` (query-id, corpus-id, score; a header line). BEIR
judges documents, so a document ranks by its best passage.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import Qrels, Run, ranking_metrics
from indexer.embed import Embedder
from indexer.errors import NewsqaError
from indexer.settings import Mode, Settings
from service.core.index import Index

MEASURES = ["ndcg@10", "recall@100", "mrr@10"]
DOCUMENTS_RANKED = 100  # Recall@100 needs 100 documents per query
PASSAGES_PER_DOCUMENT = 10  # passages ranked per document wanted, so that 100 distinct ones come back


class DatasetError(NewsqaError):
    """A BEIR folder that is missing a file or holds a malformed line."""


@dataclass(frozen=True)
class Dataset:
    name: str
    corpus: list[dict[str, str]]
    queries: dict[str, str]  # only the queries judged in the split
    qrels: Qrels


def load_dataset(folder: Path, split: str = "test") -> Dataset:
    """Read a BEIR folder; raises DatasetError naming the file and line at fault."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for path in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not path.is_file():
            raise DatasetError(f"{path}: not found; a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/")
    corpus = [
        {"id": str(row["_id"]), "title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
        for row in _jsonl(folder / "corpus.jsonl", ("_id",))
    ]
    qrels: Qrels = {}
    with qrels_path.open(encoding="utf-8", newline="") as lines:
        for number, row in enumerate(csv.reader(lines, delimiter="\t"), start=1):
            if number == 1 and row and not row[-1].strip().lstrip("-").isdigit():
                continue  # the header
            if len(row) < 3 or not row[-1].strip().lstrip("-").isdigit():
                raise DatasetError(f"{qrels_path}:{number}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[-2]] = int(row[-1])
    queries = {
        str(row["_id"]): str(row["text"])
        for row in _jsonl(folder / "queries.jsonl", ("_id", "text"))
        if str(row["_id"]) in qrels
    }
    qrels = {qid: judged for qid, judged in qrels.items() if qid in queries}
    if not queries:
        raise DatasetError(f"{qrels_path}: no judged query is in queries.jsonl")
    return Dataset(name=folder.resolve().name, corpus=corpus, queries=queries, qrels=qrels)


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or any(key not in row for key in required):
                raise DatasetError(f"{path}:{number}: needs {', '.join(required)}")
            rows.append(row)
    return rows


def rank_documents(index: Index, query: str, mode: Mode, vector: Any = None) -> list[tuple[str, float]]:
    """The best `DOCUMENTS_RANKED` documents for `query`, each scored by its best passage."""
    depth = DOCUMENTS_RANKED * PASSAGES_PER_DOCUMENT
    best: dict[str, float] = {}
    for row, score in index.rank(query, depth, mode, vector):
        best.setdefault(index.passages[row].doc_id, score)  # rows come best first
    return list(best.items())[:DOCUMENTS_RANKED]


def evaluate_beir(
    dataset: Dataset,
    settings: Settings,
    modes: list[Mode],
    embedder: Embedder | None = None,
    run_out: Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Index `dataset.corpus` into a temporary index, rank documents for every judged query in
    each mode, and score the rankings with trec_eval. With `run_out`, also write each mode's
    ranking as a TREC run file (see `run_paths`)."""
    with tempfile.TemporaryDirectory(prefix="newsqa-beir-") as scratch:
        corpus = Path(scratch) / f"{dataset.name}.jsonl"
        with corpus.open("w", encoding="utf-8") as out:
            for document in dataset.corpus:
                out.write(json.dumps(document, ensure_ascii=False) + "\n")
        started = time.perf_counter()
        index, build = Index.build(
            [corpus], settings.model_copy(update={"index_dir": Path(scratch) / "index"}), embedder, progress
        )
        indexed = time.perf_counter() - started
        ids = list(dataset.queries)
        vectors = index.embedder.embed([dataset.queries[qid] for qid in ids], query=True)
        report: dict[str, Any] = {
            "dataset": dataset.name,
            "queries": len(ids),
            "documents": build.documents,
            "passages": build.passages,
            "index_seconds": round(indexed, 1),
            "modes": {},
        }
        paths = run_paths(run_out, modes) if run_out else {}
        for mode in modes:
            rankings = {
                qid: rank_documents(index, dataset.queries[qid], mode, vector)
                for qid, vector in zip(ids, vectors, strict=True)
            }
            run: Run = {qid: [doc for doc, _ in ranking] for qid, ranking in rankings.items()}
            per_query = ranking_metrics(dataset.qrels, run, MEASURES)
            report["modes"][mode] = {
                name: round(sum(values[name] for values in per_query.values()) / len(per_query), 4)
                for name in MEASURES
            }
            if mode in paths:
                write_run(rankings, paths[mode], f"newsqa-{mode}")
        if paths:
            report["runs"] = {mode: str(path) for mode, path in paths.items()}
    return report


def run_paths(run_out: Path, modes: list[Mode]) -> dict[Mode, Path]:
    """Where each mode's run file goes: `run_out` itself for one mode; for several,
    `run_out` with the mode before its suffix (run.trec -> run.hybrid.trec)."""
    if len(modes) == 1:
        return {modes[0]: run_out}
    return {mode: run_out.with_name(f"{run_out.stem}.{mode}{run_out.suffix}") for mode in modes}


def write_run(rankings: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    """A standard TREC run file: `qid Q0 docid rank score tag`, ranks from 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for qid, ranking in rankings.items():
            for rank, (doc_id, score) in enumerate(ranking, start=1):
                out.write(f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['dataset']}: {report['queries']} queries, {report['documents']} documents, "
        f"{report['passages']} passages (indexed in {report['index_seconds']} s).",
        "",
        "| mode | " + " | ".join(MEASURES) + " |",
        "|---|" + "---:|" * len(MEASURES),
    ]
    for mode, metrics in report["modes"].items():
        lines.append(f"| {mode} | " + " | ".join(f"{metrics[name]:.4f}" for name in MEASURES) + " |")
    return "\n".join(lines)
