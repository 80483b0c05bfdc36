"""Helpers shared by test modules (pytest puts tests/ on the import path)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from indexer.segments import DOCUMENTS, INFO, SEGMENTS, file_sha256
from indexer.store import MANIFEST, resolve

# The `newsqa` command, run by this interpreter (so with the code under test).
NEWSQA = [sys.executable, "-c", "from service.cli import main; main()"]


def newsqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `newsqa args...` in a process of its own; its output as text."""
    return subprocess.run(
        [*NEWSQA, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    """A loopback port free at the moment of asking, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_health(server: subprocess.Popen[str], url: str, timeout: float = 120) -> httpx.Response:
    """The first answer of a `newsqa serve` process at `url` to GET /health, whatever its status;
    fails the test with the process's output if it exits first or does not answer in `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, server.communicate()
        try:
            return httpx.get(f"{url}/health", timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, "newsqa serve did not start"
            time.sleep(0.2)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def segment_folder(index_dir: Path, position: int = 0) -> Path:
    """The folder of the current version's segment at `position` (a fresh build has one)."""
    version = resolve(index_dir)
    name = json.loads((version / MANIFEST).read_text())["segments"][position]["name"]
    return version.parent.parent / SEGMENTS / name


def stored_records(version: Path) -> dict[str, dict[str, Any]]:
    """The live documents of the version folder `version` as written on disk, by id: each
    segment's documents.jsonl its manifest names, less the documents it marks deleted there
    (read from the files, not through `load_index`)."""
    manifest = json.loads((version / MANIFEST).read_text())
    records: dict[str, dict[str, Any]] = {}
    for part in manifest["segments"]:
        path = version.parent.parent / SEGMENTS / part["name"] / DOCUMENTS
        with path.open(encoding="utf-8") as lines:
            for record in map(json.loads, lines):
                if record["doc_id"] not in part["deleted"]:
                    assert record["doc_id"] not in records, f"{record['doc_id']} is live in two segments"
                    records[record["doc_id"]] = record
    return records


def rerecord(segment: Path) -> None:
    """Record `segment`'s files as they are now in its segment.json (sizes and sha256), as if
    the build itself had written them: for tests of what only the deeper checks can find."""
    path = segment / INFO
    info = json.loads(path.read_text())
    for name in info["files"]:
        info["files"][name] = (segment / name).stat().st_size
        info["sha256"][name] = file_sha256(segment / name)
    path.write_text(json.dumps(info))


def resident_bytes(folder: Path) -> dict[str, int]:
    """Bytes of each file under `folder` mapped and resident in this process (/proc/self/smaps)."""
    resident: dict[str, int] = {}
    name = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):  # a mapping's header: address range ... [path]
            mapped = fields[5] if len(fields) >= 6 else ""  # anonymous memory has no path
            name = Path(mapped).name if mapped.startswith(str(folder)) else None
        elif fields[0] == "Rss:" and name is not None:
            resident[name] = resident.get(name, 0) + int(fields[1]) * 1024
    return resident


NEEDS_SMAPS = pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads /proc/self/smaps")


_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def write_dictd(folder: Path, name: str, entries: dict[str, str]) -> Path:
    """A FreeDict dictionary in the dictd format, as Debian installs them: `entries` maps each
    headword to the body of its entry (translation lines, glosses, "2. ..." senses)."""
    import gzip

    def number(value: int) -> str:
        digits = ""
        while True:
            digits = _BASE64[value % 64] + digits
            value //= 64
            if not value:
                return digits

    folder.mkdir(parents=True, exist_ok=True)
    body, lines = b"", ["00databaseutf8\tA\tB"]
    for headword, text in sorted(entries.items()):
        entry = f"{headword} <n>\n{text}\n".encode()
        lines.append(f"{headword}\t{number(len(body))}\t{number(len(entry))}")
        body += entry
    (folder / f"{name}.index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(body))
    return folder
