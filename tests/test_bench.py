"""`newsqa bench` end to end at the smallest scale: it runs, and reports sane figures."""

from __future__ import annotations

import datetime
import json
import re
import shlex

import pytest

from eval.bench import against_naive, parse_scale
from eval.bench.distributed import ray_markdown
from eval.bench.sharded import parity
from indexer.backends import BACKENDS, installed
from tests.helpers import newsqa


def test_a_small_bench_writes_its_report(tmp_path):
    backend = next(b for b in BACKENDS if installed(b))
    records = tmp_path / "records"
    arguments = (
        "bench", "--scales", "bundled", "--backends", backend, "--out", str(tmp_path),
        "--throughput-passages", "20", "--questions", "4", "--duration", "1", "--naive-runs", "5",
        "--server-threads", "1", "--writes", "3", "--json", "--record", str(records),
    )  # fmt: skip
    result = newsqa(*arguments)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert json.loads(result.stdout) == report
    assert set(report) >= {"machine", "settings", "naive", "naive_end", "indexing", "scales", "targets"}
    assert report["naive"]["p50_ms"] > 0 and report["naive"]["rate_per_s"] > 0
    [indexing] = report["indexing"]
    assert indexing["backend"] == backend and indexing["device"] == "cpu"
    assert indexing["passages"] >= 10 and indexing["passages_per_s"] > 0
    [scale] = report["scales"]
    assert scale["scale"] == "bundled" and scale["embedded"] == "all" and scale["dense"] == "flat"
    assert scale["documents"] == 5 and scale["passages"] > 5 and scale["size_mb"] > 0
    assert 0 < scale["search_ms"]["p50"] <= scale["search_ms"]["p99"]
    assert 0 < scale["ask_ms"]["p50"] <= scale["ask_ms"]["p99"]
    assert 0 <= scale["recall_at_10"] <= 1
    [http] = scale["http"]
    assert http["threads"] == 1 and http["errors"] == 0
    assert http["startup_s"] > 0 and http["peak_rss_mb"] > 100  # the model alone is more
    assert 100 < http["rss_start_mb"] <= http["peak_rss_mb"]
    assert 100 < http["rss_after_100_mb"] <= http["peak_rss_mb"]
    assert 0 < http["ask_1_client_ms"]["p50"] <= http["ask_1_client_ms"]["p99"]
    assert http["ask_4_clients_per_s"] > 0
    assert http["naive_p50_ms"] == min(http["naive_p50_ms_before_after"])  # the faster reading
    assert http["p50_over_naive"] == pytest.approx(
        http["ask_1_client_ms"]["p50"] / http["naive_p50_ms"], abs=0.01
    )
    # --writes: articles posted one by one, alone and then while four clients search, each
    # found at once
    writes = scale["writes"]
    assert writes["threads"] == 1 and writes["writes"] == 3 and writes["not_found_after_write"] == 0
    alone = writes["alone"]
    assert alone["writes"] == 3 and alone["not_found_after_write"] == 0
    assert 0 < alone["write_ms"]["p50"] <= alone["write_ms"]["p99"]
    assert writes["search_after_ms"]["p99"] > 0 and writes["segments_after"] >= 1
    assert writes["merges"] >= 0 and writes["merge_total_s"] >= 0
    assert 0 < writes["write_ms"]["p50"] <= writes["write_ms"]["p99"] and writes["writes_per_s"] > 0
    assert writes["search_idle_ms"]["p99"] > 0 and writes["search_during_ms"]["p99"] > 0
    assert writes["search_errors"] == 0
    # filtered search: date ranges over the bundled articles' days, each search complete (the
    # ratio to unfiltered is judged at 200k passages only)
    filtered = scale["filtered"]
    assert [run["share"] for run in filtered["filters"]] == [0.01, 0.1, 0.5]
    assert all(run["complete"] and 0 < run["kept"] <= 1 for run in filtered["filters"])
    assert 0 < filtered["unfiltered_ms"]["p50"] <= filtered["unfiltered_ms"]["p99"]
    assert {row["target"] for row in report["targets"]} == {
        "indexing_passages_per_s",
        "http_ask_p50_over_naive",
        "http_ask_p99_over_naive",
        "http_4_clients_over_naive_rate",
        "filtered_search_complete",
    }
    markdown = (tmp_path / "bench.md").read_text()
    assert "| bundled | 1 |" in markdown and f"| {backend} | cpu |" in markdown
    assert markdown.count("| bundled | 1 | 3, ") == 1  # the writes table, once
    # --record: the same Markdown under a stamp, in a file named by the date and the commit
    [recorded] = records.iterdir()
    day = datetime.date.today().isoformat()
    named = re.fullmatch(rf"{day}-((?:[0-9a-f]{{7,}}(?:-dirty)?)|unknown)\.md", recorded.name)
    assert named, recorded.name
    text = recorded.read_text()
    assert text.startswith(f"# newsqa bench, {day}\n\n- Date: {day}\n- Commit: {named.group(1)}\n")
    assert f"\n- Machine: {report['machine']['cpu'] or 'unknown CPU'}, " in text
    assert f"\n- Command: `{shlex.join(['newsqa', *arguments])}`\n\n" in text
    assert text.endswith("\n\n" + markdown)


def test_ratios_use_the_faster_of_the_two_baseline_readings():
    run = {"ask_1_client_ms": {"p50": 5.0, "p99": 9.0}, "ask_4_clients_per_s": 200.0}
    slowed = {"p50_ms": 20.0, "rate_per_s": 50.0}
    steady = {"p50_ms": 10.0, "rate_per_s": 100.0}
    for before, after in ((slowed, steady), (steady, slowed)):
        ratios = against_naive(run, before, after)
        assert ratios["naive_p50_ms"] == 10.0
        figures = ratios["p50_over_naive"], ratios["p99_over_naive"], ratios["rate_over_naive"]
        assert figures == (0.5, 0.9, 2.0)
        assert ratios["pass_p50"] and ratios["pass_p99"] and ratios["pass_rate"]


