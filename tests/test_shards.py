"""A sharded archive (indexer/shards.py, service/core/shards.py), its shards in this process: it
holds the statistics of the archive it splits, ranks and answers the evaluation questions as
the same archive in one index does, serves the same API, and a write through it reaches only
the shards owning its documents, all shards switching together."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.embed import Embedder
from indexer.settings import Settings, load_settings
from indexer.shards import (
    Statistics,
    build_sharded,
    read_sharded,
    shard_dir,
    shard_of,
)
from indexer.store import load_index
from service.core.filters import Filters
from service.core.index import Index
from service.core.results import Citation
from service.core.shards import Question, Shard, ShardedIndex, same_ranking
from service.http.api import create_app
from tests.conftest import EVAL_ARTICLES
from tests.helpers import newsqa

QUESTIONS = [
    json.loads(line)["question"]
    for line in (Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl").read_text().splitlines()
]


@pytest.fixture(scope="module")
def sharded_settings(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, eval_archive: Index
) -> Settings:
    """The evaluation archive split into 2 shards, from a copy of `eval_archive`'s index: with its
    vectors (a passage embedded in another batch moves by about 1e-6, which would swap passages
    whose scores differ by less)."""
    root = tmp_path_factory.mktemp("sharded") / "index"
    shutil.copytree(eval_archive.stored.root, root, symlinks=True)
    settings = load_settings(index_dir=root)
    report = build_sharded([settings.articles_dir, EVAL_ARTICLES], settings, embedder, 2)
    assert (report.changes.embedded, report.changes.reused) == (0, 165)
    assert (len(report.changes.added), report.changes.unchanged) == (0, 19)
    return settings


@pytest.fixture(scope="module")
def sharded(sharded_settings: Settings, embedder: Embedder) -> ShardedIndex:
    return ShardedIndex.open(sharded_settings, embedder)


def test_documents_go_to_the_shard_their_id_hashes_to_the_same_everywhere(sharded: ShardedIndex):
    # Fixed values: a changed hash would send writes to shards that do not hold the document.
    assert [shard_of(doc_id, 2) for doc_id in ("000_1bc991a037106c5e", "nb_101_flom_lang_son", "a")] == [
        0,
        1,
        1,
    ]
    for number, shard in enumerate(sharded.sharded.shards):
        assert shard.folder is not None
        held = load_index(shard.folder).documents
        assert held and all(shard_of(doc_id, 2) == number for doc_id in held)


def test_the_statistics_of_the_shards_add_up_to_those_of_the_archive(
    sharded: ShardedIndex, eval_archive: Index
):
    whole = Statistics.of(eval_archive.stored)
    combined = sharded.sharded.statistics()
    assert combined == whole
    assert combined.passages == 165 and combined.documents == 19
    assert set(combined.languages) == {"en", "no", "vi"}
    # Each shard alone holds fewer: its statistics are not the archive's.
    parts = [Statistics.of(load_index(shard.folder)) for shard in sharded.sharded.shards if shard.folder]
    assert all(part.passages < whole.passages for part in parts)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_sharded_archive_ranks_and_answers_every_evaluation_question_as_one_index(
    sharded: ShardedIndex, eval_archive: Index, mode: str
):
    """`ask` ranks as `search` does, deeper (the answer stage's candidates), then answers."""
    tied = 0
    for question in QUESTIONS:
        one = eval_archive.ask(question, top_k=10, mode=mode)  # type: ignore[arg-type]
        many = sharded.ask(question, top_k=10, mode=mode)  # type: ignore[arg-type]
        assert same_ranking(one.citations, many.citations), question
        assert many.answer == one.answer, question
        assert many.abstained == one.abstained
        tied += [c.chunk_id for c in one.citations] != [c.chunk_id for c in many.citations]
    assert tied <= 8  # passages tied on score, in another order: 4 of 229 when measured


def test_bm25_scores_of_a_shard_are_those_of_the_whole_archive(sharded: ShardedIndex, eval_archive: Index):
    """Each shard weighs terms by the archive's statistics: a passage scores as in one index."""
    query = "Lang Son flood rescue forces"
    whole = dict(
        (eval_archive.passages[row].chunk_id, score)
        for row, score in eval_archive.rank(query, 200, "lexical")
    )
    found = 0
    manifest = sharded.sharded
    for number in range(manifest.count):
        concepts = sharded.translator.concepts(query) if sharded.translator else None
        question = Question(query, None, concepts, frozenset(), 10, 200, None)
        for chunk_id, score in Shard(number, sharded.settings).candidates(manifest, question).lexical:
            assert score == pytest.approx(whole[chunk_id], rel=1e-5)
            found += 1
    assert found == len(whole)


def test_filters_and_sorting_by_date_apply_across_shards(sharded: ShardedIndex, eval_archive: Index):
    for filters in (
        Filters(languages=frozenset({"no"})),
        Filters(doc_ids=frozenset({"000_1bc991a037106c5e", "vi_202_ca_phe_son_la"})),
        Filters(date_from=eval_archive.newest_day),
    ):
        one = eval_archive.ask("flooding and landslides", top_k=10, filters=filters)
        many = sharded.ask("flooding and landslides", top_k=10, filters=filters)
        assert same_ranking(one.citations, many.citations)
        assert many.answer == one.answer
        assert many.citations and all(filters.matches(sharded.document(c.doc_id)) for c in many.citations)
    one = eval_archive.search("coffee harvest in Son La", top_k=10, sort="date")
    many = sharded.search("coffee harvest in Son La", top_k=10, sort="date")
    assert [c.chunk_id for c in many.results] == [c.chunk_id for c in one.results]


def test_same_ranking_allows_ties_in_any_order_and_nothing_else():
    def cited(*pairs: tuple[str, float]) -> list[Citation]:
        return [
            Citation(rank=i, doc_id="d", title="t", chunk_id=c, text="x", start=0, end=1, score=s)
            for i, (c, s) in enumerate(pairs, start=1)
        ]

    one = cited(("a", 0.9), ("b", 0.5), ("c", 0.5), ("d", 0.1))
    assert same_ranking(one, cited(("a", 0.9), ("c", 0.5), ("b", 0.5), ("d", 0.1)))
    assert not same_ranking(one, cited(("b", 0.9), ("a", 0.5), ("c", 0.5), ("d", 0.1)))
    assert not same_ranking(one, cited(("a", 0.9), ("b", 0.5), ("e", 0.5), ("d", 0.1)))
    # A tie cut at the end: another of the tied passages may be the one kept.
    assert same_ranking(cited(("a", 0.9), ("b", 0.5)), cited(("a", 0.9), ("c", 0.5)))
    assert not same_ranking(cited(("a", 0.9), ("b", 0.5)), cited(("a", 0.9), ("b", 0.4)))


# --- the API over a sharded archive ------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_client(eval_archive: Index, embedder: Embedder) -> Iterator[TestClient]:
    settings = load_settings(index_dir=eval_archive.stored.root)
    with TestClient(create_app(settings, embedder)) as client:
        yield client


@pytest.fixture(scope="module")
def sharded_client(sharded_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    with TestClient(create_app(sharded_settings, embedder)) as client:
        yield client


def test_the_api_answers_over_a_sharded_archive_as_over_one_index(
    plain_client: TestClient, sharded_client: TestClient
):
    for question in ("what did Nghiem ask of Van Son ward", "Hvor mange hus ble oversvømt?"):
        one = plain_client.post("/ask", json={"question": question, "top_k": 5}).json()
        many = sharded_client.post("/ask", json={"question": question, "top_k": 5}).json()
        assert {**many, "took_ms": 0} == {**one, "took_ms": 0}
    one = plain_client.get("/search", params={"q": "coffee", "language": "vi"}).json()
    many = sharded_client.get("/search", params={"q": "coffee", "language": "vi"}).json()
    assert many["results"] == one["results"]
    health = sharded_client.get("/health").json()
    assert (health["documents"], health["passages"]) == (19, 165)
    assert health["crosslingual"] == plain_client.get("/health").json()["crosslingual"]
    assert sharded_client.get("/documents/vi_202_ca_phe_son_la").json() == (
        plain_client.get("/documents/vi_202_ca_phe_son_la").json()
    )
    missing = sharded_client.get("/documents/no-such-article")
    assert missing.status_code == 404 and "no-such-article" in missing.json()["detail"]
    assert sharded_client.post("/ask", json={"question": " "}).status_code == 422


def test_the_document_list_pages_through_all_shards_as_through_one_index(
    plain_client: TestClient, sharded_client: TestClient
):
    def walk(client: TestClient, **params: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            page = client.get(
                "/documents", params={"limit": 4, **params, **({"cursor": cursor} if cursor else {})}
            )
            assert page.status_code == 200
            seen += [document["doc_id"] for document in page.json()["documents"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return seen

    assert walk(sharded_client) == walk(plain_client)
    assert len(walk(sharded_client)) == 19
    assert walk(sharded_client, language="no") == walk(plain_client, language="no")
    assert sharded_client.get("/documents", params={"cursor": "nonsense"}).status_code == 422


# --- writes ------------------------------------------------------------------------------------

TOKEN = "test-admin-token"
ARTICLE = {
    "id": "sharded-write-1",
    "title": "Dien Bien opens a cassava starch factory",
    "text": "Dien Bien province opened a cassava starch factory in Muong Ang district on Monday. "
    "The factory will process 60,000 tonnes of fresh cassava a year and employ 250 workers.",
    "language": "en",
}


@pytest.fixture
def writable(sharded_settings: Settings, embedder: Embedder, tmp_path: Path) -> Iterator[TestClient]:
    root = tmp_path / "index"
    shutil.copytree(sharded_settings.index_dir, root, symlinks=True)  # shards.json names folders relatively
    settings = load_settings(index_dir=root, admin_token=TOKEN, reload_interval=0)
    with TestClient(create_app(settings, embedder), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def test_a_write_goes_to_the_owning_shard_and_every_shard_switches_at_once(writable: TestClient):
    root = writable.app.state.settings.index_dir  # type: ignore[attr-defined]
    before = read_sharded(root)
    counted = before.statistics()
    owner = shard_of(ARTICLE["id"], 2)
    started = writable.app.state.index  # type: ignore[attr-defined]
    written = writable.post("/documents", json=ARTICLE)
    assert written.status_code == 201, written.text
    assert written.json()["passages"] == 1
    after = read_sharded(root)
    assert after.version != before.version == started.sharded.version
    assert after.shards[owner].folder != before.shards[owner].folder
    assert after.shards[1 - owner] == before.shards[1 - owner]
    assert (
        after.shards[owner].folder == shard_dir(root, owner, 2) / "versions" / after.shards[owner].folder.name
    )
    asked = writable.post(
        "/ask", json={"question": "How many workers will the cassava starch factory employ?"}
    )
    assert asked.headers["X-Index-Version"] == after.version
    assert asked.json()["answer"]["doc_id"] == ARTICLE["id"]
    assert "250" in asked.json()["answer"]["text"]
    # The archive's statistics count the new article; the shards' files say the same.
    assert after.statistics().documents == counted.documents + 1
    assert after.statistics() == Statistics.combine(
        [Statistics.of(load_index(s.folder)) for s in after.shards if s.folder]
    )
    # A question begun on the version before the write is still answered from it, by every shard.
    old = started.ask("How many workers will the cassava starch factory employ?")
    assert all(c.doc_id != ARTICLE["id"] for c in old.citations)
    # Replacing and deleting go to the same shard.
    replaced = writable.post("/documents", json={**ARTICLE, "text": ARTICLE["text"].replace("250", "300")})
    assert replaced.status_code == 200
    assert writable.get(f"/documents/{ARTICLE['id']}").json()["text"].count("300") == 1
    deleted = writable.delete(f"/documents/{ARTICLE['id']}")
    assert deleted.status_code == 200, deleted.text
    assert writable.get(f"/documents/{ARTICLE['id']}").status_code == 404
    assert read_sharded(root).statistics() == counted


def test_the_cli_builds_keeps_and_refuses_shards_in_one_line(tmp_path: Path):
    index_dir = tmp_path / "index"
    built = newsqa("index", "--shards", "2", "--index-dir", str(index_dir), "-q")
    assert built.returncode == 0, built.stderr
    again = newsqa("index", "--index-dir", str(index_dir), "-q")  # keeps its 2 shards, reuses every vector
    assert again.returncode == 0, again.stderr
    assert "embedded 0 passages" in again.stdout
    assert read_sharded(index_dir).count == 2
    checked = newsqa("index", "--check", "--index-dir", str(index_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert [line.split(":")[0] for line in checked.stdout.splitlines()] == ["shard-0-of-2", "shard-1-of-2"]
    optimized = newsqa("index", "--optimize", "--index-dir", str(index_dir))
    assert optimized.stdout.count("already one segment") == 2, optimized.stdout + optimized.stderr
    # Statistics that are not their shard's would weigh every term wrongly: --check says so.
    statistics = read_sharded(index_dir).shards[0].statistics
    assert statistics is not None
    statistics.write_text(statistics.read_text().replace('"passages": ', '"passages": 1', 1))
    damaged = newsqa("index", "--check", "--index-dir", str(index_dir))
    assert damaged.returncode == 1
    assert f"{statistics}: not the statistics of" in damaged.stdout
    refused = newsqa("serve", "--shards", "3", "--index-dir", str(index_dir))
    assert refused.returncode == 2
    assert "has 2 shards" in refused.stderr and "Traceback" not in refused.stderr
    evaluated = newsqa("eval", "--index-dir", str(index_dir))
    assert evaluated.returncode == 2 and "unsharded" in evaluated.stderr
