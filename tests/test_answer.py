"""Which sentences of a story can be answers: photo captions only when nothing else can."""

from __future__ import annotations

import pytest

from service.answer import is_caption


def _alone(paragraph: str) -> tuple[str, int, int]:
    """`paragraph` as a paragraph of its own between two others, and its offsets."""
    text = f"The meeting opened at nine.\n\n{paragraph}\n\nIt closed at noon."
    start = text.index(paragraph)
    return text, start, start + len(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "A leader of Van Son ward speaks at the meeting.",
        "A view of the meeting.",
        "Na Sang commune leaders inspect local pineapple-growing areas.",
        "Officials in Pú Nhung commune provide guidance on caring for fruit trees to improve product quality.",
    ],
)
def test_a_short_present_tense_paragraph_is_a_caption(paragraph):
    assert is_caption(*_alone(paragraph))


@pytest.mark.parametrize(
    "paragraph",
    [
        "Moc Chau ward should coordinate with other wards to speed up the road project, he said.",
        "He also noted effective coordination between the wards and provincial departments.",
        "The commune has 705 hectares of coffee.",
        "This demonstrates the strong determination of grassroots-level Party committees, laying the groundwork.",
        "The provincial leader stressed sound budget management and the disbursement of public investment funds "
        "for roads and schools across the province.",
    ],
)
def test_story_sentences_are_not_captions(paragraph):
    assert not is_caption(*_alone(paragraph))


def test_a_caption_sentence_inside_a_paragraph_is_story():
    text = "The wards reported. A leader of Van Son ward speaks at the meeting.\n\nMore."
    start = text.index("A leader")
    assert not is_caption(text, start, text.index("\n"))
