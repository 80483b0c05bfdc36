"""Extractive answers: the sentence of the top passages that best answers the question."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from indexer.clean import Document
from indexer.text import terms
from service.core.lexical import Crosslingual, Vocabulary, terms_of
from service.core.results import Answer, AnswerSentence, Citation
from service.core.spans import Span, best_span, head_noun, question_type

# Weights of a sentence's score, chosen on the bundled evaluation set (see docs/evaluation.md):
# semantic similarity to the question, IDF-weighted share of the question's terms it
# contains, and a small preference for sentences from higher-ranked passages.
SIMILARITY_WEIGHT = 1.0
OVERLAP_WEIGHT = 0.3
RANK_PENALTY = 0.02
# The short answer is looked for in this many of the best sentences, each scored with its
# best phrase's score (0-1) times SPAN_WEIGHT (chosen on the evaluation set, see
# docs/2026-12-01-short-answers.md).
SPAN_SENTENCES = 3
SPAN_WEIGHT = 0.1
# Where the sentence has no cosine (a language the model does not cover), the phrase's fit to
# the question's type tells more of the sentences apart (chosen on the cross-lingual questions).
FOREIGN_SPAN_WEIGHT = 0.3

# Questions whose answer is a figure or a date: a sentence without a digit cannot hold it.
_ASKS_FOR_NUMBER = re.compile(
    r"\bhow (many|much|large|long|far|old|high)\b"
    r"|\b(what|which)( is| was| are| were)?( the)?( [\w'’-]+){0,4} (percentage|proportion|share|number|total"
    r"|amount|rate|level|date|year|period)\b"
    r"|^\s*(on |in |since |until )?when\b",
    re.IGNORECASE,
)
_FIGURE = r"\d+(?:[.,]\d+)*"  # 18.66, 8,622, 2025
_NUMBER = re.compile(_FIGURE)
# Words that place a question (or a sentence) before a change ("before Resolution 22 was
# issued", "at first"), and the figures a sentence gives for the state after one: where a
# change ended ("decreased to 18.66%") or how far it went ("rose by more than 3%").
_EARLIER = re.compile(
    r"\b(before|prior to|previously|initially|originally|at first|at the (start|outset)|used to)\b",
    re.IGNORECASE,
)
_CHANGE_FIGURE = re.compile(
    r"\b(?:to|by)\s+(?:(?:about|almost|around|nearly|over|under|some|more than|less than)\s+)?"
    rf"({_FIGURE}(?:\s*[-–]\s*{_FIGURE})?)",
    re.IGNORECASE,
)
# What a question measures: what "how many" counts, and of what; what a rate is of.
_MEASURED = re.compile(
    r"\bhow many\s+([\w-]+)(?:\s+of\s+([\w-]+))?|\b([\w-]+)\s+rates?\b",
    re.IGNORECASE,
)
# A sentence is read with the ones before it, for the question's terms it leaves to them
# ("..., he said"; "the ward was urged").
CONTEXT_SENTENCES = 2
# The characters before an answer that may hold the question's names ("Nghiem urged ... He
# also ... He called for ...").
NAMED_CONTEXT = 900
CAPTION_WORDS = 16
# Where a sentence joins two clauses that each stand alone (not a semicolon: it also
# separates the items of a list).
_CLAUSE = re.compile(r",\s+(?:while|whereas)\s+")
# What a caption's single present-tense sentence does not hold: a past tense or modal verb,
# a figure, a comma, a quotation.
_NOT_CAPTION = re.compile(
    r"\w+ed\b|\b(was|were|had|has|have|said|says|will|would|should|must|can|could|may|might)\b"
    r"|[\d,;:\"“”]",
    re.IGNORECASE,
)


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity or a date."""
    return bool(_ASKS_FOR_NUMBER.search(question))


def measured_terms(question: str) -> set[str]:
    """What a "how many" question counts, and of what, or what a rate it asks for is of:
    the terms an answer must name.

    "How many hectares of pineapple does Na Sang grow?" -> {"hectar", "pineappl"}: a
    sentence giving the hectares of coffee does not answer it. "What was the poverty rate
    in 2020?" -> {"poverti", "rate"}: nor does one giving the number of communes. "At
    what rate ...?" names nothing a sentence must hold.
    """
    measured: set[str] = set()
    for counted, of, rate_of in _MEASURED.findall(question):
        measured.update(terms(f"{counted} {of}"))
        if of_rate := terms(rate_of):
            measured.update(of_rate, terms("rate"))
    return measured


