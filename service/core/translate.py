"""Cross-lingual matching: a question's words as concepts over every language of the archive.

Dictionary-based query translation, the classic CLIR method, as a structured query (Pirkola,
SIGIR 1998): each content word of the question is one concept, and every form that stands
for it in any of the archive's languages counts as that word: its English stem, its stem by
another language's rules (names, numbers and places stay as they are: "Huu Lung", "58"), its
dictionary translations ("storm" -> "uvær", "storm"), and the archive's own words that spell
like it (cognates: "inspection" ~ "inspeksjon", "committee" ~ "komité") or end in a
translation (Norwegian compounds: "folkekomiteen" holds "komité"). A passage scores a concept
once, by its best form, so a word with five translations does not count five times.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from indexer.lexicon import Dictionary
from indexer.text import analysis, fold, reads_vietnamese, stem, stop_words

# How alike two spellings must be (rapidfuzz's ratio, 0-100, after `_spelling`) to be cognates,
# and the shortest word that may have one: short words match by chance ("fire" ~ "fier").
COGNATE_RATIO = 82
COGNATE_MIN_LETTERS = 5
# The shortest translation that may be the head of a compound ("komite" in "folkekomite").
COMPOUND_MIN_LETTERS = 5
_WORD = re.compile(r"\w+")
# What a pair of Vietnamese syllables counts for beside its two syllables: at full weight
# pairs cost the public Vietnamese QA set 1.2 points of hit@5, left out they cost the
# evaluation set's Vietnamese questions their precision on names (docs/2026-12-01-multilingual.md).
PAIR_WEIGHT = 0.5
# Spelling rules that bring an English word close to its Latin cognates in the Germanic
# languages ("committee" -> "komite", "province" -> "provinse", "nation" -> "nasjon").
_SPELLING = [
    (re.compile(r"tion"), "sjon"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"qu"), "kv"),
    (re.compile(r"[cq]"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"th"), "t"),
    (re.compile(r"y"), "i"),
    (re.compile(r"ae"), "e"),
    (re.compile(r"(\w)\1"), r"\1"),
]


@dataclass(frozen=True)
class Concept:
    """One word of a question: its English stem (`key`, what the answer stage checks) and
    every lexical term that counts as it, in any language of the archive (`members`)."""

    key: str
    members: frozenset[str]
    word: str = ""  # as the question has it, folded
    weight: float = 1.0  # of its BM25 score


class Translator:
    """Turns questions into concepts over the languages of one loaded archive.

    `vocabularies` holds, for each language of the archive other than English, the lexical
    terms its passages use; `dictionaries` the English-X dictionaries installed;
    `translate` False keeps only the forms of the question's own words (a multilingual
    model does the rest).
    """

    def __init__(
        self,
        vocabularies: Mapping[str, Iterable[str]],
        dictionaries: dict[str, Dictionary],
        translate: bool = True,
        english_words: Collection[str] = (),
    ) -> None:
        self.translate = translate
        # Words of English (the model's tokenizer's whole words: "deputy", not "thao"): a
        # capitalised one in a question is a title or a common noun, a name otherwise.
        self.english_words = frozenset(english_words)
        self.dictionaries = dictionaries
        self.vocabularies = {language: frozenset(words) for language, words in vocabularies.items()}
        # What English passages say: a question whose words are mostly not there but in a
        # syllabic language's passages is asked in that language.
        self.english = self.vocabularies.pop("en", frozenset())
        # Per language: spellings of its terms for cognates, and its terms reversed, sorted,
        # to find compounds by their last part.
        self._spellings = {
            language: {term: _spelling(term) for term in words if len(term) >= COGNATE_MIN_LETTERS}
            for language, words in self.vocabularies.items()
            if analysis(language) != "syllables"
        }
        self._cache: dict[tuple[str, str], frozenset[str]] = {}
        # A question's concepts are wanted thrice (lexical ranking, fusion, the answer). A dict,
        # not functools.lru_cache on the bound method: that is a reference cycle, which only a
        # full garbage collection would free once a write has replaced this Translator.
        self._concept_cache: dict[str, list[Concept]] = {}

    @property
    def languages(self) -> list[str]:
        return sorted(self.vocabularies)

    def concepts(self, question: str) -> list[Concept]:
        """The question's concepts (see `_concepts`), remembered for the last 256 questions."""
        found = self._concept_cache.get(question)
        if found is None:
            if len(self._concept_cache) >= 256:
                self._concept_cache.pop(next(iter(self._concept_cache), ""), None)
            found = self._concept_cache[question] = self._concepts(question)
        return found

    def _concepts(self, question: str) -> list[Concept]:
        """The question's content words, in order, each as a concept (see the module's doc);
        then, for each syllabic language of the archive, its pairs of adjacent words."""
        words = _WORD.findall(fold(question))
        english_stop = stop_words("en")
        asked_in = self._syllabic_language(question)
        found: list[Concept] = []
        for word in words:
            key = word if word in english_stop else stem(word, "en")
            members = set() if word in english_stop else {key}
            for language in self.vocabularies:
                # An English stop word may be a syllable that means something ("to", "so" are
                # "tổ", "số"): it counts in a question asked in that language, else not at all.
                if word in stop_words(language) or (word in english_stop and language != asked_in):
                    continue
                if (form := stem(word, language)) in self.vocabularies[language]:
                    members.add(form)
                if self.translate and word not in english_stop:
                    members |= self._translations(word, language)
            if members:
                found.append(Concept(key, frozenset(members), word))
        for language in self.vocabularies:
            if analysis(language) == "syllables":
                stop = stop_words(language)
                found += [
                    Concept(f"{a}_{b}", frozenset([f"{a}_{b}"]), f"{a} {b}", weight=PAIR_WEIGHT)
                    for a, b in itertools.pairwise(words)
                    if a not in stop and b not in stop and f"{a}_{b}" in self.vocabularies[language]
                ]
        return found

    def knows(self, forms: frozenset[str], language: str) -> bool:
        """Whether passages in `language` use any of `forms`."""
        return (language == "en" and bool(forms & self.english)) or bool(
            forms & self.vocabularies.get(language, set())
        )

    def _syllabic_language(self, question: str) -> str | None:
        """ "vi" when the archive holds Vietnamese and the question reads as Vietnamese."""
        return "vi" if "vi" in self.vocabularies and reads_vietnamese(question) else None

    def _translations(self, word: str, language: str) -> frozenset[str]:
        """The terms of `language`'s passages that translate `word` or spell like it."""
        cached = self._cache.get((word, language))
        if cached is not None:
            return cached
        vocabulary = self.vocabularies[language]
        stop = stop_words(language)
        dictionary = self.dictionaries.get(language)
        heads = {
            stem(part, language)
            for translation in (dictionary.translations(word) if dictionary else ())
            for part in _WORD.findall(fold(translation))
            if part not in stop and len(part) > 2  # not "ta" of "ta bort" ("remove")
        }
        # A final consonant doubles before an ending ("flom", "flommen"): both count.
        found = (heads | {head + head[-1] for head in heads if head[-1:] not in "aeiouy"}) & vocabulary
        if analysis(language) != "syllables" and len(word) >= COGNATE_MIN_LETTERS:
            spelled = {_spelling(word), _spelling(stem(word, "en"))}
            for spelling in spelled:
                matches = process.extract(
                    spelling,
                    self._spellings[language],
                    scorer=fuzz.ratio,
                    score_cutoff=COGNATE_RATIO,
                    limit=8,
                )
                found.update(term for _, _, term in matches)
            heads = {head for head in heads | spelled if len(head) >= COMPOUND_MIN_LETTERS}
            # Compounds that end in it: "folkekomite" is a "komite". (Those that open with it,
            # "inspeksjonskomite", lost a cross-lingual answer of the evaluation set.)
            found.update(term for term in vocabulary if any(term.endswith(head) for head in heads))
        result = frozenset(found)
        self._cache[(word, language)] = result
        return result


def _spelling(word: str) -> str:
    """`word` respelled by `_SPELLING`, for comparing cognates."""
    for pattern, replacement in _SPELLING:
        word = pattern.sub(replacement, word)
    return word
