"""How messages look in the chat simulator.

A message reaches the ADE either as a stored row (page load, history) or as
the JSON payload of a live event (memory/services/events.py). Both carry the same
typed parts, so one function shapes either into a display entry that the
chat template renders. Pure: no database, no HTML.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# Tools whose call *is* the agent speaking (memgpt agents): shown as an
# assistant bubble, and their routine "sent" return is left out.
SPEAKING_TOOLS = {"send_message"}


def _unwrap(text: str, key: str = "message") -> str:
    """The human part of a JSON envelope ({"type": ..., "message": ...})."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return text
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return data[key]
    return text


def _pretty_json(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return raw


def _arguments(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def row_to_payload(row: Any) -> dict[str, Any]:
    """A stored Message row in the shape of a live event's message payload."""
    return {
        "id": row.id,
        "role": row.role,
        "kind": row.kind,
        "content": row.content or [],
        "created_at": row.created_at,
        "step_id": row.step_id,
        "run_id": row.run_id,
        "is_err": row.is_err,
        "meta": row.meta or {},
        "name": row.name,
    }


def _parts(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in message.get("content") or [] if p.get("type") == kind]


def _text(message: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in _parts(message, "text"))


def _assistant(
    message: dict[str, Any], entry: dict[str, Any], answered: set[str]
) -> dict[str, Any]:
    waiting = set((message.get("meta") or {}).get("approval_pending") or []) - answered
    entry["reasoning"] = [
        p.get("text") or "(reasoning hidden by the provider)" for p in _parts(message, "reasoning")
    ]
    entry["text"] = _text(message)
    calls = []
    for part in _parts(message, "tool_call"):
        args = _arguments(part.get("arguments", ""))
        if part.get("name") in SPEAKING_TOOLS and isinstance(args.get("message"), str):
            entry["said"] = args["message"]
            continue
        calls.append(
            {
                "id": part.get("id"),
                "name": part.get("name"),
                "arguments": _pretty_json(part.get("arguments", "")),
                "awaiting_approval": part.get("id") in waiting,
            }
        )
    entry["tool_calls"] = calls
    return entry


def _tool_return(message: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any] | None:
    returns = _parts(message, "tool_return")
    if not returns:
        return None
    part = returns[0]
    ok = part.get("status", "success") == "success" and not message.get("is_err")
    if ok and part.get("name") in SPEAKING_TOOLS:
        return None
    entry.update(
        name=part.get("name") or message.get("name") or "tool",
        ok=ok,
        result=_pretty_json(_unwrap(part.get("content", ""))),
        stdout="".join(part.get("stdout") or []),
        stderr="".join(part.get("stderr") or []),
    )
    return entry


def chat_entry(message: dict[str, Any], answered: set[str] | None = None) -> dict[str, Any] | None:
    """One display entry for a message payload, or None for what the chat
    does not show (the system prompt, a speaking tool's routine return).
    `answered`: tool call ids that already have a return, so a call that
    waited for approval shows its buttons only while it still waits."""
    kind = message.get("kind", "")
    entry: dict[str, Any] = {
        "id": message.get("id"),
        "kind": kind,
        "run_id": message.get("run_id"),
        "created_at": _when(message.get("created_at")),
        "is_err": bool(message.get("is_err")),
    }
    if message.get("role") == "system" or kind == "system":
        return None
    if kind == "user_message":
        entry.update(kind="user", text=_unwrap(_text(message)))
    elif kind == "heartbeat":
        entry.update(kind="heartbeat", text=_unwrap(_text(message), "reason"))
    elif kind in ("system_alert", "login"):
        entry.update(kind="event", text=_unwrap(_text(message)), label=kind.replace("_", " "))
    elif kind == "summary":
        meta = message.get("meta") or {}
        entry.update(
            kind="summary",
            hidden=meta.get("hidden_count"),
            text=meta.get("summary") or _unwrap(_text(message)),
            stats=meta.get("compaction_stats") or {},
        )
    elif kind == "tool_return":
        return _tool_return(message, {**entry, "kind": "tool"})
    elif kind == "approval_response":
        entry.update(kind="event", label="approval", text=_text(message) or "Approval answered.")
    else:
        return _assistant(message, {**entry, "kind": "assistant"}, answered or set())
    return entry
