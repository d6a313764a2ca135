"""The models a person can pick for an agent: every configured server
provider's (from the environment) and their team's own (bring-your-own-key),
with the default a new agent gets.

Asking providers for their models takes a moment and a local server may be
down, so the server's list is cached a minute per configuration and asked
with a short timeout; a provider that fails is reported beside the list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from agents.models import User
from agents.providers.selectors import models_for_user, team_providers
from memory.llm.registry import PROVIDER_CLASSES, configured_provider_names, list_all_models
from memory.services.providers import provider_config

LISTING_TIMEOUT_S = 5.0
CACHE_SECONDS = 60
# Sensible first choices when the server names no default: small, cheap, able
# to call tools. The first one a provider offers wins; else the first listed.
PREFERRED_LLM = (
    "openai/gpt-4o-mini",
    "openai/gpt-4.1-mini",
    "anthropic/claude-haiku-4-5",
    "anthropic/claude-3-5-haiku-latest",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-flash",
)
PREFERRED_EMBEDDING = (
    "openai/text-embedding-3-small",
    "gemini/gemini-embedding-001",
    "gemini/text-embedding-004",
)


@dataclass
class ModelCatalog:
    llm: list[str] = field(default_factory=list)
    embedding: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # provider -> why it could not list
    server_providers: list[str] = field(default_factory=list)  # configured from the environment
    team_providers: list[str] = field(default_factory=list)  # the team's own (BYOK)
    default_llm: str = ""
    default_embedding: str = ""

    @property
    def configured(self) -> bool:
        """Whether any provider could serve an agent."""
        return bool(self.server_providers or self.team_providers)

    def groups(self, kind: str) -> list[tuple[str, list[str]]]:
        """Handles grouped by provider, for a picker's option groups."""
        out: dict[str, list[str]] = {}
        for handle in self.llm if kind == "llm" else self.embedding:
            out.setdefault(handle.split("/", 1)[0], []).append(handle)
        return list(out.items())


def _server_models() -> tuple[list[str], list[str], dict[str, str], list[str]]:
    config = provider_config()
    configured = configured_provider_names(config)
    if not configured:
        return [], [], {}, []
    key = "ade:model-catalog:" + hashlib.sha256(repr(config).encode()).hexdigest()[:16]
    cached = cache.get(key)
    if cached is not None:
        return cached
    config.timeout = LISTING_TIMEOUT_S
    try:
        models, errors = list_all_models(config)
    except Exception as exc:  # noqa: BLE001 - a picker without suggestions still works
        models, errors = [], {"providers": exc}
    # The server's providers in the registry's order (OpenAI first), models by name.
    rank = {name: i for i, name in enumerate(PROVIDER_CLASSES)}

    def ordered(kind: str) -> list[str]:
        handles = {m.handle for m in models if m.kind == kind}
        return sorted(handles, key=lambda h: (rank.get(h.split("/", 1)[0], len(rank)), h))

    result = (
        ordered("llm"),
        ordered("embedding"),
        {name: getattr(err, "message", str(err)) for name, err in errors.items()},
        configured,
    )
    cache.set(key, result, CACHE_SECONDS)
    return result


def _first(handles: list[str], preferred: tuple[str, ...]) -> str:
    for handle in preferred:
        if handle in handles:
            return handle
    return handles[0] if handles else ""


def model_catalog(user: User, *, list_models: bool = True) -> ModelCatalog:
    """`list_models=False` only says which providers are configured (no
    request to any provider), for pages that just need to know."""
    if list_models:
        llm, embedding, errors, server = _server_models()
    else:
        config = provider_config()
        llm, embedding, errors = [], [], {}
        server = configured_provider_names(config)
    team_llm = [m["handle"] for m in models_for_user(user=user, kind="llm")]
    # Embeddings go through the server's providers only (memory/llm/embeddings.py
    # has no bring-your-own-key path yet), so a team's embedding models are not offered.
    catalog = ModelCatalog(
        llm=llm + sorted(team_llm),
        embedding=embedding,
        errors=errors,
        server_providers=server,
        team_providers=list(team_providers(user=user).values_list("name", flat=True)),
    )
    catalog.default_llm = settings.DEFAULT_LLM_HANDLE or _first(catalog.llm, PREFERRED_LLM)
    catalog.default_embedding = settings.DEFAULT_EMBEDDING_HANDLE or _first(
        catalog.embedding, PREFERRED_EMBEDDING
    )
    return catalog
