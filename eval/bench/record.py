"""Dated result files: `newsqa bench --record` keeps its Markdown report as
`docs/benchmarks/YYYY-MM-DD-COMMIT.md`, stamped with the date, the commit, the machine and the
command line, so that a figure quoted in the docs names the run it comes from."""

from __future__ import annotations

import datetime
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from indexer.settings import PROJECT_ROOT


def write_record(report: dict[str, Any], markdown: str, folder: Path) -> Path:
    """Write `markdown` (the report's) under its stamp into `folder`, as DATE-COMMIT.md (a second
    run of the same commit on the same day replaces it); returns the file's path."""
    day = datetime.date.today().isoformat()
    revision = commit()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day}-{revision}.md"
    path.write_text(stamp(report, day, revision, command_line()) + "\n" + markdown)
    return path


def stamp(report: dict[str, Any], day: str, revision: str, command: str) -> str:
    """The lines that head a recorded report: what ran, when, where and on which code."""
    machine = report["machine"]
    libraries = ", ".join(f"{name} {number}" for name, number in machine["libraries"].items())
    return (
        f"# newsqa bench, {day}\n\n"
        f"- Date: {day}\n"
        f"- Commit: {revision}\n"
        f"- Machine: {machine['cpu'] or 'unknown CPU'}, {machine['cpus_usable']} CPUs usable, "
        f"{machine['memory_gb']} GB; Python {machine['python']}, {libraries}\n"
        f"- Command: `{command}`\n"
    )


def commit(root: Path = PROJECT_ROOT) -> str:
    """`git rev-parse --short HEAD` of the checkout at `root`, with "-dirty" when a tracked file
    differs from it (as `git describe --dirty` counts: untracked files do not); "unknown"
    where `root` is no git checkout."""
    try:
        head = _git(["rev-parse", "--short", "HEAD"], root)
        changed = _git(["status", "--porcelain", "--untracked-files=no"], root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if changed else head


def command_line() -> str:
    """The command this process runs, as it was typed after `newsqa`."""
    return shlex.join(["newsqa", *sys.argv[1:]])


def _git(arguments: list[str], root: Path) -> str:
    done = subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()