def test_scale_names():
    assert [parse_scale(name) for name in ("bundled", "20k", "200k", "1m", "5000")] == [
        0,
        20_000,
        200_000,
        1_000_000,
        5000,
    ]
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        parse_scale("huge")


def test_a_bad_scale_is_a_usage_error(tmp_path):
    result = newsqa("bench", "--scales", "bundled,2x", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "unknown scale '2x'" in result.stderr
    assert not (tmp_path / "bench.json").exists()


def test_the_ray_bench_times_builds_and_servers_and_compares_their_answers(tmp_path):
    arguments = ("--throughput-passages", "40", "--questions", "5", "--duration", "1")
    result = newsqa("bench", "--scenario", "ray", *arguments, "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "ray.json").read_text())
    assert json.loads(result.stdout) == report
    local, *ray = report["builds"]
    assert (local["run"], local["actors"]) == ("local", 0)
    assert [(row["run"], row["actors"]) for row in ray] == [("ray", 1), ("ray", 2)]
    for row in report["builds"]:
        assert row["passages"] == local["passages"] >= 40
        assert row["passages_per_s"] > 0
    for row in ray:
        assert row["actor_startup_s"] > 0
        assert len(row["actor_peak_rss_mb"]) >= row["actors"]
        assert all(100 < mb < 4000 for mb in row["actor_peak_rss_mb"])  # a model each
    serving = report["serving"]
    assert serving["archive"]["documents"] == 19 and serving["questions"] == 5
    plain, *sharded = serving["servers"]
    assert plain["server"] == "newsqa serve"
    assert [(row["shards"], row["replicas"]) for row in sharded] == [(2, 1), (1, 2)]
    for row in serving["servers"]:
        assert row["errors"] == 0 and row["startup_s"] > 0 and row["ask_4_clients_per_s"] > 0
        assert 0 < row["ask_1_client_ms"]["p50"] <= row["ask_1_client_ms"]["p99"]
    for row in sharded:
        for same in row["parity"].values():
            assert same["identical_up_to_ties"] == same["answers_identical"] == 5, same
    markdown = (tmp_path / "ray.md").read_text()
    assert "| ray | 2 |" in markdown and "| 2 x 1 | hybrid | " in markdown


def test_parity_counts_identical_tied_and_answered_questions():
    def asked(*ranked: tuple[str, float], answer: str = "x") -> dict[str, object]:
        cited = [
            {"rank": rank, "doc_id": "d", "title": "t", "chunk_id": chunk, "text": "", "start": 0, "end": 0,
             "score": score}
            for rank, (chunk, score) in enumerate(ranked, start=1)
        ]  # fmt: skip
        return {"citations": cited, "answer": {"text": answer}}

    plain = [
        asked(("a", 0.9), ("b", 0.5), ("c", 0.5), ("d", 0.1)),
        asked(("a", 21.800167), ("b", 0.61771)),
        asked(("d", 0.9), ("e", 0.8), ("g", 0.7)),
        asked(("a", 0.9), ("b", 0.5)),
    ]
    sharded = [
        asked(("a", 0.9), ("c", 0.5), ("b", 0.5), ("d", 0.1)),  # b and c tie: either order
        asked(("a", 21.800165), ("b", 0.617711)),  # float32 sums in another order: the same
        asked(("d", 0.9), ("f", 0.8), ("g", 0.7), answer="y"),  # another passage, another answer
        asked(("a", 0.9), ("b", 0.49)),  # another score
    ]
    assert parity(plain, sharded) == {
        "identical": 2,
        "identical_up_to_ties": 2,
        "answers_identical": 3,
        "recall_at_10": 0.9167,
        "differ": [2, 3],
    }


def test_the_ray_report_renders_its_serving_tables():
    one = {"p50": 12.5, "p99": 30.1}
    report = {
        "machine": {"cpu": "Test CPU", "cpus_usable": 2, "memory_gb": 8.0},
        "cluster": {"nodes": 2, "start_s": 3.2},
        "builds": [{"run": "local", "actors": 0, "passages": 500, "seconds": 9.0, "passages_per_s": 55.6}],
        "serving": {
            "archive": {"documents": 19, "passages": 165},
            "questions": 229,
            "top_k": 10,
            "servers": [
                {"server": "newsqa serve", "shards": 0, "replicas": 0, "startup_s": 4.1,
                 "ask_1_client_ms": one, "ask_4_clients_per_s": 80.2, "errors": 0},
                {"server": "newsqa serve --ray", "shards": 2, "replicas": 1, "startup_s": 15.3,
                 "ask_1_client_ms": one, "ask_4_clients_per_s": 40.7, "errors": 0,
                 "parity": {"hybrid": {"identical": 227, "identical_up_to_ties": 229,
                                       "answers_identical": 229, "recall_at_10": 0.9991, "differ": []}}},
            ],
        },
    }  # fmt: skip
    text = ray_markdown(report)
    assert "| local | 0 | 500 | 9.0 | 55.6 |" in text
    assert "Serving the evaluation archive (19 documents, 165 passages), 229 questions:" in text
    assert "| newsqa serve | - | 4.1 | 12.5 / 30.1 | 80.2 | 0 |" in text
    assert "| newsqa serve --ray | 2 x 1 | 15.3 | 12.5 / 30.1 | 40.7 | 0 |" in text
    assert "| 2 x 1 | hybrid | 227 | 229 | 229 | 0.9991 |" in text
    del report["serving"]
    assert "Serving" not in ray_markdown(report)
