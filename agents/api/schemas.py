"""Request and response shapes of the agents, tools and models routes, in
Letta's field names so Letta's clients read them unchanged.

Inputs ignore fields we do not support (Letta's cloud-only knobs such as
project_id or template_id), as Letta's own server ignores unset ones.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from agents.models import Agent, Tool

# Letta's tool field `json_schema` shadows ninja's (deprecated) Schema.json_schema
# classmethod; nothing here calls that method, so the name stays as Letta has it.
warnings.filterwarnings("ignore", message='Field name "json_schema"', category=UserWarning)

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
    from memory.llm.registry import PROVIDER_CLASSES, parse_handle

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
    from memory.llm.registry import parse_handle

    if handle:
        parse_handle(handle)  # ValueError says what a handle looks like
    return handle


def check_model_handle(handle: str | None, user: Any = None) -> str | None:
    """A chat model handle names one of the server's providers, or one of the
    user's organization's own (/v1/providers): 'my-openai/gpt-4o-mini'."""
    from agents.errors import InvalidInput
    from memory.llm.registry import PROVIDER_CLASSES, parse_handle

    if not handle:
        return handle
    try:
        provider, _ = parse_handle(handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if provider in PROVIDER_CLASSES:
        return handle
    if user is not None:
        from agents.providers.selectors import provider_named_for_user

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
    from agents.errors import InvalidInput

    if not config or "model_endpoint" not in config:
        return False, None
    value = config["model_endpoint"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return True, None
    if not isinstance(value, str):
        raise InvalidInput("llm_config.model_endpoint must be a URL string.")
    from agents.providers.services import endpoint_check

    return True, endpoint_check(value)


def valid_handle(handle: str | None) -> str | None:
    """check_handle for handles found inside llm_config / embedding_config."""
    from agents.errors import InvalidInput

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
    from memory.llm.registry import parse_handle
    from memory.store.turn_store import context_window_for

    provider, model = parse_handle(agent.model) if agent.model else ("", "")
    settings = {k: v for k, v in (agent.llm_config or {}).items() if k != "context_window"}
    kind, category = endpoint_type(provider) or "openai", "base"
    if provider and provider not in ENDPOINT_TYPES:
        from agents.providers.selectors import provider_in_scope

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
    from memory.llm.models_table import lookup_embedding_dim
    from memory.llm.registry import parse_handle

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


# --- tools ----------------------------------------------------------------------------------


class ToolOut(Schema):
    id: str
    name: str
    description: str | None = None
    tool_type: str
    source_type: str | None = None
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int
    pip_requirements: list[Any] | None = None
    tags: list[str]
    metadata_: dict[str, Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None
    created_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @staticmethod
    def resolve_metadata_(obj: Tool) -> dict[str, Any]:
        return obj.metadata or {}


class ToolIn(Schema):
    """Letta's ToolCreate: the schema comes from the source unless json_schema is given."""

    source_code: str = Field(min_length=1)
    description: str | None = None
    tags: list[str] | None = None
    source_type: str = "python"
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int | None = None
    pip_requirements: list[Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None


class ToolPatch(Schema):
    description: str | None = None
    tags: list[str] | None = None
    source_code: str | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int | None = None
    pip_requirements: list[Any] | None = None
    metadata_: dict[str, Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None


class ToolRunIn(Schema):
    """Letta's ToolRunFromSource (the tool tester)."""

    source_code: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    env_vars: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None


class AgentToolRunIn(Schema):
    args: dict[str, Any] = Field(default_factory=dict)


class ToolExecutionOut(Schema):
    status: str
    func_return: Any = None
    stdout: list[str] | None = None
    stderr: list[str] | None = None
    agent_state: dict[str, Any] | None = None


class ApprovalIn(Schema):
    # Letta's clients send it in the body or as a query parameter.
    requires_approval: bool | None = None


# --- agents ---------------------------------------------------------------------------------


class CreateBlockIn(Schema):
    label: str
    value: str = ""
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


class AgentIn(Schema):
    """Letta's CreateAgent."""

    name: str | None = None
    agent_type: str | None = None
    system: str | None = None
    description: str | None = None
    memory_blocks: list[CreateBlockIn] | None = None
    block_ids: list[str] | None = None
    tools: list[str] | None = None
    tool_ids: list[str] | None = None
    include_base_tools: bool = True
    tool_rules: list[dict[str, Any]] | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    model: str | None = None
    embedding: str | None = None
    llm_config: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: int | None = None
    max_tokens: int | None = None
    enable_reasoner: bool | None = None
    reasoning: bool | None = None
    max_reasoning_tokens: int | None = None
    parallel_tool_calls: bool | None = None
    timezone: str | None = None
    tool_exec_environment_variables: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    message_buffer_autoclear: bool | None = None

    @field_validator("model")
    @classmethod
    def handle_shape(cls, value: str | None) -> str | None:
        return check_handle_shape(value)

    @field_validator("embedding")
    @classmethod
    def known_provider(cls, value: str | None) -> str | None:
        return check_handle(value)

    def create_kwargs(self, user: Any = None) -> dict[str, Any]:
        """agent_create's arguments from Letta's CreateAgent; `user`'s
        organization's providers count as known."""
        from django.conf import settings

        model = self.model or handle_from_config(self.llm_config)
        embedding = self.embedding or handle_from_config(
            self.embedding_config, model_key="embedding_model", type_key="embedding_endpoint_type"
        )
        check_model_handle(model, user)
        valid_handle(embedding)
        top = {
            "max_tokens": self.max_tokens,
            "enable_reasoner": self.enable_reasoner or self.reasoning,
            "max_reasoning_tokens": self.max_reasoning_tokens,
            "parallel_tool_calls": self.parallel_tool_calls,
        }
        kwargs: dict[str, Any] = {
            "name": self.name or "",
            "model": model or "",
            "embedding": embedding if embedding is not None else settings.DEFAULT_EMBEDDING_HANDLE,
            "system": self.system,
            "description": self.description or "",
            "memory_blocks": [b.model_dump() for b in self.memory_blocks or []],
            "block_ids": self.block_ids or [],
            "tools": self.tools or [],
            "tool_ids": self.tool_ids or [],
            "include_base_tools": self.include_base_tools,
            "tool_rules": self.tool_rules or [],
            "context_window_limit": self.context_window_limit,
            "llm_config": llm_settings(self.llm_config, self.model_settings, top),
            "tags": self.tags or [],
            "timezone_name": self.timezone or "UTC",
            "metadata": self.metadata or {},
            "tool_env": self.tool_exec_environment_variables or self.secrets or {},
        }
        _, endpoint = model_endpoint_from(self.llm_config)
        if endpoint:
            kwargs["llm_config"]["model_endpoint"] = endpoint
        if self.agent_type:
            kwargs["agent_type"] = self.agent_type
        return kwargs


class AgentPatch(Schema):
    """Letta's UpdateAgent: only the fields sent are changed."""

    name: str | None = None
    description: str | None = None
    system: str | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    model: str | None = None
    embedding: str | None = None
    llm_config: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: int | None = None
    max_tokens: int | None = None
    parallel_tool_calls: bool | None = None
    tool_rules: list[dict[str, Any]] | None = None
    timezone: str | None = None
    message_buffer_autoclear: bool | None = None
    tool_exec_environment_variables: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    tool_ids: list[str] | None = None
    block_ids: list[str] | None = None
    message_ids: list[str] | None = None
    compaction_settings: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None

    @field_validator("model")
    @classmethod
    def handle_shape(cls, value: str | None) -> str | None:
        return check_handle_shape(value)

    @field_validator("embedding")
    @classmethod
    def known_provider(cls, value: str | None) -> str | None:
        return check_handle(value)

    def update_kwargs(self, user: Any = None) -> dict[str, Any]:
        """agent_update's arguments: only what was sent, in our names; `user`'s
        organization's providers count as known."""
        sent = self.model_dump(exclude_unset=True)
        if sent.get("model"):
            check_model_handle(sent["model"], user)
        settings_sources = [
            sent.pop("llm_config", None),
            sent.pop("model_settings", None),
            {
                "max_tokens": sent.pop("max_tokens", None),
                "parallel_tool_calls": sent.pop("parallel_tool_calls", None),
            },
        ]
        merged = llm_settings(*settings_sources)
        endpoint_sent, endpoint = model_endpoint_from(self.llm_config)
        if endpoint_sent:
            merged["model_endpoint"] = endpoint  # None clears it
        if merged:
            sent["llm_config"] = merged
        config = self.llm_config or {}
        if "model" not in sent and handle_from_config(config) and config.get("handle"):
            sent["model"] = check_model_handle(config["handle"], user)
        embedding_config = sent.pop("embedding_config", None)
        if "embedding" not in sent and embedding_config:
            sent["embedding"] = valid_handle(
                handle_from_config(
                    embedding_config,
                    model_key="embedding_model",
                    type_key="embedding_endpoint_type",
                )
            )
        secrets = sent.pop("secrets", None)
        if secrets is not None and "tool_exec_environment_variables" not in sent:
            sent["tool_exec_environment_variables"] = secrets
        return sent


class BlockOut(Schema):
    id: str
    label: str
    value: str
    limit: int
    description: str | None = None
    read_only: bool
    metadata: dict[str, Any]
    tags: list[str]
    is_template: bool
    hidden: bool | None = None
    created_by_id: str | None = None
    version: int | None = None


class AgentOut(Schema):
    """Letta's AgentState."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    agent_type: str
    system: str
    description: str | None = None
    tags: list[str]
    metadata: dict[str, Any]
    model: str | None = None
    embedding: str | None = None
    llm_config: dict[str, Any]
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    memory: dict[str, Any]
    blocks: list[BlockOut]
    tools: list[ToolOut]
    sources: list[Any]
    tool_rules: list[dict[str, Any]]
    message_ids: list[str]
    timezone: str
    message_buffer_autoclear: bool
    tool_exec_environment_variables: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    pending_approval: dict[str, Any] | None = None
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: str | None = None
    created_by_id: str | None = None
    created_at: datetime
    updated_at: datetime


class ImportOut(Schema):
    agent_ids: list[str]


# --- models ---------------------------------------------------------------------------------


class ModelOut(Schema):
    model_config = ConfigDict(extra="allow")

    handle: str
    name: str
    display_name: str
    model: str
    model_type: str = "llm"
    model_endpoint_type: str
    provider_name: str
    provider_type: str
    context_window: int
    max_context_window: int


class EmbeddingModelOut(Schema):
    model_config = ConfigDict(extra="allow")

    handle: str
    name: str
    display_name: str
    embedding_model: str
    embedding_endpoint_type: str
    embedding_dim: int
    model_type: str = "embedding"
    provider_name: str
    provider_type: str


class HealthOut(Schema):
    version: str
    status: str


# --- presenting an agent ----------------------------------------------------------------------


def block_out(block: Any, label: str | None = None) -> dict[str, Any]:
    return {
        "id": block.id,
        "label": label or block.label,
        "value": block.value,
        "limit": block.limit,
        "description": block.description,
        "read_only": block.read_only,
        "metadata": block.metadata or {},
        "tags": block.tags or [],
        "is_template": block.is_template,
        "hidden": None,
        "created_by_id": block.owner_id,
        "version": block.version,
    }


def _pending_approval(agent: Agent) -> dict[str, Any] | None:
    """The approval request the agent waits on, if its last turn stopped for one."""
    if agent.last_stop_reason != "requires_approval" or not agent.message_ids:
        return None
    from memory import models as m
    from memory.engine.types import AgentType
    from memory.store.letta_format import to_letta
    from memory.store.turn_store import message_from_row

    rows = m.Message.objects.filter(pk__in=agent.message_ids[-5:], role="assistant").order_by(
        "-sequence_id"
    )
    for row in rows:
        if row.meta.get("approval_pending"):
            items = to_letta(message_from_row(row), AgentType(agent.agent_type))
            return next((i for i in items if i["message_type"] == "approval_request_message"), None)
    return None


def agent_out(agent: Agent) -> dict[str, Any]:
    from memory import models as m

    links = (
        m.AgentBlock.objects.filter(agent=agent).select_related("block").order_by("position", "id")
    )
    blocks = [block_out(link.block, link.label) for link in links]
    env = env_vars_of(agent)
    return {
        "id": agent.id,
        "name": agent.name,
        "agent_type": agent.agent_type,
        "system": agent.system,
        "description": agent.description,
        "tags": agent.tags or [],
        "metadata": agent.metadata or {},
        "model": agent.model or None,
        "embedding": agent.embedding or None,
        "llm_config": llm_config_of(agent),
        "embedding_config": embedding_config_of(agent.embedding),
        "context_window_limit": agent.context_window_limit,
        "memory": {
            "agent_type": agent.agent_type,
            "blocks": blocks,
            "file_blocks": [],
            "prompt_template": None,
        },
        "blocks": blocks,
        "tools": list(agent.tools.all().order_by("name")),
        "sources": [],
        "tool_rules": agent.tool_rules or [],
        "message_ids": agent.message_ids or [],
        "timezone": agent.timezone,
        "message_buffer_autoclear": agent.message_buffer_autoclear,
        "tool_exec_environment_variables": env,
        "secrets": env,
        "pending_approval": _pending_approval(agent),
        "last_run_completion": agent.last_run_completion,
        "last_run_duration_ms": agent.last_run_duration_ms,
        "last_stop_reason": agent.last_stop_reason or None,
        "created_by_id": agent.owner_id,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
        "compaction_settings": agent.compaction_settings or None,
        "response_format": agent.response_format,
        "identities": [],
        "identity_ids": [],
    }
