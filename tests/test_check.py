"""`newsqa index --check`: a good index passes; each kind of damage is named with its file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from helpers import rerecord, segment_folder

from indexer.check import check_index
from indexer.embed import Embedder
from indexer.segments import DENSE, INFO, PASSAGES, SENTENCES
from indexer.store import FORMAT_VERSION, MANIFEST


def newsqa(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from service.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})


def version(root: Path) -> Path:
    return (root / "current").resolve()


def test_a_good_index_passes(index_copy, embedder):
    report = check_index(index_copy, embedder)
    assert report.problems == []
    assert report.summary() == "ok: 5 documents, 60 passages"
    assert report.folder == version(index_copy)


def test_a_changed_passage_offset_is_named(index_copy, embedder):
    segment = segment_folder(index_copy)
    path = segment / PASSAGES
    lines = path.read_text().splitlines()
    passage = json.loads(lines[3])
    passage["start"] += 1
    lines[3] = json.dumps(passage, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n")
    rerecord(segment)

    problems = check_index(index_copy, embedder).problems
    assert problems[0] == (
        f"{path}: line 4 ({passage['chunk_id']}): documents[{passage['doc_id']!r}]"
        f".text[{passage['start']}:{passage['end']}] is not the passage text"
    )
    # Its first sentence now starts before the passage does.
    outside = f"{segment / SENTENCES}: 1 sentence(s) outside their passage (rows 7)"
    assert problems[1:] == [outside]


def test_a_truncated_faiss_file_is_named(index_copy, embedder):
    segment = segment_folder(index_copy)
    path = segment / DENSE
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])

    problems = check_index(index_copy, embedder).problems
    assert problems[0] == f"{path}: {size // 2} bytes, {INFO} recorded {size} (changed or truncated)"
    assert problems[1].startswith(f"{path}: cannot be read (")
    assert len(problems) == 2


def test_vectors_out_of_line_with_passages_are_found(index_copy, embedder: Embedder):
    segment = segment_folder(index_copy)
    # Swapping two passages keeps every offset valid and every size: only re-embedding notices.
    path = segment / PASSAGES
    lines = path.read_text().splitlines()
    lines[0], lines[-1] = lines[-1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    rerecord(segment)

    # Without the model only the sentences tell: theirs are where the old passages were.
    (problem,) = check_index(index_copy).problems
    assert problem.startswith(f"{segment / SENTENCES}: ") and "outside their passage" in problem
    assert "(rows 0, 1, 2, " in problem  # the first passage's sentences, now at the end's


def test_vectors_out_of_line_with_their_passages_are_found_by_re_embedding(index_copy, embedder: Embedder):
    segment = segment_folder(index_copy)
    # Swap two passages with their sentences: every offset and size stays valid.
    path = segment / PASSAGES
    lines = path.read_text().splitlines()
    lines[0], lines[-1] = lines[-1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    sentences_path = segment / SENTENCES
    sentences = np.load(sentences_path)
    last = len(lines) - 1
    first_rows, last_rows = sentences[:, 0] == 0, sentences[:, 0] == last
    middle = sentences[~(first_rows | last_rows)]
    swapped = np.concatenate([sentences[last_rows], middle, sentences[first_rows]])
    swapped[: last_rows.sum(), 0] = 0
    swapped[len(swapped) - first_rows.sum() :, 0] = last
    np.save(sentences_path, swapped)  # (the sentence vectors are not swapped: nothing reads them here)
    rerecord(segment)

    assert check_index(index_copy).problems == []  # without the model nothing else can tell
    (problem,) = check_index(index_copy, embedder).problems
    assert problem.startswith(f"{segment / DENSE}: vectors do not line up with passages.jsonl: ")
    assert "(rows 0, 59)" in problem


def test_a_count_that_disagrees_with_the_manifest_is_named(index_copy):
    manifest_path = version(index_copy) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["counts"]["passages"] = 61
    manifest_path.write_text(json.dumps(manifest))
    assert check_index(index_copy).problems == [
        f"{manifest_path}: counts {manifest['counts']}, the segments hold 5 live documents "
        "and 60 live passages"
    ]


def test_a_count_that_disagrees_with_the_segment_record_is_named(index_copy):
    segment = segment_folder(index_copy)
    info_path = segment / INFO
    info = json.loads(info_path.read_text())
    info["counts"]["passages"] = 61
    info_path.write_text(json.dumps(info))
    assert check_index(index_copy).problems == [f"{segment / PASSAGES}: 60 passages, {INFO} counts 61"]


def test_an_unknown_format_stops_the_check(index_copy):
    manifest_path = version(index_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    (problem,) = check_index(index_copy).problems
    expected = f"{manifest_path}: index format version 99, this newsqa reads version {FORMAT_VERSION}"
    assert problem.startswith(expected)


def test_the_command_prints_ok_or_one_line_per_problem(index_copy):
    segment = segment_folder(index_copy)
    result = newsqa("index", "--check", str(index_copy))
    assert (result.returncode, result.stdout) == (0, "ok: 5 documents, 60 passages\n"), result.stderr

    path = segment / DENSE
    path.write_bytes(path.read_bytes()[:100])
    result = newsqa("index", "--index-dir", str(index_copy), "--check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}: ") for line in lines)


def test_sentences_outside_their_passage_are_named(index_copy):
    segment = segment_folder(index_copy)
    path = segment / SENTENCES
    sentences = np.load(path)
    sentences[3, 2] = 10**9  # ends far past its passage
    np.save(path, sentences)
    rerecord(segment)  # sizes and hashes agree: only the content check can find it
    problems = check_index(index_copy).problems
    assert problems == [f"{path}: 1 sentence(s) outside their passage (rows 3)"]


def test_same_size_damage_is_found_by_its_hash(index_copy):
    segment = segment_folder(index_copy)
    path = segment / DENSE
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # a flipped byte inside the vectors: every size and count still agrees
    path.write_bytes(bytes(data))
    assert f"{path}: content differs from the sha256 {INFO} recorded (damaged)" in (
        check_index(index_copy).problems
    )
