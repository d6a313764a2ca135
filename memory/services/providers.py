"""The Provider object an agent's turn talks to, with the endpoint rules
applied: the server's own providers as configured, an organization's BYOK
providers, and an agent's own `llm_config.model_endpoint`.

A user-chosen URL (model_endpoint, a BYOK base_url) goes through the SSRF
guard (memory/llm/endpoint_guard.py) when it is set and before every request.
A stored key is sent only to the URL it was stored for: an agent's
model_endpoint, which any team member may edit, is called without the
server's or the organization's key, so no setting on an agent can carry a key
to another host. Use a BYOK provider with its own base_url to send a key.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings

from agents.providers.crypto import SecretUnreadable, decrypt
from agents.providers.kinds import KINDS, STANDARD_URLS
from agents.providers.selectors import provider_in_scope
from memory.llm.base import Provider
from memory.llm.embeddings import Embed, Embedder, get_embedder
from memory.llm.endpoint_guard import (
    EndpointPolicy,
    EndpointRefused,
    guarded_provider,
    normalize_url,
)
from memory.llm.errors import ProviderError
from memory.llm.models_table import lookup_context_window
from memory.llm.registry import (
    PROVIDER_CLASSES,
    ProviderConfig,
    canonical_provider,
    get_provider,
    parse_handle,
    provider_cached,
    provider_class,
)


def provider_config() -> ProviderConfig:
    """The server's own providers, from settings (so OPENAI_API_KEY_FILE and
    the other NAME_FILE secrets work like every other setting)."""
    config = ProviderConfig.from_env(settings.PROVIDER_ENV)
    config.timeout = settings.LLM_TIMEOUT
    return config


def resolve_context_window(handle: str) -> int:
    """The model's real window: asked of the provider where it can tell (Ollama
    /api/show, vLLM max_model_len), else our table of hosted models, else the
    default — capped by GLOBAL_MAX_CONTEXT_WINDOW_LIMIT. Letta guesses 30k for
    every unknown model (#3197)."""
    window: int | None = None
    if handle:
        provider_name, model = parse_handle(handle)
        try:
            window = get_provider(provider_config(), provider_name).context_window(model)
        except (ProviderError, OSError):
            window = None
        window = window or lookup_context_window(model)
    return min(window or settings.DEFAULT_CONTEXT_WINDOW, settings.GLOBAL_MAX_CONTEXT_WINDOW_LIMIT)


# Building an embedder builds its SDK client (an SSL context, a connection
# pool) or, for the offline model, loads its weights: one per handle and
# configuration serves every turn, search and insert, rebuilt after a while
# like the chat providers (memory/llm/registry.py).
_EMBEDDER_TTL_S = 300.0
_EMBEDDERS_MAX = 64
_embedders: dict[tuple[str, str], tuple[Embedder, float]] = {}
_embedders_lock = threading.Lock()


def embedder_for(handle: str) -> Embed | None:
    """The embedding function of a `provider/model` handle, or None without one;
    ProviderError when its provider is not configured."""
    if not handle:
        return None
    config = provider_config()
    key = (handle, repr(config))
    now = time.monotonic()
    with _embedders_lock:
        cached = _embedders.get(key)
        if cached is not None and now - cached[1] < _EMBEDDER_TTL_S:
            return cached[0].embed
    embedder = get_embedder(config, handle)
    with _embedders_lock:
        _embedders[key] = (embedder, now)
        while len(_embedders) > _EMBEDDERS_MAX:
            _embedders.pop(next(iter(_embedders)))
    return embedder.embed


@lru_cache(maxsize=8)
def _policy(allowed: str, allow_private: bool, trusted: tuple[str, ...]) -> EndpointPolicy:
    return EndpointPolicy.parse(allowed, allow_private=allow_private, trusted_urls=trusted)


def endpoint_policy(config: Any = None) -> EndpointPolicy:
    """The admin's rules, plus the URLs the server is configured with anyway
    (OPENAI_BASE_URL, OLLAMA_BASE_URL, ...): pointing an agent there reaches
    nothing new."""
    config = config or provider_config()
    trusted = (
        config.openai_base_url,
        config.anthropic_base_url,
        config.gemini_base_url,
        config.ollama_base_url,
        config.vllm_api_base,
        # Well-known public URLs need no DNS lookup to be judged.
        *(url for urls in STANDARD_URLS.values() for url in urls),
        *(kind.default_url for kind in KINDS.values() if kind.default_url),
    )
    return _policy(
        settings.ALLOWED_MODEL_ENDPOINTS or "",
        bool(settings.ALLOW_PRIVATE_MODEL_ENDPOINTS),
        tuple(sorted(u for u in trusted if u)),
    )


def _cached(key: tuple[Any, ...], build: Any) -> Provider:
    """One provider object per (provider row and version, URL, key use), in the
    registry's shared client cache."""
    return provider_cached(key, build)


def _refused(exc: EndpointRefused, name: str) -> ProviderError:
    return ProviderError(str(exc), retryable=False, kind="bad_request", provider=name)


def _at_endpoint(
    adapter: str,
    url: str,
    *,
    api_key: str | None,
    label: str,
    timeout: float,
    policy: EndpointPolicy,
    cache_key: tuple[Any, ...],
) -> Provider:
    try:
        return _cached(
            (*cache_key, url, policy, timeout),
            lambda: guarded_provider(
                provider_class(adapter), policy, base_url=url, api_key=api_key, timeout=timeout
            ),
        )
    except EndpointRefused as exc:
        raise _refused(exc, label) from None


def _own_urls(adapter: str, base_url: str | None) -> set[str]:
    urls = {normalize_url(u) for u in STANDARD_URLS.get(adapter, ())}
    if base_url:
        urls.add(normalize_url(base_url))
    return urls


def agent_provider(agent: Any, name: str) -> Provider:
    """The provider serving `name` (a handle prefix) for `agent`; ProviderError
    when there is none or its endpoint is refused."""
    config = provider_config()
    endpoint = (agent.llm_config or {}).get("model_endpoint") or None
    name = canonical_provider(name)
    if name in PROVIDER_CLASSES:
        if not endpoint:
            return get_provider(config, name)
        own: set[str] = set()
        if config.is_configured(name):
            own = _own_urls(name, get_provider(config, name).base_url)
            own |= _own_urls(name, config.connection(name)[0])
        if normalize_url(endpoint) in own | _own_urls(name, None):
            return get_provider(config, name)
        return _at_endpoint(
            name,
            endpoint,
            api_key=None,
            label=name,
            timeout=config.timeout,
            policy=endpoint_policy(config),
            cache_key=("endpoint", name),
        )
    row = provider_in_scope(
        organization_id=agent.organization_id, owner_id=agent.owner_id, name=name
    )
    if row is None:
        raise ProviderError(
            f"unknown provider {name!r}: neither one of the server's providers nor a provider "
            "of this agent's organization (see /v1/providers)",
            retryable=False,
            kind="not_configured",
            provider=name,
        )
    return byok_provider(
        row, endpoint=endpoint, timeout=config.timeout, policy=endpoint_policy(config)
    )


def build_provider(
    provider_type: str,
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    policy: EndpointPolicy,
) -> Provider:
    """A provider object for these credentials, uncached (checks, refreshes).
    EndpointRefused when base_url is not allowed."""
    kind = KINDS[provider_type]
    cls = provider_class(kind.adapter)
    url = base_url or kind.default_url
    if url is None:
        # The adapter's public default (api.openai.com, ...): nothing to guard.
        return cls(base_url=None, api_key=api_key, timeout=timeout)
    return guarded_provider(cls, policy, base_url=url, api_key=api_key, timeout=timeout)


def byok_provider(
    row: Any,
    *,
    endpoint: str | None = None,
    timeout: float | None = None,
    policy: EndpointPolicy | None = None,
) -> Provider:
    """The provider object for a stored BYOK provider, cached per row version
    (optionally at an agent's own endpoint, then without the stored key)."""
    kind = KINDS.get(row.provider_type)
    if kind is None:
        raise ProviderError(
            f"provider type {row.provider_type!r} is not supported here",
            retryable=False,
            kind="not_configured",
            provider=row.name,
        )
    timeout = timeout if timeout is not None else float(settings.LLM_TIMEOUT)
    policy = policy or endpoint_policy()
    version = ("byok", row.id, row.updated_at)
    if endpoint and normalize_url(endpoint) not in _own_urls(
        kind.adapter, row.base_url or kind.default_url
    ):
        return _at_endpoint(
            kind.adapter,
            endpoint,
            api_key=None,
            label=row.name,
            timeout=timeout,
            policy=policy,
            cache_key=(*version, "agent-endpoint"),
        )

    def build() -> Provider:
        return build_provider(
            row.provider_type,
            api_key=decrypt(row.api_key_enc) or None,
            base_url=row.base_url or None,
            timeout=timeout,
            policy=policy,
        )

    try:
        return _cached((*version, policy, timeout), build)
    except SecretUnreadable as exc:
        raise ProviderError(
            f"provider {row.name!r}: {exc}",
            retryable=False,
            kind="not_configured",
            provider=row.name,
        ) from None
    except EndpointRefused as exc:
        raise _refused(exc, row.name) from None