# The sentences of a cited passage (and of the one after it): their (start, end) offsets in
# the document and unit vectors.
SentencesOf = Callable[[Citation], tuple[list[tuple[int, int]], np.ndarray]]
# The date expressions the index found in a cited passage (and the one after it): (start, end,
# ISO day) in the document (`Passage.dates`).
DatesOf = Callable[[Citation], Sequence[tuple[int, int, str]]]

# Questions that ask when something happened: a sentence holding one of its passage's date
# expressions qualifies whatever its figures, scores WHEN_WEIGHT more, and answers with the
# expression. On the date and temporal questions of the evaluation set 0 to 0.1 gave the same
# answers (docs/evaluation.md): the weight only breaks near-ties for the dated sentence.
_ASKS_WHEN = re.compile(
    r"^\s*(?:on |in |since |until |by |from )?when\b|\b(?:what|which) (?:date|day)\b|^\s*når\b"
    r"|\b(?:hôm|ngày) nào\b|\b(?:hom|ngay) nao\b|\bkhi nào\b|\bbao giờ\b",
    re.IGNORECASE,
)
WHEN_WEIGHT = 0.1


def asks_when(question: str) -> bool:
    """Whether the question asks when something happened ("When ...?", "On what date ...?")."""
    return bool(_ASKS_WHEN.search(question))


# A sentence in a language the model does not cover has no meaningful cosine to the question:
# it stands in with this times the IDF-weighted share of the question's words it holds
# (translated), chosen on the cross-lingual questions of the evaluation set.
FOREIGN_SIMILARITY = 0.6


