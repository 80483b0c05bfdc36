"""Helpers shared by test modules (pytest puts tests/ on the import path)."""

from __future__ import annotations

import json
from pathlib import Path

from indexer.store import MANIFEST, file_sha256


def rerecord(version: Path) -> None:
    """Record `version`'s files as they are now in its manifest (sizes and sha256), as if the
    build itself had written them: for tests of what only the deeper checks can find."""
    path = version / MANIFEST
    manifest = json.loads(path.read_text())
    for name in manifest["files"]:
        manifest["files"][name] = (version / name).stat().st_size
        manifest["sha256"][name] = file_sha256(version / name)
    path.write_text(json.dumps(manifest))
