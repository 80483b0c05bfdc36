"""The report: which targets its figures meet, its Markdown tables, and the files written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.bench.options import FILTERED_TARGET_PASSAGES, TARGETS, WRITE_TARGET_PASSAGES
from eval.bench.record import write_record


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target and measurement: the figure, the target and whether it is met."""
    rows = [
        _target("indexing_passages_per_s", f"indexing, {row['backend']}", row["passages_per_s"])
        for row in report["indexing"]
    ]
    for scale in report["scales"]:
        for run in scale["http"]:
            where = f"{scale['scale']}, threads {run['threads']}"
            rows.append(_target("http_ask_p50_over_naive", f"/ask p50, {where}", run["p50_over_naive"]))
            rows.append(_target("http_ask_p99_over_naive", f"/ask p99, {where}", run["p99_over_naive"]))
            rows.append(
                _target("http_4_clients_over_naive_rate", f"4 clients, {where}", run["rate_over_naive"])
            )
    for scale in report["scales"]:
        if "writes" in scale and scale["passages"] >= 0.95 * WRITE_TARGET_PASSAGES:
            run, where = scale["writes"], f"{scale['scale']}, {scale['writes']['writes']} writes"
            alone = f"{scale['scale']}, {run['alone']['writes']} writes alone"
            rows.append(
                _target("write_p50_ms", f"POST /documents p50, {alone}", run["alone"]["write_ms"]["p50"])
            )
            rows.append(
                _target("write_p99_ms", f"POST /documents p99, {alone}", run["alone"]["write_ms"]["p99"])
            )
            rows.append(
                _target(
                    "search_p99_during_writes_over_idle",
                    f"search p99 during writes / idle, {where}",
                    run["search_p99_during_over_idle"],
                )
            )
    for scale in report["scales"]:
        for run in scale.get("filtered", {}).get("filters", []):
            where = f"{scale['scale']}, a date range keeping {run['kept']:.1%}"
            if scale["passages"] >= 0.95 * FILTERED_TARGET_PASSAGES:
                what, ratio = f"search p50 / unfiltered, {where}", run["p50_over_unfiltered"]
                rows.append(_target("filtered_search_p50_over_unfiltered", what, ratio))
            what = f"top_k whenever they match, {where}"
            rows.append(_target("filtered_search_complete", what, float(run["complete"])))
    # Recall counts where the index is approximate and its vectors are real embeddings (at
    # 200k most are perturbed copies of 5,000, near ties no real archive has; reported, not judged).
    for scale in report["scales"]:
        if scale["dense"] != "flat" and scale["embedded"] == "all":
            rows.append(_target("ann_recall_at_10", f"recall@10, {scale['scale']}", scale["recall_at_10"]))
    if "vectors" in report:
        vectors = report["vectors"]
        where = f"{vectors['passages']} vectors"
        rows.append(_target("search_1m_p50_ms", f"search p50, {where}", vectors["search_ms"]["p50"]))
        rows.append(_target("ann_recall_at_10", f"recall@10, {where}", vectors["recall_at_10"]))
    return rows


