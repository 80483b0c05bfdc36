"""Helpers shared by test modules (pytest puts tests/ on the import path)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from indexer.store import MANIFEST, file_sha256


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


def rerecord(version: Path) -> None:
    """Record `version`'s files as they are now in its manifest (sizes and sha256), as if the
    build itself had written them: for tests of what only the deeper checks can find."""
    path = version / MANIFEST
    manifest = json.loads(path.read_text())
    for name in manifest["files"]:
        manifest["files"][name] = (version / name).stat().st_size
        manifest["sha256"][name] = file_sha256(version / name)
    path.write_text(json.dumps(manifest))
