"""The dense index: exact below the threshold, IVF-SQ8 above it, with recall close to exact."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest
import torch
from helpers import NEEDS_SMAPS, resident_bytes

from indexer.dense import build_dense, dense_spec, read_dense, touch
from indexer.embed import set_threads
from indexer.settings import Settings, load_settings
from service.core.index import Index

DEFAULT_NPROBE = Settings.model_fields["ivf_nprobe"].default
QUESTIONS = [
    "What did Nghiem ask Thao Nguyen ward to focus on?",
    "How many communes in Son La have met the new rural standards?",
    "Who is the head of Na Sang village?",
    "Dien Bien coffee and macadamia expansion",
    "Who won the 2018 FIFA World Cup?",  # abstains with either index
]


def clustered_unit_vectors(count: int, dimension: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors around 100 random topics, spread so that a topic's members have cosines
    of about 0.6 with each other (a query is near 0.75 to its best match), with many near ties."""
    topics = rng.normal(size=(100, dimension))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    vectors = topics[rng.integers(0, len(topics), count)] + rng.normal(scale=0.035, size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_auto_picks_flat_up_to_the_threshold():
    assert dense_spec(50_000, "auto", 50_000, 64)["type"] == "flat"
    spec = dense_spec(1_000_000, "auto", 50_000, 64)
    assert spec == {
        "type": "ivf-sq8",
        "faiss": "IndexIVFScalarQuantizer",
        "metric": "cosine",
        "quantizer": "QT_8bit",
        "nlist": 4000,
        "nprobe": 64,
        "rerank": 4,
    }
    assert dense_spec(30, "ivf-sq8", 50_000, 64)["nlist"] == 1  # never fewer than 39 vectors a cell


def test_ivf_recall_against_exact(tmp_path):
    rng = np.random.default_rng(7)
    vectors, queries = np.split(clustered_unit_vectors(20_200, 384, rng), [20_000])
    spec = dense_spec(len(vectors), "auto", 10_000, DEFAULT_NPROBE)
    assert spec["type"] == "ivf-sq8"
    faiss.write_index(build_dense(vectors, spec), str(tmp_path / "dense.faiss"))
    approximate = read_dense(tmp_path / "dense.faiss", spec)
    assert faiss.extract_index_ivf(approximate).nprobe == spec["nprobe"]

    exact = faiss.IndexFlatIP(384)
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    _, found = approximate.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.98


@NEEDS_SMAPS
def test_touch_maps_in_every_page_of_an_ivf_index(tmp_path):
    # FAISS maps the file: the float vectors used for re-scoring, and the cells' 8-bit codes.
    vectors = clustered_unit_vectors(5_000, 384, np.random.default_rng(3))
    spec = dense_spec(len(vectors), "ivf-sq8", 1_000, DEFAULT_NPROBE)
    path = tmp_path / "dense.faiss"
    faiss.write_index(build_dense(vectors, spec), str(path))
    index = read_dense(path, spec)
    assert resident_bytes(tmp_path).get("dense.faiss", 0) < path.stat().st_size / 2
    touch(index)
    assert resident_bytes(tmp_path)["dense.faiss"] >= path.stat().st_size - 64 * 1024
    assert faiss.extract_index_ivf(index).nprobe == spec["nprobe"]  # searches as before


def test_a_forced_ivf_index_answers_like_flat(bundled, embedder, tmp_path):
    assert bundled.manifest["dense"]["type"] == "flat"  # auto on a small archive stays exact
    settings = load_settings(index_dir=tmp_path / "index", index_type="ivf-sq8")
    ivf, report = Index.build([settings.articles_dir], settings, embedder)
    manifest = json.loads((report.path / "manifest.json").read_text())
    assert manifest["dense"]["type"] == "ivf-sq8"
    (segment,) = ivf.stored.segments
    assert segment.info["dense"]["type"] == "ivf-sq8"
    assert isinstance(segment.dense, faiss.IndexRefineFlat)
    for question in QUESTIONS:
        expected = bundled.search(question, top_k=3, mode="dense").results
        got = ivf.search(question, top_k=3, mode="dense").results
        assert got[0].chunk_id == expected[0].chunk_id
        assert got[0].score == pytest.approx(expected[0].score, abs=1e-5)  # re-scored exactly
        assert ivf.ask(question).answer == bundled.ask(question).answer


def test_thread_setting_reaches_torch_and_faiss():
    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    try:
        set_threads(1)
        assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == (1, 1)
    finally:
        set_threads(before[0])
