"""Request and response shapes of the memory routes (messages, blocks,
archival memory, runs, steps, context), in Letta's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from agents.services.letta_config import embedding_config_of
from memory import models as m
from memory.store.letta_format import MESSAGE_TYPES


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is not None:
        unknown = [t for t in value if t not in MESSAGE_TYPES]
        if unknown:
            raise ValueError(f"unknown message types {unknown}; known: {', '.join(MESSAGE_TYPES)}")
    return value


# --- messages -------------------------------------------------------------------------------


class MessageRequest(Schema):
    """Letta's LettaRequest / LettaStreamingRequest. `messages` items are
    {role: "user", content: str | [{type: "text", text}]}, or approval replies
    {type: "approval", approvals: [{tool_call_id, approve, reason}]}."""

    messages: list[dict[str, Any]] | None = None
    input: str | list[dict[str, Any]] | None = None
    max_steps: int | None = None
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: list[str] | None = None
    include_compaction_messages: bool = False
    streaming: bool = False
    stream_tokens: bool = False
    include_pings: bool = True
    background: bool = False

    @field_validator("include_return_message_types")
    @classmethod
    def known_message_types(cls, value: list[str] | None) -> list[str] | None:
        return _known_types(value)


class LettaMessageOut(Schema):
    """One item of Letta's message union; `message_type` says which, the rest
    of its fields are those of that type (content, reasoning, tool_call, ...)."""

    model_config = ConfigDict(extra="allow")

    id: str
    date: str
    message_type: str
    name: str | None = None
    otid: str | None = None
    step_id: str | None = None
    run_id: str | None = None
    seq_id: int | None = None


class StopReasonOut(Schema):
    message_type: str = "stop_reason"
    stop_reason: str


class UsageOut(Schema):
    message_type: str = "usage_statistics"
    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    step_count: int = 0
    run_ids: list[str] | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


class LettaResponseOut(Schema):
    # Each item is one of Letta's message types (see LettaMessageOut); typed
    # loosely so every field of every type reaches the client.
    messages: list[dict[str, Any]]
    stop_reason: StopReasonOut
    usage: UsageOut


class CancelIn(Schema):
    run_ids: list[str] | None = None


class ResetIn(Schema):
    add_default_initial_messages: bool = False


class CompactionOut(Schema):
    summary: str
    num_messages_before: int
    num_messages_after: int


# --- blocks ---------------------------------------------------------------------------------


class BlockIn(Schema):
    """Letta's CreateBlock."""

    label: str = Field(min_length=1, max_length=100)
    value: str = ""
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool = False
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    is_template: bool = False


class BlockPatch(Schema):
    """Letta's BlockUpdate: only the fields sent are changed. `expected_version`
    (ours): the `version` you read; if the block changed since (the agent wrote
    to it), the edit is refused with a 409 instead of overwriting that change."""

    value: str | None = None
    label: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int | None = Field(default=None, ge=1)
    description: str | None = None
    read_only: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    expected_version: int | None = None


# --- archival memory --------------------------------------------------------------------------


class PassageIn(Schema):
    """Letta's CreateArchivalMemory, and `thread` (ADE's): passages inserted
    with the same thread are consecutive parts of one whole (the turns of one
    imported conversation, in order) and are also found by their neighbours'
    words; a passage without one stands alone."""

    text: str
    tags: list[str] | None = None
    created_at: datetime | None = None
    thread: str | None = None


class PassageOut(Schema):
    id: str
    text: str
    tags: list[str]
    metadata: dict[str, Any]
    archive_id: str
    thread: str = ""
    embedding: list[float] | None = None
    embedding_config: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime | None = None

    @staticmethod
    def resolve_embedding(obj: m.Passage) -> None:
        # Vectors are large and of no use to a client; Letta sends them, we do not.
        return None

    @staticmethod
    def resolve_embedding_config(obj: m.Passage) -> dict[str, Any] | None:
        return embedding_config_of(obj.embedding_model) if obj.embedding_model else None


class PassageHitOut(Schema):
    id: str
    content: str
    timestamp: str
    tags: list[str]
    relevance: float | None = None


class PassageSearchOut(Schema):
    results: list[PassageHitOut]
    count: int


# --- runs and steps ---------------------------------------------------------------------------


