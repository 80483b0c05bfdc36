"""The `newsqa` command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.helpers import NEWSQA, newsqa


def newsqa_on_terminal(*args: str) -> tuple[int, str, str]:
    """Run newsqa with stderr on a pseudo-terminal of 100 columns and stdout on a pipe, as in
    `newsqa index ... > summary.txt` typed at a shell; return the exit code, stdout, and the
    terminal's output with each line as last drawn (a bar redraws its line after a \\r)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([*NEWSQA, *args], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 300
    try:
        while select.select([master], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process has exited, closing the terminal
                break
            if not data:
                break
            shown += data
        stdout = process.communicate(timeout=max(1.0, deadline - time.monotonic()))[0].decode()
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    lines = shown.decode().replace("\r\n", "\n").split("\n")
    return process.returncode, stdout, "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


@pytest.fixture(scope="module")
def few_articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two articles and a file that is skipped with a warning."""
    articles = tmp_path_factory.mktemp("few")
    (articles / "roads.txt").write_text(
        "Roads in Mộc Châu\n\nThe province paved 40 km of rural roads in Mộc Châu in 2025."
    )
    (articles / "tea.md").write_text("# Tea in Yên Châu\n\nFarmers harvested 300 tonnes of tea in May.")
    (articles / "broken.txt").write_bytes(b"\xff\xfe\x00\x00")
    return articles


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    articles = folder / "articles"
    articles.mkdir()
    (articles / "roads.txt").write_text(
        "Roads in Mộc Châu\n\nThe province paved 40 km of rural roads in Mộc Châu in 2025."
    )
    (articles / "broken.txt").write_bytes(b"\xff\xfe\x00\x00")
    result = newsqa("index", str(articles), "--index-dir", str(folder / "index"))
    assert result.returncode == 0, result.stderr
    changes, summary = result.stdout.splitlines()
    assert changes == "added 1 (roads), updated 0, removed 0, unchanged 0; embedded 1 passages, reused 0"
    assert summary.startswith("indexed 1 documents, 1 passages, 1 skipped (1 binary file) in ")
    assert "skipped" in result.stderr and "broken.txt: binary file" in result.stderr
    # stderr is not a terminal: the warning, and no progress bars
    assert all(line.startswith("newsqa: WARNING: skipped ") for line in result.stderr.splitlines())
    assert "\r" not in result.stderr
    return folder / "index"


def test_index_shows_progress_on_a_terminal(few_articles, tmp_path):
    code, stdout, terminal = newsqa_on_terminal("index", str(few_articles), "--index-dir", str(tmp_path))
    assert code == 0, terminal
    changes, summary = stdout.splitlines()
    assert changes == "added 2 (roads, tea), updated 0, removed 0, unchanged 0; embedded 2 passages, reused 0"
    assert summary.startswith("indexed 2 documents, 2 passages, 1 skipped (1 binary file) in ")
    # each step's bar, as left when done: its count with its unit, its rate, and what it found
    lines = terminal.splitlines()
    assert lines[0] == "Loading the model sentence-transformers/all-MiniLM-L6-v2"
    assert lines[1] == f"newsqa: WARNING: skipped {few_articles / 'broken.txt'}: binary file"
    steps = [
        r"Reading: 100%\|█+\| 3/3 files \[00:\d\d<00:00, +[\d.]+ files/s, 2 articles, 1 skipped\]",
        r"Chunking: 100%\|█+\| 2/2 documents \[00:\d\d<00:00, +[\d.]+ documents/s, 2 passages\]",
        r"Embedding: 100%\|█+\| 2/2 passages \[00:\d\d<00:00, +[\d.]+ passages/s\]",
        r"Writing: 100%\|█+\| 2/2 steps \[00:\d\d<00:00, +[\d.]+ steps/s\]",
    ]
    assert len(lines) == 2 + len(steps) and terminal.endswith("\n"), terminal
    for line, step in zip(lines[2:], steps, strict=True):
        assert re.fullmatch(step, line) and len(line) <= 100, line
    assert "indexed" not in terminal  # the summary goes to stdout only

    # again: every passage is reused, and the terminal says so instead of an embedding bar
    code, stdout, terminal = newsqa_on_terminal("index", str(few_articles), "--index-dir", str(tmp_path))
    assert code == 0, terminal
    assert stdout.splitlines()[0].endswith("embedded 0 passages, reused 2")
    assert "Embedding: 2 of 2 passages reused from the current index" in terminal.splitlines()
    assert "Embedding: 100%" not in terminal


def test_index_quiet_leaves_only_warnings_on_the_terminal(few_articles, tmp_path):
    code, stdout, terminal = newsqa_on_terminal(
        "index", str(few_articles), "--index-dir", str(tmp_path), "-q"
    )
    assert code == 0, terminal
    assert len(stdout.splitlines()) == 2 and stdout.splitlines()[1].startswith("indexed 2 documents")
    assert terminal == f"newsqa: WARNING: skipped {few_articles / 'broken.txt'}: binary file\n"


def test_ask_prints_answer_and_citations(index_dir):
    result = newsqa("ask", "How many km of roads were paved?", "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Answer: 40 km"
    assert lines[1].strip().startswith("[roads 19:24, number, score ")
    assert lines[2].strip() == "“The province paved 40 km of rural roads in Mộc Châu in 2025.”"
    assert lines[3].strip() == "[roads 0:60]"
    assert "1. Roads in Mộc Châu" in result.stdout


def test_json_output_is_the_api_shape(index_dir):
    result = newsqa("search", "Moc Chau roads", "-k", "1", "--json", "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"query", "results", "took_ms"}
    assert body["results"][0]["doc_id"] == "roads"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ask", "  "], 1, "newsqa: error: question must not be blank"),
        # No index there, and none can be built there (search builds a missing one).
        (
            ["search", "x", "--index-dir", "/proc/newsqa/index"],
            1,
            "newsqa: error: cannot write the index directory /proc/newsqa/index",
        ),
        (["index", "/nonexistent/articles"], 2, "Error: Invalid value for PATHS: no such file or folder"),
        (["search", "x", "-k", "0"], 2, "Error: Invalid value for '-k'"),
    ],
)
def test_errors_are_one_line_and_non_zero(index_dir, args, code, message):
    if "--index-dir" not in args:
        args = [*args, "--index-dir", str(index_dir)]
    result = newsqa(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_fails_fast(index_dir):
    result = newsqa("index", "--index-dir", str(index_dir), env={"NEWSQA_CHUNK_TOKENS": "lots"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "newsqa: error: invalid setting: chunk_tokens: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


def test_serve_builds_a_missing_index_then_answers_over_http(tmp_path):
    import httpx
    from helpers import first_health, free_port

    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tea.txt").write_text(
        "Tea in Yên Châu\n\nFarmers in Yên Châu harvested 300 tonnes of tea in May."
    )
    port = free_port()
    env = {**os.environ, "NEWSQA_ARTICLES_DIR": str(articles)}
    server = subprocess.Popen(
        [*NEWSQA, "serve", "--index-dir", str(tmp_path / "index"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = first_health(server, f"http://127.0.0.1:{port}")
        assert health.json()["documents"] == 1
        answer = httpx.post(
            f"http://127.0.0.1:{port}/ask", json={"question": "How much tea was harvested in Yen Chau?"}
        ).json()
        assert answer["answer"]["text"] == "300 tonnes"
        assert (
            answer["answer"]["sentence"]["text"] == "Farmers in Yên Châu harvested 300 tonnes of tea in May."
        )
        assert (tmp_path / "index" / "current" / "manifest.json").is_file()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ask_builds_a_missing_index_and_says_so(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tea.txt").write_text(
        "Tea in Yên Châu\n\nFarmers in Yên Châu harvested 300 tonnes of tea in May."
    )
    index_dir = tmp_path / "index"
    env = {"NEWSQA_ARTICLES_DIR": str(articles)}
    result = newsqa("ask", "How much tea was harvested in Yen Chau?", "--index-dir", str(index_dir), env=env)
    assert result.returncode == 0, result.stderr
    assert f"no index in {index_dir}: indexing {articles} first" in result.stderr
    assert result.stdout.splitlines()[0] == "Answer: 300 tonnes"
    # The next question uses the index built, and says nothing of building.
    again = newsqa("search", "tea harvest", "--index-dir", str(index_dir), env=env)
    assert again.returncode == 0 and "indexing" not in again.stderr
    assert "Farmers in Yên Châu" in again.stdout


def test_help_starts_without_the_heavy_libraries():
    heavy = "{'numpy', 'torch', 'faiss', 'nltk', 'pydantic'}"
    code = f"import sys; from service.cli import cli; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_eval_without_the_eval_extra_says_what_to_install():
    code = (
        "import sys; sys.modules['pytrec_eval'] = None; "  # as if the eval extra were not installed
        "sys.argv = ['newsqa', 'eval', '--index-dir', 'none']; from service.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "newsqa: error: this command needs the eval extra: pip install 'newsqa[eval]'"
    )
    assert "Traceback" not in result.stderr
