"""Which of Letta's provider types a bring-your-own-key provider may be, the
adapter (memory/llm) that speaks to each, and its public URL. Most hosted
services speak OpenAI's wire format and differ only in the URL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    adapter: str  # memory.llm.registry name
    default_url: str | None = None  # None: the adapter's own default
    needs_base_url: bool = False  # self-hosted servers have no public default


KINDS: dict[str, Kind] = {
    "openai": Kind("openai"),
    "anthropic": Kind("anthropic"),
    "google_ai": Kind("gemini"),
    # Self-hosted: the adapters' defaults (localhost) would point a user's
    # provider at the server's own machine.
    "ollama": Kind("ollama", needs_base_url=True),
    "vllm": Kind("vllm", needs_base_url=True),
    "lmstudio_openai": Kind("openai", needs_base_url=True),
    "sglang": Kind("openai", needs_base_url=True),
    # Hosted OpenAI-compatible services.
    "openrouter": Kind("openai", "https://openrouter.ai/api/v1"),
    "groq": Kind("openai", "https://api.groq.com/openai/v1"),
    "together": Kind("openai", "https://api.together.xyz/v1"),
    "deepseek": Kind("openai", "https://api.deepseek.com/v1"),
    "xai": Kind("openai", "https://api.x.ai/v1"),
    "fireworks": Kind("openai", "https://api.fireworks.ai/inference/v1"),
    "mistral": Kind("openai", "https://api.mistral.ai/v1"),
    "cerebras": Kind("openai", "https://api.cerebras.ai/v1"),
}

# Letta's clients send these as llm_config.model_endpoint by default: they mean
# "the provider's usual URL", not a server the user chose.
STANDARD_URLS: dict[str, tuple[str, ...]] = {
    "openai": ("https://api.openai.com/v1",),
    "anthropic": ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
    "gemini": (
        "https://generativelanguage.googleapis.com",
        "https://generativelanguage.googleapis.com/v1beta",
    ),
}


def supported_types() -> str:
    return ", ".join(sorted(KINDS))
