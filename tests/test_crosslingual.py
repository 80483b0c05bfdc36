"""A multilingual archive: English questions answered from Norwegian articles, Vietnamese
questions with or without diacritics, language-aware abstention, and what /health says."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from eval.run import evaluate, load_questions
from indexer.embed import Embedder
from indexer.lexicon import find_dictionaries
from indexer.settings import load_settings
from service.core.index import Index
from service.http.api import create_app

# The English-Norwegian dictionary where the settings look for it (make install brings it).
NORWEGIAN = "no" in find_dictionaries(load_settings().dictionaries)
needs_dictionary = pytest.mark.skipif(
    not NORWEGIAN, reason="no English-Norwegian dictionary (apt-get install dict-freedict-eng-nor)"
)


@needs_dictionary
def test_an_english_question_is_answered_from_a_norwegian_article(eval_archive):
    response = eval_archive.ask("How many hectares of rice were damaged by the flood in Lang Son?")
    answer = response.answer
    assert answer is not None and answer.doc_id == "nb_101_flom_lang_son"
    assert answer.text in ("1 850", "1 850 hektar") and answer.language == "no"  # one figure, spaced
    text = eval_archive.documents[answer.doc_id].text
    assert text[answer.start : answer.end] == answer.text
    assert text[answer.sentence.start : answer.sentence.end] == answer.sentence.text
    assert response.citations[0].doc_id == answer.doc_id and response.citations[0].language == "no"
    for citation in response.citations:
        assert eval_archive.documents[citation.doc_id].text[citation.start : citation.end] == citation.text
    # A gloss beside the cited text, never in it.
    assert answer.gloss is not None and "rice" in answer.gloss and "ris" in answer.sentence.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the speed of light in a vacuum?",  # one Norwegian word matches: "hastighet"
        "What is the boiling point of mercury?",
        "Who led working group No. 3 in its working session with Thao Nguyen ward in Son La?",
    ],
)
def test_a_weak_or_wrong_match_in_another_language_abstains(eval_archive, question):
    assert eval_archive.ask(question).abstained


def test_a_vietnamese_question_finds_its_article_with_or_without_diacritics(eval_archive):
    accented = eval_archive.ask("Ai là Chủ tịch UBND xã Mường Xén?")
    plain = eval_archive.ask("Ai la Chu tich UBND xa Muong Xen?")
    for response in (accented, plain):
        assert response.citations[0].doc_id == "vi_212_giam_ngheo_nghe_an"
        assert response.citations[0].language == "vi"
        assert response.answer is not None and "Lầu Bá Chống" in response.answer.sentence.text


@needs_dictionary
def test_the_evaluation_archive_meets_the_multilingual_targets(eval_archive):
    """The issue's targets, a little under what was measured (docs/2026-12-01-multilingual.md)."""
    report = evaluate(eval_archive, load_questions(), ["hybrid"], 10)
    assert report["skipped"] == []
    pairs = report["by_pair"]["hybrid"]
    assert pairs["en→no"]["questions"] >= 20
    assert pairs["en→no"]["hit@5"] >= 0.75 and pairs["en→no"]["answer_hit"] >= 0.6
    assert pairs["vi→vi"]["hit@5"] >= 0.95
    assert pairs["en→en"]["hit@1"] >= 0.9 and pairs["en→en"]["answer_hit"] >= 0.88
    assert pairs["en→any"]["abstain_recall"] >= 0.95 and pairs["vi→vi"]["abstain_recall"] == 1.0
    assert report["modes"]["hybrid"]["false_abstain"] <= 0.05
    assert report["modes"]["hybrid"]["citation_exact"] == 1.0


def test_health_says_which_languages_the_archive_holds_and_how_it_matches_them(eval_archive, embedder):
    settings = eval_archive.settings
    with TestClient(create_app(settings, embedder)) as client:
        crosslingual = client.get("/health").json()["crosslingual"]
    assert crosslingual["languages"] == ["en", "no", "vi"] and crosslingual["model_languages"] == ["en"]
    assert "vi" in crosslingual["unmatched"]  # no English-Vietnamese dictionary exists here
    assert crosslingual["dictionaries"] == ({"no": "freedict-eng-nor"} if NORWEGIAN else {})


def test_without_dictionaries_names_and_numbers_still_find_the_article(eval_archive, embedder, tmp_path):
    settings = eval_archive.settings.model_copy(update={"dictionaries": tmp_path})
    index = Index.load(settings, embedder)
    assert index.crosslingual_status()["dictionaries"] == {}
    assert index.crosslingual_status()["unmatched"] == ["no", "vi"]
    response = index.search("Huu Nghi–Chi Lang expressway 43 km", top_k=3)
    assert response.results[0].doc_id == "nb_102_motorvei_huu_nghi_chi_lang"


def test_a_model_that_covers_every_language_ranks_every_passage_by_its_cosine(eval_archive, embedder):
    settings = eval_archive.settings.model_copy(update={"model_languages": ["all"]})
    index = Index.load(settings, embedder)
    assert not index.foreign_rows.any()
    assert index.ask("How many hectares of rice were damaged by the flood in Lang Son?").citations


def test_an_english_only_archive_keeps_its_english_path(bundled: Index, embedder: Embedder):
    assert bundled.translator is not None  # the bundled archive holds one Norwegian article
    assert {c.language for c in bundled.search("Party Committee", top_k=50).results} == {"en", "no"}
