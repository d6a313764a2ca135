"""Letta's `llm_config` and `embedding_config` objects, and our model handles
("provider/model"): read a handle out of what a Letta client sends, and show
an agent's model the way Letta's clients expect. The API and Agent File share
these."""

from __future__ import annotations

from typing import Any

from agents.errors import InvalidInput
from agents.models import Agent
from agents.providers.selectors import provider_in_scope, provider_named_for_user
from agents.providers.services import endpoint_check
from memory.llm.models_table import lookup_embedding_dim
from memory.llm.registry import PROVIDER_CLASSES, parse_handle
from memory.store.rows import context_window_for

# Our provider registry names → Letta's endpoint/provider type names.
ENDPOINT_TYPES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google_ai",
    "ollama": "ollama",
    "vllm": "vllm",
}


def endpoint_type(provider: str) -> str:
    return ENDPOINT_TYPES.get(provider, provider)


def handle_from_config(
    config: dict[str, Any] | None,
    *,
    model_key: str = "model",
    type_key: str = "model_endpoint_type",
) -> str | None:
    """A model handle from Letta's llm_config / embedding_config object."""
    if not config:
        return None
    if config.get("handle"):
        return str(config["handle"])
    model, kind = config.get(model_key), config.get(type_key)
    if model and kind:
        provider = {v: k for k, v in ENDPOINT_TYPES.items()}.get(kind, kind)
        return f"{provider}/{model}"
    return None


def check_handle(handle: str | None) -> str | None:
    """A model handle names a provider we have: 'openai/gpt-4o-mini'."""
    if not handle:
        return handle
    provider, _ = parse_handle(handle)  # ValueError says what a handle looks like
    if provider not in PROVIDER_CLASSES:
        raise ValueError(
            f"unknown provider {provider!r} in {handle!r}; known: {', '.join(sorted(PROVIDER_CLASSES))}"
        )
    return handle


def check_handle_shape(handle: str | None) -> str | None:
    """A model handle looks like 'provider/model'; which providers exist
    depends on the user's organization (BYOK), so check_model_handle follows."""
    if handle:
        parse_handle(handle)  # ValueError says what a handle looks like
    return handle


def check_model_handle(handle: str | None, user: Any = None) -> str | None:
    """A chat model handle names one of the server's providers, or one of the
    user's organization's own (/v1/providers): 'my-openai/gpt-4o-mini'."""
    if not handle:
        return handle
    try:
        provider, _ = parse_handle(handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if provider in PROVIDER_CLASSES:
        return handle
    if user is not None:
        if provider_named_for_user(user=user, name=provider) is not None:
            return handle
    raise InvalidInput(
        f"unknown provider {provider!r} in {handle!r}; known: {', '.join(sorted(PROVIDER_CLASSES))}, "
        "or a provider of your organization (/v1/providers)"
    )


def model_endpoint_from(config: dict[str, Any] | None) -> tuple[bool, str | None]:
    """(sent, value) of llm_config.model_endpoint: an agent's own base URL for
    its provider. A user-chosen URL, so it passes the SSRF guard here (400)
    and again before every request; null or "" clears it."""
    if not config or "model_endpoint" not in config:
        return False, None
    value = config["model_endpoint"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return True, None
    if not isinstance(value, str):
        raise InvalidInput("llm_config.model_endpoint must be a URL string.")

    return True, endpoint_check(value)


def valid_handle(handle: str | None) -> str | None:
    """check_handle for handles found inside llm_config / embedding_config."""
    try:
        return check_handle(handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


# Letta's llm_config / model_settings keys we keep, under our names.
LLM_SETTING_KEYS = {
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "max_output_tokens": "max_tokens",
    "enable_reasoner": "enable_reasoner",
    "reasoning_effort": "reasoning_effort",
    "max_reasoning_tokens": "max_reasoning_tokens",
    "parallel_tool_calls": "parallel_tool_calls",
    "context_window": "context_window",
}


def llm_settings(*sources: dict[str, Any] | None) -> dict[str, Any]:
    """Model settings gathered from Letta's several places for them; later sources win."""
    out: dict[str, Any] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if key in LLM_SETTING_KEYS and value is not None:
                out[LLM_SETTING_KEYS[key]] = value
    return out


def llm_config_of(agent: Agent) -> dict[str, Any]:
    provider, model = parse_handle(agent.model) if agent.model else ("", "")
    settings = {k: v for k, v in (agent.llm_config or {}).items() if k != "context_window"}
    kind, category = endpoint_type(provider) or "openai", "base"
    if provider and provider not in ENDPOINT_TYPES:
        row = provider_in_scope(
            organization_id=agent.organization_id, owner_id=agent.owner_id, name=provider
        )
        if row is not None:
            provider, kind, category = row.name, row.provider_type, "byok"
    return {
        **settings,
        "model": model,
        "model_endpoint_type": kind,
        "model_endpoint": settings.get("model_endpoint") or None,
        "provider_name": provider or None,
        "provider_category": category,
        "handle": agent.model or None,
        "context_window": context_window_for(agent),
    }


def embedding_config_of(handle: str) -> dict[str, Any] | None:
    if not handle:
        return None
    provider, model = parse_handle(handle)
    return {
        "embedding_endpoint_type": endpoint_type(provider),
        "embedding_model": model,
        "embedding_dim": lookup_embedding_dim(model) or 0,
        "handle": handle,
    }


def env_vars_of(agent: Agent) -> list[dict[str, Any]]:
    return [
        {"key": k, "value": str(v), "agent_id": agent.id}
        for k, v in (agent.tool_exec_environment_variables or {}).items()
    ]
