"""Bilingual dictionaries for cross-lingual search, read from FreeDict's dictd files on disk.

Debian and Ubuntu ship FreeDict's dictionaries as packages (`apt-get install
dict-freedict-eng-nor`), in the dictd format: `freedict-eng-nor.index` lists each headword
with the offset and length of its entry (base-64 numbers) in `freedict-eng-nor.dict.dz`
(gzip-compatible). An English-X dictionary lets an English question match articles in
language X (service/core/translate.py) and glosses an answer from them word by word. Nothing is
ever downloaded: without the files, cross-lingual search falls back to names, numbers and
cognates, and `/health` says which dictionaries are loaded.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from indexer.text import fold, stem

# FreeDict names languages by ISO 639-3; documents carry ISO 639-1 codes (py3langid's).
ISO_639_1 = {
    "nor": "no", "nob": "no", "nno": "nn", "dan": "da", "swe": "sv", "deu": "de", "fra": "fr",
    "spa": "es", "ita": "it", "por": "pt", "nld": "nl", "fin": "fi", "pol": "pl", "vie": "vi",
}  # fmt: skip
_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# An entry: its headword line ("house //haʊs// <n>"), then for each sense a line of
# translations ("hus", "2. arbeide, jobbe", "hus 2." when the next sense starts on it) and
# lines of English glosses. A sense without translations is a bare number (" 3.").
_SENSE = re.compile(r"^\s*\d+\.\s*")
_NEXT_SENSE = re.compile(r"\s+\d+\.$")
_NOTE = re.compile(r"\([^)]*\)|\[[^]]*\]")
_GLOSS_WORD = re.compile(r"[^\W\d_]+")
# A word the dictionary lacks is looked up by its longest prefix that is a headword of at least
# this many letters and this share of the word ("construction" -> "construct").
PREFIX_MIN_LETTERS = 5
PREFIX_SHARE = 0.7
# A translation longer than this is an explanation, not an equivalent.
MAX_TRANSLATION_WORDS = 3


@dataclass(frozen=True)
class Dictionary:
    """An English-to-`language` dictionary: folded English headword -> its translations."""

    language: str
    name: str
    entries: dict[str, tuple[str, ...]]

    def translations(self, word: str) -> tuple[str, ...]:
        """Translations of an English word: by headword, by English stem ("communes"), else
        by the longest headword it starts with that holds most of it ("construction" ->
        "construct", "recovery" -> "recover"): derived words the dictionary leaves out."""
        word = fold(word)
        found = self.entries.get(word) or self._by_stem.get(stem(word, "en"))
        if found:
            return found
        for end in range(len(word) - 1, max(PREFIX_MIN_LETTERS, int(len(word) * PREFIX_SHARE)) - 1, -1):
            if found := self.entries.get(word[:end]):
                return found
        return ()

    @cached_property
    def _by_stem(self) -> dict[str, tuple[str, ...]]:
        """English stem of each one-word headword -> the translations of all its headwords."""
        grouped: dict[str, list[str]] = {}
        for headword, translated in self.entries.items():
            if " " not in headword:
                grouped.setdefault(stem(headword, "en"), []).extend(translated)
        return {key: tuple(dict.fromkeys(values)) for key, values in grouped.items()}

    def gloss(self, text: str) -> str:
        """A word-by-word English gloss of `text` (in this dictionary's language): each word
        the dictionary translates replaced by the English headword, the rest (names, numbers)
        left as they are. A reading aid, not a translation."""
        reverse = self._glosses

        def english(match: re.Match[str]) -> str:
            key = stem(fold(match.group()), self.language)
            # A final consonant doubles before an ending: "flommen" is "flom" (flood).
            undoubled = key[:-1] if key[-1:] == key[-2:-1] else ""
            return reverse.get(key) or reverse.get(undoubled) or match.group()

        return _GLOSS_WORD.sub(english, text)

    @cached_property
    def _glosses(self) -> dict[str, str]:
        """The reverse direction for glossing: stem of a one-word translation -> the shortest
        English headword it translates."""
        reverse: dict[str, str] = {}
        for headword, translated in self.entries.items():
            for word in translated:
                if " " not in word:
                    key = stem(fold(word), self.language)
                    if key not in reverse or len(headword) < len(reverse[key]):
                        reverse[key] = headword
        return reverse


@lru_cache(maxsize=4)
def dictionaries(folder: Path) -> dict[str, Dictionary]:
    """`find_dictionaries`, read once per process: every index version loaded shares them."""
    return find_dictionaries(folder)


def find_dictionaries(folder: Path) -> dict[str, Dictionary]:
    """The English-X FreeDict dictionaries in `folder`, by the language X they translate into."""
    found: dict[str, Dictionary] = {}
    for index in sorted(folder.glob("freedict-eng-*.index")) if folder.is_dir() else []:
        code = index.name.removeprefix("freedict-eng-").removesuffix(".index")
        language = ISO_639_1.get(code)
        data = index.with_suffix(".dict.dz")
        if language is None or language in found or not data.is_file():
            continue
        found[language] = Dictionary(language, f"freedict-eng-{code}", read_dictd(index, data))
    return found


def read_dictd(index: Path, data: Path) -> dict[str, tuple[str, ...]]:
    """The translations of every headword of a dictd dictionary (folded headword -> words)."""
    body = gzip.decompress(data.read_bytes())
    entries: dict[str, list[str]] = {}
    for line in index.read_text(encoding="utf-8").splitlines():
        headword, offset, length = line.split("\t")
        if headword.startswith("00database"):
            continue
        start = _number(offset)
        entry = body[start : start + _number(length)].decode("utf-8", errors="replace")
        translated = entries.setdefault(fold(headword), [])
        translated.extend(word for word in _translations(entry) if word not in translated)
    return {headword: tuple(words) for headword, words in entries.items() if words}


def _translations(entry: str) -> list[str]:
    """The translations of one entry: the first line of each sense, split at commas."""
    lines = entry.split("\n")[1:]
    found: list[str] = []
    opening = True  # the line after the headword opens the first sense
    for line in lines:
        sense = _SENSE.match(line)
        if sense or opening:
            text = _NEXT_SENSE.sub("", line[sense.end() :] if sense else line)
            for word in _NOTE.sub("", text).split(","):
                word = " ".join(word.split())
                if word and len(word.split()) <= MAX_TRANSLATION_WORDS:
                    found.append(word)
            opening = False
    return found


def _number(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 64 + _BASE64[digit]
    return value