def _target(name: str, what: str, value: float) -> dict[str, Any]:
    op, limit = TARGETS[name]
    return {
        "target": name,
        "what": what,
        "value": value,
        "goal": f"{op} {limit}",
        "pass": value >= limit if op == ">=" else value <= limit,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables: baseline, indexing, scales, HTTP, vectors, targets."""
    naive, machine_info, run = report["naive"], report["machine"], report["settings"]
    lines = [
        f"Machine: {machine_info['cpu'] or 'unknown CPU'}, {machine_info['cpus_usable']} CPUs usable, "
        f"{machine_info['memory_gb']} GB; load average {machine_info['loadavg_start']} at start, "
        f"{machine_info['loadavg_end']} at end. Serving backend {run['serving_backend']}, "
        f"{run['questions']} questions, 4-client runs of {run['duration_s']} s.",
        "",
        f"Naive baseline (sentence-transformers on torch, one query): p50 {naive['p50_ms']} ms, "
        f"p99 {naive['p99_ms']} ms, {naive['rate_per_s']} embeds/s at start; p50 "
        f"{report['naive_end']['p50_ms']} ms at end.",
        "",
        "| indexing backend | device | passages | seconds | passages/s | >= 60 |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in report["indexing"]:
        lines.append(
            f"| {row['backend']} | {row['device']} | {row['passages']} | {row['seconds']} | "
            f"{row['passages_per_s']} | {_mark(row['pass'])} |"
        )
    lines += [
        "",
        "| scale | passages | vectors | build s (passages/s) | dense | size MB | Index.load s "
        "| search p50 / p99 ms | ask p50 / p99 ms | recall@10 vs exact |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["scales"]:
        rate = f" ({row['indexing_passages_per_s']})" if "indexing_passages_per_s" in row else ""
        lines.append(
            f"| {row['scale']} | {row['passages']} | {row['embedded']} | {row.get('build_s', '-')}{rate} | "
            f"{row['dense']} | {row['size_mb']} | "
            f"{row['load_s']} | {row['search_ms']['p50']} / {row['search_ms']['p99']} | "
            f"{row['ask_ms']['p50']} / {row['ask_ms']['p99']} | {row['recall_at_10']} |"
        )
    lines += [
        "",
        "| scale | threads | start to /health s | RSS MB at start | after 100 /ask | peak RSS MB "
        "| naive p50 ms | /ask 1 client p50 (x naive) | p99 (x naive) | 4 clients req/s (x naive rate) "
        "| p50 <= 0.5x | p99 <= 1.0x | 4 clients >= 2x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in report["scales"]:
        for run in row["http"]:
            lines.append(
                f"| {row['scale']} | {run['threads']} | {run['startup_s']} | {run['rss_start_mb']} | "
                f"{run['rss_after_100_mb']} | {run['peak_rss_mb']} | "
                f"{run['naive_p50_ms']} | {run['ask_1_client_ms']['p50']} ({run['p50_over_naive']}x) | "
                f"{run['ask_1_client_ms']['p99']} ({run['p99_over_naive']}x) | "
                f"{run['ask_4_clients_per_s']} ({run['rate_over_naive']}x) | {_mark(run['pass_p50'])} | "
                f"{_mark(run['pass_p99'])} | {_mark(run['pass_rate'])} |"
            )
    filtered = [row for row in report["scales"] if row.get("filtered")]
    if filtered:
        lines += [
            "",
            "| scale | date range keeps | days | search p50 / p99 ms | unfiltered p50 / p99 ms "
            "| p50 x unfiltered | top 5 whenever they match |",
            "|---|---:|---|---:|---:|---:|---|",
        ]
        for row in filtered:
            base = row["filtered"]["unfiltered_ms"]
            for run in row["filtered"]["filters"]:
                lines.append(
                    f"| {row['scale']} | {run['kept']:.1%} | {run['dates']} | "
                    f"{run['p50']} / {run['p99']} | {base['p50']} / {base['p99']} | "
                    f"{run['p50_over_unfiltered']} | {'yes' if run['complete'] else 'NO'} |"
                )
    written = [row for row in report["scales"] if "writes" in row]
    if written:
        lines += [
            "",
            "| scale | threads | alone: writes, POST p50 / p99 ms | with 4 searchers: writes "
            "| POST p50 / p99 ms | total s | writes/s | not found after | search p99 idle / during ms "
            "(x) / after | search errors | merges (s in all) | segments after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in written:
            run = row["writes"]
            lines.append(
                f"| {row['scale']} | {run['threads']} | {run['alone']['writes']}, "
                f"{run['alone']['write_ms']['p50']} / {run['alone']['write_ms']['p99']} | "
                f"{run['writes']} | {run['write_ms']['p50']} / "
                f"{run['write_ms']['p99']} | {run['writes_total_s']} | {run['writes_per_s']} | "
                f"{run['not_found_after_write'] + run['alone']['not_found_after_write']} | "
                f"{run['search_idle_ms']['p99']} / "
                f"{run['search_during_ms']['p99']} ({run['search_p99_during_over_idle']}x) / "
                f"{run['search_after_ms']['p99']} | {run['search_errors']} | {run['merges']} "
                f"({run['merge_total_s']}) | {run['segments_after']} |"
            )
    if "vectors" in report:
        vectors = report["vectors"]
        lines += [
            "",
            "| vectors | dense | build s | size MB | load s | search p50 / p99 ms | exact p50 ms "
            "| recall@10 | p50 <= 5 ms |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|",
            f"| {vectors['passages']} | {vectors['dense']['type']} "
            f"nprobe {vectors['dense'].get('nprobe', '-')} | "
            f"{vectors['build_s']} | {vectors['size_mb']} | {vectors['load_s']} | "
            f"{vectors['search_ms']['p50']} / {vectors['search_ms']['p99']} | "
            f"{vectors['exact_search_ms_p50']} | {vectors['recall_at_10']} | {_mark(vectors['pass'])} |",
        ]
    met = sum(row["pass"] for row in report["targets"])
    lines += ["", f"Targets met: {met} of {len(report['targets'])}."]
    return "\n".join(lines) + "\n"


def _mark(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def write_report(report: dict[str, Any], out: Path, record: Path | None = None) -> list[Path]:
    """Write `bench.json` and `bench.md` into `out`, and with `record` a dated, stamped copy of
    the Markdown into that folder (eval/bench/record.py); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_markdown = out / "bench.json", out / "bench.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    text = markdown(report)
    as_markdown.write_text(text)
    return [as_json, as_markdown] + ([write_record(report, text, record)] if record is not None else [])
