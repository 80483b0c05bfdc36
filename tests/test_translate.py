"""Questions as concepts over the archive's languages (service/core/translate.py): every form that
stands for a word in any language counts as that word, once."""

from __future__ import annotations

import pytest
from helpers import write_dictd

from indexer.lexicon import find_dictionaries
from indexer.text import terms
from service.core.translate import Translator

NORWEGIAN = (
    "Flommen skadet 1 850 hektar ris. Inspeksjonskomiteen og folkekomiteen i Huu Lung kommune møttes "
    "til inspeksjon i provinsen."
)
VIETNAMESE = "Chủ tịch UBND tỉnh Sơn La Nguyễn Đình Việt thăm tổ công tác số 3 tại xã Nà Sàng."
ENGLISH = "The provincial committee met in Son La."


@pytest.fixture()
def translator(tmp_path):
    folder = write_dictd(
        tmp_path, "freedict-eng-nor", {"rice": "ris", "flood": "flom", "committee": "komité"}
    )
    return Translator(
        {"en": terms(ENGLISH), "no": terms(NORWEGIAN, "no"), "vi": terms(VIETNAMESE, "vi")},
        find_dictionaries(folder),
    )


def members(translator: Translator, question: str) -> dict[str, set[str]]:
    return {c.key: set(c.members) for c in translator.concepts(question)}


def test_a_word_counts_in_its_translation_its_cognate_and_the_compounds_that_hold_it(translator):
    found = members(translator, "How much rice did the inspection committee of Huu Lung see flooded?")
    assert "provins" in members(translator, "province")["provinc"]  # a cognate, spelled alike
    assert "ris" in found["rice"]  # the dictionary
    assert "flomm" in found["flood"]  # "flom", whose m doubles before an ending ("flommen")
    assert {"folkekomite", "inspeksjonskomite"} <= found["committe"]  # compounds of "komité"
    assert "inspeksjon" in found["inspect"]  # a cognate
    assert {"huu", "lung"} <= found["huu"] | found["lung"]  # names stay as they are
    assert "much" not in found and "the" not in found  # English function words are no concepts


def test_without_translation_only_the_words_own_forms_count(tmp_path):
    plain = Translator({"en": terms(ENGLISH), "no": terms(NORWEGIAN, "no")}, {}, translate=False)
    assert members(plain, "rice committee Huu Lung") == {
        "rice": {"rice"}, "committe": {"committe"}, "huu": {"huu"}, "lung": {"lung"},
    }  # fmt: skip


def test_a_vietnamese_question_counts_its_syllables_and_their_pairs_with_or_without_diacritics(translator):
    accented = members(translator, "Ai là Chủ tịch UBND tỉnh Sơn La?")
    plain = members(translator, "Ai la Chu tich UBND tinh Son La?")
    assert accented == plain
    assert {"son_la", "chu_tich", "tinh_son"} <= set(plain)
    assert "la" in plain["la"]  # "La" of Sơn La, though "là" folds the same


def test_an_english_stop_word_counts_as_a_vietnamese_syllable_only_in_a_vietnamese_question(translator):
    assert "so" in members(translator, "To cong tac so 3")  # "tổ công tác số 3"
    assert "so" not in members(translator, "Was it so in group No. 3?")
    assert "to" not in members(translator, "Who went to the commune?")
