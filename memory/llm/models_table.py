"""Context windows and embedding sizes of well-known hosted models.

Used when a provider's model listing does not say (OpenAI's /models does not,
Anthropic's and Gemini's do only in part). Names match by longest prefix so
dated snapshots ("gpt-4o-2024-08-06", "claude-sonnet-4-5-20250929") resolve to
their family. Unknown models give None: the caller picks the default.
"""

from __future__ import annotations

import re

# Letta's LLM_MAX_CONTEXT_WINDOW: what it assumes for a model it knows nothing
# about. Callers that must produce a number (model listings) use it.
FALLBACK_CONTEXT_WINDOW = 30_000

CONTEXT_WINDOWS: dict[str, int] = {
    # OpenAI
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4.5": 128_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o3-pro": 200_000,
    "o4-mini": 200_000,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "gpt-5-chat": 128_000,
    "gpt-5.1": 400_000,
    "gpt-5.2": 400_000,
    # Anthropic (every current model: 200k; 1M for Sonnet 4/4.5 only behind a beta flag)
    "claude-": 200_000,
    "claude-2": 100_000,
    "claude-instant": 100_000,
    "claude-3-haiku": 200_000,
    "claude-3-opus": 200_000,
    "claude-3-sonnet": 200_000,
    "claude-3-5-haiku": 200_000,
    "claude-3-5-sonnet": 200_000,
    "claude-3-7-sonnet": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-opus-4": 200_000,
    "claude-haiku-4": 200_000,
    # Google
    "gemini-1.0-pro": 32_760,
    "gemini-1.5-flash": 1_048_576,
    "gemini-1.5-flash-8b": 1_048_576,
    "gemini-1.5-pro": 2_097_152,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.0-flash-lite": 1_048_576,
    "gemini-2.0-pro": 2_097_152,
    "gemini-2.5-pro": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
    "gemini-2.5-flash-lite": 1_048_576,
    "gemini-3-pro": 1_048_576,
    "gemini-3-flash": 1_048_576,
    "gemini-3": 1_048_576,
}

# Default output size of embedding models. Matryoshka models (OpenAI v3,
# gemini-embedding-001) can be asked for fewer dimensions; see MATRYOSHKA_DIMS.
EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "gemini-embedding": 3072,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "embedding-001": 768,
    "nomic-embed-text": 768,
    "all-minilm": 384,
    "all-minilm-l6-v2": 384,
    "universal-sentence-encoder-multilingual": 512,
    "mxbai-embed-large": 1024,
    "bge-m3": 1024,
    "bge-large": 1024,
    "bge-small": 384,
    "snowflake-arctic-embed": 1024,
    "letta-free": 1536,
}

# Sizes these models accept as `dimensions` / `output_dimensionality`.
MATRYOSHKA_DIMS: dict[str, tuple[int, ...]] = {
    "text-embedding-3-small": (512, 1536),
    "text-embedding-3-large": (256, 1024, 3072),
    "gemini-embedding-001": (768, 1536, 3072),
}


def _normalise(model: str) -> str:
    name = model.strip().lower()
    # "models/gemini-2.5-flash" (Gemini), "openai/gpt-4o" (OpenRouter and our handles)
    name = name.rsplit("/", 1)[-1]
    # "nomic-embed-text:latest" (Ollama tags)
    name = name.split(":", 1)[0]
    # OpenRouter spells Claude versions with dots: "claude-3.5-sonnet"
    if name.startswith("claude"):
        name = re.sub(r"(\d)\.(\d)", r"\1-\2", name)
    return name


def _longest_prefix(name: str, table: dict[str, int]) -> int | None:
    best: str | None = None
    for prefix in table:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return table[best] if best is not None else None


def lookup_context_window(model: str) -> int | None:
    """Context window of a well-known model, or None."""
    return _longest_prefix(_normalise(model), CONTEXT_WINDOWS)


def context_window_or_default(model: str, known: int | None = None) -> int:
    """`known` (from a provider listing) if given, else the table, else the
    fallback."""
    if known:
        return known
    return lookup_context_window(model) or FALLBACK_CONTEXT_WINDOW


def lookup_embedding_dim(model: str) -> int | None:
    """Default embedding size of a well-known embedding model, or None."""
    return _longest_prefix(_normalise(model), EMBEDDING_DIMS)


def is_embedding_model_name(model: str) -> bool:
    """Heuristic for listings that do not say what a model is for."""
    name = _normalise(model)
    return lookup_embedding_dim(name) is not None or "embed" in name
