"""kill -9 of the service while it writes segments and merges them in the background, and of
`newsqa index --optimize` mid-merge: the index is always the previous version or the new one,
whole and checked, and every write the service acknowledged is in it."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from helpers import NEWSQA, first_health, free_port

from indexer.build import append_documents, build_documents
from indexer.check import check_index
from indexer.clean import clean
from indexer.segments import MERGING, SEGMENTS
from indexer.settings import load_settings
from indexer.sources import RawArticle
from indexer.store import load_index, writer_lock

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

TOKEN = "faults-token"


def article(number: int) -> dict[str, str]:
    return {
        "id": f"w{number}",
        "text": f"Write {number}\n\nThe commune of Na Sang {number} harvested {number} tonnes of tea.",
    }


def base_index(root: Path, embedder, count: int = 3) -> None:
    documents = [
        clean(
            RawArticle(
                doc_id=f"base{i}", text=f"Base {i}\n\nRoads and schools in district {i}.", source="api"
            )
        )
        for i in range(count)
    ]
    build_documents(documents, load_settings(index_dir=root), embedder)


def test_kill_9_while_writing_and_merging_loses_no_acknowledged_write(tmp_path, embedder):
    root = tmp_path / "index"
    base_index(root, embedder)
    rng = random.Random(7)
    acknowledged: set[str] = set()
    attempted: set[str] = set()
    number = 0
    outcomes = []
    for run in range(4):
        port = free_port()
        # merge_factor 2: nearly every write starts a merge in the background, so kills land in both.
        env = {
            **os.environ,
            "NEWSQA_ADMIN_TOKEN": TOKEN,
            "NEWSQA_MERGE_FACTOR": "2",
            "NEWSQA_RELOAD_INTERVAL": "0",
        }
        server = subprocess.Popen(
            [*NEWSQA, "serve", "--index-dir", str(root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            assert first_health(server, url).status_code == 200
            deadline = time.monotonic() + rng.uniform(0.5, 3.0)
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            ) as client:
                while time.monotonic() < deadline:
                    number += 1
                    attempted.add(f"w{number}")
                    response = client.post("/documents", json=article(number))
                    assert response.status_code == 201, response.text
                    acknowledged.add(f"w{number}")
                # The last one is in flight when the kill comes.
                number += 1
                attempted.add(f"w{number}")
                try:
                    client.post("/documents", json=article(number), timeout=rng.uniform(0.01, 0.4))
                except httpx.TimeoutException:
                    pass
                else:
                    acknowledged.add(f"w{number}")
        finally:
            server.kill()
            server.wait(timeout=30)
        stored = load_index(root)
        assert check_index(root).problems == []
        live = set(stored.documents)
        assert acknowledged <= live <= acknowledged | attempted | {"base0", "base1", "base2"}
        outcomes.append((run, len(acknowledged), len(stored.segments), stored.manifest["changes"]))
    print("runs (acknowledged writes, segments, last change):", *outcomes, sep="\n  ")
    assert len(acknowledged) >= 8


def test_kill_9_during_optimize_leaves_the_segments_or_the_merge(tmp_path, embedder):
    root = tmp_path / "index"
    base_index(root, embedder, count=300)  # enough rows that each step of the merge takes a moment
    settings = load_settings(index_dir=root)
    current = load_index(root)
    with writer_lock(root, 10):
        for number in range(1, 6):
            document = clean(
                RawArticle(source="api", doc_id=article(number)["id"], text=article(number)["text"])
            )
            current = append_documents(
                current, [document], ["base1"] if number == 3 else (), settings, embedder
            )
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine, symlinks=True)
    before = current.manifest["corpus_sha256"]
    documents = set(current.documents)

    # Kill it as each step of the merge is seen: its segment being written, written under its
    # hidden name, the version naming it being written; and at random moments.
    stages = [".tmp-", MERGING, "version", None, None]
    rng = random.Random(3)
    states = []
    for run, stage in enumerate(stages):
        target = tmp_path / f"run-{run}"
        shutil.copytree(pristine, target, symlinks=True)
        process = subprocess.Popen(
            [*NEWSQA, "index", "--optimize", "--index-dir", str(target)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + (rng.uniform(0.5, 3.0) if stage is None else 120)
        while process.poll() is None and time.monotonic() < deadline and not _seen(target, stage):
            time.sleep(0.0002)
        process.kill()
        status = process.wait(timeout=30)
        stored = load_index(target)
        assert check_index(target).problems == []
        assert stored.manifest["corpus_sha256"] == before and set(stored.documents) == documents
        assert len(stored.segments) in (1, len(current.segments))
        states.append((stage, status, len(stored.segments)))
        # Whatever the kill left behind, the next optimize finishes the job.
        assert subprocess.run([*NEWSQA, "index", "--optimize", "--index-dir", str(target)]).returncode == 0
        assert len(load_index(target).segments) == 1
    print("optimize runs (killed at, exit status, segments after):", *states, sep="\n  ")
    assert sum(status == -9 for _, status, _ in states) >= 3


def _seen(root: Path, stage: str | None) -> bool:
    if stage is None:
        return False
    if stage == "version":
        return any((root / "versions").glob(".tmp-*"))
    return any((root / SEGMENTS).glob(f"{stage}*"))
