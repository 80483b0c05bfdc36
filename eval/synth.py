"""A deterministic synthetic news archive for benchmarks: the bundled English articles' sentences
recombined into new articles, with names, places and numbers varied.

    python -m eval.synth --passages 20000 --out build/synth-20k.jsonl

The same arguments always give the same file (a seeded generator, no clock, no hashing of
objects). Multi-word proper names ("Moc Chau", "Hoang Van Nghiem") are replaced by names made of
Vietnamese syllables, consistently within an article; institutions ("People's Committee") are
kept; every number is replaced by another with as many digits. Articles are JSON Lines records
(`id`, `title`, `text`, `date`, `language`) that `newsqa index` reads as they are; their
publication days are spread evenly at random over the two years up to `LAST_DAY`, so a date
range keeps about the share of the archive its length is of those two years (the filtered
search benchmark, eval/bench/filtered.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import random
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from indexer.build import load_documents
from indexer.chunk import chunk
from indexer.clean import Document
from indexer.settings import Settings, load_settings
from indexer.text import sentence_spans

SYLLABLES = [
    "An",
    "Bac",
    "Binh",
    "Cao",
    "Chau",
    "Dong",
    "Duc",
    "Giang",
    "Ha",
    "Hai",
    "Hoa",
    "Hong",
    "Hung",
    "Khanh",
    "Lam",
    "Lang",
    "Lien",
    "Linh",
    "Long",
    "Mai",
    "Minh",
    "Nam",
    "Nghia",
    "Ngoc",
    "Nhan",
    "Phong",
    "Phu",
    "Quang",
    "Son",
    "Tan",
    "Thanh",
    "Thao",
    "Thinh",
    "Thuan",
    "Tien",
    "Trung",
    "Tuan",
    "Tuyen",
    "Van",
    "Vinh",
    "Xuan",
    "Yen",
]
FAMILY_NAMES = [
    "Nguyen",
    "Tran",
    "Le",
    "Pham",
    "Hoang",
    "Vu",
    "Vo",
    "Dang",
    "Bui",
    "Do",
    "Ho",
    "Ngo",
    "Duong",
    "Ly",
]
TOPICS = (
    "new rural development",
    "coffee cultivation",
    "rural road construction",
    "digital transformation",
    "Party building",
    "poverty reduction",
    "community tourism",
    "administrative reform",
    "two-tier local government",
    "clean water supply",
)
TITLES = (
    "{place} pushes ahead with {topic}",
    "{place} reviews progress on {topic}",
    "Officials in {place} set new targets for {topic}",
    "{person} urges {place} to speed up {topic}",
    "{place}: results of {topic} in the first months of the year",
)
# Capitalised words that name institutions and titles, not people or places: kept as they are.
INSTITUTIONAL = set(
    [
        "Party",
        "Committee",
        "Committees",
        "People",
        "People's",
        "Council",
        "Councils",
        "National",
        "Assembly",
        "Standing",
        "Board",
        "Secretary",
        "Chairman",
        "Chairwoman",
        "Deputy",
        "Vice",
        "Resolution",
        "Resolutions",
        "Congress",
        "Fatherland",
        "Front",
        "Department",
        "Provincial",
        "Province",
        "Ministry",
        "Government",
        "Programme",
        "Program",
        "Union",
        "Standards",
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "Of",
        "To",
        "From",
        "With",
        "Along",
        "After",
        "By",
        "For",
        "This",
        "These",
        "Director",
        "Head",
        "Member",
        "Members",
    ]
)
_NAME = re.compile(r"\b[A-ZĐ][\w’']*(?:[ -][A-ZĐ][\w’']*)+")
_NUMBER = re.compile(r"\d+")


@lru_cache(maxsize=1)
def source_sentences(articles_dir: Path) -> tuple[str, ...]:
    """The sentences (40 to 400 characters) of the English articles in `articles_dir`, in order."""
    documents, _ = load_documents([articles_dir])
    sentences = []
    for document in documents:
        if document.language != "en":
            continue
        for start, end in sentence_spans(document.text):
            sentence = " ".join(document.text[start:end].split())
            if 40 <= len(sentence) <= 400:
                sentences.append(sentence)
    return tuple(sentences)


def _place(rng: random.Random) -> str:
    return " ".join(rng.sample(SYLLABLES, rng.choice((2, 2, 3))))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY_NAMES)} {rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)}"


def _number(match: re.Match[str], rng: random.Random) -> str:
    digits = len(match.group())
    if digits == 4 and match.group().startswith(("19", "20")):  # a year stays a plausible year
        return str(rng.randint(2015, 2035))
    low = 10 ** (digits - 1) if digits > 1 else 0
    return str(rng.randint(low, 10**digits - 1))


def _vary(sentence: str, names: dict[str, str], rng: random.Random) -> str:
    """`sentence` with its proper names replaced (via `names`, filled as met) and numbers varied."""

    def rename(match: re.Match[str]) -> str:
        words = re.split(r"[ -]", match.group())
        if any(word.rstrip("’'s") in INSTITUTIONAL or word in INSTITUTIONAL for word in words):
            return match.group()
        if match.group() not in names:
            names[match.group()] = _person(rng) if len(words) == 3 else _place(rng)
        return names[match.group()]

    return _NUMBER.sub(lambda match: _number(match, rng), _NAME.sub(rename, sentence))


LAST_DAY = datetime.date(2026, 11, 30)
DAYS = 730


def synthetic_articles(count: int, sentences: tuple[str, ...], seed: int = 0) -> Iterator[dict[str, str]]:
    """`count` articles of 8 to 16 varied sentences each, in paragraphs of one to three."""
    rng = random.Random(seed)
    for number in range(count):
        names: dict[str, str] = {}
        place, person = _place(rng), _person(rng)
        title = rng.choice(TITLES).format(place=place, person=person, topic=rng.choice(TOPICS))
        body = [_vary(sentence, names, rng) for sentence in rng.sample(sentences, rng.randint(8, 16))]
        paragraphs = []
        while body:
            size = rng.randint(1, 3)
            paragraphs.append(" ".join(body[:size]))
            body = body[size:]
        yield {
            "id": f"synth-{number:07d}",
            "title": title,
            "text": "\n\n".join(paragraphs),
            "date": (LAST_DAY - datetime.timedelta(days=rng.randrange(DAYS))).isoformat(),
            "language": "en",
        }


def passages_per_article(sentences: tuple[str, ...], settings: Settings, sample: int = 200) -> float:
    """The mean number of passages the indexer cuts from one synthetic article (from a sample,
    chunked as `newsqa index` does but without the model's length check, which rarely matters)."""
    total = 0
    for article in synthetic_articles(sample, sentences, seed=-1):
        document = Document(article["id"], article["title"], article["text"], "en", "synth")
        total += len(chunk(document, max_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap))
    return total / sample


def write_archive(path: Path, passages: int, settings: Settings, seed: int = 0) -> int:
    """Write a synthetic archive of about `passages` passages to `path` (JSON Lines); returns
    the number of articles written."""
    sentences = source_sentences(settings.articles_dir)
    count = max(1, math.ceil(passages / passages_per_article(sentences, settings)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for article in synthetic_articles(count, sentences, seed):
            out.write(json.dumps(article, ensure_ascii=False) + "\n")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=20_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    articles = write_archive(args.out, args.passages, load_settings(), args.seed)
    print(f"wrote {articles} articles (about {args.passages} passages) to {args.out}")


if __name__ == "__main__":
    main()
