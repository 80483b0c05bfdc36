"""The one settings object: every knob, read from `NEWSQA_*` environment variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

Mode = Literal["hybrid", "dense", "lexical"]
Backend = Literal["auto", "openvino", "onnx", "torch"]
DenseType = Literal["auto", "flat", "ivf-sq8"]
Device = Literal["auto", "cpu", "cuda"]


def default_cache_dir() -> Path:
    """Where exported models are kept: $XDG_CACHE_HOME/newsqa, or ~/.cache/newsqa."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsqa"


def default_threads() -> int:
    """The CPUs this process may run on (its affinity mask, which containers narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Settings(BaseSettings):
    """Configuration shared by the indexer, the service and the CLI.

    Chunking and retrieval defaults were chosen on the bundled evaluation set
    (`newsqa eval`); docs/evaluation.md records the measurements behind them.
    """

    model_config = SettingsConfigDict(env_prefix="NEWSQA_", frozen=True)

    index_dir: Path = Field(
        default=Path("index"),
        description="Index directory: `current`, its `versions/` and their `segments/`.",
    )
    articles_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "articles",
        description="What `newsqa index` and `serve` read when given no paths.",
        json_schema_extra={"shown_default": "`data/articles`"},
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="Embedding model: the packaged name, or a local sentence-transformers folder.",
    )
    # "auto": a CUDA GPU when torch sees one and the backend is torch (or auto), else the CPU.
    device: Device = Field(
        default="auto",
        description="Where to embed: `auto` (a CUDA GPU when torch sees one), `cpu` or `cuda`.",
    )
    # Inference backend; "auto" takes the fastest installed (openvino, onnx, torch). The
    # exported backends trace the model once into `cache_dir`; all give the same vectors.
    backend: Backend = Field(
        default="auto",
        description="Inference backend: `auto` (the fastest installed), `openvino`, `onnx` or `torch`.",
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Where exported models are kept.",
        json_schema_extra={"shown_default": "`~/.cache/newsqa`"},
    )

    # Passages are sized in tiktoken cl100k tokens, cut at sentence boundaries.
    chunk_tokens: int = Field(default=128, ge=16, le=1024, description="Passage size in cl100k tokens.")
    chunk_overlap: int = Field(
        default=32, ge=0, description="Overlap of consecutive passages in cl100k tokens."
    )
    embed_batch_size: int = Field(default=32, ge=1, description="Passages embedded per batch when indexing.")

    # Hybrid retrieval fuses this many candidates per side: a passage scores its cosine
    # plus `lexical_weight` times its BM25 score relative to the query's best. On the
    # bundled eval set 0.2-0.3 give the same results and beat reciprocal rank fusion
    # (hit@1 0.755 against 0.673 with k=60); 0.1 and 0.5 are worse.
    lexical_weight: float = Field(
        default=0.25, ge=0.0, description="Weight of BM25 (relative to the query's best) in hybrid fusion."
    )
    candidates: int = Field(
        default=50, ge=1, description="Candidates per side (dense, lexical) fused in hybrid mode."
    )

    # Questions asking for what is recent ("latest", "today", Norwegian "siste") decay half of
    # each candidate's score by its article's age before the archive's newest publication day,
    # halving it every `recency_half_life_days` (service/core/temporal.py); other questions
    # rank as if there were no dates. At 7 days "the latest news from Lang Son" cites the
    # newest Lang Son article second, at 30 not in the first five; the other temporal questions
    # of the evaluation set are answered alike (docs/evaluation.md).
    recency_half_life_days: float = Field(
        default=7.0,
        gt=0.0,
        description="Half-life in days of the age decay applied when a question asks for the latest.",
    )

    # The dense index is exact (flat) up to `ann_threshold` passages and approximate above it:
    # IVF over 8-bit vectors scanning `ivf_nprobe` cells, re-scored exactly (indexer/dense.py).
    # `index_type` forces one kind; the manifest records what a build chose. An exact scan of a
    # large archive also flushes the model out of the CPU cache, slowing the next question's
    # embedding (figures behind the defaults: docs/design.md, "Large archives").
    index_type: DenseType = Field(
        default="auto", description="Dense index: `auto` (flat up to the threshold), `flat` or `ivf-sq8`."
    )
    ann_threshold: int = Field(
        default=10_000, ge=0, description="Passages above which `auto` builds an approximate (IVF) index."
    )
    ivf_nprobe: int = Field(default=128, ge=1, description="IVF cells scanned per question.")

    # Threads for the model (torch, ONNX Runtime, OpenVINO) and FAISS, set once when the model
    # loads. Concurrent requests share them; on 2 cores all of them (the default) gave both the
    # lowest latency and the most requests per second (`newsqa bench`, docs/benchmarks.md).
    threads: int = Field(
        default_factory=default_threads,
        ge=1,
        description="Threads of the model runtime and FAISS.",
        json_schema_extra={"shown_default": "CPUs usable"},
    )

    # Extractive answers: sentences of the top passages are ranked; the service
    # abstains when the best passage's cosine to the question is below the threshold.
    answer_passages: int = Field(
        default=3, ge=1, description="Top passages whose sentences compete for the answer."
    )
    abstain_threshold: float = Field(
        default=0.35,
        ge=-1.0,
        le=1.0,
        description="Below this best cosine in the whole index the service abstains.",
    )

    # Cross-lingual search (service/core/translate.py): passages in a language the model does not
    # cover are ranked and answered on lexical evidence, the question's words translated with
    # the English-X FreeDict dictionaries found in `dictionaries` (Debian: dict-freedict-eng-nor)
    # and matched to cognates. A multilingual model covers them all: `model_languages=all`.
    model_languages: Annotated[list[str], NoDecode] = Field(
        default=["en"],
        description="Languages the embedding model understands (comma-separated ISO codes, or `all`).",
        json_schema_extra={"shown_default": "`en`"},
    )
    dictionaries: Path = Field(
        default=Path("/usr/share/dictd"),
        description="Folder of FreeDict `freedict-eng-*` dictionaries for cross-lingual search.",
    )
    translate: bool = Field(
        default=True, description="Translate questions' words with the dictionaries and cognates."
    )
    # 0.3 on the cross-lingual questions of the evaluation set (docs/evaluation.md): 0.4 and
    # 0.5 abstained on 17% and 28% of the answerable ones, against 7%.
    crosslingual_threshold: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Share of a question's words a passage in a language the model does not "
        "cover must match to be answered from.",
    )

    keep_versions: int = Field(default=3, ge=1, description="Index versions kept on disk after a write.")
    # Tiered merges (indexer/merge.py): this many segments of one order of magnitude of size
    # are merged into one, in the background; 10 is Lucene's default segments per tier.
    merge_factor: int = Field(
        default=10, ge=2, description="Segments of about the same size that are merged into one."
    )
    # One writer at a time per index directory, across processes (indexer/store.py:
    # writer_lock): a write waits this many seconds for another to finish, then fails saying who
    # holds the lock. A `newsqa index` of a large folder holds it while it embeds.
    lock_timeout: float = Field(
        default=60.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Seconds a writer waits for another process's write before failing.",
    )
    # The service swaps in a new index version within this many seconds of `current` moving
    # (after `newsqa index` from another process, say); 0 turns the polling off.
    reload_interval: float = Field(
        default=2.0,
        ge=0.0,
        allow_inf_nan=False,
        description="Seconds between checks for a new index version (0: off).",
    )

    # The request log (one JSON line per request) leaves questions and queries out unless this is on.
    log_queries: bool = Field(default=False, description="Put questions and queries in the request log.")

    # Access control (service/http/security.py). Write endpoints need `Authorization: Bearer
    # <admin_token>` and are disabled while it is unset; read endpoints need `api_token` when set.
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the write endpoints; unset, they answer 403.",
        json_schema_extra={"shown_default": "unset"},
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="When set, the read endpoints need it as a bearer token.",
        json_schema_extra={"shown_default": "unset"},
    )
    # Request bodies above this many bytes are refused with 413 (2 MiB holds a long article).
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1, description="Request bodies over this many bytes get a 413."
    )
    # Origins whose pages may call the API from a browser; none (CORS off) unless set.
    # NEWSQA_CORS_ORIGINS takes a JSON list or a comma-separated one.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Origins allowed to call the API from a browser (JSON list or comma-separated).",
        json_schema_extra={"shown_default": "none"},
    )

    # The API docs at /docs (Swagger UI) and /redoc, served from installed files; off hides them.
    docs: bool = Field(
        default=True, description="Serve the API docs at `/docs` and `/redoc` (from installed files)."
    )

    host: str = Field(default="127.0.0.1", description="Where `newsqa serve` listens.")
    port: int = Field(default=8000, ge=1, le=65535, description="The port `newsqa serve` listens on.")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("model_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return [code.strip().lower() for code in value.split(",") if code.strip()]
        return value

    def model_covers(self, language: str) -> bool:
        """Whether the embedding model understands text in `language`."""
        return "all" in self.model_languages or language in self.model_languages

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        return self


def configuration_table() -> str:
    """The README's table of settings, made from the fields' descriptions (a test checks that
    the README holds it as made, so a new setting cannot leave the README behind)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = str(field.default).lower() if isinstance(field.default, bool) else field.default
        default = extra.get("shown_default") or f"`{shown}`"
        rows.append(f"| `NEWSQA_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with the given non-None overrides on top.

    Raises ConfigError with a one-line message naming the bad value.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid setting: {problems}") from None
