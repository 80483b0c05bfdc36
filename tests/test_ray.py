"""`newsqa index --ray`: a build whose passages are embedded on a 2-node Ray cluster (both nodes
on this machine, every socket on 127.0.0.1) stores what a local build stores; and the one-line
errors when Ray is not installed or its cluster cannot be reached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.settings import load_settings
from service.core.index import Index
from tests.conftest import EVAL_ARTICLES
from tests.helpers import NEWSQA, free_port

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"
# Ray resolves 127.0.0.1 in an address to the machine's own IP, where a loopback cluster does
# not listen, unless it runs as it does on a laptop: local addresses stay on the loopback.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def run(*args: str, before: str = "") -> subprocess.CompletedProcess[str]:
    """`newsqa args...` in a process of its own on the loopback, after the Python `before`."""
    command = [sys.executable, "-c", f"{before}\n{NEWSQA[-1]}"] if before else NEWSQA
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **LOOPBACK}
    )


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A Ray cluster of two nodes on 127.0.0.1, two CPUs each, started once per session and
    shut down at its end; its address."""
    os.environ.update(LOOPBACK)  # read when ray is imported
    from ray.cluster_utils import Cluster

    loopback = {"node_ip_address": "127.0.0.1", "num_cpus": 2}
    cluster = Cluster(initialize_head=True, head_node_args={**loopback, "include_dashboard": False})
    cluster.add_node(**loopback)
    yield cluster.address
    cluster.shutdown()


@pytest.fixture(scope="module")
def ray_built(ray_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The evaluation archive built by `newsqa index --ray` with two actors."""
    settings = load_settings(index_dir=tmp_path_factory.mktemp("ray") / "index")
    paths = [str(settings.articles_dir), str(EVAL_ARTICLES)]
    built = run(
        "index", *paths, "--index-dir", str(settings.index_dir), "--ray", ray_cluster, "--ray-actors", "2"
    )
    assert built.returncode == 0, built.stderr
    assert "embedded" in built.stdout
    return Index.load(settings)


def test_a_ray_build_stores_the_passages_and_vectors_of_a_local_one(ray_built: Index, eval_archive: Index):
    (ray_segment, _), *more = ray_built.stored.parts()
    (local_segment, _), *_ = eval_archive.stored.parts()
    assert not more
    assert ray_segment.passages == local_segment.passages
    assert np.array_equal(ray_segment.sentence_rows, local_segment.sentence_rows)
    for ray_vectors, local_vectors in [
        (ray_segment.vectors, local_segment.vectors),
        (ray_segment.sentence_vectors, local_segment.sentence_vectors),
    ]:
        cosines = np.sum(np.asarray(ray_vectors) * np.asarray(local_vectors), axis=1)
        assert len(cosines) == len(local_vectors)
        assert cosines.min() >= 0.99999
    assert ray_built.stored.manifest["model"] == eval_archive.stored.manifest["model"]
    assert ray_built.stored.manifest["chunking"] == eval_archive.stored.manifest["chunking"]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_question_ranks_the_same_top_10(ray_built: Index, eval_archive: Index, mode: str):
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    differ = [
        q
        for q in questions
        if [r for r, _ in ray_built.rank(q, 10, mode)]
        != [  # type: ignore[arg-type]
            r
            for r, _ in eval_archive.rank(q, 10, mode)  # type: ignore[arg-type]
        ]
    ]
    assert len(questions) > 200
    assert differ == []


def test_the_stored_version_passes_the_check(ray_built: Index):
    checked = run("index", "--check", str(ray_built.settings.index_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_without_ray_installed_the_error_says_what_to_install(tmp_path: Path):
    failed = run(
        "index",
        "--index-dir",
        str(tmp_path / "index"),
        "--ray",
        "auto",
        before="import sys; sys.modules['ray'] = None",
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "newsqa: error: --ray needs Ray, which is not installed: pip install 'newsqa[distributed]'"
    ]
    assert not (tmp_path / "index").exists()


def test_an_address_that_answers_nothing_is_a_one_line_error(tmp_path: Path):
    address = f"127.0.0.1:{free_port()}"
    failed = run("index", "--index-dir", str(tmp_path / "index"), "--ray", address)
    assert failed.returncode == 1
    [line] = failed.stderr.strip().splitlines()
    assert line.startswith(f"newsqa: error: cannot reach the Ray cluster at {address}: ")


def test_the_command_line_and_the_service_start_without_ray():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, service.cli, service.http.api, indexer.build; print('ray' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.stdout.strip() == "False", loaded.stderr
