"""Faults: `newsqa index` killed with SIGKILL mid-build, and damaged index files.

A kill at any moment must leave the old index or the new one, whole and checked, never a
mix; a damaged file must be named, with how to rebuild, by `Index.load`, the API (503, the
service staying up) and the CLI (one line, non-zero exit).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import first_health, free_port, segment_folder

from indexer.build import load_documents
from indexer.check import check_index
from indexer.errors import IndexFormatError, IndexNotFoundError
from indexer.segments import (
    DENSE,
    DOCUMENTS,
    INFO,
    PASSAGES,
    POSTINGS,
    SEGMENTS,
    SENTENCE_VECTORS,
    SENTENCES,
    VECTORS,
)
from indexer.settings import load_settings
from indexer.store import MANIFEST, VERSIONS, corpus_fingerprint, read_manifest, resolve
from service.core.index import Index
from service.http.api import create_app

NEWSQA = [sys.executable, "-c", "from service.cli import main; main()"]
ARTICLES = {
    "roads.txt": "Roads in Mộc Châu\n\nThe province paved 40 km of rural roads in 2025. Villages cheered.",
    "coffee.txt": "Coffee harvest\n\nFarmers in Mai Sơn picked coffee early this year, at good prices.",
}
NEW_ARTICLE = ("tea.txt", "Tea prices\n\nTea prices rose in the highlands after a dry spring.")


def write_articles(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in articles.items():
        (folder / name).write_text(text)
    return folder


def fingerprint(articles: Path) -> str:
    return corpus_fingerprint(load_documents([articles])[0])


def start_index(articles: Path, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*NEWSQA, "index", str(articles), "--index-dir", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def writing(root: Path) -> bool:
    """Whether a build has started writing files into `root`: its new segment's folder appears
    as `segments/.tmp-*`, then its version's manifest."""
    segments = root / SEGMENTS
    return segments.is_dir() and any(segments.glob(".tmp-*"))


def kill_during_build(articles: Path, root: Path, delay: float, after_tmp: bool) -> int:
    """Run `newsqa index` and SIGKILL it `delay` seconds after it starts or, with `after_tmp`,
    after its segment folder appears (while the files are written, or just after). Returns
    the exit status: -9 when killed, 0 when the build finished first."""
    process = start_index(articles, root)
    if after_tmp:
        while process.poll() is None and not writing(root):
            time.sleep(0.0005)
        time.sleep(delay)
    else:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=delay)
    if process.poll() is None:
        process.kill()
    return process.wait(timeout=60)


def state(root: Path, embedder) -> str | None:
    """The current version's corpus fingerprint, after a full check; None if there is no index."""
    try:
        folder = resolve(root)
    except IndexNotFoundError:
        return None
    report = check_index(root, embedder)
    assert report.problems == []
    return str(read_manifest(folder)["corpus_sha256"])


def test_kill_9_during_a_build_leaves_the_old_or_the_new_index(tmp_path, embedder):
    old_articles = write_articles(tmp_path / "old", ARTICLES)
    new_articles = write_articles(tmp_path / "new", dict([*ARTICLES.items(), NEW_ARTICLE]))
    old, new = fingerprint(old_articles), fingerprint(new_articles)

    # How long a whole build takes, model loading included, and how long it spends between
    # creating its segment folder and moving `current`, to spread the kills over both.
    scratch = tmp_path / "scratch"
    process = start_index(new_articles, scratch)
    started = time.monotonic()
    wrote = moved = None
    while process.poll() is None:
        if wrote is None and writing(scratch):
            wrote = time.monotonic()
        if moved is None and (scratch / "current").exists():
            moved = time.monotonic()
        time.sleep(0.0005)
    assert process.returncode == 0 and wrote is not None and moved is not None
    duration, write_time = time.monotonic() - started, moved - wrote
    assert state(scratch, embedder) == new

    pristine = tmp_path / "old-index"
    Index.build([old_articles], load_settings(index_dir=pristine), embedder)
    rng = random.Random(5)
    runs = [(True, rng.uniform(0, 0.9 * duration), False) for _ in range(2)]
    runs += [(True, rng.uniform(part, part + 1) * write_time / 3, True) for part in range(3)]
    runs += [(False, rng.uniform(0, write_time), True)]  # no index before: none, or the new one
    outcomes = []
    for number, (had_index, delay, after_tmp) in enumerate(runs):
        root = tmp_path / f"run-{number}"
        if had_index:
            shutil.copytree(pristine, root, symlinks=True)
        assert state(root, embedder) == (old if had_index else None)
        status = kill_during_build(new_articles, root, delay, after_tmp)
        after = state(root, embedder)
        assert after in ({old, new} if had_index else {None, new})
        named = {old: "old", new: "new", None: "none"}[after]
        outcomes.append((had_index, round(delay, 3), after_tmp, status, named))
    print(f"build {duration:.2f} s, writing {write_time:.3f} s; kill -9 runs (old index, delay s, ", end="")
    print("after .tmp appeared, exit status, state):", *outcomes, sep="\n  ")
    assert any(status == -9 for *_, status, _ in outcomes)

    # Leftover temporary folders (of a segment, of a version) neither break a load nor the next
    # build, and old ones are pruned.
    root = tmp_path / "run-0"
    stale_segment, stale_version = root / SEGMENTS / ".tmp-stale", root / VERSIONS / ".tmp-stale"
    stale_segment.mkdir(parents=True, exist_ok=True)
    (stale_segment / DENSE).write_bytes(b"half a file")
    stale_version.mkdir(parents=True, exist_ok=True)
    (stale_version / MANIFEST).write_text('{"format": "newsqa-index", "segm')
    for stale in (stale_segment, stale_version):
        os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert Index.load(load_settings(index_dir=root), embedder).stored.manifest["corpus_sha256"] in {old, new}
    assert start_index(new_articles, root).wait(timeout=300) == 0
    assert state(root, embedder) == new
    assert not stale_segment.exists() and not stale_version.exists()


