"""The one translator between ORM rows and engine types: messages, blocks,
tools and a whole agent's state as the loop works on it."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef

from agents import ids
from agents.models import Agent as AgentRow
from agents.models import Tool as ToolRow
from memory import models as m
from memory.engine.compaction import unwrap_envelope
from memory.engine.rules import parse_rules
from memory.engine.state import AgentState
from memory.files.selectors import agent_directories
from memory.llm.registry import parse_handle
from memory.types import (
    AgentType,
    Block,
    Directory,
    DirectoryFile,
    LLMSettings,
    MemoryStats,
    Message,
    MessageKind,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolDef,
    ToolReturnPart,
)

_PART_TYPES: dict[str, type] = {
    "text": TextPart,
    "reasoning": ReasoningPart,
    "tool_call": ToolCallPart,
    "tool_return": ToolReturnPart,
}


# --- translation ---------------------------------------------------------------------


def part_to_json(part: Part) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(part).items() if v is not None}


def part_from_json(data: dict[str, Any]) -> Part:
    cls = _PART_TYPES[data["type"]]
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in fields})


def message_from_row(row: m.Message) -> Message:
    return Message(
        role=row.role,
        content=[part_from_json(p) for p in row.content],
        kind=MessageKind(row.kind),
        id=row.id,
        name=row.name or None,
        created_at=row.created_at,
        model=row.model or None,
        step_id=row.step_id,
        run_id=row.run_id,
        otid=row.otid or None,
        sequence_id=row.sequence_id,
        is_err=row.is_err,
        token_count=row.token_count,
        meta=row.meta or {},
    )


def message_to_row(message: Message, agent_id: str) -> m.Message:
    tool_call_id = ""
    if message.tool_returns:
        tool_call_id = message.tool_returns[0].tool_call_id
    return m.Message(
        id=message.id or ids.message_id(),
        agent_id=agent_id,
        role=message.role,
        kind=message.kind.value,
        content=[part_to_json(p) for p in message.content],
        name=message.name or "",
        tool_call_id=tool_call_id,
        model=message.model or "",
        run_id=message.run_id,
        step_id=message.step_id,
        otid=message.otid or "",
        is_err=message.is_err,
        token_count=message.token_count,
        meta=message.meta,
        created_at=message.created_at or datetime.now(UTC),
    )


def block_from_row(row: m.Block, label: str | None = None) -> Block:
    return Block(
        label=label or row.label,
        value=row.value,
        limit=row.limit,
        description=row.description,
        read_only=row.read_only,
        id=row.id,
        metadata=dict(row.metadata or {}),
        version=row.version,
    )


def tool_def_from_row(row: ToolRow) -> ToolDef:
    return ToolDef(
        name=row.name,
        schema=row.json_schema,
        tool_type=row.tool_type,
        source_code=row.source_code or None,
        return_char_limit=row.return_char_limit,
        id=row.id,
        allow_network=bool((row.metadata or {}).get("allow_network", False)),
    )


def searchable_text(message: Message) -> str:
    """What recall search should match for a message: the words people and the
    agent actually said, not JSON envelopes or tool plumbing."""
    if message.role == "user":
        return unwrap_envelope(message.text) if message.kind == MessageKind.USER else ""
    if message.role == "assistant":
        words = [message.text] + [r.text for r in message.reasoning]
        for call in message.tool_calls:
            if call.name == "send_message":
                words.append(unwrap_envelope(call.arguments))
        return " ".join(w for w in words if w)
    return ""


def llm_settings_from(config: dict[str, Any]) -> LLMSettings:
    return LLMSettings(
        temperature=config.get("temperature"),
        max_tokens=config.get("max_tokens"),
        parallel_tool_calls=bool(config.get("parallel_tool_calls", False)),
        reasoning=bool(config.get("enable_reasoner", False)),
        reasoning_effort=config.get("reasoning_effort"),
        max_reasoning_tokens=config.get("max_reasoning_tokens"),
    )


def context_window_for(row: AgentRow) -> int:
    window = (
        row.context_window_limit
        or row.llm_config.get("context_window")
        or settings.DEFAULT_CONTEXT_WINDOW
    )
    return int(window)


def load_agent(agent_id: str) -> AgentState:
    # Whether any folder is attached rides along, so agents without files
    # (most of them) skip the directories query.
    row = AgentRow.objects.annotate(
        has_folders=Exists(AgentRow.sources.through.objects.filter(agent_id=OuterRef("pk")))
    ).get(pk=agent_id)
    provider, model = parse_handle(row.model) if row.model else ("", "")
    links = (
        m.AgentBlock.objects.filter(agent=row).select_related("block").order_by("position", "id")
    )
    window_ids = list(row.message_ids or [])
    by_id = _window_messages(window_ids)
    state = AgentState(
        id=row.id,
        name=row.name,
        agent_type=AgentType(row.agent_type),
        system_template=row.system,
        provider=provider,
        model=model,
        handle=row.model,
        settings=llm_settings_from(row.llm_config),
        context_window=context_window_for(row),
        timezone=row.timezone or "UTC",
        tools=_agent_tools(row),
        tool_rules=parse_rules(row.tool_rules or []),
        blocks=[block_from_row(link.block, link.label) for link in links],
        messages=[by_id[i] for i in window_ids if i in by_id],
        fingerprint=row.system_fingerprint,
        stats=MemoryStats(),
        tool_env={k: str(v) for k, v in (row.tool_exec_environment_variables or {}).items()},
        enforce_block_limits=settings.BLOCK_LIMIT_POLICY == "enforce",
        compaction=row.compaction_settings or {},
    )
    state.directories = load_directories(row.id) if row.has_folders else []
    return state


def load_directories(agent_id: str) -> list[Directory]:
    """The folders attached to the agent and its view of their files, as the
    context compiler renders them under <directories>."""
    return [
        Directory(
            name=d["name"],
            description=d["description"],
            instructions=d["instructions"],
            files=[
                DirectoryFile(
                    name=f["file_name"],
                    is_open=f["is_open"],
                    visible=f["visible_content"],
                    offset=f["offset"],
                )
                for f in d["files"]
            ],
        )
        for d in agent_directories(agent_id=agent_id)
    ]


# Stored messages never change (a new window lists new ids), so each process
# keeps the parsed form of recently used ones: loading a long window then costs
# one narrow query instead of decoding every message's JSON again on every step.
# The loop may annotate the objects it is given (meta, token counts), so callers
# get shallow copies and the cached originals stay as stored.
_MESSAGE_CACHE: OrderedDict[str, Message] = OrderedDict()
_MESSAGE_CACHE_SIZE = 5_000
_message_cache_lock = threading.Lock()


def _window_messages(window_ids: list[str]) -> dict[str, Message]:
    with _message_cache_lock:
        cached = {i: _MESSAGE_CACHE[i] for i in window_ids if i in _MESSAGE_CACHE}
        for i in cached:
            _MESSAGE_CACHE.move_to_end(i)
    missing = [i for i in window_ids if i not in cached]
    if missing:
        loaded = {r.id: message_from_row(r) for r in m.Message.objects.filter(pk__in=missing)}
        with _message_cache_lock:
            _MESSAGE_CACHE.update(loaded)
            while len(_MESSAGE_CACHE) > _MESSAGE_CACHE_SIZE:
                _MESSAGE_CACHE.popitem(last=False)
        cached.update(loaded)
    return {i: _shallow_copy(msg) for i, msg in cached.items()}


# Tool definitions change only with their row's updated_at, so their decoded
# schemas are kept per process too (the engine treats ToolDefs as read-only).
_TOOL_CACHE: dict[str, tuple[Any, ToolDef]] = {}


def _agent_tools(row: AgentRow) -> list[ToolDef]:
    current = list(row.tools.order_by("name").values_list("id", "updated_at"))
    stale = [tid for tid, stamp in current if _TOOL_CACHE.get(tid, (None,))[0] != stamp]
    if stale:
        if len(_TOOL_CACHE) > 10_000:  # deleted tools' entries are never asked for again
            _TOOL_CACHE.clear()
        for tool in ToolRow.objects.filter(pk__in=stale):
            _TOOL_CACHE[tool.id] = (tool.updated_at, tool_def_from_row(tool))
    return [_TOOL_CACHE[tid][1] for tid, _ in current if tid in _TOOL_CACHE]


def _shallow_copy(msg: Message) -> Message:
    # Cheaper than dataclasses.replace (no __init__), which showed in profiles
    # for windows of hundreds of messages.
    copy = object.__new__(Message)
    copy.__dict__.update(msg.__dict__)
    copy.content = list(msg.content)
    copy.meta = dict(msg.meta) if msg.meta else {}
    return copy


def searchable_before(window: list[Message] | None, new: list[Message]) -> list[str] | None:
    """The searchable texts of the two messages before `new` in the window (the
    neighbours recall indexing needs), or None when the window cannot tell."""
    if not window or not new:
        return None
    try:
        start = next(i for i, msg in enumerate(window) if msg is new[0])
    except StopIteration:
        return None
    texts: list[str] = []
    for msg in reversed(window[:start]):
        text = searchable_text(msg)
        if text:
            texts.insert(0, text)
            if len(texts) == 2:
                return texts
    return None


# --- persistence for the loop ------------------------------------------------------------
