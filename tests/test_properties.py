"""Properties of reading, cleaning and chunking, over any Unicode a reader can yield.

Hypothesis runs are bounded and derandomized, so every run (and CI) tries the same examples.
The model limit is the real embedder's (`Embedder.fits`), as in a build.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import unicodedata
from pathlib import Path

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from indexer.chunk import Passage, chunk
from indexer.clean import Document, clean
from indexer.embed import Embedder, passage_input
from indexer.errors import SourceError
from indexer.sources import RawArticle, Skipped, read_file
from indexer.text import _UNDECOMPOSED, fold
from indexer.tokens import count_tokens

BOUNDED = settings(max_examples=100, deadline=None, derandomize=True, database=None)

# Pieces of hostile or merely unusual text: scripts written right to left, combining marks
# (alone, stacked, at a line start), emoji sequences, control and format characters, every
# kind of line break, sentence punctuation, abbreviations, and lines the cleaner drops.
PIECES = [
    "Điện Biên",
    "Hà Nội",
    "sosioøkonomi",
    "مرحبا بالعالم.",
    "שלום עולם",
    "\u202eevil\u202c",
    "\u200f",
    "e\u0301",
    "a\u0300\u0301\u0302\u0303\u0304",
    "\u0301",
    "👩‍👩‍👧‍👦",
    "🇻🇳",
    "🙂",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u200b",
    "\ufffd",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\t",
    " ",
    "\xa0",
    "\u3000",
    ". ",
    "? ",
    "!",
    "...",
    "…",
    "No. 22",
    "Mr. Toan",
    "29. november",
    "- ",
    "• ",
    "\nRead more\n",
    "\nComments (3)\n",
    "\nSource: https://example.com/a\n",
    "<p>",
    "&amp;",
    "ǅ",
    "ß",
    "İ",
    "ﬁ",
]
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])  # a str decoded from UTF-8 has no surrogates
PIECE = st.one_of(
    st.sampled_from(PIECES),
    st.text(ANY_CHARACTER, max_size=12),
    st.from_regex(r"[A-Za-z]{1,14}", fullmatch=True),
)
TEXTS = st.lists(PIECE, max_size=80).map("".join)
LONG_TEXTS = st.lists(PIECE, min_size=20, max_size=400).map("".join)  # several passages
TITLES = st.none() | st.text(ANY_CHARACTER, max_size=30) | st.lists(PIECE, max_size=300).map("".join)
JSON_TEXT = st.lists(PIECE | st.characters(categories=["Cs"]), min_size=1, max_size=80).map("".join)
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def clean_or_none(raw: RawArticle) -> Document | None:
    """The cleaned document, or None where cleaning leaves nothing (the one error it may raise)."""
    try:
        return clean(raw)
    except SourceError as exc:
        assert str(exc) == f"{raw.source}: no article text left after cleaning"
        return None


def check_document(document: Document) -> None:
    text = document.text
    assert text and text == text.strip()
    assert not CONTROL.search(text) and "\r" not in text
    assert all(paragraph == " ".join(paragraph.split()) for paragraph in text.split("\n\n"))
    assert document.sha256 == hashlib.sha256(text.encode()).hexdigest()
    json.dumps(document.to_dict(), ensure_ascii=False).encode()  # what the index stores: UTF-8
    assert document.title and document.title == " ".join(document.title.split())
    assert not CONTROL.search(document.title) and document.language


def check_passages(document: Document, passages: list[Passage], max_tokens: int, embedder: Embedder) -> None:
    """Exact offsets, within both limits, in order, and together covering every non-space character."""
    text = document.text
    covered = bytearray(len(text))
    for number, passage in enumerate(passages):
        assert passage.chunk_id == f"{document.doc_id}#{number}"
        assert 0 <= passage.start < passage.end <= len(text)
        assert text[passage.start : passage.end] == passage.text
        assert passage.tokens == count_tokens(passage.text) <= max_tokens
        assert embedder.fits(passage_input(document.title, passage.text))
        covered[passage.start : passage.end] = b"\1" * (passage.end - passage.start)
    assert [p.start for p in passages] == sorted(p.start for p in passages)
    missed = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert missed == [], f"characters at {missed[:5]} are in no passage"


def chunk_with_model(document: Document, max_tokens: int, overlap: int, embedder: Embedder) -> list[Passage]:
    def fits(text: str) -> bool:
        return embedder.fits(passage_input(document.title, text))

    return chunk(document, max_tokens=max_tokens, overlap=overlap, fits=fits)


@BOUNDED
@given(text=TEXTS, title=TITLES)
def test_cleaning_any_text_gives_a_clean_document_or_says_nothing_is_left(text, title):
    document = clean_or_none(RawArticle(doc_id="d", text=text, source="d.txt", title=title))
    if document is not None:
        check_document(document)


@BOUNDED
@given(text=LONG_TEXTS, title=TITLES, max_tokens=st.integers(16, 96), overlap_share=st.floats(0, 0.9))
def test_passages_map_back_cover_the_text_and_fit(embedder, text, title, max_tokens, overlap_share):
    document = clean_or_none(RawArticle(doc_id="d", text=text, source="d.txt", title=title))
    if document is None:
        return
    passages = chunk_with_model(document, max_tokens, int(max_tokens * overlap_share), embedder)
    event("one passage" if len(passages) == 1 else "several passages")
    check_passages(document, passages, max_tokens, embedder)


@BOUNDED
@given(
    suffix=st.sampled_from([".txt", ".md", ".html", ".jsonl"]),
    content=st.one_of(
        TEXTS.map(lambda text: text.encode()),
        st.binary(max_size=200),
        # JSON Lines: \u escapes can spell lone surrogates, which no UTF-8 text can hold.
        st.fixed_dictionaries({"id": JSON_TEXT, "text": JSON_TEXT, "title": st.none() | JSON_TEXT}).map(
            lambda fields: (json.dumps(fields) + "\n").encode()
        ),
    ),
)
@example(
    suffix=".jsonl", content=b'{"id": "a\\udfff", "text": "Roads \\ud800 were paved.", "title": "\\udc00"}\n'
)
@example(suffix=".txt", content=b"Roads \xed\xa0\x80 were paved.")  # a surrogate in UTF-8: not UTF-8
def test_any_file_is_read_or_refused_with_a_source_error(embedder, suffix, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"article{suffix}"
        path.write_bytes(content)
        try:
            raws = list(read_file(path))
        except SourceError as exc:
            assert str(exc).startswith(str(path))
            return
        for raw in raws:
            if isinstance(raw, Skipped):
                continue
            document = clean_or_none(raw)
            if document is not None:
                check_document(document)
                check_passages(document, chunk_with_model(document, 64, 16, embedder), 64, embedder)


def test_a_megabyte_on_one_line_is_chunked(embedder):
    # Words, then a run with no space to cut at: the second half used to take minutes.
    words = " ".join(["Điện", "Biên", "مرحبا", "🙂", "coffee", "e\u0301", "2025"] * 20_000)[:500_000]
    text = words + "x" * 500_000
    document = clean(RawArticle(doc_id="big", text=text, source="big.txt"))
    assert document.text == text.replace("e\u0301", "é")
    passages = chunk_with_model(document, 128, 32, embedder)
    check_passages(document, passages, 128, embedder)


def test_titles_are_one_clean_line_and_leave_room_for_the_passage(embedder):
    # Both came from the properties above: a title kept its control characters, and a long
    # metadata title filled the model's input so passages were cut to single characters.
    raw = RawArticle(
        doc_id="d", text="Roads were paved.", source="d.jsonl:1", title="Roads\x08 in\n\n Mộc  Châu"
    )
    assert clean(raw).title == "Roads in Mộc Châu"
    document = clean(
        RawArticle(doc_id="d", text="Roads were paved. Coffee grew.", source="d", title="word " * 400)
    )
    assert len(document.title) <= 151 and document.title.endswith("word…")
    passages = chunk_with_model(document, 128, 32, embedder)
    assert [passage.text for passage in passages] == ["Roads were paved. Coffee grew."]
    check_passages(document, passages, 128, embedder)


@given(st.text())
@example("Điện Biên Phủ, Nghiêm, sosioøkonomi, ǅ, ﬁ, Å")
def test_fold_strips_every_combining_mark_as_unicode_defines_them(text):
    """`fold`'s translate table against the definition it replaces, on any text: a difference
    would split index and question terms."""
    decomposed = unicodedata.normalize("NFKD", text.translate(str.maketrans(_UNDECOMPOSED)))
    expected = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    assert fold(text) == expected
