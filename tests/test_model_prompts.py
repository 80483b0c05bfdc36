"""A model that declares prompts (e5-style "query: " and "passage: ") in a local folder: questions
and passages are embedded with their own prompt on every backend, the index records them, and an
index embedded with other prompts is refused or embedded again, never mixed. Models pooled
otherwise than the default give their own vectors on every backend too.

The model is a tiny randomly initialised BERT built in a temporary folder: nothing is downloaded,
and its vectors mean nothing, only that they are the model's own for the prompted text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer import backends
from indexer.build import build_index
from indexer.embed import MODEL_CONFIG, NO_PROMPTS, NUMPY_POOLINGS, Embedder, choose_prompts, passage_input
from indexer.errors import IndexFormatError
from indexer.settings import DEFAULT_MODEL, Settings, load_settings
from indexer.store import stale_prompts
from indexer.text import for_model
from service.core.index import MODES, Index

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
OTHER_PROMPTS = {"query": "search_query: ", "passage": "search_document: "}
# The tiny model's vocabulary: special tokens, the prompts' words, and a few words of the
# questions and articles (any other word is one [UNK]).
VOCABULARY = """[PAD] [UNK] [CLS] [SEP] [MASK] query passage search document : _ . , ? -
    the a of in to and is was who what how many which did coffee commune ward village road
    province people committee chairman hectares son la dien bien moc chau met new rural""".split()  # noqa: SIM905
MAX_LENGTH = 64
QUESTION = "Who is the chairman of the people committee?"
PASSAGES = [
    passage_input("Son La", "The commune met the new rural standards."),
    passage_input("Coffee", "How many hectares of coffee did Moc Chau plant in the village?"),
]
ARTICLES = Path(__file__).parents[1] / "data" / "articles"

EXPORTED = [
    pytest.param(
        name,
        marks=[
            pytest.mark.slow,  # as in test_embed_backends.py: an export of its own
            pytest.mark.skipif(not backends.installed(name), reason=f"{name} backend not installed"),
        ],
    )
    for name in ("onnx", "openvino")
]


def save_model(
    folder: Path, prompts: dict[str, str], default_prompt_name: str | None = None, pooling: str = "mean"
) -> Path:
    """A tiny sentence-transformers model (1 BERT layer of width 32, `pooling`, normalised)
    that declares `prompts`, saved in `folder`; the same weights on every call."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    bert = folder.with_name(f"{folder.name}-bert")
    bert.mkdir(parents=True)
    (bert / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(VOCABULARY),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=MAX_LENGTH,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(bert)
    BertTokenizerFast(vocab=str(bert / "vocab.txt")).save_pretrained(bert)
    model = SentenceTransformer(
        modules=[Transformer(str(bert)), Pooling(32, pooling_mode=pooling), Normalize()],
        prompts=prompts,
        default_prompt_name=default_prompt_name,
    )
    model.save(str(folder))
    return folder


def reference(folder: Path, text: str) -> np.ndarray:
    """The unit vector sentence-transformers itself gives `text` (already prompted) with the model
    in `folder`: no prompt of its own added, not even the default one."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return np.asarray(model.encode([for_model(text)], prompt="", normalize_embeddings=True)[0])


@pytest.fixture(scope="module")
def e5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("models") / "e5-tiny", E5_PROMPTS)


@pytest.fixture(scope="module")
def e5(e5_folder: Path) -> Embedder:
    return Embedder(str(e5_folder), device="cpu", backend="torch")


def settings_for(folder: Path, index_dir: Path) -> Settings:
    return load_settings(index_dir=index_dir, model=str(folder), device="cpu", backend="torch")


def rewrite_prompts(folder: Path, prompts: dict[str, str]) -> None:
    """Give the model in `folder` other prompts, as editing its configuration does."""
    path = folder / MODEL_CONFIG
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "prompts": {"document": "", **prompts}}))


def test_prompts_are_the_models_query_and_passage_or_document_prompts():
    # sentence-transformers saves an empty "document" prompt beside an e5 model's "passage".
    assert choose_prompts({"query": "query: ", "document": "", "passage": "passage: "}) == E5_PROMPTS
    named = {"query": "q: ", "document": "d: ", "passage": "p: "}
    assert choose_prompts(named) == {"query": "q: ", "passage": "d: "}  # the order encode_document tries
    assert choose_prompts({"query": "", "document": None}) == choose_prompts({}) == NO_PROMPTS


def test_questions_and_passages_embed_after_their_own_prompt(e5, e5_folder):
    assert e5.prompts == E5_PROMPTS
    assert (e5.dimension, e5.max_tokens) == (32, MAX_LENGTH)
    question = e5.embed_query(QUESTION)
    assert np.allclose(question, reference(e5_folder, "query: " + QUESTION), atol=1e-5)
    assert np.allclose(e5.embed([QUESTION], query=True)[0], question, atol=1e-5)
    passages = e5.embed(PASSAGES)
    expected = [reference(e5_folder, "passage: " + text) for text in PASSAGES]
    assert np.allclose(passages, expected, atol=1e-5)
    assert not np.allclose(passages[0], reference(e5_folder, PASSAGES[0]), atol=1e-3)  # the prompt matters


def test_sentence_vectors_pool_the_passage_read_after_its_prompt(e5, e5_folder):
    from sentence_transformers import SentenceTransformer

    text = PASSAGES[0]
    vectors, spans = e5.embed_spans([text], [[(0, len(text))]])
    assert np.allclose(vectors, e5.embed([text]), atol=1e-5)
    # [CLS] passage : <the text's tokens> [SEP]: the span pools the text's tokens, not the prompt's.
    model = SentenceTransformer(str(e5_folder), device="cpu")
    tokens = model.encode(["passage: " + text], prompt="", output_value="token_embeddings")[0].numpy()
    expected = tokens[3:-1].mean(0)
    assert np.allclose(spans[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_the_passage_prompt_counts_in_what_fits(e5):
    # Each "coffee" is one word piece; [CLS] and [SEP] make two more, the prompt two more again.
    whole = " ".join(["coffee"] * (MAX_LENGTH - 2))
    assert e5.count_tokens(whole) == MAX_LENGTH
    assert not e5.fits(whole)
    assert e5.fits(" ".join(["coffee"] * (MAX_LENGTH - 4)))


def test_a_default_prompt_is_not_added_on_top(tmp_path):
    folder = save_model(
        tmp_path / "nomic-tiny",
        {"query": OTHER_PROMPTS["query"], "document": OTHER_PROMPTS["passage"]},
        default_prompt_name="query",
    )
    embedder = Embedder(str(folder), device="cpu", backend="torch")
    assert embedder.prompts == OTHER_PROMPTS
    expected = reference(folder, OTHER_PROMPTS["passage"] + PASSAGES[0])
    assert np.allclose(embedder.embed(PASSAGES[:1])[0], expected, atol=1e-5)
    expected = reference(folder, OTHER_PROMPTS["query"] + QUESTION)
    assert np.allclose(embedder.embed_query(QUESTION), expected, atol=1e-5)


@pytest.mark.parametrize("backend", EXPORTED)
def test_exported_backends_embed_with_the_prompts(backend, e5, e5_folder, tmp_path):
    exported = Embedder(str(e5_folder), device="cpu", backend=backend, cache_dir=tmp_path)
    exported.warm_up()
    # Questions take the query path (its own tokenizer; OpenVINO at its fastest precision).
    assert float(exported.embed_query(QUESTION) @ e5.embed_query(QUESTION)) >= 0.999
    assert np.allclose(exported.embed(PASSAGES, batch_size=1), e5.embed(PASSAGES), atol=1e-4)
    spans = [[(0, 6)], [(0, 6), (7, 20)]]
    ours, theirs = exported.embed_spans(PASSAGES, spans), e5.embed_spans(PASSAGES, spans)
    assert np.allclose(ours[0], theirs[0], atol=1e-4)  # the passages
    assert np.allclose(ours[1], theirs[1], atol=1e-4)  # their sentences


@pytest.mark.slow
def test_an_index_records_the_prompts_and_answers_with_them(e5, e5_folder, tmp_path):
    settings = settings_for(e5_folder, tmp_path / "index")
    build_index([ARTICLES], settings, e5)
    index = Index.load(settings, e5)
    assert index.manifest["model"] == {
        "name": str(e5_folder),
        "dimension": 32,
        "max_tokens": MAX_LENGTH,
        "prompts": E5_PROMPTS,
        "backend": "torch",
    }
    stored = index.stored
    (segment,) = stored.segments
    for row in (0, len(stored.passages) - 1):
        passage = stored.passages[row]
        text = passage_input(stored.documents[passage.doc_id].title, passage.text)
        assert np.allclose(segment.vectors[row], reference(e5_folder, "passage: " + text), atol=1e-5)
    for passage in stored.passages:  # each passage fits whole after its prompt
        text = passage_input(stored.documents[passage.doc_id].title, passage.text)
        assert e5.count_tokens("passage: " + text) <= MAX_LENGTH
    for mode in MODES:
        assert index.search("Son La coffee hectares", top_k=3, mode=mode).results
        assert index.ask("How many hectares of coffee?", mode=mode).citations


@pytest.mark.slow
def test_an_index_of_other_prompts_is_refused_or_embedded_again(e5_folder, tmp_path):
    original = tmp_path / "model"
    shutil.copytree(e5_folder, original)
    settings = settings_for(original, tmp_path / "index")
    first = build_index([ARTICLES], settings, Embedder(str(original), device="cpu", backend="torch"))

    # A copy saved with other prompts is another model (another name): refused.
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    rewrite_prompts(copy, OTHER_PROMPTS)
    with pytest.raises(IndexFormatError, match="built with model"):
        Index.load(settings_for(copy, settings.index_dir))

    # The model's own folder edited to other prompts after the build: the index no longer
    # serves, and the next build embeds every passage again, keeping the documents.
    rewrite_prompts(original, OTHER_PROMPTS)
    with pytest.raises(IndexFormatError, match="prompts"):
        Index.load(settings)
    edited = Embedder(str(original), device="cpu", backend="torch")
    assert edited.prompts == OTHER_PROMPTS
    again = build_index([ARTICLES], settings, edited)
    assert again.changes.reused == 0 and again.changes.embedded == again.passages
    assert again.documents == first.documents
    index = Index.load(settings, edited)
    assert index.manifest["model"]["prompts"] == OTHER_PROMPTS
    assert index.search("coffee", mode="dense").results

    # Built again with the prompts unchanged, it reuses every vector.
    assert build_index([ARTICLES], settings, edited).changes.embedded == 0


def test_an_index_is_checked_against_the_prompts_its_model_declares_now():
    # An index from before prompts were recorded was embedded with none, as the default model
    # declares none; a model only named (not a folder here) cannot be read, so is not checked.
    assert stale_prompts({"model": {"name": DEFAULT_MODEL, "dimension": 384}}) is None
    assert "now declares" in str(stale_prompts({"model": {"name": DEFAULT_MODEL, "prompts": E5_PROMPTS}}))
    assert stale_prompts({"model": {"name": "intfloat/multilingual-e5-small", "prompts": E5_PROMPTS}}) is None


def test_the_default_model_embeds_exactly_as_before(embedder):
    # No prompts: every backend reads the texts as it did, so the vectors are the same bits.
    assert embedder.prompts == NO_PROMPTS
    texts = [*PASSAGES, QUESTION, "Điện Biên"]
    for kind in ("query", "passage"):
        assert embedder._inputs(texts, kind) == [for_model(text) for text in texts]
    assert all(embedder.fits(text) == (embedder.count_tokens(text) <= embedder.max_tokens) for text in texts)
    torch_embedder = Embedder(backend="torch", device="cpu")
    before = torch_embedder.model.encode([for_model(text) for text in texts], normalize_embeddings=True)
    assert np.array_equal(torch_embedder.embed(texts), before)
    [question] = torch_embedder.model.encode([QUESTION], normalize_embeddings=True)
    assert np.array_equal(torch_embedder.embed_query(QUESTION), question)


@pytest.mark.parametrize("backend", EXPORTED)
@pytest.mark.parametrize("pooling", ["cls", "max"])
def test_exported_backends_pool_as_the_model_does(pooling, backend, tmp_path):
    # CLS pooling is done in numpy, as mean pooling is; max pooling by the model's own modules.
    folder = save_model(tmp_path / f"{pooling}-tiny", E5_PROMPTS, pooling=pooling)
    exported = Embedder(str(folder), device="cpu", backend=backend, cache_dir=tmp_path / "cache")
    assert exported.pooling == (pooling if pooling in NUMPY_POOLINGS else None)
    expected = [reference(folder, E5_PROMPTS["passage"] + text) for text in PASSAGES]
    assert np.allclose(exported.embed(PASSAGES), expected, atol=1e-4)
    assert np.allclose(exported.embed_spans(PASSAGES, [[(0, 6)], []])[0], expected, atol=1e-4)
    expected_question = reference(folder, E5_PROMPTS["query"] + QUESTION)
    assert float(exported.embed_query(QUESTION) @ expected_question) >= 0.999
    # Loaded again from its export, it runs the same without the model's torch weights.
    again = Embedder(str(folder), device="cpu", backend=backend, cache_dir=tmp_path / "cache")
    assert again._model is None if pooling in NUMPY_POOLINGS else True
    assert np.allclose(again.embed(PASSAGES), expected, atol=1e-4)
