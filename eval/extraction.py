"""Score the cleaning of web pages against judged snippets, as trafilatura's own evaluation does.

A folder holds `pages/*.html` and `snippets.json`: for each page (file stem), `with` snippets
the stored text must keep and `without` snippets (boilerplate) it must drop. A `with` snippet
found in the text, whitespace normalised, is a true positive, a missing one a false negative; a
`without` snippet found is a false positive. The text scored is what newsqa stores: the page
read and cleaned exactly as `newsqa index` does. trafilatura's own settings can be scored on the
same pages for comparison. The title counts as stored text: newsqa keeps the headline there,
not repeated at the top of the text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.clean import clean
from indexer.errors import NewsqaError, SourceError
from indexer.sources import Skipped, read_file

# trafilatura's settings scored beside newsqa with `--baselines`.
BASELINES: dict[str, dict[str, Any]] = {
    "trafilatura default": {},
    "trafilatura favor_precision": {"favor_precision": True},
    "trafilatura favor_recall": {"favor_recall": True},
}


class ExtractionSetError(NewsqaError):
    """A folder that is not a set of judged pages."""


@dataclass
class Counts:
    """Snippets kept (tp), lost (fn) and boilerplate let through (fp)."""

    tp: int = 0
    fn: int = 0
    fp: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fn, self.fp = self.tp + other.tp, self.fn + other.fn, self.fp + other.fp

    def scores(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


@dataclass
class PageResult:
    page: str
    counts: Counts
    kept_boilerplate: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    skipped: str | None = None


def _normalised(text: str) -> str:
    return " ".join(text.split())


def judge(page: str, text: str | None, snippets: dict[str, Any]) -> PageResult:
    """How the `text` stored for `page` fares against its judged snippets."""
    stored = _normalised(text or "")
    kept = [s for s in snippets.get("with", []) if _normalised(s) in stored]
    lost = [s for s in snippets.get("with", []) if _normalised(s) not in stored]
    boilerplate = [s for s in snippets.get("without", []) if _normalised(s) in stored]
    return PageResult(page, Counts(len(kept), len(lost), len(boilerplate)), boilerplate, lost)


def newsqa_text(path: Path) -> tuple[str | None, str | None]:
    """The text newsqa stores for the page at `path` (its title, then its text), or None and
    why it is skipped."""
    try:
        raws = [raw for raw in read_file(path) if not isinstance(raw, Skipped)]
        document = clean(raws[0])
        return f"{document.title}\n\n{document.text}", None
    except SourceError as exc:
        return None, str(exc)


def trafilatura_text(path: Path, options: dict[str, Any]) -> str:
    """What trafilatura alone extracts from the page, with `options`."""
    import trafilatura
    import trafilatura.utils

    return trafilatura.extract(trafilatura.utils.decode_file(path.read_bytes()), **options) or ""


def evaluate_extraction(folder: Path, baselines: bool = False) -> dict[str, Any]:
    """Precision, recall and F1 of newsqa's stored text (and, with `baselines`, of trafilatura's
    settings) over the judged pages of `folder`, with each page's misses."""
    try:
        judged: dict[str, dict[str, Any]] = json.loads((folder / "snippets.json").read_text())
    except (OSError, ValueError) as exc:
        raise ExtractionSetError(f"{folder}: no readable snippets.json ({exc})") from None
    pages = {page: folder / "pages" / f"{page}.html" for page in judged}
    if missing := [str(path) for path in pages.values() if not path.is_file()]:
        raise ExtractionSetError(f"{folder}: {len(missing)} judged pages are missing, e.g. {missing[0]}")
    total, results = Counts(), []
    for page, path in pages.items():
        text, skipped = newsqa_text(path)
        result = judge(page, text, judged[page])
        result.skipped = skipped
        total.add(result.counts)
        results.append(result)
    report: dict[str, Any] = {
        "pages": len(pages),
        "skipped": [{"page": r.page, "reason": r.skipped} for r in results if r.skipped],
        "systems": {"newsqa": {**total.scores(), **vars(total)}},
        "per_page": [
            {
                "page": r.page,
                "url": judged[r.page].get("url"),
                **vars(r.counts),
                "kept_boilerplate": r.kept_boilerplate,
                "lost": r.lost,
            }
            for r in results
            if r.counts.fp or r.counts.fn or r.skipped
        ],
    }
    if baselines:
        for name, options in BASELINES.items():
            counts = Counts()
            for page, path in pages.items():
                counts.add(judge(page, trafilatura_text(path, options), judged[page]).counts)
            report["systems"][name] = {**counts.scores(), **vars(counts)}
    return report


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one row per system, then the pages with misses."""
    lines = [
        f"{report['pages']} judged pages, {len(report['skipped'])} not indexed.",
        "",
        "| system | precision | recall | f1 | kept | lost | boilerplate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in report["systems"].items():
        scores = f"{s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f}"
        lines.append(f"| {name} | {scores} | {s['tp']} | {s['fn']} | {s['fp']} |")
    if report["per_page"]:
        lines += ["", "Pages with misses (newsqa):", ""]
        for page in report["per_page"]:
            kept = "; ".join(repr(s[:60]) for s in page["kept_boilerplate"])
            lost = "; ".join(repr(s[:60]) for s in page["lost"])
            lines.append(
                f"- {page['page']} {page['url']}: boilerplate kept: {kept or '-'}; lost: {lost or '-'}"
            )
    for skip in report["skipped"]:
        lines.append(f"- not indexed: {skip['page']}: {skip['reason']}")
    return "\n".join(lines)
