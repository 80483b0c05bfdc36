"""What cleaning removes from an article's lines, as data: debris classes, per language, each
pattern with a line from a real page that it removes (tests/test_debris.py checks every one).

Three kinds of rule, applied line by line after trafilatura has taken the main text:

- `TEASER_HEADINGS`: a line that starts a block of teasers for other stories ("Related
  articles", "Auch interessant", "Czytaj także"). It goes with the teasers after it, up to
  where the story resumes (`resumes`). A heading with a teaser on the same line ("Auch lesen:
  Diese 3 Sternzeichen ...") goes alone.
- `LINE_DEBRIS`: a whole line that is a prompt or a credit, never article text: newsletter and
  subscription prompts, paywall notes, app and donation appeals, reading times, advertising
  notices, copyright and agency lines, comment-box widgets, page metadata.
- Every pattern matches only lines of at most `MAX_DEBRIS_WORDS` words: a paragraph of prose
  that mentions a newsletter is article text.

A rule may only remove what is never article text: when in doubt a pattern stays out, since
a missed prompt costs less than a lost sentence. Measured on ../shared/webpages with
`newsqa eval --extraction` (docs/2026-12-01-cleaning.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.text import fold

MAX_DEBRIS_WORDS = 40
# A teaser block ends at the first line of prose: a sentence of at least this many words that
# ends as a sentence does. Teasers are headlines: short, and without a final full stop.
PROSE_WORDS = 12


@dataclass(frozen=True)
class Rule:
    """One debris pattern: its class, the language it is written in, and a line it removes."""

    kind: str
    language: str
    pattern: str
    example: str


# Headings of teaser blocks, matched on the folded line without a final colon or pipes.
TEASER_HEADINGS: list[Rule] = [
    Rule("teaser", language, heading, heading)
    for language, headings in {
        "en": [
            "Recent news", "Related news", "Related articles", "Related stories", "Related", "Latest news",
            "More news", "Read more", "Read also", "See also", "Recommended", "Recommended for you",
            "You may also like", "More from", "Most read", "Most popular", "Trending", "Also read",
        ],
        "de": [
            "Auch interessant", "Auch lesen", "Lesen Sie auch", "Das könnte Sie auch interessieren",
            "Weitere Artikel zum Thema", "Weitere Artikel", "Mehr zum Thema", "Kommentierte Artikel",
            "Top-Themen", "Meistgelesen",
        ],
        "es": ["Las más leídas", "Mirá también", "Seguir leyendo", "Lee también", "Te puede interesar"],
        "fr": ["À lire aussi", "Lire aussi", "Sur le même sujet", "À lire également"],
        "it": ["Leggi anche", "Potrebbe interessarti"],
        "pl": ["Czytaj też", "Czytaj także", "Zobacz także", "Zobacz też", "Dowiedz się więcej", "Polecamy"],
        "fi": ["Lue aiheesta lisää", "Lue myös", "Luetuimmat"],
        "no": ["Les også", "Siste nytt", "Relaterte artikler", "Mest lest"],
        "vi": ["Tin liên quan", "Tin mới", "Tin khác", "Bài liên quan", "Đọc thêm"],
    }.items()
    for heading in headings
]  # fmt: skip

LINE_DEBRIS: list[Rule] = [
    # newsletter and subscription prompts
    Rule("newsletter", "en", r"(\w+ ){1,4}newsletter", "PC Gamer Newsletter"),
    Rule("newsletter", "en", r"sign up (to|for|now)\b.*", "Sign up to get the best content of the week, and great gaming deals, as picked by the editors."),
    Rule("newsletter", "en", r"subscribe (now )?to .*(edition|newsletter|premium).*", "Subscribe now to our eNATION edition for the full story."),
    Rule("newsletter", "en", r"subscribe to \w+ premium.*", "Subscribe to Independent Premium to bookmark this article"),
    Rule("newsletter", "en", r"free sign up", "Free Sign Up"),
    Rule("newsletter", "de", r".*\b(schauen sie|abonnieren sie) .*newsletter.*", "Sie möchten wöchtliche Produktvorstellungen? Schauen Sie mal in unseren Musiknewsletter!"),
    Rule("newsletter", "es", r"suscr[ií]bete (a|al) .*", "Suscríbete al boletín de noticias"),
    Rule("newsletter", "fr", r"abonnez-vous .*", "Abonnez-vous à notre newsletter"),
    # paywall notes
    Rule("paywall", "fr", r"pour (lire la suite|accéder en illimité).*", "Pour lire la suite"),
    Rule("paywall", "en", r".*\bfor the full story\.?", "Read the print edition for the full story."),
    # app and donation appeals
    Rule("appeal", "en", r"for the latest .* download the .* apps? .*", "For the latest stories and breaking news updates download the Nationnews apps for iOS and Android."),
    Rule("appeal", "en", r"\|? ?we need your help\b.*\bdonate\b.*", "| We need your help Help us continue to spread the magic of words to readers everywhere Donate |"),
    Rule("appeal", "pl", r"czytasz właśnie .*wesprzyj nas.*", "Czytasz właśnie nowy rodzaj materiału na naszym portalu. W krótki sposób informujemy Cię o tym, co ważne z perspektywy naszych priorytetów. Wesprzyj nas darowizną."),
    # reading times
    Rule("reading-time", "pl", r"ten tekst przeczytasz w .*", "Ten tekst przeczytasz w mniej niż minutę"),
    Rule("reading-time", "en", r"\d+ min(ute)?s? read", "4 min read"),
    # advertising notices
    Rule("advertising", "de", r"\*?werbung\b.*(enthält|beitrag).*", "*Werbung. Dieser Beitrag enthält Werbung für MYMARINI."),
    Rule("advertising", "de", r"(amazon )?tipp: nutzen sie .*", "amazon Tipp: Nutzen Sie die Musik-Funktionen auf Echo-Geräten"),
    Rule("advertising", "pl", r"szukasz .*\? zobacz oferty .*", "Szukasz lokalu handlowego do wynajęcia? Zobacz oferty na PropertyStock.pl"),
    Rule("advertising", "en", r"advertisement|sponsored content", "Advertisement"),
    Rule("advertising", "de", r"anzeige", "Anzeige"),
    # copyright, agency and photo credits
    Rule("credit", "en", r"(©|\(c\) ?\d{4}|copyright ©? ?\d{4}).*", "© Thomson Reuters 2020"),
    Rule("credit", "en", r".*\ball rights reserved\.?", "Copyright 2021 The Associated Press. All rights reserved."),
    Rule("credit", "en", r"our standards: the thomson reuters trust principles\.?", "Our Standards: The Thomson Reuters Trust Principles."),
    Rule("credit", "en", r"(editing|reporting|additional reporting) by .*", "Editing by Alex Richardson"),
    Rule("credit", "de", r".*\balle rechte vorbehalten\.?", "© dpa-infocom, dpa:210117-99-59123/2. Alle Rechte vorbehalten."),
    Rule("credit", "es", r".*\btodos los derechos reservados\.?", "© 2022 Los Tiempos. Todos los derechos reservados."),
    Rule("credit", "fr", r".*\btous droits réservés\.?", "© Le Monde. Tous droits réservés."),
    Rule("credit", "pl", r"materiał chroniony prawem autorskim.*", "Materiał chroniony prawem autorskim - zasady przedruków określa regulamin."),
    Rule("credit", "pl", r".*\bwszelkie prawa zastrzeżone\.?", "Wszelkie prawa zastrzeżone."),
    Rule("credit", "de", r"\(?foto: [^.]*\)?", "(Foto: Michael Kappeler/dpa via REUTERS)"),
    # comment boxes and share widgets
    Rule("widget", "en", r"(comments?|share|print)(\s*\(\d+\))?:?", "Comments (3)"),
    Rule("widget", "no", r"(kommentar(er)?|del)(\s*\(\d+\))?:?", "Kommentar (0)"),
    Rule("widget", "vi", r"(bình luận|gửi bình luận)(\s*\(\d+\))?:?", "Bình luận"),
    Rule("widget", "en", r"you have \d+\s*/\s*\d+ characters left\.?", "You have 500/500 characters left"),
    Rule("widget", "en", r"please enter \d+ or more characters\W*", "Please enter 5 or more characters!!!"),
    Rule("widget", "no", r"du har \d+\s*/\s*\d+ tegn igjen\.?", "Du har 500/500 tegn igjen"),
    Rule("widget", "de", r"\|? ?kommentare insgesamt: \d+.*", "| Kommentare insgesamt: 0 | |"),
    # page metadata
    Rule("metadata", "en", r"(news )?date ?: .*category ?: .*", "News date : 04/21/2022 Category : Press Releases"),
    Rule("metadata", "en", r"(category|tags|keywords|filed under|print this page|permalink|feedback)( ?:.*)?", "Keywords: flood, Son La"),
    Rule("metadata", "de", r"aktualisiert am [\d.: ]+(uhr)?\.?", "Aktualisiert am 17.01.2021."),
    # headings of a page's appendix (contacts, links): the heading goes, what follows stays
    Rule("heading", "de", r"(weitere informationen|zusatzinformationen|kontakt|teilnehmende blogs):?", "Weitere Informationen:"),
    Rule("metadata", "en", r"\|? ?\d{1,2}:\d{2} ?(am|pm)\b[^.]{0,40}", "| 3:59 PM Briefe |"),
]  # fmt: skip

_TEASERS = {fold(rule.pattern) for rule in TEASER_HEADINGS}
_LINE_DEBRIS = re.compile("|".join(f"(?:{rule.pattern})" for rule in LINE_DEBRIS), re.IGNORECASE)
_EDGES = " \t|:–—-"
_SENTENCE_END = (".", "!", "?", "…", "”", '"', "»")


def teaser_heading(line: str) -> bool:
    """Whether `line` is the heading of a teaser block ("Auch interessant:", "| Related |")."""
    return fold(line.strip(_EDGES)) in _TEASERS


def inline_teaser(line: str) -> bool:
    """Whether `line` is a heading with its teaser on the same line ("Auch lesen: Diese 3
    Sternzeichen verschenken ihr Herz an den Falschen")."""
    head, colon, rest = line.partition(":")
    return bool(colon) and teaser_heading(head) and len(rest.split()) <= MAX_DEBRIS_WORDS


def line_debris(line: str) -> bool:
    """Whether the whole `line` is a prompt, a credit, a widget or page metadata."""
    return len(line.split()) <= MAX_DEBRIS_WORDS and bool(_LINE_DEBRIS.fullmatch(line.strip()))


def prose(line: str) -> bool:
    """Whether `line` reads as article prose rather than a headline: a long enough sentence
    that ends as one, or a paragraph longer than any headline (a table cell may end without
    its full stop)."""
    words = len(line.split())
    return words > MAX_DEBRIS_WORDS or (words >= PROSE_WORDS and line.strip(_EDGES).endswith(_SENTENCE_END))


def resumes(lines: list[str], number: int, after_story: bool) -> bool:
    """Whether the story resumes at `lines[number]`, inside a teaser block. Before any prose
    (a page whose text starts with the site's "More on this topic" box) the first line of
    prose resumes it; after the story has begun, two lines of prose in a row, since a teaser
    is often a headline with a one-paragraph summary."""
    if not prose(lines[number]):
        return False
    return not after_story or (number + 1 < len(lines) and prose(lines[number + 1]))
