"""The `newsqa` command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NEWSQA = [sys.executable, "-c", "from service.cli import main; main()"]


def newsqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSQA, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


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
    return folder / "index"


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
        (
            ["search", "x", "--index-dir", "/nonexistent/index"],
            1,
            "newsqa: error: no index in /nonexistent/index",
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
