"""`newsqa index --ray`: a build whose passages are embedded on a 2-node Ray cluster (both nodes
on this machine, every socket on 127.0.0.1) stores what a local build stores; and the one-line
errors when Ray is not installed or its cluster cannot be reached. `newsqa serve --ray`: a
sharded archive served on Ray Serve (2 shards x 1 replica, 1 x 2) answers as one index over
HTTP, and takes writes through its ingress."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from indexer.embed import Embedder
from indexer.settings import load_settings
from indexer.shards import build_sharded, read_sharded, shard_of
from indexer.store import load_index
from service.core.index import Index
from service.core.results import Citation
from service.core.shards import same_ranking
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


# --- serving on Ray Serve ----------------------------------------------------------------------

TOKEN = "test-admin-token"
# Every tenth question of the evaluation set: what the in-process test of a sharded archive
# (tests/test_shards.py) checks for all of them, here through Ray Serve and HTTP.
SAMPLE = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line][::10]


@contextmanager
def served_on_ray(address: str, index_dir: Path, shards: int, replicas: int) -> Iterator[str]:
    """`newsqa serve --ray` over `index_dir` in a process of its own; its URL once /ask answers.
    Its end (SIGTERM) must take the deployments down: the process exits 0."""
    port = free_port()
    command = [
        *NEWSQA, "serve", "--ray", address, "--shards", str(shards), "--replicas", str(replicas),
        "--index-dir", str(index_dir), "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, **LOOPBACK, "HF_HUB_OFFLINE": "1", "NEWSQA_ADMIN_TOKEN": TOKEN}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "newsqa serve --ray did not start"
            try:
                if httpx.post(f"{url}/ask", json={"question": "ready?"}, timeout=30).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=120)[0]
    assert server.returncode == 0, output[-3000:]


def _citations(response: httpx.Response) -> list[Citation]:
    assert response.status_code == 200, response.text
    return [Citation(**citation) for citation in response.json()["citations"]]


@pytest.fixture(scope="module")
def sharded_copy(eval_archive: Index, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evaluation archive split into 2 shards, with its vectors."""
    root = tmp_path_factory.mktemp("ray-sharded") / "index"
    shutil.copytree(eval_archive.stored.root, root, symlinks=True)
    settings = load_settings(index_dir=root)
    build_sharded([settings.articles_dir, EVAL_ARTICLES], settings, embedder, 2)
    return root


@pytest.mark.parametrize(("shards", "replicas"), [(2, 1), (1, 2)])
def test_ray_serve_answers_as_one_index_and_writes_through_the_ingress(
    ray_cluster: str,
    eval_archive: Index,
    embedder: Embedder,
    tmp_path: Path,
    sharded_copy: Path,
    shards: int,
    replicas: int,
):
    if shards == 2:
        root = tmp_path / "index"
        shutil.copytree(sharded_copy, root, symlinks=True)
    else:  # one shard: the archive as it is, in one index behind the same deployments
        root = tmp_path / "index"
        shutil.copytree(eval_archive.stored.root, root, symlinks=True)
        build_sharded(
            [eval_archive.settings.articles_dir, EVAL_ARTICLES], load_settings(index_dir=root), embedder, 1
        )
    with served_on_ray(ray_cluster, root, shards, replicas) as url:
        for mode in ("hybrid", "dense", "lexical"):
            for question in SAMPLE:
                served = httpx.post(
                    f"{url}/ask", json={"question": question, "top_k": 10, "mode": mode}, timeout=60
                )
                one = eval_archive.ask(question, top_k=10, mode=mode)  # type: ignore[arg-type]
                assert same_ranking(one.citations, _citations(served)), question
                answer = served.json()["answer"]
                assert answer == (one.answer.model_dump() if one.answer else None), question
        assert httpx.post(f"{url}/ask", json={"question": ""}, timeout=30).status_code == 422
        assert httpx.get(f"{url}/documents/nb_101_flom_lang_son", timeout=30).status_code == 200
        assert httpx.get(f"{url}/documents/none-such", timeout=30).status_code == 404
        assert httpx.get(f"{url}/", timeout=30).text.startswith("<!doctype html>")
        # A write goes through the ingress to the owning shard; the next question sees it.
        article = {
            "id": "ray-write-1",
            "title": "Lai Chau opens a tea processing plant",
            "text": "Lai Chau province opened a tea processing plant in Tam Duong district. "
            "The plant will buy fresh tea leaves from 1,200 households.",
        }
        headers = {"Authorization": f"Bearer {TOKEN}"}
        written = httpx.post(f"{url}/documents", json=article, headers=headers, timeout=120)
        assert written.status_code == 201, written.text
        asked = httpx.post(
            f"{url}/ask",
            json={"question": "How many households will the Lai Chau tea plant buy from?"},
            timeout=60,
        )
        assert asked.json()["answer"]["doc_id"] == "ray-write-1"
        assert asked.headers["X-Index-Version"] == read_sharded(root).version
    owner = read_sharded(root).shards[shard_of("ray-write-1", shards)].folder
    assert owner is not None and "ray-write-1" in load_index(owner).documents