def extract_answer(
    question: str,
    question_vector: np.ndarray,
    citations: list[Citation],
    documents: Mapping[str, Document],
    sentences_of: SentencesOf,
    vocabulary: Vocabulary,
    crosslingual: Crosslingual | None = None,
    dates_of: DatesOf | None = None,
) -> Answer | None:
    """The best-scoring sentence among the `citations`' passages (as `sentences_of` gives
    them), or its clause that answers (`_tighten`), with its exact offsets.

    Sentences are scored with the vectors the index stored for them (`sentences_of`), so
    answering embeds nothing beyond the question.

    None when no sentence can answer: only sentences of documents that mention the
    question's subject (`Vocabulary.subject_documents`) qualify; for a question asking
    for a quantity or date only sentences with a figure the question does not give itself,
    and for a "how many" or rate question only those that name what it measures
    (`measured_terms`); for a question about the state before a change, a figure for
    where a change ended or how far it went does not count (`answering_figures`).

    A question asking when (`asks_when`) prefers a sentence holding one of the date
    expressions `dates_of` gives for its passage, and that expression as its short answer.
    """
    checks = None
    if crosslingual is not None:

        def checks(term: str, doc_id: str) -> frozenset[str]:
            return crosslingual.forms(term, documents[doc_id].language)

    subject = vocabulary.subject_documents(question, {citation.doc_id for citation in citations}, checks)
    # The question's names and numbers must also be in the answer's sentence, the few before
    # it, or what the article is about (title and lead): a sentence about another commune of
    # the same article does not answer.
    named = frozenset(vocabulary.subject_terms(question))
    # What a which/what question asks about ("which expressway") is named where it is answered.
    head = [
        term
        for word in head_noun(question)[-1:]
        if question_type(question) == "thing"
        for term in terms(word)
        if vocabulary.idf(term) is not None
    ]
    # A figure the question names itself ("Resolution No. 22") does not answer it.
    wants_number = asks_for_number(question)
    given = set(_NUMBER.findall(question))
    earlier = wants_number and bool(_EARLIER.search(question))
    measured = measured_terms(question)
    when = dates_of is not None and asks_when(question)
    # (doc_id, start, end) of a sentence -> the date expressions (start, end) inside it.
    dated: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
    # Terms the archive never uses cannot tell its sentences apart.
    weights = {term: vocabulary.idf(term) for term in terms(question)}
    for concept in crosslingual.concepts if crosslingual else ():  # a word said only in other languages
        if weights.get(concept.key) is None:
            weights[concept.key] = vocabulary.best_idf(concept.members)
    wanted = {term: weight for term, weight in weights.items() if weight is not None}
    # (doc_id, start, end) -> its score, from the best-ranked passage holding it; photo
    # captions apart, as they answer only when no sentence of the story does ("A leader of
    # Van Son ward speaks at the meeting." is not what Nghiem asked of the ward).
    scored: dict[tuple[str, int, int], float] = {}
    captions: dict[tuple[str, int, int], float] = {}
    for citation in citations:
        if subject is not None and citation.doc_id not in subject:
            continue
        text = documents[citation.doc_id].text
        language = documents[citation.doc_id].language
        read_terms = _reader(crosslingual, language)
        # No cosine for a sentence the model cannot read: a share of the question's words stands in.
        foreign = crosslingual is not None and not crosslingual.covered(language)
        # The question's names this document's language can say (all of them in English).
        said = named if checks is None else frozenset(t for t in named if checks(t, citation.doc_id))
        # What the article is about: its title and lead paragraph.
        about = read_terms(documents[citation.doc_id].title) | read_terms(
            text[: text.find("\n\n") % len(text)]
        )
        offsets, vectors = sentences_of(citation)
        expressions = dates_of(citation) if when and dates_of is not None else ()
        context: list[frozenset[str]] = []  # terms of the sentences before, captions left out
        for (start, end), similarity in zip(offsets, vectors @ question_vector, strict=True):
            sentence = text[start:end]
            present = read_terms(sentence)
            caption = is_caption(text, start, end)
            span = (citation.doc_id, start, end)
            pool = captions if caption else scored
            read = present.union(*context[-CONTEXT_SENTENCES:])
            inside = [(first, last) for first, last, _ in expressions if start <= first and last <= end]
            if (
                span not in pool  # scored already, from a better-ranked passage
                and measured <= present
                and set(head) <= read
                and (
                    said <= about | present
                    or said <= about | present | read_terms(text[max(0, start - NAMED_CONTEXT) : start])
                )
                and (not wants_number or inside or answering_figures(sentence, given, earlier))
            ):
                overlap = (_overlap(wanted, present) + _overlap(wanted, read)) / 2
                if foreign:
                    similarity = FOREIGN_SIMILARITY * overlap
                pool[span] = (
                    SIMILARITY_WEIGHT * float(similarity)
                    + OVERLAP_WEIGHT * overlap
                    - RANK_PENALTY * (citation.rank - 1)
                    + (WHEN_WEIGHT if inside else 0.0)
                )
                if inside:
                    dated[span] = inside
            if not caption:
                context.append(present)
    pool = scored or captions
    if not pool:
        return None
    return _short_answer(
        question, pool, documents, wanted, crosslingual.covered if crosslingual else None, dated
    )


def _short_answer(
    question: str,
    pool: dict[tuple[str, int, int], float],
    documents: Mapping[str, Document],
    wanted: dict[str, float],
    covered: Callable[[str], bool] | None = None,
    dated: Mapping[tuple[str, int, int], list[tuple[int, int]]] | None = None,
) -> Answer | None:
    """The answer from the best few sentences of `pool`: each sentence's score plus that of
    the best phrase of the question's answer type in it (spans.py), so a sentence that holds
    a name for a "who" question wins over a slightly closer one that holds none. Where the
    type has no finder (why, how, yes-no), or no sentence holds a phrase of it, the answer
    is the best sentence, or its clause that answers (`_tighten`). A sentence holding date
    expressions (`dated`) answers with one of them (`_date_expression`)."""
    answer_type = question_type(question)
    ranked = sorted(pool, key=lambda span: -pool[span])[:SPAN_SENTENCES]
    best: tuple[float, tuple[str, int, int], tuple[int, int], Span | None] | None = None
    for key in ranked:
        doc_id, start, end = key
        text = documents[doc_id].text
        clause = _tighten(text, start, end, wanted)
        found = best_span(question, text[clause[0] : clause[1]], answer_type)
        if found is None and clause != (start, end):
            clause = (start, end)
            found = best_span(question, text[start:end], answer_type)
        if dated and key in dated:
            found = _date_expression(found, clause, dated[key])
        weight = (
            SPAN_WEIGHT if covered is None or covered(documents[doc_id].language) else FOREIGN_SPAN_WEIGHT
        )
        score = pool[key] + (weight * found[1] if found else 0.0)
        if best is None or score > best[0]:
            best = (score, key, clause, found[0] if found else None)
    assert best is not None
    score, (doc_id, _, _), (start, end), span = best
    text = documents[doc_id].text
    sentence = AnswerSentence(text=text[start:end], start=start, end=end)
    if span is None:
        return Answer(
            text=sentence.text, doc_id=doc_id, start=start, end=end, score=round(score, 6), sentence=sentence
        )
    first, last = start + span.start, start + span.end
    return Answer(
        text=text[first:last],
        doc_id=doc_id,
        start=first,
        end=last,
        score=round(score, 6),
        type=span.type,
        sentence=sentence,
    )


