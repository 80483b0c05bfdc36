"""`newsqa eval` as CI runs it: the bundled question set with its regression guard, report
files, and a BEIR-format dataset with its TREC run file."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
import pytrec_eval
from PIL import Image
from test_cli import newsqa

from eval.run import METRICS

BEIR_FIXTURE = Path(__file__).parent / "data" / "beir-newsqa"

# The regression guard on the bundled set, a little under the figures measured when
# cross-lingual search came (docs/2026-12-01-multilingual.md): hybrid hit@1 0.926, hit@5 0.968,
# answer-hit 0.905, answer F1 0.707, exact match 0.611, abstention recall 0.963, false abstention
# 0.011; and under those without the English-Norwegian dictionary (make install brings it with
# apt where it can): 0.884, 0.958, 0.863, 0.665, 0.568, 0.963, 0.021.
GUARD = [
    "--min-hit1", "0.87", "--min-hit5", "0.94", "--min-answer-hit", "0.85", "--min-answer-f1", "0.64",
    "--min-exact-match", "0.54", "--min-abstain-recall", "0.95", "--max-false-abstain", "0.04",
    "--min-citation-exact", "1",
]  # fmt: skip


def test_eval_on_the_bundled_set_passes_its_guard_and_writes_the_report(bundled, bundled_settings, tmp_path):
    out = tmp_path / "report"
    index_dir = str(bundled_settings.index_dir)
    result = newsqa("eval", "--index-dir", index_dir, "--json", "--out", str(out), *GUARD)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] >= 60
    assert list(report["modes"]) == ["hybrid", "dense", "lexical"]
    for metrics in report["modes"].values():
        assert list(metrics) == METRICS
        assert metrics["citation_exact"] == 1.0
        assert 0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]
    hybrid = report["modes"]["hybrid"]
    for mode in ("dense", "lexical"):
        assert hybrid["hit@1"] >= report["modes"][mode]["hit@1"]
        assert hybrid["ndcg@10"] >= report["modes"][mode]["ndcg@10"]
    assert report["by_tag"]["hybrid"]["unanswerable"]["questions"] >= 10
    assert report["by_tag"]["hybrid"]["near-miss"]["questions"] >= 15
    assert report["by_tag"]["hybrid"]["near-miss"]["abstain_recall"] >= 0.9
    assert report["by_tag"]["hybrid"]["short"]["questions"] >= 40
    assert report["by_tag"]["hybrid"]["list"]["hit@5"] >= 0.9
    assert all({"mode", "id", "expected", "gold_rank", "answer", "top"} <= set(f) for f in report["failures"])

    assert json.loads((out / "report.json").read_text()) == report
    written = (out / "report.md").read_text()
    assert written.startswith(f"{report['questions']} questions.")
    assert "| hybrid | " in written and "By tag, lexical:" in written and "Failures" in written
    with Image.open(out / "report.png") as chart:
        assert chart.format == "PNG" and chart.width >= 1000 and chart.height >= 400


def test_a_missed_guard_exits_3_and_names_the_metric(bundled, bundled_settings, tmp_path):
    # An answerable question the lexical index cannot rank first: nothing it asks is in the archive.
    question_set = tmp_path / "set.jsonl"
    question_set.write_text(
        json.dumps(
            {
                "id": "x",
                "question": "boiling point mercury",
                "answers": ["Van Son"],
                "doc_id": "000_1bc991a037106c5e",
            }
        )
        + "\n"
    )
    index_dir = str(bundled_settings.index_dir)
    result = newsqa(
        "eval", "--index-dir", index_dir, "--set", str(question_set), "--modes", "lexical", "--min-hit1", "1",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 3
    assert (tmp_path / "out" / "report.png").stat().st_size > 0  # written before the guard, with no tags
    assert result.stderr.strip().endswith("newsqa: quality guard missed: lexical hit@1 0.0 < 1.0")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--modes", "hybrid,fuzzy"], 2, "unknown mode(s) fuzzy"),
        (["--beir", str(BEIR_FIXTURE), "--min-hit5", "0.5"], 2, "a BEIR run has no hit@5"),
        (["--beir", str(Path(__file__).parent)], 1, "corpus.jsonl: not found"),
        (["--set", "BAD"], 1, "bad.jsonl:2: not a question"),
    ],
)
def test_eval_errors_are_one_line(bundled_settings, tmp_path, args, code, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "answers": [], "doc_id": null}\n{"id": "b"}\n')
    args = [str(bad) if arg == "BAD" else arg for arg in args]
    result = newsqa("eval", "--index-dir", str(bundled_settings.index_dir), *args)
    assert result.returncode == code
    assert message in result.stderr.strip().splitlines()[-1]  # click puts usage lines before its own
    assert "Traceback" not in result.stderr


def test_beir_run_scores_documents_and_writes_trec_runs(tmp_path):
    run_out = tmp_path / "runs" / "fixture.trec"
    result = newsqa(
        "eval", "--beir", str(BEIR_FIXTURE), "--run-out", str(run_out), "--json", "--min-ndcg", "0.7"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["dataset"], report["queries"], report["documents"]) == ("beir-newsqa", 49, 84)
    modes = report["modes"]
    assert set(modes) == {"hybrid", "dense", "lexical"}
    assert all(set(metrics) == {"ndcg@10", "recall@100", "mrr@10"} for metrics in modes.values())
    assert modes["hybrid"]["ndcg@10"] > max(modes["dense"]["ndcg@10"], modes["lexical"]["ndcg@10"])

    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (BEIR_FIXTURE / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels[qid][doc] = int(score)
    for mode, metrics in modes.items():
        path = run_out.with_name(f"fixture.{mode}.trec")
        run: dict[str, dict[str, float]] = defaultdict(dict)
        ranks: dict[str, list[int]] = defaultdict(list)
        for line in path.read_text().splitlines():
            qid, q0, doc, rank, score, tag = line.split(" ")
            assert (q0, tag) == ("Q0", f"newsqa-{mode}")
            run[qid][doc] = float(score)
            ranks[qid].append(int(rank))
        assert all(r == list(range(1, len(r) + 1)) and len(r) <= 100 for r in ranks.values())
        # trec_eval reading the run file as written agrees with the reported nDCG@10.
        scored = pytrec_eval.RelevanceEvaluator(dict(qrels), {"ndcg_cut.10"}).evaluate(dict(run))
        ndcg = sum(values["ndcg_cut_10"] for values in scored.values()) / len(qrels)
        assert ndcg == pytest.approx(metrics["ndcg@10"], abs=1e-3)
