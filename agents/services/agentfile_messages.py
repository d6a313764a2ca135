"""Messages in an Agent File: our engine messages <-> Letta's MessageSchema.

What only we know (a message's kind: heartbeat, summary, ...; provider
signatures of tool calls) rides under an "ade" key Letta ignores, so a round
trip through our own export and import loses nothing the model saw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from memory import prompts
from memory.types import (
    Message,
    MessageKind,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)


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


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def parse_when(value: Any) -> datetime:
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
    when = parse_when(doc.get("created_at"))
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
