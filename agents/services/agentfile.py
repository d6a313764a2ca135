"""Agent File (.af): an agent with its memory blocks, tools and messages as
one JSON document, in Letta's layout so files move between Letta and us.

Ids inside a file are local ("agent-0", "block-1", ...); importing creates new
rows. Messages keep what only we know (their kind: heartbeat, summary, ...;
provider signatures of tool calls) under an "ade" key Letta ignores, so a
round trip through our own export and import loses nothing the model saw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from datetime import UTC as utc
from typing import Any

from django.db import transaction

from agents import ids
from agents.errors import InvalidInput
from agents.models import Agent, Tool, User
from agents.services.letta_config import (
    embedding_config_of,
    handle_from_config,
    llm_config_of,
    valid_handle,
)
from agents.services.lifecycle import agent_create
from agents.services.tools import team_for, tool_upsert
from memory import models as m
from memory import prompts
from memory.engine.loop import refresh_system
from memory.services.base_tools import base_tools_ensure
from memory.services.stores import store_for
from memory.store.rows import load_agent, message_from_row
from memory.tools.catalog import BASE_TOOLS
from memory.types import (
    Message,
    MessageKind,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

FORMAT_REVISION = "ade-1"


# --- export -----------------------------------------------------------------------------------


def _content(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ReasoningPart):
            if part.redacted and not part.text:
                out.append({"type": "redacted_reasoning", "data": part.redacted})
            else:
                out.append(
                    {
                        "type": "reasoning",
                        "reasoning": part.text,
                        "is_native": part.signature is not None,
                        "signature": part.signature,
                    }
                )
        elif isinstance(part, ToolReturnPart):
            out.append({"type": "text", "text": part.content})
    return out


def message_document(message: Message, local_id: str, agent_ref: str) -> dict[str, Any]:
    calls = message.tool_calls
    returns = message.tool_returns
    return {
        "type": "message",
        "id": local_id,
        "role": message.role,
        "content": _content(message),
        "name": message.name,
        "otid": message.otid,
        "model": message.model,
        "agent_id": agent_ref,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
        or None,
        "tool_call_id": returns[0].tool_call_id if returns else None,
        "tool_returns": [
            {
                "tool_call_id": r.tool_call_id,
                "status": r.status,
                "stdout": r.stdout,
                "stderr": r.stderr,
                "func_response": r.content,
            }
            for r in returns
        ]
        or None,
        "created_at": (message.created_at or datetime.now(UTC)).isoformat(),
        "ade": {
            "kind": message.kind.value,
            "is_err": message.is_err,
            "meta": {k: v for k, v in message.meta.items() if k != "sections"},
            "call_signatures": {c.id: c.signature for c in calls if c.signature},
        },
    }


def agent_export(*, agent: Agent) -> dict[str, Any]:
    links = list(
        m.AgentBlock.objects.filter(agent=agent).select_related("block").order_by("position", "id")
    )
    blocks = [
        {
            "id": f"block-{i}",
            "label": link.label,
            "value": link.block.value,
            "limit": link.block.limit,
            "description": link.block.description,
            "read_only": link.block.read_only,
            "metadata": link.block.metadata or {},
            "tags": link.block.tags or [],
        }
        for i, link in enumerate(links)
    ]
    tools = [
        {
            "id": f"tool-{i}",
            "name": t.name,
            "description": t.description,
            "tool_type": t.tool_type,
            "source_type": t.source_type,
            "source_code": t.source_code or None,
            "json_schema": t.json_schema,
            "args_json_schema": t.args_json_schema,
            "return_char_limit": t.return_char_limit,
            "pip_requirements": t.pip_requirements or None,
            "tags": t.tags or [],
            "default_requires_approval": t.default_requires_approval,
            "enable_parallel_execution": t.enable_parallel_execution,
            "metadata_": t.metadata or {},
        }
        for i, t in enumerate(agent.tools.all().order_by("name"))
    ]
    window = list(agent.message_ids or [])
    rows = list(
        m.Message.objects.filter(agent=agent)
        .exclude(
            role="system",
        )
        .order_by("sequence_id")
    )
    if window:
        rows = [r for r in m.Message.objects.filter(pk=window[0])] + rows
    local = {row.id: f"message-{i}" for i, row in enumerate(rows)}
    messages = [message_document(message_from_row(row), local[row.id], "agent-0") for row in rows]
    document = {
        "id": "agent-0",
        "name": agent.name,
        "agent_type": agent.agent_type,
        "system": agent.system,
        "description": agent.description,
        "metadata": agent.metadata or {},
        "tags": agent.tags or [],
        "model": agent.model or None,
        "embedding": agent.embedding or None,
        "llm_config": llm_config_of(agent),
        "embedding_config": embedding_config_of(agent.embedding),
        "context_window_limit": agent.context_window_limit,
        "tool_rules": agent.tool_rules or [],
        "timezone": agent.timezone,
        "message_buffer_autoclear": agent.message_buffer_autoclear,
        "tool_exec_environment_variables": agent.tool_exec_environment_variables or {},
        "block_ids": [b["id"] for b in blocks],
        "tool_ids": [t["id"] for t in tools],
        "messages": messages,
        "in_context_message_ids": [local[i] for i in window if i in local],
        "include_base_tools": False,
        "group_ids": [],
    }
    return {
        "agents": [document],
        "groups": [],
        "blocks": blocks,
        "files": [],
        "sources": [],
        "tools": tools,
        "mcp_servers": [],
        "skills": [],
        "metadata": {"revision_id": FORMAT_REVISION, "exported_by": "ade"},
        "created_at": datetime.now(UTC).isoformat(),
    }


# --- import -----------------------------------------------------------------------------------


def _list(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"Agent file: '{key}' must be a list of objects.")
    return value


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _when(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


_ENVELOPE_KINDS = {
    "user_message": MessageKind.USER,
    "heartbeat": MessageKind.HEARTBEAT,
    "system_alert": MessageKind.SYSTEM_ALERT,
    "login": MessageKind.LOGIN,
}


def _user_kind(text: str) -> tuple[MessageKind, bool]:
    """(kind, is an envelope) of a user-role text as Letta stored it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return MessageKind.USER, False
    if isinstance(data, dict) and data.get("type") in _ENVELOPE_KINDS:
        return _ENVELOPE_KINDS[data["type"]], True
    return MessageKind.USER, False


