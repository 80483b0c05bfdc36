"""Short answers (service/core/spans.py): answer types of questions, and the phrase each type finds in
real sentences of the bundled articles."""

from __future__ import annotations

import pytest

from service.core.spans import best_span, head_noun, question_type

# (question, the answer type it asks for)
TYPES = [
    ("Who is the Chairman of the Pu Nhung People's Committee?", "person"),
    ("Which provincial Party Secretary chaired the working session?", "person"),
    ("Which head of the provincial Party Committee's Inspection Commission attended?", "person"),
    ("Which company is implementing the pineapple project in Pu Nhung commune?", "organisation"),
    ("On behalf of which body did Secretary Nghiem acknowledge the communes' efforts?", "organisation"),
    ("On what date did the Standing Committee issue Resolution No. 22-NQ/TU?", "date"),
    ("When was Pú Nhung commune's 1st Party Congress held?", "date"),
    ("For which period did the eight communes sign a coordination regulation?", "date"),
    ("How many communes in Son La province have met the standards?", "number"),
    ("What percentage of the target do the 57 villages represent?", "number"),
    ("What is the poverty rate in Son La province?", "number"),
    ("In which commune is the Chieng Dong water plant project located?", "place"),
    ("Along which national highway does a Dien Bien commune plan a belt of pineapple?", "place"),
    ("Which higher value fruit trees are residents encouraged to grow?", "list"),
    ("Apart from Huu Lung, name one of the communes that working group No. 3 met with.", "list"),
    ("What is the name of the expressway running Hanoi–Hoa Binh–Son La–Dien Bien?", "name"),
    ("What is the number of the Prime Minister's decision approving the planning?", "name"),
    ("What kind of forestry did the Party Secretary ask Thao Nguyen ward to pursue?", "thing"),
    ("Why did many Rạng Đông households register for the pineapple model?", "reason"),
    ("What is the purpose of the belt of pineapple plantations?", "reason"),
    ("Did the province meet its poverty target?", "yesno"),
]


@pytest.mark.parametrize(("question", "expected"), TYPES, ids=[q for q, _ in TYPES])
def test_the_question_says_what_type_of_answer_it_wants(question, expected):
    assert question_type(question) == expected


def test_the_head_noun_is_what_a_which_question_asks_about():
    assert head_noun("Which fertilizer plant in Mai Son commune did they visit?") == ("fertilizer", "plant")
    assert head_noun("What kind of forestry did he ask for?") == ("forestry",)
    assert head_noun("What is the name of the water plant project?") == ("water", "plant", "project")
    assert head_noun("Which provincial Party Secretary chaired it?") == ("provincial", "party", "secretary")
    assert head_noun("what did Nghiem ask of Van Son ward") == ()


