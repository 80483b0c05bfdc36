"""Text primitives shared by indexing and search: diacritic folding, sentence spans, terms."""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache

import Stemmer
from bm25s.stopwords import (
    STOPWORDS_DANISH,
    STOPWORDS_DUTCH,
    STOPWORDS_EN,
    STOPWORDS_FRENCH,
    STOPWORDS_GERMAN,
    STOPWORDS_ITALIAN,
    STOPWORDS_NORWEGIAN,
    STOPWORDS_PORTUGUESE,
    STOPWORDS_RUSSIAN,
    STOPWORDS_SPANISH,
    STOPWORDS_SWEDISH,
    STOPWORDS_TURKISH,
)


@contextlib.contextmanager
def _hidden(modules: Sequence[str]) -> Iterator[None]:
    """Make `modules` unimportable inside the block (those not imported yet), then importable again."""
    hidden = [name for name in modules if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: `import name` raises ImportError
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]


# nltk's package __init__ imports all of nltk, and with it scipy.stats and scikit-learn where
# they are installed (collocation statistics, classifiers), which newsqa never uses: 120 MB of
# every process's memory and 1.3 s of its start. nltk imports them only if it can.
with _hidden(["scipy.stats", "sklearn"]):
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
_TOKEN = re.compile(r"\S+")

# An answer is one sentence, and an answer must never run past 60 words (the issue "Ingestion
# a newsroom can trust"): a longer sentence (a list, or a whole paragraph of text with no
# usable punctuation or case) is split at clause boundaries into pieces of at most this many.
MAX_SENTENCE_WORDS = 60
# No piece of a split sentence is shorter than this, so a cut never strands a word or two.
MIN_PIECE_WORDS = 5
# What cutting after a word that ends in this mark costs: the weaker the boundary, the
# dearer, so a long sentence is cut where Punkt saw no end ("areas… According", "so? and")
# or at semicolons before colons, before commas.
_CUT_AFTER = {"…": 1.0, "?": 1.0, "!": 1.0, ";": 1.0, ":": 1.5, ",": 2.0}
# A dash standing alone between words opens an aside, a comma's worth ("kommune-" in
# "kommune- og distrikts..." does not, nor a range: "2021 - 2025").
_DASH_CUT = 2.0
# What cutting before a word that opens a clause costs: dearer than any punctuation, as in
# unpunctuated text these are the only clause boundaries left ("... 2025 while the province").
_CLAUSE_WORDS = dict.fromkeys(
    """but while whereas although though because since which who whose where when yet so
    he she we they""".split(),  # noqa: SIM905
    3.0,
) | dict.fromkeys(["and", "or"], 3.5)
# Any other word boundary, where no clause boundary is near enough.
_ANY_CUT = 10.0
# What a piece of n words adds to its cut's cost: little, and more for longer pieces, so
# that among equally good cuts the pieces come out even.
_LENGTH_COST = [(words / MAX_SENTENCE_WORDS) ** 2 for words in range(MAX_SENTENCE_WORDS + 1)]
# The space at a clause boundary: after a word's closing mark (closing quotes and brackets
# may follow it: `said,"`), after a dash alone, or before a clause word (opening quotes and
# brackets may precede it). Each match ends where the next word starts.
_CLAUSE_CUT = re.compile(
    r"(?P<mark>[…?!;:,])[\"'”’)\]»]*\s+"
    r"|(?<!\S)(?:--?|[–—])\s+(?!\d)"
    r"|\s+(?=[\"'“‘(\[«]*(?P<word>" + "|".join(_CLAUSE_WORDS) + r")(?!\S))",
    re.IGNORECASE,
)


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

# The Snowball stemmer of each language (PyStemmer), by ISO 639-1 code.
_STEMMERS = {
    "en": "english", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "da": "danish",
    "sv": "swedish", "de": "german", "nl": "dutch", "fr": "french", "es": "spanish",
    "it": "italian", "pt": "portuguese", "fi": "finnish", "ru": "russian", "tr": "turkish",
}  # fmt: skip


