"""Rebuild tests/data/beir-newsqa: the bundled articles and question set in BEIR layout.

Each paragraph of a stored (cleaned) article is a corpus document `<doc_id>-p<N>`; each
answerable question of eval/questions.jsonl is a query, judged relevant (1) to the
paragraphs of its document that contain a gold answer. Run from the project root:

    HF_HUB_OFFLINE=1 .venv/bin/python tests/data/make_beir_fixture.py
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.run import load_questions
from indexer.build import load_documents
from indexer.settings import load_settings

OUT = Path(__file__).with_name("beir-newsqa")


def main() -> None:
    loaded, _ = load_documents([load_settings().articles_dir])
    documents = {document.doc_id: document for document in loaded}
    paragraphs = {
        f"{doc_id}-p{number}": (document.title, paragraph)
        for doc_id, document in documents.items()
        for number, paragraph in enumerate(document.text.split("\n\n"))
    }
    questions = [q for q in load_questions() if q.answerable]
    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    with (OUT / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for pid, (title, text) in paragraphs.items():
            corpus.write(json.dumps({"_id": pid, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with (OUT / "queries.jsonl").open("w", encoding="utf-8") as queries:
        for q in questions:
            queries.write(json.dumps({"_id": q.id, "text": q.question}, ensure_ascii=False) + "\n")
    with (OUT / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for q in questions:
            for pid, (_, text) in paragraphs.items():
                if pid.startswith(f"{q.doc_id}-p") and any(gold in text for gold in q.answers):
                    qrels.write(f"{q.id}\t{pid}\t1\n")


if __name__ == "__main__":
    main()
