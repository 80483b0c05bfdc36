"""Folding, sentence spans, the offline tokenizer and passage boundaries."""

from __future__ import annotations

import itertools

import pytest

from indexer import tokens
from indexer.chunk import chunk
from indexer.clean import Document
from indexer.embed import passage_input
from indexer.errors import ConfigError
from indexer.text import fold, sentence_spans, terms


def document(text: str, title: str = "A title") -> Document:
    return Document(doc_id="d", title=title, text=text, language="en", source="d.txt")


def test_fold_removes_case_and_vietnamese_diacritics():
    assert fold("Điện Biên") == "dien bien"
    assert fold("Nghiêm") == fold("Nghiem") == "nghiem"
    assert fold("Quàng Văn Việt, ĐBP") == "quang van viet, dbp"
    assert fold("sosioøkonomi") == "sosiookonomi"
    assert terms("Hoàng Văn Nghiêm visited Điện Biên") == terms("hoang van nghiem visits dien bien")


def test_sentence_spans_respect_abbreviations_and_numbers():
    text = "Resolution No. 22-NQ/TU was issued. Den 29. november møttes de.\nA caption\nMr. Toan spoke."
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "Resolution No. 22-NQ/TU was issued.",
        "Den 29. november møttes de.",
        "A caption",
        "Mr. Toan spoke.",
    ]


def test_cl100k_loads_offline_and_checks_its_hash(tmp_path, monkeypatch):
    assert tokens.cl100k().encode("hello world") == [15339, 1917]
    damaged = tmp_path / "cl100k_base.tiktoken"
    damaged.write_bytes(tokens._bpe_file().read_bytes()[:-10])
    monkeypatch.setattr(tokens, "_bpe_file", lambda: damaged)
    tokens.cl100k.cache_clear()
    try:
        with pytest.raises(ConfigError, match="sha256 mismatch"):
            tokens.cl100k()
    finally:
        monkeypatch.undo()
        tokens.cl100k.cache_clear()


def test_passages_are_exact_spans_within_the_size_and_overlap():
    sentences = [f"Sentence number {i} tells about the ward of Moc Chau and its farms." for i in range(40)]
    doc = document(" ".join(sentences))
    passages = chunk(doc, max_tokens=60, overlap=20)
    assert len(passages) > 5
    for passage in passages:
        assert doc.text[passage.start : passage.end] == passage.text
        assert passage.tokens <= 60
        assert passage.text.startswith("Sentence number") and passage.text.endswith(".")
    for before, after in itertools.pairwise(passages):
        assert before.start < after.start <= before.end  # overlapping, always moving on
    covered = set().union(*(range(p.start, p.end) for p in passages))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_no_passage_exceeds_the_model_limit(embedder):
    # Norwegian and long names cost the English model many more word pieces than cl100k tokens.
    long_sentence = " ".join(["sosioøkonomiske", "folkerådsrepresentanter"] * 200) + "."
    no_spaces = "Đ" * 3000
    doc = document(f"Short start. {long_sentence}\n{no_spaces}", title="Điện Biên " * 10)
    passages = chunk(
        doc,
        max_tokens=512,
        overlap=32,
        fits=lambda text: embedder.fits(passage_input(doc.title, text)),
    )
    for passage in passages:
        assert doc.text[passage.start : passage.end] == passage.text
        assert embedder.count_tokens(passage_input(doc.title, passage.text)) <= embedder.max_tokens
    covered = set().union(*(range(p.start, p.end) for p in passages))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_bundled_passages_fit_and_map_back(bundled, embedder):
    for passage in bundled.stored.passages:
        doc = bundled.documents[passage.doc_id]
        assert doc.text[passage.start : passage.end] == passage.text
        assert passage.tokens <= bundled.settings.chunk_tokens
        assert embedder.fits(passage_input(doc.title, passage.text))