MEETING = (
    "Attending and chairing the meeting were Secretary of the provincial Party Committee and head of "
    "the province’s delegation of National Assembly deputies Hoang Van Nghiem; Deputy Secretary of the "
    "provincial Party Committee and Chairman of the provincial People’s Committee Nguyen Dinh Viet; "
    "members of the Standing Board; and ward officials, among others."
)
# (question, a sentence of the bundled articles, the phrase that answers)
SPANS = [
    # person: the name after its title, not the title or the organisation
    ("Who is the Chairman of the provincial People's Committee?", MEETING, "Nguyen Dinh Viet"),
    ("Which provincial Party Secretary attended the meeting?", MEETING, "Hoang Van Nghiem"),
    (
        "Who is the head of Na Sang village?",
        "Quàng Văn Việt, Head of Na Sang village, said: “We fully support the commune’s policy.”",
        "Quàng Văn Việt",
    ),
    (
        "Who acknowledged the efforts of the commune-level Party committees?",
        "On behalf of the Standing Board of the provincial Party Committee, Secretary Nghiem acknowledged "
        "the efforts of the commune-level Party committees and authorities.",
        "Nghiem",
    ),
    # organisation: the capitalised name holding an organisation word
    (
        "Which fertilizer plant in Mai Son commune did the standing members visit?",
        "Earlier, the standing members of the provincial Party Committee visited and reviewed business "
        "operations at the Song Lam Tay Bac Fertilizer Plant in Mai Son commune.",
        "Song Lam Tay Bac Fertilizer Plant",
    ),
    (
        "Which Son La department issued specialized guidelines for planning?",
        "The Department of Construction issued specialized guidelines for district and commune-level "
        "planning.",
        "Department of Construction",
    ),
    # date: a day for "what date", a range for "which period", a month phrase for "when"
    (
        "On what date did the Standing Board hold its working session with the wards?",
        "The Standing Board of the provincial Party Committee held a working session on November 23 with "
        "the Party Committees of Thao Nguyen, Moc Chau, Moc Son, and Van Son wards.",
        "November 23",
    ),
    (
        "On what date did the Standing Committee issue Resolution No. 22-NQ/TU?",
        "On June 6, 2022, the Standing Committee of the Son La Provincial Party Committee issued Resolution "
        "No. 22-NQ/TU on new rural construction for the 2021–2025 period.",
        "June 6, 2022",
    ),
    (
        "For which period do the wards play a central role in key breakthroughs?",
        "As the core growth engine of the province, the wards play a central role in implementing key "
        "breakthroughs and priority tasks for the 2025–2030 period.",
        "2025–2030",
    ),
    (
        "When did the pineapple growing project in Pú Nhung break ground?",
        "Late October was a milestone for dozens of households in Pú Nhung commune as the pineapple growing "
        "and raw material zone project broke ground.",
        "Late October",
    ),
    # number: the figure with its unit or what it counts; a percentage for a share
    (
        "How many communes in Son La province have met the standards for new rural areas?",
        "To date, Son La province has 65 communes that have met the standards for new rural areas, eight "
        "communes that have met the standards for advanced new rural areas.",
        "65 communes",
    ),
    (
        "How many hectares of coffee does Pu Nhung commune currently maintain?",
        "The commune currently maintains more than 1,000 hectares of macadamia and 705 hectares of coffee.",
        "705 hectares",
    ),
    (
        "How many tasks and solutions did the 1st Party Congress identify?",
        "The 1st Party Congress of the commune, held in late August 2025, identified 11 tasks and solutions.",
        "11 tasks and solutions",
    ),
    (
        "What proportion of voters took part in the elections?",
        "The elections of deputies to the 16th National Assembly drew a turnout of 99% in the communes.",
        "99%",
    ),
    (
        "How much ground did residents donate for building village roads?",
        "Residents donated 669,883 square meters of land and nearly 36,000 man-days to build village roads.",
        "669,883 square meters",
    ),
    # place: the name with its place noun
    (
        "In which commune is the Chieng Dong water plant project located?",
        "They inspected the progress of the Chieng Dong water plant project in Chieng Mung commune.",
        "Chieng Mung commune",
    ),
    (
        "Along which national highway does the commune plan pineapple plantations?",
        "The commune plans to form a belt of pineapple plantations along National Highway 12.",
        "National Highway 12",
    ),
    # list: what follows "such as" or a colon
    (
        "Which higher value fruit trees are residents encouraged to grow?",
        "Residents are encouraged to shift from low efficiency corn and cassava to higher value fruit trees "
        "such as macadamia, coffee, and mango.",
        "macadamia, coffee, and mango",
    ),
    # name: a code, or the name with the noun asked about
    (
        "What is the number of the Prime Minister's decision approving the provincial planning?",
        "The provincial planning was approved by the Prime Minister in Decision No. 1676/QD-TTg.",
        "1676/QD-TTg",
    ),
    (
        "What is the name of the water plant project that was inspected?",
        "They inspected the progress of the Chieng Dong water plant project in Chieng Mung commune.",
        "Chieng Dong water plant project",
    ),
    # thing: the noun phrase ending in the noun asked about, or what follows the question's words
    (
        "What kind of forestry did Nghiem ask Thao Nguyen ward to pursue?",
        "Nghiem also asked Thao Nguyen ward to continue focusing on high-tech and organic agriculture, "
        "sustainable forestry, and the application of science and technology.",
        "sustainable forestry",
    ),
    (
        "What was Van Son ward instructed to concentrate on developing?",
        "Van Son ward was instructed to concentrate on developing industrial clusters, boost investment "
        "attraction, and actively coordinate to support investors.",
        "industrial clusters",
    ),
    # reason: the clause that gives the cause or the purpose
    (
        "Why did many households register for the pineapple model right from the start?",
        "Many households registered to join right from the start because pineapple suits local soil "
        "conditions.",
        "because pineapple suits local soil conditions",
    ),
]


@pytest.mark.parametrize(("question", "sentence", "expected"), SPANS, ids=[q for q, _, _ in SPANS])
def test_the_phrase_that_answers_is_found_in_a_real_sentence(question, sentence, expected):
    found = best_span(question, sentence)
    assert found is not None
    span, score = found
    assert sentence[span.start : span.end] == expected
    assert span.type == question_type(question)
    assert 0 < score <= 1


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # no name in the sentence for a "who" question, no figure for "how many"
        ("Who is the head of Na Sang village?", "The village head said the fields would grow."),
        ("How many hectares of coffee does the commune keep?", "The commune keeps coffee on its hills."),
        # the question's own figure does not answer it
        ("How many communes did Resolution No. 22 cover?", "Resolution No. 22 was issued in the province."),
        # a why question's sentence with no cause in it
        ("Why did households register?", "Households registered."),
    ],
)
def test_a_sentence_without_a_phrase_of_the_type_gives_none(question, sentence):
    assert best_span(question, sentence) is None
