"""Sentences: cut short enough to be answers even in text with no usable punctuation or
case; and their vectors, pooled from each passage's own forward pass, stored with the index,
and used to rank passages and pick answers without embedding anything but the question."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.run import load_questions, relevant_passages
from indexer.embed import Embedder
from indexer.settings import load_settings
from indexer.text import MAX_SENTENCE_WORDS, MIN_PIECE_WORDS, sentence_spans, unpunctuated
from service.core.index import Index

ARTICLES = sorted((Path(__file__).parents[1] / "data" / "articles").glob("*.txt"))
# The sentence punctuation and quotes an archive of unbroken text has lost.
_LOST = re.compile(r"[.,;:!?\"'“”‘’]")


def _words(text: str) -> int:
    return len(text.split())


def _ink(text: str, spans: list[tuple[int, int]]) -> str:
    """The characters of `text` the spans cover, less whitespace."""
    return "".join("".join(text[start:end].split()) for start, end in spans)


def _unpunctuated(text: str) -> str:
    """`text` as an archive that kept neither case nor punctuation has it; lines stay."""
    return "\n".join(" ".join(_LOST.sub("", line).lower().split()) for line in text.split("\n"))


# From data/articles/003_af987519a968d492.txt, as `_unpunctuated` leaves it: 94 words.
UNPUNCTUATED = (
    "alongside pineapple development based on soil potential and climate advantages pú nhung "
    "commune authorities are pushing communication efforts to encourage and guide residents to "
    "shift from low efficiency corn and cassava to higher value fruit trees such as macadamia "
    "coffee and mango the commune currently maintains more than 1000 hectares of macadamia and "
    "705 hectares of coffee by the end of the term it aims to increase coffee area to over 2000 "
    "hectares and macadamia to about 1700 hectares gradually forming clean circular concentrated "
    "production zones and contributing to safe eco-friendly new rural development"
)
# From data/articles/000_1bc991a037106c5e.txt: one sentence of 78 words, a list of demands.
LIST_SENTENCE = (
    "They also highlighted obstacles in executing responsibilities, calling on the provincial "
    "authorities to prioritise funding for urban and socio-economic infrastructure development; "
    "allocate capital in the 2026–2030 medium-term public investment plan for key projects; "
    "prioritise investment in regional transport links, tourism connectivity, and planned flagship "
    "projects; provide guidance and resolve issues in investment promotion, land clearance, and "
    "project implementation; boost communications and promotion of the Moc Chau national tourism "
    "area; and enhance the capacity of civil servants and officials."
)
CLAUSE_WORDS = {"and", "or", "but", "while", "whereas", "which", "who", "where", "when", "he", "she"}


def _pieces(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def test_an_unpunctuated_paragraph_is_cut_before_clause_words() -> None:
    pieces = _pieces(UNPUNCTUATED)
    assert len(pieces) == 2
    assert all(MIN_PIECE_WORDS <= _words(piece) <= MAX_SENTENCE_WORDS for piece in pieces)
    assert all(piece.split()[0] in CLAUSE_WORDS for piece in pieces[1:])
    assert " ".join(pieces) == UNPUNCTUATED
    assert pieces[1].startswith("and 705 hectares of coffee")


def test_a_long_sentence_of_prose_stays_whole_and_is_cut_at_semicolons_once_lowercased() -> None:
    assert _pieces(LIST_SENTENCE) == [LIST_SENTENCE]  # its commas and capitals are usable
    lowered = LIST_SENTENCE.lower()
    pieces = _pieces(lowered)
    assert len(pieces) == 2
    assert all(piece.endswith(";") for piece in pieces[:-1])
    assert all(_words(piece) <= MAX_SENTENCE_WORDS for piece in pieces)
    assert " ".join(pieces) == lowered


def test_text_without_any_clause_boundary_is_cut_by_length_into_even_pieces() -> None:
    text = " ".join(f"w{number}" for number in range(130))
    lengths = [_words(piece) for piece in _pieces(text)]
    assert sum(lengths) == 130 and len(lengths) == 3 and max(lengths) - min(lengths) <= 1


def test_a_long_paragraph_is_cut_within_its_lines() -> None:
    text = f"A headline\n{UNPUNCTUATED}\n{UNPUNCTUATED}"
    spans = sentence_spans(text)
    assert text[spans[0][0] : spans[0][1]] == "A headline"
    assert all("\n" not in text[start:end] for start, end in spans)
    assert len(spans) == 5


@pytest.mark.parametrize("path", ARTICLES, ids=lambda path: path.stem)
def test_sentences_of_normal_prose_are_unchanged(path: Path) -> None:
    """The bundled articles have sentences of up to 117 words, all with commas and capitals:
    none is cut, so passages and answers stay as they were."""
    text = path.read_text(encoding="utf-8")
    assert sentence_spans(text) == sentence_spans(text, keep_long=True)


# Words of news prose with and without its punctuation and case, clause words, dashes,
# abbreviations, quotes, and odd spaces and letters ("whİch" is no clause word).
_VOCABULARY = [
    *"the province said and which while but or he commune 705 hectares of coffee".split(),  # noqa: SIM905
    *'Mr. No. 22 29. november, areas; plan: says? yes! etc… – - — (2025) "quoted," whİch ſo'.split(),  # noqa: SIM905
]
# Mostly spaces, so that many lines run past MAX_SENTENCE_WORDS words.
_SEPARATORS = [" "] * 60 + ["  ", "\t", "\xa0", "\n", " \n "]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_spans_are_exact_ordered_stripped_and_short(data: st.DataObject) -> None:
    count = data.draw(st.integers(0, 400), label="words")
    pieces = st.tuples(st.sampled_from(_VOCABULARY), st.sampled_from(_SEPARATORS))
    text = "".join(
        word + separator for word, separator in data.draw(st.lists(pieces, min_size=count, max_size=count))
    )
    # A passage's range inside the text, mostly the whole of it.
    start = data.draw(st.integers(0, len(text)), label="start")
    end = len(text) - data.draw(st.integers(0, len(text) - start), label="cut from the end")
    spans = sentence_spans(text, start, end)
    previous = start
    for s, e in spans:
        assert previous <= s < e <= end
        sentence = text[s:e]
        assert sentence == sentence.strip() and "\n" not in sentence
        # Only text without usable punctuation or case is cut to the length of an answer.
        assert _words(sentence) <= MAX_SENTENCE_WORDS or not unpunctuated(text, s, e)
        previous = e
    # Only whitespace is left out, between the spans.
    assert _ink(text, spans) == _ink(text, [(start, end)])


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
    (segment,) = stored.segments
    assert len(segment.sentences) == len(segment.sentence_vectors) > len(stored.passages)
    for row, passage in enumerate(stored.passages):
        text = stored.documents[passage.doc_id].text
        expected = sentence_spans(text, passage.start, passage.end)
        sentences, vectors = stored.sentences_of(row)
        assert [(int(s), int(e)) for _, s, e in sentences] == expected
        assert len(vectors) == len(sentences) and vectors.dtype == np.float32
    norms = np.linalg.norm(np.asarray(segment.sentence_vectors, dtype=np.float32), axis=1)
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


def test_an_archive_without_punctuation_or_case_gives_short_answers_and_finds_as_well(
    tmp_path: Path, embedder: Embedder, bundled: Index
) -> None:
    """The bundled articles lowercased and stripped of punctuation: every answer is at most
    MAX_SENTENCE_WORDS words, and hit@5 stays within 0.05 of the original's."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for path in ARTICLES:
        (folder / path.name).write_text(_unpunctuated(path.read_text(encoding="utf-8")), encoding="utf-8")
    copy, _ = Index.build([folder], load_settings(index_dir=tmp_path / "index"), embedder)
    questions = [question for question in load_questions() if question.answerable]
    hits = {"original": 0, "unpunctuated": 0}
    longest = 0
    for question in questions:
        relevant = relevant_passages(question, bundled.passages)
        response = bundled.ask(question.question, top_k=5)
        hits["original"] += any(citation.chunk_id in relevant for citation in response.citations)
        golds = [_unpunctuated(gold) for gold in question.answers]
        relevant = {
            passage.chunk_id
            for passage in copy.passages
            if passage.doc_id == question.doc_id
            and any(gold in _unpunctuated(passage.text) for gold in golds)
        }
        response = copy.ask(question.question, top_k=5)
        hits["unpunctuated"] += any(citation.chunk_id in relevant for citation in response.citations)
        if response.answer is not None:
            longest = max(longest, _words(response.answer.text), _words(response.answer.sentence.text))
    original, unpunctuated = (hits[name] / len(questions) for name in ("original", "unpunctuated"))
    print(f"hit@5 original {original:.4f}, unpunctuated {unpunctuated:.4f}; longest answer {longest} words")
    assert longest <= MAX_SENTENCE_WORDS
    assert abs(original - unpunctuated) <= 0.05
