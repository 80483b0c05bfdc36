"""`python -m eval.startup`: the start-up figures a user meets, measured by running the commands."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from indexer.settings import Settings
from service.core.index import Index

# It starts `newsqa` processes of its own.
pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


def test_startup_measures_help_a_one_off_ask_and_serve(bundled: Index, bundled_settings: Settings):
    command = [sys.executable, "-m", "eval.startup", "--runs", "1", "--questions", "3"]
    run = subprocess.run(
        [*command, "--index-dir", str(bundled_settings.index_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^\| (.+?) \| ([\d.]+) ", run.stdout, flags=re.MULTILINE))
    assert set(figures) == {
        "`python -c 'import click'`",
        "`newsqa --help`",
        "`newsqa ask` (one-off, cold process)",
        "`newsqa serve`: start to first /health 200",
        "`newsqa serve`: start to first answer",
        "`newsqa serve` resident memory after start-up",
        "... after 3 questions",
    }
    assert 0 < float(figures["`python -c 'import click'`"]) < float(figures["`newsqa --help`"])
    assert float(figures["`newsqa serve`: start to first /health 200"]) < float(
        figures["`newsqa serve`: start to first answer"]
    )
    assert float(figures["... after 3 questions"]) > 100  # the model's runtime alone is more
