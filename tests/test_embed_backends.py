"""The exported backends (ONNX Runtime, OpenVINO) give torch's vectors on the bundled articles."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import numpy as np
import pytest

from indexer import backends
from indexer.build import chunk_documents, load_documents
from indexer.embed import Embedder, passage_input
from indexer.errors import ConfigError, ModelError
from indexer.settings import load_settings
from service.core.index import Index

# Each test loads a model of its own (an exported backend, torch): the slow tier.
pytestmark = pytest.mark.slow

EXPORTED = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            not backends.installed(name), reason=f"{name} backend not installed ({backends.INSTALL[name]})"
        ),
    )
    for name in ("onnx", "openvino")
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch")


@pytest.fixture(scope="module")
def passages(torch_embedder: Embedder) -> list[str]:
    """The bundled articles' passages, as the index embeds them (title header included)."""
    settings = load_settings()
    documents, _ = load_documents([settings.articles_dir])
    titles = {doc.doc_id: doc.title for doc in documents}
    chunks = chunk_documents(documents, settings, torch_embedder)
    return [passage_input(titles[chunk.doc_id], chunk.text) for chunk in chunks]


@pytest.fixture(scope="module", params=EXPORTED)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """An exported backend, traced into an empty cache so that the export itself is tested."""
    return Embedder(backend=request.param, cache_dir=tmp_path_factory.mktemp("cache"))


def test_exported_backend_gives_torch_vectors(exported, torch_embedder, passages):
    assert len(passages) >= 50
    reference = torch_embedder.embed(passages)
    vectors = exported.embed(passages, batch_size=16)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= 0.999, f"{exported.backend}: worst passage cosine {cosines.min():.5f}"
    # A single query goes through without padding, on the query path (OpenVINO: its fastest
    # precision); it must match too.
    query = "How many hectares of coffee does Pu Nhung maintain?"
    assert float(exported.embed([query])[0] @ torch_embedder.embed([query])[0]) >= 0.999
    assert float(exported.embed_query(query) @ torch_embedder.embed_query(query)) >= 0.999


QUESTIONS = [
    "what did Nghiem ask of Van Son ward",
    "Hva sa Nguyễn Văn Nghiêm om Điện Biên?",  # diacritics, Norwegian
    "  spaced\tout \n question  ",
    "emoji 😀 and ﬁ ligature",
]


def test_questions_embed_like_the_model_itself(exported, torch_embedder):
    # The query path tokenizes with its own copy of the tokenizer and pools in numpy; the
    # vectors must be the model's own (torch's, and the exported model's batch path).
    article = sorted(load_settings().articles_dir.glob("*"))[0].read_text(encoding="utf-8")
    long = "Which commune grows coffee? " + " ".join(article.split()[:600])
    assert exported.count_tokens(long) > exported.max_tokens  # cut off where the model cuts it
    for question in [*QUESTIONS, long]:
        vector = exported.embed_query(question)
        assert vector.shape == (exported.dimension,) and vector.dtype == np.float32
        assert float(vector @ torch_embedder.embed([question])[0]) >= 0.999, question
        assert float(vector @ exported.embed([question])[0]) >= 0.999, question


def test_a_question_embeds_the_same_whatever_was_asked_before(exported):
    # OpenVINO runs a question padded to the next of a few fixed lengths (its own model for
    # each): lengths at and across those edges, and past the last, on the dynamic model.
    lengths = [8, 16, 17, 24, 32, 33, 64, 100]
    questions = {n: "Which commune " + " ".join(["coffee"] * (n - 4)) for n in lengths}
    assert [exported.count_tokens(text) for text in questions.values()] == lengths
    exported.warm_up()
    first = {n: exported.embed_query(text) for n, text in questions.items()}
    for n, text in reversed(questions.items()):  # each now follows a question of another length
        again = exported.embed_query(text)
        assert np.array_equal(again, first[n]), n
        # Only the question's own tokens are pooled: the padding changes nothing but rounding.
        assert float(again @ exported.embed([text])[0]) >= 0.9999, n


def test_an_exported_backend_serves_without_torch(exported, tmp_path):
    # Once exported, the model runs on tokenizers, the runtime and numpy: torch and
    # sentence-transformers (about 400 MB) are never imported, neither for questions nor writes.
    script = f"""
import sys
from pathlib import Path
from indexer.embed import Embedder
embedder = Embedder(backend={exported.backend!r}, cache_dir=Path({str(exported.runtime.path.parents[2])!r}))
embedder.warm_up(16)
embedder.embed_query("what did Nghiem ask of Van Son ward")
embedder.embed_spans(["Coffee in Pu Nhung. Roads in Moc Chau."], [[(0, 18), (19, 38)]])
print(sorted({{"torch", "sentence_transformers", "transformers"}} & set(sys.modules)))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]"]


def test_importing_newsqa_shortens_openmp_spinning_unless_the_user_set_it():
    script = (
        "import service.http.api, os; "
        "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    )
    run = functools.partial(subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True)
    plain = {
        key: value for key, value in os.environ.items() if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    }
    assert run(env=plain).stdout.split() == ["3000", "None"]
    assert run(env={**plain, "GOMP_SPINCOUNT": "10"}).stdout.split() == ["10", "None"]
    assert run(env={**plain, "OMP_WAIT_POLICY": "ACTIVE"}).stdout.split() == ["None", "ACTIVE"]


def test_index_built_with_torch_loads_with_an_exported_backend(exported, torch_embedder, tmp_path):
    settings = load_settings(index_dir=tmp_path / "index", backend="torch")
    built, _ = Index.build([settings.articles_dir], settings, torch_embedder)
    assert built.manifest["model"]["backend"] == "torch"
    loaded = Index.load(settings.model_copy(update={"backend": exported.backend}), exported)
    question = "What was Van Son ward instructed to concentrate on?"
    expected = built.search(question, top_k=3, mode="dense").results
    found = loaded.search(question, top_k=3, mode="dense").results
    assert [r.chunk_id for r in found] == [r.chunk_id for r in expected]
    assert [r.score for r in found] == pytest.approx([r.score for r in expected], abs=1e-3)


def test_auto_takes_the_fastest_installed(monkeypatch):
    assert backends.choose_backend("auto") == next(b for b in backends.BACKENDS if backends.installed(b))
    assert backends.choose_backend("auto", device="cuda") == "torch"
    monkeypatch.setattr(backends, "installed", lambda backend: backend == "torch")
    assert backends.choose_backend("auto") == "torch"


@pytest.mark.parametrize("backend", ["torch", *EXPORTED])
def test_a_model_that_is_not_on_disk_is_one_line_on_every_backend(backend, tmp_path):
    with pytest.raises(ModelError) as raised:
        Embedder("no-such-org/no-such-model", device="cpu", backend=backend, cache_dir=tmp_path)
    message = str(raised.value)
    assert message.startswith("cannot load embedding model 'no-such-org/no-such-model' (not a local folder")
    assert "\n" not in message


def test_a_missing_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(backends.REQUIRES, "openvino", ("newsqa_no_such_module",))
    with pytest.raises(ModelError, match=r"^the openvino backend is not installed: pip install openvino"):
        Embedder(backend="openvino")


def test_a_bad_backend_setting_is_one_line(monkeypatch):
    monkeypatch.setenv("NEWSQA_BACKEND", "tensorrt")
    with pytest.raises(ConfigError, match="backend"):
        load_settings()
    with pytest.raises(ConfigError, match="unknown backend 'tensorrt'"):
        backends.choose_backend("tensorrt")
