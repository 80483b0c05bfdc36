"""Bilingual dictionaries read from FreeDict's dictd files, and the terms of each language."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_dictd

from indexer.lexicon import find_dictionaries, read_dictd
from indexer.text import analysis, terms

DEBIAN = Path("/usr/share/dictd")


@pytest.fixture()
def norwegian(tmp_path):
    folder = write_dictd(
        tmp_path / "dictd",
        "freedict-eng-nor",
        {
            "house": "hus 2.\narchetypal structure of a human abode\n 3.\nhuman abode",
            "work": "1. arbeide\neffect by gradual degrees\n2. arbeide, jobbe\nto do a specific task",
            "flood": "oversvømmelse, flom (of water)\noverflow of water",
            "construct": "konstruere, bygge",
            "rice": "ris",
            "remove": "flytte, fjerne, ta bort",
            "explanation": "en ganske lang forklaring av ordet\na gloss",
        },
    )
    return find_dictionaries(folder)["no"]


def test_each_sense_gives_its_translations_and_glosses_are_left_out(norwegian):
    assert norwegian.translations("house") == ("hus",)
    assert norwegian.translations("work") == ("arbeide", "jobbe")
    assert norwegian.translations("flood") == ("oversvømmelse", "flom")  # "(of water)" is a note
    assert norwegian.translations("explanation") == ()  # five words explain, not translate


def test_inflected_and_derived_words_find_their_headword(norwegian):
    assert norwegian.translations("Houses") == ("hus",)  # by English stem
    assert norwegian.translations("floods") == ("oversvømmelse", "flom")
    assert norwegian.translations("construction") == ("konstruere", "bygge")  # by prefix
    assert norwegian.translations("con") == ()  # too short a prefix to trust
    assert norwegian.translations("mercury") == ()


def test_a_gloss_translates_word_by_word_and_keeps_names_and_numbers(norwegian):
    assert norwegian.gloss("Flommen skadet 1 850 hektar ris i Lang Son.") == (
        "flood skadet 1 850 hektar rice i Lang Son."
    )


def test_only_english_x_dictionaries_with_both_files_are_found(tmp_path):
    write_dictd(tmp_path, "freedict-eng-nor", {"rice": "ris"})
    write_dictd(tmp_path, "freedict-nor-eng", {"ris": "rice"})  # the other direction
    write_dictd(tmp_path, "freedict-eng-xyz", {"rice": "?"})  # a language newsqa does not know
    (tmp_path / "freedict-eng-swe.index").write_text("rice\tA\tB\n")  # no .dict.dz
    assert list(find_dictionaries(tmp_path)) == ["no"]
    assert find_dictionaries(tmp_path / "missing") == {}


@pytest.mark.skipif(
    not (DEBIAN / "freedict-eng-nor.index").exists(), reason="dict-freedict-eng-nor not installed"
)
def test_debians_english_norwegian_dictionary_reads_whole():
    entries = read_dictd(DEBIAN / "freedict-eng-nor.index", DEBIAN / "freedict-eng-nor.dict.dz")
    assert len(entries) > 10_000
    assert entries["province"] == ("provins",) and "komité" in entries["committee"]


def test_each_language_is_analysed_by_its_own_rules():
    assert analysis("en") == "english" and analysis("no") == "norwegian" and analysis("vi") == "syllables"
    assert analysis("xx") == "english"  # a language newsqa has no rules for
    assert terms("kommunene i provinsen", "no") == ["kommun", "provins"]  # Norwegian stems, "i" a stop word
    assert terms("communes of the province") == ["commune", "provinc"]
    # Vietnamese: syllables folded and unstemmed, and each pair of them, so "Sơn La" is one term too.
    assert terms("Chủ tịch tỉnh Sơn La", "vi") == [
        "chu", "tich", "tinh", "son", "la", "chu_tich", "tich_tinh", "tinh_son", "son_la",
    ]  # fmt: skip
    assert terms("Chu tich tinh Son La", "vi") == terms("Chủ tịch tỉnh Sơn La", "vi")
    assert terms("ai là chủ tịch", "vi") == ["la", "chu", "tich", "la_chu", "chu_tich"]  # "ai" asks
