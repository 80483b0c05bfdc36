"""Text primitives shared by indexing and search: diacritic folding, sentence spans, terms."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_NORWEGIAN
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

# Letters that carry no combining mark in NFKD, so stripping marks does not fold them.
_UNDECOMPOSED = {"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L", "ß": "ss"}
# The combining marks of Latin letters (U+0300-U+036F, less the grapheme joiner, which is
# not a mark): all a Vietnamese or Norwegian letter leaves after NFKD.
_LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]")

# Abbreviations after which a period does not end a sentence (English and Norwegian).
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "st", "no", "nr", "vs", "jr"}

_WORD = re.compile(r"\w+")
_PARAGRAPH = re.compile(r"[^\n]+")


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form: "Điện Biên" -> "dien bien", "Nghiêm" -> "nghiem".

    Used on both sides of lexical matching. The result may differ in length from the
    input, so it is never used where character offsets matter.
    """
    if text.isascii():  # nothing to decompose or strip: most English prose, at 1/50 the cost
        return text.casefold()
    for letter, folded in _UNDECOMPOSED.items():
        text = text.replace(letter, folded)
    stripped = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text))
    if not stripped.isascii():  # other scripts may carry other combining marks
        stripped = "".join(ch for ch in stripped if not unicodedata.combining(ch))
    return stripped.casefold()


def for_model(text: str) -> str:
    """Text as the embedding model should see it.

    The default model lower-cases and strips accents itself, but has no notion that
    "Đ" is a "D"; without this "Dien Bien" and "Điện Biên" embed apart.
    """
    return text.replace("Đ", "D").replace("đ", "d")


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer: PyStemmer's keep state between calls and must not be shared."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# bm25s's English list (Lucene's 33 words) keeps question and auxiliary words such as
# "which", "how", "did"; questions are full of them, and they would otherwise count as
# rare, informative terms when matched against news prose.
_FUNCTION_WORDS_EN = frozenset(
    """what which who whom whose when where why how many much do does did done doing
    has have had having been being were am can could would should shall may might must
    i me my we our you your he him his she her its them those from up down out over
    than so very just also any some all each other own same both few more most only too""".split()  # noqa: SIM905
)

_STOPWORDS = frozenset(fold(word) for word in (*STOPWORDS_EN, *_FUNCTION_WORDS_EN, *STOPWORDS_NORWEGIAN))


def terms(text: str) -> list[str]:
    """Lexical terms of a text: folded, stop words dropped, stemmed."""
    words = [word for word in _WORD.findall(fold(text)) if word not in _STOPWORDS]
    return _stemmer().stemWords(words)


@lru_cache(maxsize=1)
def _punkt() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(_ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text[start:end]`, relative to `text`.

    Sentences never cross a line break, so a headline, caption or list item stands
    alone. A period followed by a lower-case word or a digit ("No. 22", "29. november")
    does not end a sentence. Spans carry no surrounding whitespace.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in _PARAGRAPH.finditer(text, start, end):
        merged: list[list[int]] = []
        for s, e in _punkt().span_tokenize(line.group()):
            s, e = s + line.start(), e + line.start()
            if merged and (text[s].islower() or text[s].isdigit()):
                merged[-1][1] = e
            else:
                merged.append([s, e])
        spans.extend(_strip(text, s, e) for s, e in merged)
    return [(s, e) for s, e in spans if e > s]


def word_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Offsets of the whitespace-separated words of `text[start:end]`."""
    for match in re.finditer(r"\S+", text[start:end]):
        yield start + match.start(), start + match.end()


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