def message_from_document(doc: dict[str, Any], timezone_name: str) -> Message | None:
    role = doc.get("role")
    ade = doc.get("ade") if isinstance(doc.get("ade"), dict) else {}
    when = _when(doc.get("created_at"))
    parts: list[Part] = []
    kind = MessageKind.ASSISTANT
    if role == "user":
        text = _text(doc.get("content"))
        kind, wrapped = _user_kind(text)
        if not wrapped:
            text = prompts.user_envelope(text, when, timezone_name)
        parts = [TextPart(text)]
    elif role == "assistant":
        content = doc.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for part in content or []:
            kind_of = part.get("type") if isinstance(part, dict) else None
            if kind_of == "text" and part.get("text"):
                parts.append(TextPart(part["text"]))
            elif kind_of == "reasoning":
                parts.append(
                    ReasoningPart(text=part.get("reasoning") or "", signature=part.get("signature"))
                )
            elif kind_of == "redacted_reasoning":
                parts.append(ReasoningPart(text="", redacted=part.get("data")))
        signatures = ade.get("call_signatures") or {}
        for call in doc.get("tool_calls") or []:
            function = call.get("function") or {}
            if call.get("id") and function.get("name"):
                parts.append(
                    ToolCallPart(
                        id=call["id"],
                        name=function["name"],
                        arguments=function.get("arguments") or "{}",
                        signature=signatures.get(call["id"]),
                    )
                )
        kind = MessageKind.ASSISTANT
    elif role == "tool":
        returns = doc.get("tool_returns") or [{}]
        first = returns[0] if isinstance(returns[0], dict) else {}
        call_id = doc.get("tool_call_id") or first.get("tool_call_id")
        if not call_id:
            return None
        status = first.get("status") if first.get("status") in ("success", "error") else "success"
        parts = [
            ToolReturnPart(
                tool_call_id=call_id,
                name=doc.get("name") or "",
                content=_text(doc.get("content")),
                status=status,
                stdout=first.get("stdout"),
                stderr=first.get("stderr"),
            )
        ]
        kind = MessageKind.TOOL
    else:
        return None  # system prompts are recompiled; approvals are not carried over
    if ade.get("kind"):
        try:
            kind = MessageKind(ade["kind"])
        except ValueError:
            pass
    return Message(
        role=role,
        content=parts,
        kind=kind,
        name=doc.get("name"),
        created_at=when,
        model=doc.get("model"),
        otid=doc.get("otid"),
        is_err=bool(ade.get("is_err")),
        meta=ade.get("meta") or {},
    )


def _tools_for(
    user: User, document: dict[str, Any], wanted: list[str], override: bool
) -> tuple[list[str], list[str]]:
    """(built-in names, custom tool ids) for the file's tools an agent uses."""
    base_tools_ensure()
    by_id = {t.get("id"): t for t in _list(document, "tools")}
    names, ids = [], []
    for ref in wanted:
        spec = by_id.get(ref)
        if spec is None:
            raise InvalidInput(f"Agent file: tool {ref} is referenced but not included.")
        name = spec.get("name") or ""
        if name in BASE_TOOLS and (spec.get("tool_type") or "custom") != "custom":
            names.append(name)
            continue
        if not spec.get("source_code"):
            raise InvalidInput(f"Agent file: tool {name or ref} has no source code to import.")
        existing = Tool.objects.filter(organization=team_for(user), name=name).first()
        if existing is not None and not override:
            ids.append(existing.id)
            continue
        fields = {
            k: spec.get(k)
            for k in (
                "description",
                "tags",
                "return_char_limit",
                "pip_requirements",
                "default_requires_approval",
                "enable_parallel_execution",
            )
        }
        tool = tool_upsert(
            user=user,
            source_code=spec["source_code"],
            json_schema=spec.get("json_schema"),
            **{k: v for k, v in fields.items() if v is not None},
        )
        ids.append(tool.id)
    return names, ids


