"""One writer at a time across processes: the index directory's write lock, and the race it closes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from helpers import serving, stored_records
from pydantic import SecretStr

from indexer.build import build_documents
from indexer.clean import Document
from indexer.errors import IndexBusyError
from indexer.settings import load_settings
from indexer.store import WRITE_LOCK, resolve, writer_lock
from service.http.api import create_app

TOKEN = "lock-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEWSQA = [sys.executable, "-c", "from service.cli import main; main()"]
# Holds the lock of the folder in argv[1] until killed, after saying so on stdout.
HOLDER = (
    "import sys, time; from pathlib import Path; from indexer.store import writer_lock\n"
    "with writer_lock(Path(sys.argv[1]), 10):\n"
    "    print('holding', flush=True); time.sleep(600)\n"
)


def stored_ids(root: Path) -> set[str]:
    return set(stored_records(resolve(root)))


def test_a_second_process_waits_then_fails_naming_the_holder_and_kill_9_frees_the_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        started = time.monotonic()
        with pytest.raises(IndexBusyError) as refused, writer_lock(tmp_path, timeout=0.5):
            pass
        assert time.monotonic() - started >= 0.5
        assert f"pid {holder.pid}" in str(refused.value) and "NEWSQA_LOCK_TIMEOUT" in str(refused.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with writer_lock(tmp_path, timeout=5):  # the kernel released it with the process
        assert (tmp_path / WRITE_LOCK).read_text().startswith(f"pid {os.getpid()}")


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_between_threads(tmp_path):
    entered = threading.Event()
    with writer_lock(tmp_path, timeout=1), writer_lock(tmp_path, timeout=1):

        def other() -> None:
            with writer_lock(tmp_path, timeout=30):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.3)  # held here, twice over
    thread.join(timeout=10)
    assert entered.is_set()


def test_every_acknowledged_write_survives_a_concurrent_newsqa_index(tmp_path, embedder):
    """The race of the security review: `newsqa index` in another process while the service
    acknowledges writes. Without the lock the CLI built on the version it read first and lost
    every article the service wrote meanwhile."""
    root = tmp_path / "index"
    settings = load_settings(index_dir=root, admin_token=SecretStr(TOKEN), reload_interval=0.2)
    build_documents([Document("seed", "Seed", "Coffee farms in Son La.", "en", "api")], settings, embedder)
    folder = tmp_path / "articles"
    folder.mkdir()
    for number in range(40):
        (folder / f"file-{number}.txt").write_text(
            f"Report {number}\n\n" + f"Commune {number} paved {number + 3} km of rural roads this year. " * 12
        )
    acknowledged: list[str] = []
    stop = threading.Event()
    with serving(create_app(settings, embedder)) as base_url:

        def write_articles() -> None:
            with httpx.Client(base_url=base_url, headers=AUTH, timeout=120) as client:
                number = 0
                while not stop.is_set():
                    doc_id = f"xr-{number}"
                    article = {"id": doc_id, "text": f"Article {number} about tea exports from Moc Chau."}
                    response = client.post("/documents", json=article)
                    assert response.status_code == 201, response.text
                    acknowledged.append(doc_id)
                    number += 1
                    time.sleep(0.1)

        writer = threading.Thread(target=write_articles)
        writer.start()
        try:
            runs = 0  # at least two builds, and more until they have raced ten writes
            while runs < 2 or (len(acknowledged) < 10 and runs < 8):
                runs += 1
                result = subprocess.run(
                    [*NEWSQA, "index", str(folder), "--index-dir", str(root)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert result.returncode == 0, result.stderr
        finally:
            stop.set()
            writer.join(timeout=180)
        assert len(acknowledged) >= 10
        stored = stored_ids(root)
        assert set(acknowledged) <= stored, sorted(set(acknowledged) - stored)
        assert {f"file-{number}" for number in range(40)} | {"seed"} <= stored
        deadline = time.monotonic() + 10  # and the service serves them, once it has polled
        while httpx.get(f"{base_url}/health").headers["x-index-version"] != resolve(root).name:
            assert time.monotonic() < deadline, "the service did not pick up the last version"
            time.sleep(0.1)
        for doc_id in acknowledged:
            assert httpx.get(f"{base_url}/documents/{doc_id}").status_code == 200, doc_id