def _stemmer(language: str) -> Stemmer.Stemmer | None:
    """This thread's stemmer for `language` (None where Snowball has none): PyStemmer's
    stemmers keep state between calls and must not be shared."""
    algorithm = _STEMMERS.get(language)
    if algorithm is None:
        return None
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(algorithm)
    if stemmer is None:
        stemmer = stemmers[algorithm] = Stemmer.Stemmer(algorithm)
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
# Vietnamese words that only build questions ("ai", "gì", "nào") and plurals, folded; not
# those that fold like a word that carries meaning ("là"/"La", "của"/"cửa", "bao"/"báo"):
# IDF leaves common syllables little weight anyway.
_FUNCTION_WORDS_VI = frozenset(["ai", "gi", "nao", "nhieu", "sao", "nhung", "cac", "duoc", "khong"])

# English text drops Norwegian stop words too, as it always has (English is the default
# analysis, and the bundled evaluation was tuned on it).
_STOPWORDS = {
    "en": frozenset(fold(word) for word in (*STOPWORDS_EN, *_FUNCTION_WORDS_EN, *STOPWORDS_NORWEGIAN)),
    "vi": _FUNCTION_WORDS_VI,
} | {
    code: frozenset(fold(word) for word in words)
    for code, words in {
        "no": STOPWORDS_NORWEGIAN, "nb": STOPWORDS_NORWEGIAN, "nn": STOPWORDS_NORWEGIAN,
        "da": STOPWORDS_DANISH, "sv": STOPWORDS_SWEDISH, "de": STOPWORDS_GERMAN,
        "nl": STOPWORDS_DUTCH, "fr": STOPWORDS_FRENCH, "es": STOPWORDS_SPANISH,
        "it": STOPWORDS_ITALIAN, "pt": STOPWORDS_PORTUGUESE, "ru": STOPWORDS_RUSSIAN,
        "tr": STOPWORDS_TURKISH,
    }.items()
}  # fmt: skip
# Languages whose words are syllables written apart: a word of two syllables ("Sơn La",
# "chủ tịch") is matched as the pair, so a pair of syllables is a term too.
_SYLLABIC = {"vi"}


# A Vietnamese syllable, diacritics folded: an initial consonant, one to three vowels, and
# one of the eight final consonants (no Vietnamese syllable ends in -s, -d, -l, -r or -w).
_VIETNAMESE_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(ng|nh|ch|[cmnpt])?"
)
# The share of a text's words that must be possible syllables for it to read as Vietnamese
# (abbreviations such as "UBND" are not; "the" and "long" are).
VIETNAMESE_SHARE = 0.8


def reads_vietnamese(text: str) -> bool:
    """Whether nearly all the words of `text` are possible Vietnamese syllables, diacritics
    folded or never typed ("ai la chu tich tinh son la"), which English words are not ("how",
    "first", "is")."""
    letters = [word for word in _WORD.findall(fold(text)) if not word.isdigit()]
    syllables = sum(1 for word in letters if _VIETNAMESE_SYLLABLE.fullmatch(word))
    return bool(letters) and syllables >= VIETNAMESE_SHARE * len(letters)


def analysis(language: str) -> str:
    """How text of `language` is analysed, for the manifest: "english" (the default, for any
    language newsqa has no rules for), a Snowball stemmer's name, or "syllables"."""
    if language in _SYLLABIC:
        return "syllables"
    return _STEMMERS.get(language, "english") if language in _STOPWORDS else "english"


def stop_words(language: str) -> frozenset[str]:
    """The folded stop words of `language` (English's for a language without a list)."""
    return _STOPWORDS.get(language, _STOPWORDS["en"])


def stem(word: str, language: str = "en") -> str:
    """A folded word's stem by the rules of `language` (itself where it has no stemmer)."""
    if language not in _STOPWORDS:
        language = "en"
    stemmer = _stemmer(language)
    return stemmer.stemWord(word) if stemmer is not None else word


def terms(text: str, language: str = "en") -> list[str]:
    """Lexical terms of a text: folded, stop words dropped, stemmed, each by the rules of the
    text's `language` (English's for a language newsqa has none for); for a syllabic
    language, unstemmed syllables and each pair of syllables that follow one another
    ("son_la")."""
    if language not in _STOPWORDS:
        language = "en"
    stop = _STOPWORDS[language]
    words = _WORD.findall(fold(text))
    if language in _SYLLABIC:
        pairs = [f"{a}_{b}" for a, b in itertools.pairwise(words) if a not in stop and b not in stop]
        return [word for word in words if word not in stop] + pairs
    kept = [word for word in words if word not in stop]
    stemmer = _stemmer(language)
    return stemmer.stemWords(kept) if stemmer is not None else kept


