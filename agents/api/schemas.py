"""Request and response shapes of the agents, tools and models routes, in
Letta's field names so Letta's clients read them unchanged.

Inputs ignore fields we do not support (Letta's cloud-only knobs such as
project_id or template_id), as Letta's own server ignores unset ones.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

from django.conf import settings
from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from agents.models import Agent, Tool
from agents.services.letta_config import (
    check_handle,
    check_handle_shape,
    check_model_handle,
    embedding_config_of,
    env_vars_of,
    handle_from_config,
    llm_config_of,
    llm_settings,
    model_endpoint_from,
    valid_handle,
)
from memory import models as m
from memory.store.letta_format import to_letta
from memory.store.rows import message_from_row
from memory.types import AgentType

# Letta's tool field `json_schema` shadows ninja's (deprecated) Schema.json_schema
# classmethod; nothing here calls that method, so the name stays as Letta has it.
warnings.filterwarnings("ignore", message='Field name "json_schema"', category=UserWarning)

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
            "message_buffer_autoclear": bool(self.message_buffer_autoclear),
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
    job_ids: list[str] = []


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
    rows = m.Message.objects.filter(pk__in=agent.message_ids[-5:], role="assistant").order_by(
        "-sequence_id"
    )
    for row in rows:
        if row.meta.get("approval_pending"):
            items = to_letta(message_from_row(row), AgentType(agent.agent_type))
            return next((i for i in items if i["message_type"] == "approval_request_message"), None)
    return None


def agent_out(agent: Agent) -> dict[str, Any]:
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
