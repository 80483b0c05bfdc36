"""What the archive's posting lists say of a question's words: how rare each is, which
passages and documents hold it, and (`Crosslingual`) its forms in the archive's other
languages. The answer stage checks and weighs a question with them, and ranking weighs a
passage in another language by the share of the question's words it holds."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.store import StoredIndex
from indexer.text import terms
from service.core.translate import Concept, Translator

_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[\w'’-]+")


class Vocabulary:
    """What the archive says, for weighing and checking question terms.

    Read off the postings of its live passages (indexer/postings.py: which passages hold each
    term), so the terms are exactly those the index was built with and nothing is re-tokenised
    at load.
    """

    def __init__(self, stored: StoredIndex) -> None:
        self.stored = stored
        self.lexical = stored.lexical
        # Each passage's document number, and of each document whether it is live and English.
        self.passage_docs, live, languages = stored.passage_documents()
        self.documents = len(live)
        self._document_counts: dict[str, tuple[int, int]] = {}
        # The documents a question's words are judged common among (`subject_terms`): the
        # English ones, as questions are asked in English, when there are any; else all.
        # In an archive half in Vietnamese, "people" is in few documents, yet common.
        english = live & (languages == "en")
        self.peers = english if english.any() else live
        self.peer_count = int(np.count_nonzero(self.peers))

    def passages_with(self, term: str) -> np.ndarray:
        """Rows of the live passages (title included) that contain `term`, in row order."""
        return self.lexical.rows(term)

    def idf(self, term: str) -> float | None:
        """Inverse passage frequency of `term`; None for a term the archive never uses."""
        seen = len(self.passages_with(term))
        return math.log(1 + self.lexical.count / seen) if seen else None

    def best_idf(self, forms: Iterable[str]) -> float | None:
        """The highest `idf` among the forms of a word (None when the archive uses none): what
        a question's word weighs, whatever language its passages say it in."""
        return max((idf for form in forms if (idf := self.idf(form)) is not None), default=None)

    def document_count(self, term: str, peers: bool = False) -> int:
        """How many documents contain `term` (of the `peers` only, if so); counted once per
        known term, then remembered."""
        counts = self._document_counts.get(term)
        if counts is None:
            # A mask, not np.unique: no sort of a posting list that may hold most of a large
            # archive's passages (22 ms a question at 200k passages).
            present = np.zeros(self.documents, dtype=bool)
            present[self.passage_docs[self.passages_with(term)]] = True
            counts = int(np.count_nonzero(present)), int(np.count_nonzero(present & self.peers))
            if term in self.lexical:
                self._document_counts[term] = counts
        return counts[1] if peers else counts[0]

    def mentions(self, doc_id: str, term: str) -> bool:
        """Whether document `doc_id` contains `term`: a binary search of the term's posting
        list for the document's rows, not a pass over the list."""
        span = self.stored.document_rows(doc_id)
        if span is None:
            return False
        rows = self.passages_with(term)
        at = int(np.searchsorted(rows, span[0]))
        return at < len(rows) and int(rows[at]) < span[1]

    def unknown_numbers(self, question: str) -> list[str]:
        """Numbers in the question (years, figures, document numbers) the archive never mentions."""
        return [
            word
            for word in re.findall(r"\w*\d\w*", question)
            if any(self.idf(term) is None for term in terms(word))
        ]

    def subject_documents(
        self, question: str, among: Iterable[str], checks: Callable[[str, str], frozenset[str]] | None = None
    ) -> set[str] | None:
        """Those of the documents `among` that mention every name and number of the question
        that picks out a subject, or None when it names none.

        Such terms come from words capitalised after the first, or with a digit, and are
        known to the archive but mentioned in at most half of its documents ("Na Sang",
        "CT03"; not "Party" or "Committee"). `checks(term, doc_id)` gives the forms of a term
        that count as it in a document (service/core/translate.py: "qui" is "Quy" stemmed as
        English, "quy" as Norwegian), none where the document's language cannot say it."""
        subject: set[str] | None = None
        for term in self.subject_terms(question):
            mentioning = {
                doc_id
                for doc_id in among
                if (forms := checks(term, doc_id) if checks else frozenset([term])) == frozenset()
                or any(self.mentions(doc_id, form) for form in forms)
            }
            subject = mentioning if subject is None else subject & mentioning
        return subject

    def subject_terms(self, question: str, among: float | None = None) -> set[str]:
        """The terms of the question's names and numbers that pick out a subject: from words
        capitalised after the first, or with a digit, known to the archive and mentioned in
        at most `among` of its English documents (`peers`; half of them by default)."""
        words = _WORD.findall(question)[1:]
        named = {term for word in words if word[0].isupper() or _DIGIT.search(word) for term in terms(word)}
        most = self.peer_count / 2 if among is None else among
        return {
            term
            for term in named
            if self.document_count(term) and self.document_count(term, peers=True) <= most
        }


@dataclass(frozen=True)
class Crosslingual:
    """How to read sentences of other languages than the question's English: the question's
    words as concepts over the archive's languages (service/core/translate.py), and which
    languages the model understands."""

    concepts: list[Concept]
    covered: Callable[[str], bool]
    translator: Translator

    def present(self, text: str, language: str) -> frozenset[str]:
        """The terms of `text` (in `language`), with the English term of each of the question's
        words it holds in any form: a Norwegian sentence with "stormen" holds "storm"."""
        found = terms_of(text, language)
        if language == "en":
            return found
        return found | {concept.key for concept in self.concepts if concept.members & found}

    def forms(self, term: str, language: str) -> frozenset[str]:
        """The forms of the question's term `term` that a text in `language` may use, or none
        when it cannot be checked there: an English word ("Deputy") that no passage in that
        language says in any form. A name ("Huu Lung", "Thao Nguyen") and a number can."""
        if language == "en":
            return frozenset([term])
        concepts = [concept for concept in self.concepts if concept.key == term]
        forms = frozenset([term]).union(*(concept.members for concept in concepts))
        if self.translator.knows(forms, language):
            return forms
        # A name or a number must be there as it is; an English word it may say otherwise.
        english = any(concept.word in self.translator.english_words for concept in concepts)
        return frozenset() if english and not any(ch.isdigit() for ch in term) else forms


@lru_cache(maxsize=8192)
def terms_of(sentence: str, language: str = "en") -> frozenset[str]:
    """The terms of a sentence, remembered: a sentence is scored once for each passage that
    holds it, and the stories in the news are asked about again and again."""
    return frozenset(terms(sentence, language))
