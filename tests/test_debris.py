"""Cleaning web pages: every debris rule removes the real line it was written for, article text
stays, teaser blocks end where the story resumes, pages in any encoding are read, and
`newsqa eval --extraction` scores a judged folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.extraction import evaluate_extraction
from indexer.build import load_documents
from indexer.clean import clean
from indexer.debris import LINE_DEBRIS, TEASER_HEADINGS, line_debris, teaser_heading
from indexer.sources import RawArticle

STORY = (
    "The provincial People's Committee approved the plan on Tuesday, after two years of talks "
    "with the communes along the river."
)
MORE = "Work on the first section of the road will start in March and should take eighteen months to finish."


def stored(*lines: str) -> str:
    return clean(RawArticle(doc_id="d", text="\n\n".join(lines), source="d.txt", title="T")).text


@pytest.mark.parametrize(
    "rule", LINE_DEBRIS, ids=[f"{r.kind}-{r.language}-{r.example[:30]}" for r in LINE_DEBRIS]
)
def test_each_line_rule_removes_its_real_example(rule):
    assert line_debris(rule.example)
    assert stored(STORY, rule.example, MORE) == f"{STORY}\n\n{MORE}"


@pytest.mark.parametrize("rule", TEASER_HEADINGS, ids=[f"{r.language}-{r.example}" for r in TEASER_HEADINGS])
def test_each_teaser_heading_is_recognised(rule):
    assert teaser_heading(rule.example) and teaser_heading(f"| {rule.example}: |")


# Article lines that look like debris to a careless rule: each must be kept.
KEPT = [
    "The newsletter, first printed in 1998, reached 4,000 households in the district last year.",
    "Copyright law was changed in 2021 to cover photographs taken by drones.",
    "Share prices of the coffee exporter rose 4% after the harvest report.",
    "Comments from residents were collected at three meetings in the commune hall.",
    "Kontaktpersonen der Gemeinde erklärten, die Straße werde im Mai fertig.",
    "Advertisement boards along National Highway 6 were removed by the district.",
    "Editing the regulations took the committee eight months, its chairman said.",
    "Foto: Die Brücke wurde 1962 gebaut und 2020 erneuert, sagte der Bürgermeister am Montag vor Ort.",
    "Related industries, such as packaging and transport, employ 1,200 people.",
]


@pytest.mark.parametrize("line", KEPT)
def test_article_lines_that_mention_debris_words_are_kept(line):
    assert not line_debris(line) and not teaser_heading(line)
    assert line in stored(STORY, line, MORE)


def test_teasers_after_the_story_end_it_until_the_story_resumes():
    teasers = [
        "Related articles",
        "Urban planning adapts to two-tier local government model",
        "NEWS - POLITICS -",
        "ĐBP - Implementing the two-tier local government model, urban planning work faces the "
        "requirement to innovate.",
        "Improving capacity of commune health workers",
    ]
    assert stored(STORY, *teasers) == STORY  # a summary between headlines is a teaser too
    # A box of teasers inside the story: two paragraphs of prose in a row resume it.
    again = (
        "Gäste können sich mit frischem Räucherfisch und vielen anderen Genüssen aus der Region verpflegen."
    )
    resumed = stored(STORY, "Auch interessant", "Royal Fishing Kinderhilfe auf Rügen", MORE, again)
    assert resumed == "\n\n".join([STORY, MORE, again])
    # Before any prose (a page opening with the site's "More on this topic" box), prose resumes it.
    assert stored("| Weitere Artikel zum Thema |", "| Kommentierte Artikel |", STORY) == STORY
    assert (
        stored(STORY, "Auch lesen: Diese 3 Sternzeichen verschenken ihr Herz", MORE) == f"{STORY}\n\n{MORE}"
    )


def test_pages_in_other_encodings_and_with_stray_nul_bytes_are_read(tmp_path: Path):
    body = "<p>Die Gemeinde baut eine neue Brücke über die Mur, sagte der Bürgermeister.</p>" * 4
    head = '<head><meta charset="iso-8859-1"><title>Brücke</title></head>'
    page = f"<html>{head}<body><article>{body}</article></body></html>"
    (tmp_path / "latin1.html").write_bytes(page.encode("iso-8859-1"))
    (tmp_path / "nul.html").write_bytes(
        page.replace("iso-8859-1", "utf-8").encode().replace(b"</p>", b"\x00\x00</p>", 1)
    )
    documents, skipped = load_documents([tmp_path])
    assert skipped == []
    for document in documents:
        assert "neue Brücke über die Mur" in document.text and "\x00" not in document.text


@pytest.mark.subprocess
def test_extraction_is_scored_against_judged_snippets(tmp_path: Path):
    (tmp_path / "pages").mkdir()
    article = "".join(
        f"<p>{sentence}</p>"
        for sentence in (
            "The district opened a new school for four hundred pupils on Monday, its chairman said.",
            "Teachers moved into the new classrooms after the old building was damaged by floods.",
            "The province paid for most of the building, and parents gave the land for the playground.",
        )
    )
    page = (
        f"<html><head><title>School</title></head><body><article><h1>School</h1>{article}"
        "<p>Sign up for our newsletter</p><p>© Daily News 2024</p></article></body></html>"
    )
    (tmp_path / "pages" / "page-0001.html").write_text(page)
    snippets = {
        "page-0001": {
            "url": "https://news.example/school",
            "with": ["new school for four hundred pupils", "parents gave the land", "not on the page at all"],
            "without": ["Sign up for our newsletter", "Daily News 2024"],
        }
    }
    (tmp_path / "snippets.json").write_text(json.dumps(snippets))
    report = evaluate_extraction(tmp_path)
    assert report["systems"]["newsqa"] == {
        "precision": 1.0,
        "recall": 0.6667,
        "f1": 0.8,
        "tp": 2,
        "fn": 1,
        "fp": 0,
    }
    assert report["per_page"][0]["lost"] == ["not on the page at all"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "eval",
            "--extraction",
            str(tmp_path),
            "--baselines",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| newsqa | 1.000 | 0.667 | 0.800 | 2 | 1 | 0 |" in result.stdout
    assert "| trafilatura favor_recall |" in result.stdout


# (title as the page gives it, its site name, its URL) -> the title stored; from the judged pages
TITLES = [
    (
        "A Letter on Justice and Open Debate | Harper's Magazine",
        "Harper's Magazine",
        "https://harpers.org/a",
        "A Letter on Justice and Open Debate",
    ),
    (
        "Pour le néolibéralisme, la retraite est un archaïsme - AOC media - Analyse Opinion Critique",
        "AOC media - Analyse Opinion Critique",
        None,
        "Pour le néolibéralisme, la retraite est un archaïsme",
    ),
    (
        "Chininum salicylicum D4 DHU Tabletten | Gelbe Liste",
        "Vidal MMI Germany GmbH",
        "https://www.gelbe-liste.de/p",
        "Chininum salicylicum D4 DHU Tabletten",
    ),
    (
        "Rutger Bregman: Unser wahres Ich - brand eins online",
        "brandeins.de",
        "https://www.brandeins.de/m",
        "Rutger Bregman: Unser wahres Ich",
    ),
    (
        "Floods hit the north | DW | 19.01.2020",
        "DW",
        "https://www.dw.com/en/x",
        "Floods hit the north",
    ),
    (
        "Penny - Stardew Valley Wiki",
        "Stardew Valley Wiki",
        None,
        "Penny",
    ),
    # a dash inside the headline, and a site that is not in the title: nothing goes
    (
        "Coronavirus und andere Zoonosen – Wie Umweltzerstörung neue Epidemien begünstigt",
        "Tages-Anzeiger",
        "https://www.tagesanzeiger.ch/x",
        "Coronavirus und andere Zoonosen – Wie Umweltzerstörung neue Epidemien begünstigt",
    ),
    (
        "Barcamp Graz 2015 – Politcamp Call for Action",
        "Murdelta",
        "https://murdeltas.wordpress.com/x",
        "Barcamp Graz 2015 – Politcamp Call for Action",
    ),
]


@pytest.mark.parametrize(("title", "site", "url", "expected"), TITLES, ids=[t[3][:40] for t in TITLES])
def test_titles_lose_the_site_name_which_goes_to_site(title, site, url, expected):
    raw = RawArticle(doc_id="d", text=STORY, source="d.html", title=title, url=url, site=site)
    document = clean(raw)
    assert (document.title, document.site) == (expected, site)


def test_the_headline_and_standfirst_are_not_repeated_and_wrapped_lines_are_joined():
    standfirst = "The road will link four communes to the national highway."
    wrapped = [
        "Work on the first section of the road will start in March and",
        "should take eighteen months.",
    ]
    text = stored("T", standfirst, STORY, standfirst, *wrapped)
    assert text == f"{standfirst}\n\n{STORY}\n\n{' '.join(wrapped)}"
    # A headline-like line is not joined to the next; a sentence that ends is not either.
    assert (
        stored(STORY, "Roads and bridges", "cost more this year than last year, the committee said.").count(
            "\n\n"
        )
        == 2
    )
