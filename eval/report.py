"""Write an evaluation report to a folder: JSON, Markdown, and a chart a person reads at a glance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.run import CUTOFFS, markdown


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write `report.json`, `report.md` and `report.png` under `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.png"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report) + "\n", encoding="utf-8")
    chart(report, paths[2])
    return paths


def chart(report: dict[str, Any], path: Path) -> None:
    """Two panels: hit@k curves per mode, and hit@5 per tag for each mode (abstention recall
    for the unanswerable questions, whose right outcome is no answer)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt

    modes = list(report["modes"])
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.6]})
    for mode in modes:
        hits = [report["modes"][mode][f"hit@{k}"] or 0.0 for k in CUTOFFS]
        curves.plot(CUTOFFS, hits, marker="o", label=mode)
    curves.set(
        title="Gold passage within the top k",
        xlabel="k (passages returned)",
        ylabel="share of answerable questions",
        xticks=CUTOFFS,
        ylim=(0, 1.02),
    )
    curves.grid(alpha=0.3)
    curves.legend()

    tags = sorted(next(iter(report["by_tag"].values()), {}))
    width = 0.8 / max(len(modes), 1)
    for i, mode in enumerate(modes):
        by_tag = report["by_tag"][mode]
        values = [_tag_score(by_tag[tag]) for tag in tags]
        positions = [t + (i - (len(modes) - 1) / 2) * width for t in range(len(tags))]
        bars.bar(positions, values, width, label=mode)
    labels = [
        f"{tag}\n(abstained)" if report["by_tag"][modes[0]][tag]["hit@5"] is None else tag for tag in tags
    ]
    counts = [report["by_tag"][modes[0]][tag]["questions"] for tag in tags]
    bars.set_xticks(range(len(tags)), [f"{label}\nn={n}" for label, n in zip(labels, counts, strict=True)])
    bars.set(title="hit@5 by question tag", ylabel="share of questions", ylim=(0, 1.05))
    bars.tick_params(axis="x", labelsize=8)
    bars.grid(axis="y", alpha=0.3)
    bars.legend()
    figure.suptitle(f"newsqa evaluation: {report['questions']} questions")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _tag_score(metrics: dict[str, Any]) -> float:
    value = metrics["hit@5"] if metrics["hit@5"] is not None else metrics["abstain_recall"]
    return value or 0.0
