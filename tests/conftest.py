"""Shared fixtures: the real packaged model, loaded once, and an index of the bundled articles;
and the markers that give `make test-fast` its loop (pyproject.toml lists them)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.embed import Embedder
from indexer.settings import Settings, load_settings
from service.core.index import Index
from service.http.api import create_app

EVAL_ARTICLES = Path(__file__).resolve().parents[1] / "eval" / "articles"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(index_dir=tmp_path_factory.mktemp("bundled") / "index")


@pytest.fixture(scope="session")
def bundled(bundled_settings: Settings, embedder: Embedder) -> Index:
    """An index of the five bundled articles, built once per test session."""
    index, _ = Index.build([bundled_settings.articles_dir], bundled_settings, embedder)
    return index


@pytest.fixture
def index_copy(bundled: Index, bundled_settings: Settings, tmp_path: Path) -> Path:
    """A copy of the bundled index to change, its root folder (the `current` link is relative,
    so it follows)."""
    root = tmp_path / "index"
    shutil.copytree(bundled_settings.index_dir, root, symlinks=True)
    return root


@pytest.fixture(scope="session")
def eval_archive(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Index:
    """The evaluation archive: the bundled articles and eval/articles (Norwegian and
    Vietnamese), as `make eval` indexes them, built once per test session."""
    settings = load_settings(index_dir=tmp_path_factory.mktemp("eval-archive") / "index")
    index, _ = Index.build([settings.articles_dir, EVAL_ARTICLES], settings, embedder)
    return index


@pytest.fixture(scope="session")
def client(bundled: Index, bundled_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    with TestClient(create_app(bundled_settings, embedder)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium, started once per session and shared by every browser test (two
    Playwright managers cannot run in one process)."""
    from test_page import CHROMIUM, CHROMIUM_ARGS, PlaywrightError, sync_playwright

    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -c constraints.txt -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium)")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except PlaywrightError as exc:
        manager.stop()
        pytest.skip(f"Chromium at {CHROMIUM} would not start: {exc}")
    yield chromium
    chromium.close()
    manager.stop()


# Fixtures that load the model or build an index, and the one that starts Chromium.
_SLOW_FIXTURES = {
    "embedder",
    "bundled",
    "bundled_settings",
    "eval_archive",
    "client",
    "live_server",
    "index_copy",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs: `browser` (Chromium), `slow` (the real model or an
    index), `subprocess` (a `newsqa` process of its own: it loads the model itself)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if fixtures & _SLOW_FIXTURES or "browser" in fixtures:
            item.add_marker(pytest.mark.slow)
        module = vars(item.module) if getattr(item, "module", None) is not None else {}
        if "NEWSQA" in module or "newsqa" in module:  # the modules that run the command
            item.add_marker(pytest.mark.subprocess)
