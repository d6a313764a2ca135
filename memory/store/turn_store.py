"""The one translator between ORM rows and engine types, and the Postgres
implementation of what the loop asks of storage (TurnStore, MemoryBackend)."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from agents import ids
from agents.models import Agent as AgentRow
from agents.models import Tool as ToolRow
from memory import models as m
from memory.engine.rules import parse_rules
from memory.engine.state import AgentState, StepRecord
from memory.engine.types import (
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
from memory.services.blocks import block_attach, block_create, block_update

Embed = Callable[[list[str]], list[list[float]]]

_PART_TYPES: dict[str, type] = {
    "text": TextPart, "reasoning": ReasoningPart, "tool_call": ToolCallPart, "tool_return": ToolReturnPart,
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
        role=row.role, content=[part_from_json(p) for p in row.content], kind=MessageKind(row.kind),
        id=row.id, name=row.name or None, created_at=row.created_at, model=row.model or None,
        step_id=row.step_id, run_id=row.run_id, otid=row.otid or None, sequence_id=row.sequence_id,
        is_err=row.is_err, token_count=row.token_count, meta=row.meta or {},
    )


def message_to_row(message: Message, agent_id: str) -> m.Message:
    tool_call_id = ""
    if message.tool_returns:
        tool_call_id = message.tool_returns[0].tool_call_id
    return m.Message(
        id=message.id or ids.message_id(), agent_id=agent_id, role=message.role, kind=message.kind.value,
        content=[part_to_json(p) for p in message.content], name=message.name or "",
        tool_call_id=tool_call_id, model=message.model or "", run_id=message.run_id,
        step_id=message.step_id, otid=message.otid or "", is_err=message.is_err,
        token_count=message.token_count, meta=message.meta,
        created_at=message.created_at or datetime.now(UTC),
    )


def block_from_row(row: m.Block, label: str | None = None) -> Block:
    return Block(label=label or row.label, value=row.value, limit=row.limit, description=row.description,
                 read_only=row.read_only, id=row.id, metadata=dict(row.metadata or {}), version=row.version)


def tool_def_from_row(row: ToolRow) -> ToolDef:
    return ToolDef(name=row.name, schema=row.json_schema, tool_type=row.tool_type,
                   source_code=row.source_code or None, return_char_limit=row.return_char_limit, id=row.id,
                   allow_network=bool((row.metadata or {}).get("allow_network", False)))


def searchable_text(message: Message) -> str:
    """What recall search should match for a message: the words people and the
    agent actually said, not JSON envelopes or tool plumbing."""
    from memory.engine.compaction import _unwrap

    if message.role == "user":
        return _unwrap(message.text) if message.kind == MessageKind.USER else ""
    if message.role == "assistant":
        words = [message.text] + [r.text for r in message.reasoning]
        for call in message.tool_calls:
            if call.name == "send_message":
                words.append(_unwrap(call.arguments))
        return " ".join(w for w in words if w)
    return ""


def llm_settings_from(config: dict[str, Any]) -> LLMSettings:
    return LLMSettings(
        temperature=config.get("temperature"), max_tokens=config.get("max_tokens"),
        parallel_tool_calls=bool(config.get("parallel_tool_calls", False)),
        reasoning=bool(config.get("enable_reasoner", False)),
        reasoning_effort=config.get("reasoning_effort"),
        max_reasoning_tokens=config.get("max_reasoning_tokens"),
    )


def context_window_for(row: AgentRow) -> int:
    window = row.context_window_limit or row.llm_config.get("context_window") or settings.DEFAULT_CONTEXT_WINDOW
    return int(window)


def load_agent(agent_id: str) -> AgentState:
    from memory.llm.registry import parse_handle

    # Whether any folder is attached rides along, so agents without files
    # (most of them) skip the directories query.
    row = AgentRow.objects.annotate(has_folders=Exists(
        AgentRow.sources.through.objects.filter(agent_id=OuterRef("pk")))).get(pk=agent_id)
    provider, model = parse_handle(row.model) if row.model else ("", "")
    links = m.AgentBlock.objects.filter(agent=row).select_related("block").order_by("position", "id")
    window_ids = list(row.message_ids or [])
    by_id = _window_messages(window_ids)
    state = AgentState(
        id=row.id, name=row.name, agent_type=AgentType(row.agent_type), system_template=row.system,
        provider=provider, model=model, handle=row.model, settings=llm_settings_from(row.llm_config),
        context_window=context_window_for(row), timezone=row.timezone or "UTC",
        tools=_agent_tools(row),
        tool_rules=parse_rules(row.tool_rules or []),
        blocks=[block_from_row(link.block, link.label) for link in links],
        messages=[by_id[i] for i in window_ids if i in by_id],
        fingerprint=row.system_fingerprint, stats=MemoryStats(),
        tool_env={k: str(v) for k, v in (row.tool_exec_environment_variables or {}).items()},
        enforce_block_limits=settings.BLOCK_LIMIT_POLICY == "enforce",
        compaction=row.compaction_settings or {},
    )
    state.directories = load_directories(row.id) if row.has_folders else []
    return state


def load_directories(agent_id: str) -> list[Directory]:
    """The folders attached to the agent and its view of their files, as the
    context compiler renders them under <directories>."""
    from memory.files.selectors import agent_directories

    return [
        Directory(name=d["name"], description=d["description"], instructions=d["instructions"],
                  files=[DirectoryFile(name=f["file_name"], is_open=f["is_open"],
                                       visible=f["visible_content"], offset=f["offset"])
                         for f in d["files"]])
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


def _searchable_before(window: list[Message] | None, new: list[Message]) -> list[str] | None:
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


class DjangoTurnStore:
    def __init__(self, *, embed: Embed | None = None, embedding_model: str = "") -> None:
        from memory.store.search import PostgresMemoryBackend

        self.backend = PostgresMemoryBackend(embed=embed, embedding_model=embedding_model)
        self._locked_rows: dict[str, m.Block] = {}

    def atomic(self) -> Any:
        return transaction.atomic()

    def new_message_id(self) -> str:
        return ids.message_id()

    def new_step_id(self) -> str:
        return ids.step_id()

    def _insert(self, agent_id: str, messages: list[Message], window: list[Message] | None = None) -> None:
        from memory.store.search import index_messages, message_vector_expression

        rows = [message_to_row(msg, agent_id) for msg in messages]
        items = [(row.id, searchable_text(msg)) for row, msg in zip(rows, messages, strict=True)]
        previous = _searchable_before(window, messages)
        if previous is not None:
            # The neighbours are at hand: each search vector goes in with its row.
            for row, (_, text) in zip(rows, items, strict=True):
                if text:
                    row.search_vector = message_vector_expression(text, row.created_at, previous)
                    previous = [*previous, text][-2:]
        m.Message.objects.bulk_create(rows)
        if previous is None:
            index_messages(agent_id, items)
        self.backend.embed_messages_later(agent_id, items)

    def _save_window(self, agent: AgentState) -> None:
        AgentRow.objects.filter(pk=agent.id).update(
            message_ids=[msg.id for msg in agent.messages], system_fingerprint=agent.fingerprint)

    # No savepoints: when these run inside the loop's step transaction a failure
    # fails the whole step anyway, and each savepoint costs two round trips.
    @transaction.atomic(savepoint=False)
    def save_messages(self, agent: AgentState, messages: list[Message]) -> None:
        self._insert(agent.id, messages, agent.messages)
        self._save_window(agent)

    @transaction.atomic(savepoint=False)
    def save_system(self, agent: AgentState, system: Message, fingerprint: str) -> None:
        self._insert(agent.id, [system])
        if agent.messages and agent.messages[0].role == "system":
            agent.messages[0] = system
        else:
            agent.messages.insert(0, system)
        agent.fingerprint = fingerprint
        self._save_window(agent)

    def _step_row(self, agent: AgentState, step: StepRecord) -> m.Step:
        usage = step.usage
        return m.Step(
            id=step.id, run_id=step.run_id, agent_id=agent.id, status=step.status, provider=step.provider,
            model=step.model, model_handle=step.handle, context_window_limit=step.context_window,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cached_input_tokens=usage.cached_input_tokens, cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens, stop_reason=step.stop_reason,
            error_type=step.error_type, error_data=step.error_data, request_json=step.request,
            response_json=step.response, llm_ns=step.llm_ns, tool_ns=step.tool_ns, step_ns=step.step_ns,
        )

    @transaction.atomic(savepoint=False)
    def commit_step(self, agent: AgentState, step: StepRecord | None, messages: list[Message],
                    changed_blocks: list[Block]) -> None:
        if step is not None:
            self._step_row(agent, step).save(force_insert=True)
        self._insert(agent.id, messages, agent.messages)
        for block in changed_blocks:
            self._write_block(agent, block)
        self._save_window(agent)

    def lock_blocks(self, agent: AgentState) -> None:
        links = list(m.AgentBlock.objects.filter(agent_id=agent.id).order_by("position", "id"))
        rows = {r.id: r for r in m.Block.objects.select_for_update().filter(
            pk__in=[link.block_id for link in links]).order_by("id")}
        self._locked_rows = rows  # what _write_block compares against, this step
        agent.blocks = [block_from_row(rows[link.block_id], link.label) for link in links
                        if link.block_id in rows]

    def _write_block(self, agent: AgentState, block: Block) -> None:
        if block.id is None:
            row = block_create(label=block.label, value=block.value, limit=block.limit,
                               description=block.description, read_only=block.read_only,
                               owner=AgentRow.objects.get(pk=agent.id).owner, actor_type="agent",
                               actor_id=agent.id)
            block_attach(agent=AgentRow.objects.get(pk=agent.id), block=row)
            block.id, block.version = row.id, row.version
            return
        row = self._locked_rows.get(block.id) or m.Block.objects.get(pk=block.id)
        if (row.value, row.limit, row.description) == (block.value, block.limit, block.description):
            return
        # Rows are locked since lock_blocks(); the version check is a second guard.
        saved = block_update(block=row, actor_type="agent", actor_id=agent.id, reason="memory tool",
                             value=block.value, expected_version=block.version)
        block.version = saved.version

    def record_failed_step(self, agent: AgentState, step: StepRecord) -> None:
        self._step_row(agent, step).save(force_insert=True)

    def is_cancelled(self, run_id: str) -> bool:
        return m.Run.objects.filter(pk=run_id, cancel_requested=True).exists()

    def refresh_stats(self, agent: AgentState) -> MemoryStats:
        recall = m.Message.objects.filter(agent_id=agent.id).exclude(role="system").count()
        passages = m.Passage.objects.filter(archive__agents__id=agent.id)
        archival = passages.count()
        tags: list[str] = []
        if archival:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT DISTINCT unnest(p.tags) FROM memory_passage p "
                    "JOIN memory_archive_agents aa ON aa.archive_id = p.archive_id "
                    "WHERE aa.agent_id = %s ORDER BY 1 LIMIT 100", [agent.id])
                tags = [r[0] for r in cursor.fetchall()]
        return MemoryStats(recall_count=recall, archival_count=archival, archival_tags=tags)
