"""Short answers: the phrase of an answer sentence that answers the question, by answer type.

No extractive reader model installs here, so this is the rule-based reader of classic QA
systems: the question's wording gives the answer type it expects (`question_type`), each type
has a finder for candidate phrases in a sentence (`candidates`), and candidates are scored by
how near they stand to the question's own words in the sentence and by how little of the
question they repeat (`best_span`). Where no type fits (why, how, yes-no) or no candidate is
found, the answer stays the sentence. `tests/test_spans.py` holds a table of real sentences.

A date parser (dateparser, which trafilatura brings) was measured for the date finder and not
used: `search_dates` over one sentence took milliseconds, and the answer stage has a budget of
about one for everything (docs/2026-12-01-short-answers.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from indexer.text import fold, terms

ANSWER_TYPES = (
    "person",
    "organisation",
    "date",
    "number",
    "place",
    "list",
    "name",
    "thing",
    "reason",
    "yesno",
)
# The answer is the sentence (or its clause) itself.
SENTENCE = "sentence"


def _folded(words: str) -> frozenset[str]:
    return frozenset(fold(word) for word in words.split())


@lru_cache(maxsize=65536)
def _terms(text: str) -> frozenset[str]:
    """The index terms of a word or phrase, remembered: the same words come back in every
    sentence scored, and the same questions are asked again."""
    return frozenset(terms(text))


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
    "|januar|februar|mars|mai|juni|juli|oktober|desember"
)
_QUALIFIER = (
    r"(?:(?:over|more than|less than|nearly|almost|about|around|approximately|some|up to|at least|under)\s+)?"
)
# "18.66", "8,622", and thousands grouped by spaces as Norwegian and French write them ("1 850").
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)(?:,\d+)?|\d+(?:[.,]\d+)*"
_FIGURE = re.compile(
    rf"\b{_QUALIFIER}{_NUMBER}(?:\s*[–-]\s*{_NUMBER})?(?:\s*(?:%|percent\b|per cent\b))?"
    r"(?:\s+(?:million|billion|thousand|trillion|millioner|milliarder)\b)?",
    re.IGNORECASE,
)
# Document numbers and codes: 1676/QD-TTg, 22-NQ/TU, CT03, No. 58.
_CODE = re.compile(r"\b\d+(?:[-/][A-Z][\w-]*)+|\b[A-Z]{1,4}\d+[A-Z\d]*\b|\bNo\.\s*\d+[\w/-]*")
_DATE = re.compile(
    rf"\b\d{{1,2}}\.?\s+(?:{_MONTHS})\b\.?(?:,?\s+\d{{4}})?"
    rf"|\b(?:(?:early|mid|late)[- ])?(?:{_MONTHS})\b\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    rf"|\b(?:(?:early|mid|late)[- ])?(?:{_MONTHS})\b(?:\s+\d{{4}})?"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    r"|\b(?:19|20)\d{2}\s*[–-]\s*(?:19|20)?\d{2}\b"
    r"|\b(?:19|20)\d{2}\b",
    re.IGNORECASE,
)
# Words of units and counted things a figure's phrase takes with it ("5,400 hectares").
_UNITS = set(
    terms(
        "hectares ha square meters metres kilometers kilometres km tons tonnes kg dong VND USD "
        "households people persons villages communes wards districts projects billion million percent"
    )
)
# A word of a capitalised run that makes it a title or an organisation, not a person's name.
# Words of a person's title: no place has them.
_PERSON_TITLES = _folded(
    "Chairman Chairwoman Chair Secretary Deputy Vice Director Head Leader President Minister Member Members "
    "Mr Ms Mrs Comrade General Kamerat"
)
_TITLE_WORDS = _folded(
    "Chairman Chairwoman Chair Secretary Deputy Vice Director Head Leader President Minister "
    "Member Members Standing Permanent Mr Ms Mrs Comrade Kamerat General Prime Provincial Party "
    "People's People’s Committee Committees Council Board Commission Department Ministry "
    "National Assembly Government Office Union Front Association Inspection Organisation "
    "Organization"
)
# Capitalised words of places, plans and programmes: never part of a person's name.
_NOT_NAME_WORDS = _folded(
    "Area Zone Tourist Tourism Park Highway Road Expressway Province District Commune Ward Village City "
    "Resolution Decision Program Programme Plan Project Congress Conference Election Elections Fund"
)
_ORGANISATION_WORDS = _folded(
    "Company JSC Corporation Corp Group Plant Factory Bank Cooperative Co-operative Ministry "
    "Department Committee Commission Council Board Agency Union Association Centre Center "
    "Office Institute University School Hospital Fund Authority Enterprise Firm Limited Ltd "
    "Front Assembly"
)
_PLACE_NOUNS = _folded(
    "commune communes ward wards district districts province provinces village villages city "
    "town plateau region area zone highway road river lake mountain country hamlet kommune "
    "provins distrikt"
)
# Lower-case words that may stand inside an organisation's name.
_NAME_JOINERS = frozenset({"of", "and", "for", "the"})
_WORD = re.compile(r"[\w’'‘]+(?:[-–][\w’'‘]+)*")
_STOP = _folded(
    "a an the of in on at to for by with from and or as is was were are be been being this that "
    "these those it its their his her which what who whom whose when where why how did do does "
    "has have had will would should can could may might must not no yes than then there here "
    "also into over under"
)
_LIST_CUE = re.compile(
    r":\s*|\b(?:including|such as|namely|like|include|includes|included)\s+", re.IGNORECASE
)
_CLAUSE_END = re.compile(r"[;:.!?]|,\s+(?:while|whereas|which|who|and\s+(?:is|are|was|were|has|have|had))\b")

# What the question's wording says about its answer, tried in this order; then what a
# which/what question asks for (`head_noun`) decides.
_TYPE_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "reason",
        re.compile(
            r"^\s*(why|for what reason)\b|\bhow (did|does|do|is|are|was|were|can|could|will|should)\b"
            r"|\bwhat (is|was|are|were) the (purpose|aim|goal|reason)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(r"\bhow (many|much|large|long|far|old|high|big)\b|\bto what (level|extent)\b", re.I),
    ),
    ("date", re.compile(r"^\s*(on |in |since |until |by |from )?when\b", re.I)),
    (
        "name",
        re.compile(r"\bwhat is the name\b|\bname of the\b|\bcalled\b|\bwhat (is|was) the number\b", re.I),
    ),
    ("person", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
    ("list", re.compile(r"^\s*(name|list)\b|\bname (a|one|two|three)\b", re.I)),
]
# What a which/what question asks for, by the noun it asks about.
_HEADS = {
    "number": _folded("percentage proportion share total amount rate level area size value figure count sum"),
    "date": _folded("date day year years month months period time week term"),
    "person": _folded(
        "official officials person people leader leaders secretary chairman chairwoman head director "
        "president minister deputy spokesman spokesperson"
    ),
    "organisation": _folded(
        "company companies enterprise firm plant factory agency department committee commission board "
        "council ministry organisation organization bank cooperative group union body bodies authority"
    ),
    "place": _folded(
        "commune communes ward wards district districts province village villages city town country place "
        "region highway road plateau highland area location site"
    ),
}
_YES_NO = re.compile(r"^\s*(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b", re.I)
_AUXILIARY = _folded("is was are were did does do has have had can could will would should")


# Words a which/what question puts before what it asks for, or that say nothing of it.
_HEAD_PREFIX = re.compile(
    r"\b(?:which|what)\s+(?:(?:is|was|are|were)\s+the\s+(?:(?:name|number)\s+of\s+(?:the\s+)?)?"
    r"|(?:kind|type|sort|part)s?\s+of\s+(?:the\s+)?|one\s+of\s+the\s+)?",
    re.I,
)
_HEAD_END = re.compile(
    r"\s+(?:is|was|are|were|did|does|do|has|have|had|in|of|on|at|for|with|that|whose|to|will|would|should"
    r"|can|could|along|near|from|by|under)\b|[?,]|$",
    re.I,
)


@lru_cache(maxsize=4096)
def question_type(question: str) -> str:
    """The answer type the question asks for, one of ANSWER_TYPES ("thing" for other
    which/what questions, "reason" for why/how, "yesno")."""
    for answer_type, rule in _TYPE_RULES:
        if rule.search(question):
            return answer_type
    head = head_noun(question)
    typed = [answer_type for word in reversed(head) for answer_type, nouns in _HEADS.items() if word in nouns]
    if _plural(head) and not (typed and head[-1] in _HEADS[typed[0]]):
        return "list"  # "which fruit trees", not "which wards" (places) or "which officials"
    if typed:
        return typed[0]
    if _YES_NO.search(question):
        return "yesno"
    return "thing"


def _plural(head: tuple[str, ...]) -> bool:
    return bool(head) and head[-1].endswith("s") and not head[-1].endswith(("ss", "us", "is"))


@lru_cache(maxsize=4096)
def head_noun(question: str) -> tuple[str, ...]:
    """The words that name what a which/what question asks for ("Which fertilizer plant in
    Mai Son ..." -> ["fertilizer", "plant"]; "What kind of forestry ..." -> ["forestry"]), as
    folded words; [] when there is none."""
    start = _HEAD_PREFIX.search(question)
    if not start:
        return ()
    end = _HEAD_END.search(question, start.end())
    phrase = question[start.end() : end.start() if end else len(question)]
    head: list[str] = []
    for word in (fold(word) for word in _WORD.findall(phrase)[:4]):
        if word in _AUXILIARY or (head and word.endswith("ed")):
            break  # "what did ...", "which secretary chaired ...": the verb follows the noun
        if word not in _STOP:
            head.append(word)
    return tuple(head)


@dataclass(frozen=True)
class Span:
    """A candidate answer: `sentence[start:end]` (offsets within the sentence) and how well it
    looks its type (`fit`, 0-1)."""

    start: int
    end: int
    type: str
    fit: float = 1.0


def candidates(sentence: str, answer_type: str, question: str) -> list[Span]:
    """The phrases of `sentence` that could answer a question of `answer_type`."""
    finders = {
        "date": _dates,
        "number": _figures,
        "person": _persons,
        "organisation": _organisations,
        "place": _places,
        "name": _names,
        "list": _lists,
        "thing": _things,
        "reason": _reasons,
    }
    finder = finders.get(answer_type)
    return list(finder(sentence, question)) if finder else []


def best_span(question: str, sentence: str, answer_type: str | None = None) -> tuple[Span, float] | None:
    """The candidate of `sentence` that best answers `question`, with its score in [0, 1];
    None when the sentence holds no candidate of the question's type.

    A candidate scores for standing near the question's own words in the sentence (the
    answer is usually next to what the question restates), for not repeating the question,
    and for looking its type (`Span.fit`)."""
    answer_type = answer_type or question_type(question)
    found = candidates(sentence, answer_type, question)
    if not found:
        return None
    asked = _terms(question) - _UNITS
    anchors = [m.start() for m in _WORD.finditer(sentence) if _terms(m.group()) & asked]
    scored = []
    for span in found:
        phrase = sentence[span.start : span.end]
        own = _terms(phrase)
        repeated = len(own & asked) / len(own) if own else 1.0
        if repeated >= 1.0 and answer_type not in ("number", "date"):
            continue  # a phrase of the question's own words answers nothing
        distance = min((_gap(sentence, span, at) for at in anchors), default=12)
        nearness = 1.0 / (1.0 + distance / 4.0)
        score = 0.35 * nearness + 0.25 * (1 - repeated) + 0.4 * span.fit
        scored.append((score, span))
    if not scored:
        return None
    score, span = max(scored, key=lambda item: (item[0], -item[1].start))
    return span, score


def _gap(sentence: str, span: Span, at: int) -> int:
    """Words between the span and a question word at offset `at` (0 when it is inside)."""
    if span.start <= at < span.end:
        return 0
    low, high = (span.end, at) if at >= span.end else (at, span.start)
    return len(_WORD.findall(sentence[low:high]))


# --- finders --------------------------------------------------------------------------------

_YEAR = re.compile(r"(?:19|20)\d{2}")
_MONTH = re.compile(rf"\b(?:{_MONTHS})\b", re.IGNORECASE)


def _dates(sentence: str, question: str) -> Iterator[Span]:
    """Dates, months, years and periods; what the question asks for decides which fit best
    ("what date": a day; "which year": a year; "which period": a range of years)."""
    given = set(re.findall(r"\d+", question))
    head = set(head_noun(question))
    for match in _DATE.finditer(sentence):
        text = match.group()
        numbers = re.findall(r"\d+", text)
        if numbers and set(numbers) <= given:
            continue
        month, ranged = bool(_MONTH.search(text)), bool(re.search(r"\d\s*[–-]\s*\d", text))
        if head & {"year", "years"}:
            fit = 1.0 if not month and not ranged else 0.5
        elif head & {"period", "term"}:
            fit = 1.0 if ranged else 0.3
        else:
            fit = 1.0 if month else 0.5 if ranged else 0.4
        yield Span(match.start(), match.end(), "date", fit)


_PERCENT_HEADS = _folded("percentage proportion share rate")
_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)\b")


def _figures(sentence: str, question: str) -> Iterator[Span]:
    """Figures with what they measure ("5,400 hectares", "over 95%", "11 tasks and
    solutions"); not the figures the question gives itself, years, days of a date or ordinals.
    A figure that names what the question counts, or a percentage for a question about a
    share, fits best."""
    given = set(re.findall(_NUMBER, question))
    asked = _terms(question)
    counted = _counted(question)
    percent = bool(set(head_noun(question)) & _PERCENT_HEADS) or "percent" in question.lower()
    dates = [match.span() for match in _DATE.finditer(sentence) if _MONTH.search(match.group())]
    for match in _FIGURE.finditer(sentence):
        figures = re.findall(_NUMBER, match.group())
        if set(figures) <= given or any(start <= match.start() < end for start, end in dates):
            continue
        if _ORDINAL.match(sentence, match.end() - 1) or sentence[match.end() : match.end() + 1] in ("/", "-"):
            continue
        if _YEAR.fullmatch(figures[0]) and len(figures) == 1 and "%" not in match.group():
            continue
        if match.start() > 0 and sentence[match.start() - 1] in "/-–":
            continue
        end = _measured_end(sentence, match.end(), asked)
        phrase = sentence[match.start() : end]
        has_percent = "%" in phrase or "percent" in phrase.lower()
        # What it measures, "of" what included: "705 hectares" (of coffee) answers "how many
        # hectares of coffee", and the answer is the figure with its unit.
        measured = _terms(sentence[match.end() : _measured_end(sentence, match.end(), asked, of=True)])
        if percent:
            fit = 1.0 if has_percent else 0.2
        elif counted and counted <= measured:
            fit = 1.0
        elif measured & asked:
            fit = 0.7 if counted else 1.0
        elif measured & _UNITS:
            fit = 0.7
        else:
            fit = 0.3 if not has_percent else 0.2
        yield Span(match.start(), end, "number", fit)


_COUNTED = re.compile(r"\bhow (?:many|much)\s+([\w-]+)(?:\s+of\s+([\w-]+))?", re.IGNORECASE)


def _counted(question: str) -> set[str]:
    """What a "how many" question counts, and of what: "How many hectares of coffee" ->
    the terms of "hectares" and "coffee"."""
    match = _COUNTED.search(question)
    return set(_terms(" ".join(part for part in match.groups() if part))) if match else set()


def _measured_end(sentence: str, end: int, asked: frozenset[str], of: bool = False) -> int:
    """Where a figure's phrase ends: it takes the unit or counted noun after it, and more words
    while they are the question's ("11 tasks and solutions"; with `of`, "705 hectares of
    coffee")."""
    words = list(_WORD.finditer(sentence, end))
    taken = i = 0
    while i < len(words) and taken < 4 and not sentence[end : words[i].start()].strip():
        word = fold(words[i].group())
        joined = i + 1 < len(words) and _terms(words[i + 1].group()) & asked
        if (word == "and" or (of and word == "of")) and taken and joined:
            end, taken, i = words[i + 1].end(), taken + 2, i + 2
            continue
        if word in ("square", "cubic", "billion", "million") or _terms(words[i].group()) & (asked | _UNITS):
            end, taken, i = words[i].end(), taken + 1, i + 1
            continue
        break
    return end


def _runs(
    sentence: str, joiners: frozenset[str] = frozenset()
) -> Iterator[tuple[int, int, list[re.Match[str]]]]:
    """Runs of capitalised words (or codes such as CT03, and numbers after a capitalised word:
    "Highway 12"), joined by spaces or dashes and, when given, by lower-case `joiners`
    between two capitalised words."""
    words = list(_WORD.finditer(sentence))
    i = 0
    while i < len(words):
        if not _capitalised(words[i].group()):
            i += 1
            continue
        run = [words[i]]
        j = i + 1
        while j < len(words):
            gap = sentence[run[-1].end() : words[j].start()]
            if gap.strip() not in ("", "–", "-", "."):
                break
            word = words[j].group()
            joins = fold(word) in joiners and j + 1 < len(words) and _capitalised(words[j + 1].group())
            if _capitalised(word) or (word.isdigit() and gap.strip() == "") or joins:
                run.append(words[j])
                j += 1
            else:
                break
        yield run[0].start(), run[-1].end(), run
        i = j


def _capitalised(word: str) -> bool:
    return word[0].isupper() or (word[0].isdigit() and any(ch.isupper() for ch in word))


def _persons(sentence: str, question: str) -> Iterator[Span]:
    """Names: the parts of a capitalised run between title and organisation words
    ("Chairman of the provincial People's Committee Nguyen Dinh Viet" -> "Nguyen Dinh Viet"),
    and a single name right after a title ("Secretary Nghiem"). Vietnamese full names have
    three or four syllables: they fit best."""
    for _, _, run in _runs(sentence):
        part: list[re.Match[str]] = []
        after_title = False
        for word in [*run, None]:
            folded = fold(word.group()) if word is not None else ""
            if word is not None and folded not in _TITLE_WORDS | _NOT_NAME_WORDS and not folded[0].isdigit():
                part.append(word)
                continue
            if part and (len(part) >= 2 or after_title) and not _followed_by_place(sentence, part[-1].end()):
                fit = 1.0 if 3 <= len(part) <= 4 else 0.6
                yield Span(part[0].start(), part[-1].end(), "person", fit)
            after_title = folded in _TITLE_WORDS and not part
            part = []


def _followed_by_place(sentence: str, end: int) -> bool:
    following = _WORD.match(sentence, end + 1) if end < len(sentence) else None
    return bool(following and fold(following.group()) in _PLACE_NOUNS)


def _organisations(sentence: str, question: str) -> Iterator[Span]:
    """Capitalised runs (with "of", "and" inside) that hold an organisation word ("Department
    of Construction", "Song Lam Tay Bac Fertilizer Plant"), best when they hold the noun the
    question asks about ("which plant")."""
    head = head_noun(question)
    for _, _, run in _runs(sentence, _NAME_JOINERS):
        while run and fold(run[-1].group()) in _NAME_JOINERS:
            run = run[:-1]
        words = [fold(word.group()) for word in run]
        if any(word in _ORGANISATION_WORDS for word in words):
            first = 1 if words[0] in ("the", "a") else 0
            fit = 1.0 if head and head[-1] in words else 0.6
            yield Span(run[first].start(), run[-1].end(), "organisation", fit)


def _places(sentence: str, question: str) -> Iterator[Span]:
    """Capitalised runs that are no organisation or title, with the place noun that follows
    them ("Chieng Mung commune"); best when that is the noun the question asks about."""
    head = head_noun(question)
    for start, end, run in _runs(sentence):
        if fold(run[0].group()) in ("the", "a", "an"):
            run = run[1:]
            if not run:
                continue
            start = run[0].start()
        words = [fold(word.group()) for word in run]
        if any(word in (_PERSON_TITLES | _ORGANISATION_WORDS) - _PLACE_NOUNS for word in words):
            continue
        following = _WORD.match(sentence, end + 1) if end < len(sentence) else None
        if following and sentence[end] == " " and fold(following.group()) in _PLACE_NOUNS:
            words.append(fold(following.group()))
            end = following.end()
        fit = 1.0 if head and head[-1] in words else 0.7 if words[-1] in _PLACE_NOUNS else 0.4
        yield Span(start, end, "place", fit)


def _names(sentence: str, question: str) -> Iterator[Span]:
    """Codes, and capitalised runs with the words up to the noun the question asks about
    ("What is the name of the water plant project" -> "Chieng Dong water plant project");
    a question for a number ("What is the number of the decision") takes codes only."""
    head = head_noun(question)
    for match in _CODE.finditer(sentence):
        start = match.start() + (len(match.group()) - len(match.group().removeprefix("No.").lstrip()))
        yield Span(start, match.end(), "name", 1.0)
    if re.search(r"\bnumber\b", question, re.I):
        return
    for start, end, _ in _runs(sentence, _NAME_JOINERS):
        fit = 0.6
        following = list(_WORD.finditer(sentence[end : end + 60]))[:3]
        for i, word in enumerate(following):
            if head and fold(word.group()) == head[-1]:
                end += word.end()
                fit = 1.0
                break
            if i == 0 and not sentence[end:].startswith(" "):
                break
        yield Span(start, end, "name", fit)


def _lists(sentence: str, question: str) -> Iterator[Span]:
    """What follows a colon or "including", "such as" up to the clause's end; else a noun
    phrase, as for a "thing"."""
    for cue in _LIST_CUE.finditer(sentence):
        end = _CLAUSE_END.search(sentence, cue.end())
        stop = end.start() if end else len(sentence)
        if stop - cue.end() > 2:
            yield Span(cue.end(), stop, "list", 1.0)
    yield from (Span(span.start, span.end, "list", 0.5 * span.fit) for span in _things(sentence, question))


def _things(sentence: str, question: str) -> Iterator[Span]:
    """The noun phrase of the sentence that ends in the question's head noun, with up to two
    modifiers before it ("sustainable forestry"); and what follows the longest run of the
    question's words ("... concentrate on developing industrial clusters")."""
    head = head_noun(question)
    words = list(_WORD.finditer(sentence))
    folded = [fold(word.group()) for word in words]
    if head:
        for i, word in enumerate(folded):
            if word == head[-1] or (len(word) > 3 and word.rstrip("s") == head[-1].rstrip("s")):
                first = i
                while (
                    first > 0
                    and i - first < 2
                    and folded[first - 1] not in _STOP
                    and _joined(sentence, words[first - 1], words[first])
                ):
                    first -= 1
                if first < i:
                    yield Span(words[first].start(), words[i].end(), "thing", 1.0)
    yield from _after_question_words(sentence, question, words)


def _joined(sentence: str, before: re.Match[str], after: re.Match[str]) -> bool:
    return sentence[before.end() : after.start()] in (" ", "-")


def _after_question_words(sentence: str, question: str, words: list[re.Match[str]]) -> Iterator[Span]:
    """The noun phrase that ends the stretch right after the sentence's longest run of the
    question's words, up to a comma or the clause's end."""
    asked = {fold(word) for word in _WORD.findall(question)} - _STOP
    best_end, best_length, length = -1, 0, 0
    for i, word in enumerate(words):
        if fold(word.group()) in asked:
            length += 1
            if length >= best_length and length >= 2:
                best_end, best_length = i, length
        elif fold(word.group()) not in _STOP:
            length = 0
    if best_end < 0 or best_end + 1 >= len(words):
        return
    start = words[best_end + 1].start()
    clause_end = _CLAUSE_END.search(sentence, start)
    comma = sentence.find(",", start)
    stop = min(clause_end.start() if clause_end else len(sentence), comma if comma >= 0 else len(sentence))
    chunk = [word for word in words if start <= word.start() and word.end() <= stop]
    # The phrase after the last function word or verb form: "was instructed to concentrate
    # on developing industrial clusters" -> "industrial clusters".
    cut = 0
    for i, word in enumerate(chunk):
        folded = fold(word.group())
        if folded in _STOP or folded.endswith("ing") or folded.endswith("ed"):
            cut = i + 1
    phrase = chunk[cut:]
    if 0 < len(phrase) <= 5:
        yield Span(phrase[0].start(), phrase[-1].end(), "thing", 0.7)


_REASON_CUE = re.compile(
    r"\b(?:because(?: of)?|due to|owing to|thanks to|as a result of|so that|in order to|aimed at"
    r"|aiming to)\s+"
    r"|,\s+(?=\w+ing\b)",
    re.IGNORECASE,
)


def _reasons(sentence: str, question: str) -> Iterator[Span]:
    """The clause that gives a cause or a purpose: from "because", "due to", "in order to"
    (kept, as a reader says it), or an -ing clause after a comma ("..., creating a
    recognizable visual identity"), to the clause's end."""
    for cue in _REASON_CUE.finditer(sentence):
        start = cue.start() if cue.group()[0].isalpha() else cue.end()
        end = _CLAUSE_END.search(sentence, cue.end())
        stop = end.start() if end else len(sentence)
        if len(_WORD.findall(sentence[start:stop])) >= 3:
            yield Span(start, stop, "reason", 1.0)