@transaction.atomic
def agent_import(
    *,
    user: User,
    document: Any,
    strip_messages: bool = False,
    name: str | None = None,
    append_copy_suffix: bool = True,
    model: str | None = None,
    embedding: str | None = None,
    env_vars: dict[str, str] | None = None,
    override_existing_tools: bool = True,
) -> list[Agent]:
    if not isinstance(document, dict):
        raise InvalidInput("An agent file is a JSON object with 'agents', 'blocks' and 'tools'.")
    agents_doc = _list(document, "agents")
    if not agents_doc:
        raise InvalidInput("The agent file holds no agent.")
    blocks_by_id = {b.get("id"): b for b in _list(document, "blocks")}
    created = []
    for spec in agents_doc:
        blocks = []
        for ref in spec.get("block_ids") or []:
            block = blocks_by_id.get(ref)
            if block is None:
                raise InvalidInput(f"Agent file: block {ref} is referenced but not included.")
            blocks.append(
                {
                    k: block.get(k)
                    for k in ("label", "value", "limit", "description", "read_only", "metadata")
                }
            )
        names, tool_ids = _tools_for(
            user, document, list(spec.get("tool_ids") or []), override_existing_tools
        )
        agent_name = name or spec.get("name") or ""
        if append_copy_suffix and not name and agent_name:
            agent_name = f"{agent_name}_copy"
        handle = valid_handle(
            model or spec.get("model") or handle_from_config(spec.get("llm_config"))
        )
        embed = valid_handle(
            embedding
            or spec.get("embedding")
            or handle_from_config(
                spec.get("embedding_config"),
                model_key="embedding_model",
                type_key="embedding_endpoint_type",
            )
        )
        settings = {
            k: v
            for k, v in (spec.get("llm_config") or {}).items()
            if k
            in (
                "temperature",
                "max_tokens",
                "enable_reasoner",
                "reasoning_effort",
                "max_reasoning_tokens",
                "parallel_tool_calls",
                "context_window",
            )
            and v is not None
        }
        env = dict(spec.get("tool_exec_environment_variables") or {})
        env.update(env_vars or {})
        agent = agent_create(
            owner=user,
            name=agent_name,
            agent_type=spec.get("agent_type") or "letta_v1_agent",
            model=handle or "",
            embedding=embed or "",
            system=spec.get("system"),
            description=spec.get("description") or "",
            memory_blocks=blocks,
            tools=names,
            tool_ids=tool_ids,
            include_base_tools=False,
            tool_rules=spec.get("tool_rules") or [],
            context_window_limit=spec.get("context_window_limit"),
            llm_config=settings,
            tags=spec.get("tags") or [],
            timezone_name=spec.get("timezone") or "UTC",
            metadata=spec.get("metadata") or {},
            tool_env={k: str(v) for k, v in env.items()},
        )
        if spec.get("message_buffer_autoclear"):
            Agent.objects.filter(pk=agent.pk).update(message_buffer_autoclear=True)
        if not strip_messages:
            _import_messages(agent, spec, load_agent, store_for)
        state = load_agent(agent.id)
        refresh_system(state, store_for(agent), datetime.now(utc), force=True)
        agent.refresh_from_db()
        created.append(agent)
    return created


def _import_messages(agent: Agent, spec: dict[str, Any], load_agent: Any, store_for: Any) -> None:
    docs = _list(spec, "messages")
    in_context = set(spec.get("in_context_message_ids") or [])
    state = load_agent(agent.id)
    imported: list[Message] = []
    window: list[Message] = []
    for doc in docs:
        message = message_from_document(doc, agent.timezone or "UTC")
        if message is None:
            continue
        message.id = ids.message_id()
        imported.append(message)
        if doc.get("id") in in_context:
            window.append(message)
    if not imported:
        return
    state.messages = state.messages[:1] + window
    store_for(agent).save_messages(state, imported)


def agent_duplicate(*, agent: Agent, user: User) -> Agent:
    """A copy through the Agent File: same configuration, tools and memory,
    and a fresh conversation."""
    document = agent_export(agent=agent)
    return agent_import(
        user=user, document=document, strip_messages=True, name=f"{agent.name} copy"[:200]
    )[0]
