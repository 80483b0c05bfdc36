"""Sentence vectors: pooled from each passage's own forward pass, stored with the index, and
used to rank passages and pick answers without embedding anything but the question."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.embed import Embedder
from indexer.text import sentence_spans
from service.index import Index


def test_span_vectors_come_from_the_same_forward_pass(embedder: Embedder) -> None:
    texts = ["Son La\nThe committee met on Monday. It approved 705 ha of coffee.", "Điện Biên is far."]
    spans = [[(7, 36), (37, 67)], [(0, 17)]]
    vectors, span_vectors = embedder.embed_spans(texts, spans)
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-5)
    assert span_vectors.shape == (3, embedder.dimension)
    assert np.allclose(np.linalg.norm(span_vectors, axis=1), 1.0, atol=1e-5)
    # Each sentence's vector is nearer a question about it than the other sentence's is.
    questions = embedder.embed(["When did the committee meet?", "How much coffee was approved?"])
    similarity = questions @ span_vectors[:2].T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


@pytest.mark.parametrize("backend", ["torch"])
def test_span_vectors_agree_across_backends(embedder: Embedder, backend: str) -> None:
    other = Embedder(backend=backend)
    texts = ["Pú Nhung commune\nFarmers planted pineapple. The road was widened along National Highway 12."]
    spans = [[(17, 43), (44, 96)]]
    _, ours = embedder.embed_spans(texts, spans)
    _, theirs = other.embed_spans(texts, spans)
    assert np.all(np.sum(ours * theirs, axis=1) >= 0.999)


def test_every_passage_stores_its_sentences(bundled: Index) -> None:
    stored = bundled.stored
    assert len(stored.sentences) == len(stored.sentence_vectors) > len(stored.passages)
    rows = stored.sentence_rows
    for row, passage in enumerate(stored.passages):
        text = stored.documents[passage.doc_id].text
        expected = sentence_spans(text, passage.start, passage.end)
        assert [(int(s), int(e)) for _, s, e in stored.sentences[rows[row] : rows[row + 1]]] == expected
    norms = np.linalg.norm(np.asarray(stored.sentence_vectors, dtype=np.float32), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-2)  # stored as float16


def test_asking_embeds_only_the_question(bundled: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded: list[list[str]] = []
    original, original_query = bundled.embedder.embed, bundled.embedder.embed_query

    def counting(texts: list[str], *args: object, **kwargs: object) -> np.ndarray:
        embedded.append(list(texts))
        return original(texts)

    def counting_query(text: str) -> np.ndarray:
        embedded.append([text])
        return original_query(text)

    monkeypatch.setattr(bundled.embedder, "embed", counting)
    monkeypatch.setattr(bundled.embedder, "embed_query", counting_query)
    response = bundled.ask("How many hectares of coffee does Pú Nhung commune maintain?")
    assert embedded == [["How many hectares of coffee does Pú Nhung commune maintain?"]]
    assert response.answer is not None and response.answer.text == "705 hectares"