def _date_expression(
    found: tuple[Span, float] | None, clause: tuple[int, int], expressions: list[tuple[int, int]]
) -> tuple[Span, float] | None:
    """The short answer of a clause, for a question asking when: the phrase `found` when it
    overlaps one of the clause's date `expressions` (it may say more: "late October"), else the
    expression nearest to it (the first without one), as a date of full score. Offsets are
    within the clause, as `best_span` gives them."""
    inside = [(s - clause[0], e - clause[0]) for s, e in expressions if clause[0] <= s and e <= clause[1]]
    if not inside or (found and any(s < found[0].end and found[0].start < e for s, e in inside)):
        return found
    at = found[0].start if found else 0
    first, last = min(inside, key=lambda span: abs(span[0] - at))
    return Span(first, last, "date"), 1.0


def answering_figures(sentence: str, given: set[str], earlier: bool) -> list[str]:
    """The figures of `sentence` that could answer a question asking for one: not those the
    question `given` itself, and for a question about the state before a change (`earlier`)
    not those that say where a change ended or how far it went, unless the sentence itself
    speaks of that earlier time ("Before the storm, the count rose to 500.")."""
    after = earlier and not _EARLIER.search(sentence)
    changes = [m.span(1) for m in _CHANGE_FIGURE.finditer(sentence)] if after else []
    return [
        m.group()
        for m in _NUMBER.finditer(sentence)
        if m.group() not in given and not any(start <= m.start() < end for start, end in changes)
    ]


def is_caption(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` is a photo caption: a paragraph of one short sentence with
    no comma, figure or quotation, told in the present ("A leader of Van Son ward speaks at
    the meeting.")."""
    sentence = text[start:end]
    whole = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
    return (
        whole
        and sentence.endswith(".")
        and len(sentence.split()) <= CAPTION_WORDS
        and not _NOT_CAPTION.search(sentence)
    )


def _tighten(text: str, start: int, end: int, wanted: dict[str, float]) -> tuple[int, int]:
    """The clause of the sentence `text[start:end]` that holds more of the question's terms
    than any other ("..., while Van Son ward was instructed to ..."), or the whole sentence."""
    bounds = [start, *(m for cut in _CLAUSE.finditer(text, start, end) for m in cut.span()), end]
    clauses = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    if len(clauses) == 1:
        return start, end
    overlaps = [_overlap(wanted, terms_of(text[s:e])) for s, e in clauses]
    best = max(overlaps)
    if overlaps.count(best) > 1:
        return start, end
    return clauses[overlaps.index(best)]


def _reader(crosslingual: Crosslingual | None, language: str) -> Callable[[str], frozenset[str]]:
    """How to read the terms of a document's text: as English, or through the question's concepts."""
    if crosslingual is None:
        return terms_of
    return lambda text: crosslingual.present(text, language)


def _overlap(wanted: dict[str, float], present: frozenset[str]) -> float:
    """IDF-weighted share of the question's terms among the `present` terms of a sentence,
    so that a rare name counts for more than a word every passage has ("province")."""
    total = sum(wanted.values())
    if not total:
        return 0.0
    return sum(weight for term, weight in wanted.items() if term in present) / total