# --- damaged files ---------------------------------------------------------------------------

# The version's manifest, and the files of its segment.
DAMAGEABLE = [
    MANIFEST,
    INFO,
    DOCUMENTS,
    PASSAGES,
    DENSE,
    POSTINGS,
    VECTORS,
    SENTENCES,
    SENTENCE_VECTORS,
]
JUNK = bytes(range(250, 256)) + b"{garbage]\x00"


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, embedder) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    articles = write_articles(folder / "articles", ARTICLES)
    Index.build([articles], load_settings(index_dir=folder / "index"), embedder)
    return folder / "index"


@pytest.fixture
def small_copy(small_index, tmp_path) -> Path:
    root = tmp_path / "index"
    shutil.copytree(small_index, root, symlinks=True)
    return root


def damage(path: Path, how: str) -> None:
    """Truncate `path` to half, or overwrite 16 bytes keeping its size: at its start, where
    binary formats keep their header, or in the middle of a JSON Lines file."""
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        at = len(data) // 2 if path.suffix == ".jsonl" else 0
        path.write_bytes(data[:at] + JUNK + data[at + len(JUNK) :])
        assert path.stat().st_size == len(data)


@pytest.mark.parametrize("how", ["truncated", "garbled"])
@pytest.mark.parametrize("name", DAMAGEABLE)
def test_a_damaged_file_is_named_with_how_to_rebuild(small_copy, embedder, name, how):
    path = (resolve(small_copy) if name == MANIFEST else segment_folder(small_copy)) / name
    damage(path, how)
    with pytest.raises(IndexFormatError) as raised:
        Index.load(load_settings(index_dir=small_copy), embedder)
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    assert message.endswith(f"rebuild it with `newsqa index --index-dir {small_copy}`"), message
    assert "\n" not in message


@pytest.mark.parametrize(("name", "how"), [(DENSE, "garbled"), (PASSAGES, "truncated")])
def test_the_api_answers_503_naming_the_damaged_file(small_copy, embedder, name, how):
    path = segment_folder(small_copy) / name
    damage(path, how)
    with pytest.raises(IndexFormatError) as raised:
        Index.load(load_settings(index_dir=small_copy), embedder)
    with TestClient(create_app(load_settings(index_dir=small_copy), embedder)) as test_client:
        for response in (
            test_client.get("/health"),
            test_client.post("/ask", json={"question": "Which roads were paved?"}),
            test_client.get("/search", params={"q": "roads"}),
        ):
            assert (response.status_code, response.json()) == (503, {"detail": str(raised.value)})
    assert str(raised.value).startswith(f"{path}: ")


def newsqa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSQA, *args], capture_output=True, text=True, timeout=300)


def test_the_cli_says_which_file_is_damaged_in_one_line(small_copy):
    path = segment_folder(small_copy) / DOCUMENTS
    damage(path, "garbled")
    for command in ("search", "ask"):
        result = newsqa(command, "roads", "--index-dir", str(small_copy))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr and result.stdout == ""
        (line,) = [line for line in result.stderr.splitlines() if "damaged" in line]
        assert line.startswith(f"newsqa: error: {path}: damaged, cannot be read (")
        assert line.endswith(f"rebuild it with `newsqa index --index-dir {small_copy}`")


def test_serve_stays_up_and_answers_503_on_a_damaged_index(small_copy):
    # A supervisor restarting a service that exits would loop; staying up lets probes see why.
    path = segment_folder(small_copy) / DENSE
    damage(path, "garbled")
    port = free_port()
    server = subprocess.Popen(
        [*NEWSQA, "serve", "--index-dir", str(small_copy), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        response = first_health(server, f"http://127.0.0.1:{port}")
        detail = response.json()["detail"]
        assert response.status_code == 503 and detail.startswith(f"{path}: damaged, cannot be read (")
        assert httpx.post(f"http://127.0.0.1:{port}/ask", json={"question": "roads?"}).status_code == 503
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    errors = [line for line in stderr.splitlines() if not line.startswith("{")]  # JSON lines: requests
    assert [line for line in errors if "damaged" in line] == [f"newsqa: ERROR: {detail}"]
    assert "Traceback" not in stderr