class RunOut(Schema):
    id: str
    agent_id: str
    status: str
    stop_reason: str | None = None
    background: bool
    request_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    ttft_ns: int | None = None
    total_duration_ns: int | None = None

    @staticmethod
    def resolve_stop_reason(obj: m.Run) -> str | None:
        return obj.stop_reason or None

    @staticmethod
    def resolve_error(obj: m.Run) -> str | None:
        return obj.error or None

    @staticmethod
    def resolve_request_config(obj: m.Run) -> dict[str, Any]:
        # The texts of a queued run are the user's words; the config says how to present.
        config = obj.request_config or {}
        keys = (
            "use_assistant_message",
            "assistant_message_tool_name",
            "assistant_message_tool_kwarg",
            "include_return_message_types",
            "max_steps",
        )
        return {k: config[k] for k in keys if k in config}


class RunUsageOut(Schema):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    step_count: int


class StepOut(Schema):
    id: str
    run_id: str
    agent_id: str
    status: str
    provider_name: str | None = None
    model: str | None = None
    model_handle: str | None = None
    context_window_limit: int | None = None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    stop_reason: str | None = None
    error_type: str | None = None
    error_data: dict[str, Any] | None = None
    llm_request_ns: int | None = None
    tool_execution_ns: int | None = None
    step_ns: int | None = None
    created_at: datetime

    @staticmethod
    def resolve_provider_name(obj: m.Step) -> str | None:
        return obj.provider or None

    @staticmethod
    def resolve_stop_reason(obj: m.Step) -> str | None:
        return obj.stop_reason or None

    @staticmethod
    def resolve_error_type(obj: m.Step) -> str | None:
        return obj.error_type or None

    @staticmethod
    def resolve_llm_request_ns(obj: m.Step) -> int | None:
        return obj.llm_ns

    @staticmethod
    def resolve_tool_execution_ns(obj: m.Step) -> int | None:
        return obj.tool_ns


class StepMetricsOut(Schema):
    id: str
    run_id: str
    agent_id: str
    llm_request_ns: int | None = None
    tool_execution_ns: int | None = None
    step_ns: int | None = None


# --- the context window -----------------------------------------------------------------------


class ContextOut(Schema):
    """Letta's ContextWindowOverview: each section of what the model sees, with
    exact token counts that add up to context_window_size_current."""

    model_config = ConfigDict(extra="allow")

    context_window_size_max: int
    context_window_size_current: int
    num_messages: int
    num_archival_memory: int
    num_recall_memory: int
    num_tokens_external_memory_summary: int
    external_memory_summary: str
    num_tokens_system: int
    system_prompt: str
    num_tokens_core_memory: int
    core_memory: str
    num_tokens_memory_filesystem: int = 0
    memory_filesystem: str | None = None
    num_tokens_tool_usage_rules: int = 0
    tool_usage_rules: str | None = None
    num_tokens_directories: int = 0
    directories: str | None = None
    num_tokens_summary_memory: int
    summary_memory: str | None = None
    num_tokens_functions_definitions: int
    functions_definitions: list[dict[str, Any]] | None = None
    num_tokens_messages: int
    messages: list[dict[str, Any]]
    # Ours: why the window is (or stays) full when compaction cannot help.
    warnings: list[str] = []


# --- search across agents (Letta's /v1/*/search) ------------------------------------------------

SearchMode = Literal["vector", "fts", "hybrid"]
MessageRole = Literal["assistant", "user", "tool", "function", "system", "approval", "summary"]


class MessageSearchIn(Schema):
    """Letta's MessageSearchRequest (POST /v1/agents/messages/search)."""

    query: str | None = None
    search_mode: SearchMode = "hybrid"
    roles: list[MessageRole] | None = None
    agent_id: str | None = None
    project_id: str | None = None
    template_id: str | None = None
    conversation_id: str | None = None
    limit: int = Field(50, ge=1, le=100)
    start_date: datetime | None = None
    end_date: datetime | None = None


class SearchAllMessagesIn(Schema):
    """Letta's SearchAllMessagesRequest (POST /v1/messages/search)."""

    query: str
    search_mode: SearchMode = "hybrid"
    agent_id: str | None = None
    conversation_id: str | None = None
    limit: int = Field(50, ge=1, le=100)
    start_date: datetime | None = None
    end_date: datetime | None = None


class PassageSearchIn(Schema):
    """Letta's PassageSearchRequest (POST /v1/passages/search)."""

    query: str | None = None
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    limit: int = Field(50, ge=1, le=100)
    start_date: datetime | None = None
    end_date: datetime | None = None


class MessageSearchResultOut(Schema):
    """Letta's MessageSearchResult; `rrf_score` is ADE's relevance (in [0, 1])."""

    embedded_text: str
    message: dict[str, Any]
    fts_rank: int | None = None
    vector_rank: int | None = None
    rrf_score: float


class PassageSearchResultOut(Schema):
    """Letta's PassageSearchResult; `score` is ADE's relevance (in [0, 1])."""

    passage: PassageOut
    score: float
    metadata: dict[str, Any] = {}
