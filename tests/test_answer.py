"""Which sentences of a story can be answers: photo captions only when nothing else can."""

from __future__ import annotations

import pytest

from indexer.text import terms
from service.core.answer import answering_figures, asks_for_number, is_caption, measured_terms


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
        "Officials in Pú Nhung commune provide guidance on caring for fruit trees.",
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
        "This demonstrates the determination of grassroots Party committees, laying the groundwork.",
        "The provincial leader stressed sound budget management and the disbursement of public "
        "investment funds for roads and schools across the province.",
    ],
)
def test_story_sentences_are_not_captions(paragraph):
    assert not is_caption(*_alone(paragraph))


def test_a_caption_sentence_inside_a_paragraph_is_story():
    text = "The wards reported. A leader of Van Son ward speaks at the meeting.\n\nMore."
    start = text.index("A leader")
    assert not is_caption(text, start, text.index("\n"))


@pytest.mark.parametrize(
    ("question", "wants_number"),
    [
        ("What was Son La province's poverty rate in 2024?", True),
        ("What is the poverty rate in Son La province?", True),
        ("How many communes have met the standards?", True),
        ("When did the project break ground?", True),
        ("What did Nghiem ask of Van Son ward?", False),
        ("Which company is implementing the project?", False),
    ],
)
def test_questions_that_ask_for_a_figure_or_date(question, wants_number):
    assert asks_for_number(question) is wants_number


def test_a_how_many_question_names_what_it_counts():
    assert measured_terms("How many hectares of pineapple does Na Sang grow?") == set(
        terms("hectares pineapple")
    )
    assert measured_terms("How many communes have met the standards?") == set(terms("communes"))
    assert measured_terms("How much did the CT03 expressway cost?") == set()


def test_a_rate_question_names_what_the_rate_is_of():
    assert measured_terms("What was Son La's poverty rate in 2020?") == set(terms("poverty rate"))
    assert measured_terms("At what rate did the province grow?") == set()


SENTENCE = "The poverty rate fell from 24.1% to 18.66%, and by more than 3% among minorities in 2024."


def test_figures_that_answer_a_question_about_now():
    assert answering_figures(SENTENCE, given={"2024"}, earlier=False) == ["24.1", "18.66", "3"]


def test_a_question_about_before_a_change_is_not_answered_by_where_it_ended():
    assert answering_figures(SENTENCE, given=set(), earlier=True) == ["24.1", "2024"]
    assert answering_figures("It rose by 4-5% to 12,500 tonnes.", given=set(), earlier=True) == []


def test_a_sentence_about_the_earlier_time_answers_with_its_figures():
    sentence = "Before the storm, the number of households evacuated rose to 500."
    assert answering_figures(sentence, given=set(), earlier=True) == ["500"]