@lru_cache(maxsize=1)
def _punkt() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(_ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, *, keep_long: bool = False
) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text[start:end]`, relative to `text`.

    Sentences never cross a line break, so a headline, caption or list item stands
    alone. A period followed by a lower-case word or a digit ("No. 22", "29. november")
    does not end a sentence. Spans carry no surrounding whitespace.

    A sentence of more than MAX_SENTENCE_WORDS words in text without usable punctuation or
    case (`unpunctuated`: lower-cased or run-on text, where Punkt finds no sentences) comes
    cut at clause boundaries (`_clauses`), so that no "sentence" is longer than an answer
    should be; unless `keep_long`. A long sentence of ordinary prose stays whole: its commas
    and capitals say where it goes, and the short answer is found inside it.
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
        for s, e in merged:
            s, e = _strip(text, s, e)
            # 2n - 1 characters hold at most n words: shorter sentences need no count.
            if (
                keep_long
                or e - s < 2 * MAX_SENTENCE_WORDS + 1
                or len(text[s:e].split()) <= MAX_SENTENCE_WORDS
                or not unpunctuated(text, s, e)
            ):
                spans.append((s, e))
            else:
                spans.extend(_clauses(text, s, e))
    return [(s, e) for s, e in spans if e > s]


def unpunctuated(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` lacks the case or the punctuation that sentence finding reads:
    no capital letter, or no comma, semicolon or colon in all its words."""
    sentence = text[start:end]
    return sentence == sentence.lower() or not any(mark in sentence for mark in ",;:")


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence of more than MAX_SENTENCE_WORDS words as consecutive pieces of at most
    that many and at least MIN_PIECE_WORDS, cut at clause boundaries where they allow it,
    else at words too."""
    words = [match.span() for match in _TOKEN.finditer(text, start, end)]
    index_of = {word_start: index for index, (word_start, _) in enumerate(words)}
    # costs[k]: what cutting before words[k] costs, at clause boundaries.
    costs: dict[int, float] = {}
    for match in _CLAUSE_CUT.finditer(text, start, end):
        mark, word = match.group("mark"), match.group("word")
        # (A case-blind match may fold otherwise: "whİch" is no clause word.)
        cost = _CUT_AFTER[mark] if mark else _CLAUSE_WORDS.get(word.casefold()) if word else _DASH_CUT
        if cost is not None:
            costs[index_of[match.end()]] = cost
    count = len(words)
    ends = _cheapest_cuts(count, sorted(costs), costs) or _cheapest_cuts(count, range(1, count), costs)
    assert ends is not None  # any count of words over MIN_PIECE_WORDS can be cut at words
    return [(words[first][0], words[last - 1][1]) for first, last in itertools.pairwise([0, *ends])]


def _cheapest_cuts(count: int, cuts: Sequence[int], costs: dict[int, float]) -> list[int] | None:
    """Where pieces of `count` words cut only at `cuts` end, at least total cost, or None.

    Each piece costs the cut before it (`costs`, else _ANY_CUT) and `_LENGTH_COST`. Exact
    (dynamic programming over the cuts); linear in `len(cuts)`, and quick where cuts are
    few, which is why `_clauses` tries clause boundaries alone before every word.
    """
    positions = [0, *cuts, count]
    # opening[q]: the least cost of the pieces before positions[q], plus the cut there.
    opening = [0.0] + [math.inf] * (len(positions) - 1)
    best = math.inf
    back = [0] * len(positions)
    for p in range(1, len(positions)):
        end = positions[p]
        first = bisect.bisect_left(positions, end - MAX_SENTENCE_WORDS, 0, p)
        last = bisect.bisect_right(positions, end - MIN_PIECE_WORDS, 0, p)
        best = math.inf
        for q in range(first, last):
            cost = opening[q] + _LENGTH_COST[end - positions[q]]
            if cost < best:
                best, back[p] = cost, q
        if p < len(positions) - 1:
            opening[p] = best + costs.get(end, _ANY_CUT)
    if best == math.inf:
        return None
    ends = []
    p = len(positions) - 1
    while p:
        ends.append(positions[p])
        p = back[p]
    return ends[::-1]


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
