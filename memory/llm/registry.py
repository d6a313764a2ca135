"""Which providers are configured, and how handles map to them.

Configuration comes from Letta's environment variable names so an existing
Letta `.env` works unchanged. Adapters are imported lazily: a deployment
without, say, google-genai installed still runs its other providers.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from memory.llm.base import ModelInfo, Provider
from memory.llm.errors import ProviderError

PROVIDER_CLASSES: dict[str, str | type[Provider]] = {
    "openai": "memory.llm.openai.OpenAIProvider",
    "anthropic": "memory.llm.anthropic.AnthropicProvider",
    "gemini": "memory.llm.gemini.GeminiProvider",
    "ollama": "memory.llm.ollama.OllamaProvider",
    "vllm": "memory.llm.vllm.VLLMProvider",
}

# Letta's handle prefixes that name one of our providers differently.
HANDLE_ALIASES: dict[str, str] = {
    "google_ai": "gemini",
    "openai-proxy": "openai",
}

# The variable that switches each provider on (named in not_configured errors).
PROVIDER_ENV_VARS: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "ollama": "OLLAMA_BASE_URL",
    "vllm": "VLLM_API_BASE",
}


@dataclass
class ProviderConfig:
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    gemini_api_key: str | None = None
    gemini_base_url: str | None = None
    ollama_base_url: str | None = None
    vllm_api_base: str | None = None
    timeout: float = 120.0  # seconds per provider request

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProviderConfig:
        env = os.environ if environ is None else environ

        def get(*names: str) -> str | None:
            for name in names:
                value = (env.get(name) or "").strip()
                if value:
                    return value
            return None

        return cls(
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=get("OPENAI_BASE_URL", "OPENAI_API_BASE"),
            anthropic_api_key=get("ANTHROPIC_API_KEY"),
            anthropic_base_url=get("ANTHROPIC_BASE_URL"),
            gemini_api_key=get("GEMINI_API_KEY"),
            gemini_base_url=get("GEMINI_BASE_URL"),
            ollama_base_url=get("OLLAMA_BASE_URL"),
            vllm_api_base=get("VLLM_API_BASE"),
        )

    def is_configured(self, name: str) -> bool:
        name = canonical_provider(name)
        if name == "openai":
            # A base URL alone is enough: LM Studio and other local
            # OpenAI-compatible servers need no key.
            return bool(self.openai_api_key or self.openai_base_url)
        if name == "anthropic":
            return bool(self.anthropic_api_key)
        if name == "gemini":
            return bool(self.gemini_api_key)
        if name == "ollama":
            return bool(self.ollama_base_url)
        if name == "vllm":
            return bool(self.vllm_api_base)
        return False

    def connection(self, name: str) -> tuple[str | None, str | None]:
        """(base_url, api_key) for a provider."""
        name = canonical_provider(name)
        return {
            "openai": (self.openai_base_url, self.openai_api_key),
            "anthropic": (self.anthropic_base_url, self.anthropic_api_key),
            "gemini": (self.gemini_base_url, self.gemini_api_key),
            "ollama": (self.ollama_base_url, None),
            "vllm": (self.vllm_api_base, None),
        }.get(name, (None, None))


def canonical_provider(name: str) -> str:
    name = name.strip().lower()
    return HANDLE_ALIASES.get(name, name)


def parse_handle(handle: str) -> tuple[str, str]:
    """'openai/gpt-4o-mini' → ('openai', 'gpt-4o-mini'). The model part may
    itself contain '/' (OpenRouter: 'openai-proxy/meta-llama/llama-3-70b')."""
    if not isinstance(handle, str) or "/" not in handle:
        raise ValueError(
            f"model handle {handle!r} must look like 'provider/model', e.g. 'openai/gpt-4o-mini'"
        )
    provider, model = handle.split("/", 1)
    provider, model = provider.strip(), model.strip()
    if not provider or not model:
        raise ValueError(
            f"model handle {handle!r} must name both a provider and a model, "
            "e.g. 'anthropic/claude-sonnet-4-5'"
        )
    return canonical_provider(provider), model


def provider_class(name: str) -> type[Provider]:
    entry = PROVIDER_CLASSES[canonical_provider(name)]
    if isinstance(entry, str):
        module_name, _, class_name = entry.rpartition(".")
        entry = getattr(importlib.import_module(module_name), class_name)
        assert isinstance(entry, type)
    return entry


def get_provider(config: ProviderConfig, name: str) -> Provider:
    canonical = canonical_provider(name)
    if canonical not in PROVIDER_CLASSES:
        known = ", ".join(sorted(PROVIDER_CLASSES))
        raise ProviderError(
            f"unknown provider {name!r} (known: {known})",
            retryable=False,
            kind="not_configured",
            provider=canonical,
        )
    if not config.is_configured(canonical):
        var = PROVIDER_ENV_VARS[canonical]
        raise ProviderError(
            f"{var} is not set: configure it to use the {canonical} provider",
            retryable=False,
            kind="not_configured",
            provider=canonical,
        )
    base_url, api_key = config.connection(canonical)
    return cached_provider(canonical, base_url=base_url, api_key=api_key, timeout=config.timeout)


# Building an SDK client costs milliseconds (an SSL context, an HTTP pool) and
# its pool keeps connections warm, so one provider per connection setting is
# shared by every request and thread (the SDK clients are thread-safe). It is
# rebuilt after a while so what it learnt from the server (a self-hosted
# model's window, a listing that failed) is asked again. BYOK providers and
# agents' own endpoints (memory/services/providers.py) share this cache.
_PROVIDER_CACHE: OrderedDict[tuple[Any, ...], tuple[Provider, float]] = OrderedDict()
_PROVIDER_CACHE_SIZE = 128
_PROVIDER_TTL_SECONDS = 300.0
_provider_cache_lock = threading.Lock()


def provider_cached(key: tuple[Any, ...], build: Callable[[], Provider]) -> Provider:
    """The provider cached under `key`, built (once per TTL) by `build`."""
    now = time.monotonic()
    with _provider_cache_lock:
        entry = _PROVIDER_CACHE.get(key)
        if entry is not None and now - entry[1] < _PROVIDER_TTL_SECONDS:
            _PROVIDER_CACHE.move_to_end(key)
            return entry[0]
    provider = build()
    with _provider_cache_lock:
        _PROVIDER_CACHE[key] = (provider, now)
        _PROVIDER_CACHE.move_to_end(key)
        while len(_PROVIDER_CACHE) > _PROVIDER_CACHE_SIZE:
            _PROVIDER_CACHE.popitem(last=False)
    return provider


def cached_provider(
    name: str, *, base_url: str | None, api_key: str | None, timeout: float
) -> Provider:
    """The provider for these connection settings, built once (per TTL)."""
    return provider_cached(
        (name, base_url, api_key, timeout),
        lambda: provider_class(name)(base_url=base_url, api_key=api_key, timeout=timeout),
    )


def provider_for_handle(config: ProviderConfig, handle: str) -> tuple[Provider, str]:
    """The provider serving a handle, and the model name to send it."""
    name, model = parse_handle(handle)
    return get_provider(config, name), model


def configured_provider_names(config: ProviderConfig) -> list[str]:
    """The server's providers this configuration switches on, in the registry's order."""
    return [name for name in PROVIDER_CLASSES if config.is_configured(name)]


def configured_providers(config: ProviderConfig) -> dict[str, Provider]:
    return {name: get_provider(config, name) for name in configured_provider_names(config)}


def list_all_models(config: ProviderConfig) -> tuple[list[ModelInfo], dict[str, ProviderError]]:
    """Every configured provider's models. A provider that fails (down,
    bad key) is left out and its error returned beside the list, so one dead
    local server does not hide the others. Providers are asked in parallel:
    the slowest one sets the wait, not their sum."""
    providers = configured_providers(config)
    models: list[ModelInfo] = []
    errors: dict[str, ProviderError] = {}
    if not providers:
        return models, errors

    def fetch(item: tuple[str, Provider]) -> tuple[str, list[ModelInfo] | ProviderError]:
        name, provider = item
        try:
            return name, provider.list_models()
        except ProviderError as exc:
            return name, exc
        except Exception as exc:  # noqa: BLE001 - a listing bug must not break the others
            return name, ProviderError(
                f"{type(exc).__name__}: {exc}",
                retryable=False,
                kind="invalid_response",
                provider=name,
            )

    with ThreadPoolExecutor(max_workers=len(providers)) as pool:
        for name, result in pool.map(fetch, providers.items()):
            if isinstance(result, ProviderError):
                errors[name] = result
            else:
                models.extend(result)
    return models, errors
