"""Engine messages → Letta's message union (the dicts the /v1 API returns and streams).

One stored message can become several Letta messages (reasoning, then a tool
call, ...): they share the stored message's `id` and differ by `otid`, as in
Letta. What the model saw inside JSON envelopes is unwrapped where Letta
unwraps it (the user's own words, a tool's result); heartbeats and system
alerts stay JSON, as Letta shows them.

`DeltaTranslator` does the same for token streaming: provider deltas become
Letta delta chunks that share the id of the assistant message being written.
For send_message the partial JSON arguments are parsed as they arrive and only
the message text is streamed, as assistant content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory.engine.state import DeltaEvent
from memory.types import (
    AgentType,
    Message,
    MessageKind,
    ReasoningDelta,
    ReasoningPart,
    StopReason,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolReturnPart,
    Usage,
)

# Agent types whose plain assistant text is private inner monologue (they speak
# through send_message); for the others the text is the reply itself.
MONOLOGUE_TYPES = (AgentType.MEMGPT, AgentType.MEMGPT_V2)

MESSAGE_TYPES = (
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
    "summary_message",
    "event_message",
)


@dataclass
class Options:
    """How to present messages; the fields of Letta's request of the same names."""

    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_return_message_types: list[str] | None = None
    include_err: bool = True

    def keeps(self, item: dict[str, Any]) -> bool:
        wanted = self.include_return_message_types
        return wanted is None or item["message_type"] in wanted


def iso(when: datetime | None) -> str:
    return (when or datetime.now(UTC)).isoformat()


def unwrap(text: str, *, kinds: tuple[str, ...] = ("user_message",)) -> str:
    """The readable part of one of our JSON envelopes: `message` of a user
    envelope or a tool result. Anything else is returned as it is."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        if data.get("type") in kinds or ("status" in data and "type" not in data):
            return data["message"]
    return text


def _otid(message_id: str, index: int) -> str:
    return f"{message_id}-{index}"


def _base(message: Message, message_type: str, index: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message.id or "",
        "date": iso(message.created_at),
        "name": message.name,
        "message_type": message_type,
        "otid": message.otid if (message.otid and index == 0) else _otid(message.id or "", index),
        "sender_id": None,
        "step_id": message.step_id,
        "run_id": message.run_id,
        "seq_id": message.sequence_id,
    }
    if message.is_err:
        item["is_err"] = True
    return item


def _tool_call(call: ToolCallPart) -> dict[str, Any]:
    return {"name": call.name, "arguments": call.arguments, "tool_call_id": call.id}


def _spoken_text(call: ToolCallPart, kwarg: str) -> str | None:
    """The text a send_message-style call speaks, or None when its arguments
    are not the expected object (then it is shown as a plain tool call)."""
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return None
    value = args.get(kwarg) if isinstance(args, dict) else None
    return value if isinstance(value, str) else None


def to_letta(
    message: Message, agent_type: AgentType, options: Options | None = None
) -> list[dict[str, Any]]:
    """The Letta messages one stored message shows as, in order."""
    options = options or Options()
    items: list[dict[str, Any]] = []

    def add(message_type: str, **fields: Any) -> None:
        item = _base(message, message_type, len(items))
        item.update(fields)
        items.append(item)

    if message.role == "system":
        add("system_message", content=message.text)
    elif message.role == "user":
        _user(message, add)
    elif message.role == "assistant":
        _assistant(message, agent_type, options, add)
    elif message.role == "tool":
        for part in message.tool_returns:
            if options.use_assistant_message and part.name == options.assistant_message_tool_name:
                continue  # shown as the assistant_message of its call
            add("tool_return_message", **_tool_return(part))
    if not options.include_err:
        items = [i for i in items if not i.get("is_err")]
    return [i for i in items if options.keeps(i)]


def _user(message: Message, add: Any) -> None:
    if message.kind == MessageKind.SUMMARY:
        stats = message.meta.get("compaction_stats") or None
        add(
            "summary_message",
            summary=message.meta.get("summary") or message.text,
            compaction_stats=_compaction_stats(stats),
        )
    elif message.kind == MessageKind.USER:
        add("user_message", content=unwrap(message.text))
    elif message.kind == MessageKind.APPROVAL_RESPONSE:
        add(
            "approval_response_message",
            approvals=message.meta.get("approvals"),
            approve=message.meta.get("approve"),
            approval_request_id=message.meta.get("approval_request_id"),
            reason=message.meta.get("reason"),
        )
    else:
        # Heartbeats, system alerts and login events stay JSON, as Letta shows them.
        add("user_message", content=message.text)


def _compaction_stats(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stats:
        return None
    keys = (
        "trigger",
        "context_tokens_before",
        "context_tokens_after",
        "context_window",
        "messages_count_before",
        "messages_count_after",
    )
    return {k: stats.get(k) for k in keys}


def _assistant(message: Message, agent_type: AgentType, options: Options, add: Any) -> None:
    pending = set(message.meta.get("approval_pending") or [])
    for part in message.content:
        if isinstance(part, ReasoningPart):
            if part.redacted and not part.text:
                add("hidden_reasoning_message", state="redacted", hidden_reasoning=part.redacted)
            elif part.text:
                add(
                    "reasoning_message",
                    reasoning=part.text,
                    source="reasoner_model",
                    signature=part.signature,
                )
        elif isinstance(part, TextPart):
            if not part.text:
                continue
            if agent_type in MONOLOGUE_TYPES:
                add(
                    "reasoning_message",
                    reasoning=part.text,
                    source="non_reasoner_model",
                    signature=None,
                )
            else:
                add("assistant_message", content=part.text)
        elif isinstance(part, ToolCallPart):
            call = _tool_call(part)
            if part.id in pending:
                add("approval_request_message", tool_call=call, tool_calls=[call])
                continue
            if options.use_assistant_message and part.name == options.assistant_message_tool_name:
                spoken = _spoken_text(part, options.assistant_message_tool_kwarg)
                if spoken is not None:
                    add("assistant_message", content=spoken)
                    continue
            add("tool_call_message", tool_call=call, tool_calls=[call])


def _tool_return(part: ToolReturnPart) -> dict[str, Any]:
    text = unwrap(part.content)
    return {
        "tool_return": text,
        "status": part.status,
        "tool_call_id": part.tool_call_id,
        "stdout": part.stdout,
        "stderr": part.stderr,
        "name": part.name,
        "tool_returns": [
            {
                "type": "tool",
                "tool_return": text,
                "status": part.status,
                "tool_call_id": part.tool_call_id,
                "stdout": part.stdout,
                "stderr": part.stderr,
            }
        ],
    }


def messages_to_letta(
    messages: list[Message], agent_type: AgentType, options: Options | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        out.extend(to_letta(message, agent_type, options))
    return out


def turn_output(messages: list[Message]) -> list[Message]:
    """What a response shows of a turn: everything it added except the
    caller's own input messages, which the caller already has."""
    return [m for m in messages if m.kind != MessageKind.USER]


# --- the frames around the messages -----------------------------------------------------


def stop_reason(reason: StopReason | str) -> dict[str, Any]:
    value = reason.value if isinstance(reason, StopReason) else reason
    return {"message_type": "stop_reason", "stop_reason": value}


def usage_statistics(usage: Usage, step_count: int, run_ids: list[str]) -> dict[str, Any]:
    return {
        "message_type": "usage_statistics",
        "completion_tokens": usage.completion_tokens,
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.total_tokens,
        "step_count": step_count,
        "run_ids": run_ids,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def ping(run_id: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "message_type": "ping",
        "id": f"ping-{int(now.timestamp() * 1000)}",
        "date": now.isoformat(),
        "run_id": run_id,
    }


def error_message(run_id: str, error_type: str, message: str, detail: str = "") -> dict[str, Any]:
    return {
        "message_type": "error_message",
        "run_id": run_id,
        "error_type": error_type,
        "message": message,
        "detail": detail or message,
    }


# --- token streaming ----------------------------------------------------------------------


def partial_json_string(buffer: str, key: str) -> str | None:
    """The decoded value of string field `key` in an incomplete JSON object, as
    far as it has arrived; None until its opening quote has. An escape cut in
    half at the end is left for the next chunk."""
    marker = f'"{key}"'
    start = buffer.find(marker)
    if start < 0:
        return None
    i = start + len(marker)
    while i < len(buffer) and buffer[i] in " \t\r\n":
        i += 1
    if i >= len(buffer) or buffer[i] != ":":
        return None
    i += 1
    while i < len(buffer) and buffer[i] in " \t\r\n":
        i += 1
    if i >= len(buffer) or buffer[i] != '"':
        return None
    i += 1
    raw_end = i
    while raw_end < len(buffer):
        char = buffer[raw_end]
        if char == "\\":
            if raw_end + 1 >= len(buffer):
                break
            if buffer[raw_end + 1] == "u" and raw_end + 6 > len(buffer):
                break
            raw_end += 6 if buffer[raw_end + 1] == "u" else 2
            continue
        if char == '"':
            break
        raw_end += 1
    raw = buffer[i:raw_end]
    # A surrogate pair split between chunks decodes to a lone surrogate or not
    # at all: hold its first half back until the second arrives.
    for cut in (0, 6):
        try:
            text = json.loads(f'"{raw[: len(raw) - cut]}"')
        except json.JSONDecodeError:
            continue
        if not (text and "\ud800" <= text[-1] <= "\udbff"):
            return text
    return ""


@dataclass
class _CallState:
    name: str | None = None
    id: str | None = None
    arguments: str = ""
    spoken: int = 0  # characters of the send_message text already streamed


@dataclass
class DeltaTranslator:
    """Provider stream deltas → Letta delta chunks, for one turn."""

    agent_type: AgentType
    options: Options = field(default_factory=Options)
    run_id: str | None = None
    streamed: set[str] = field(default_factory=set)  # assistant message ids that had deltas
    _calls: dict[tuple[str, int], _CallState] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def _chunk(self, event: DeltaEvent, message_type: str, **fields: Any) -> dict[str, Any]:
        index = self._counts.get(event.message_id, 0)
        self._counts[event.message_id] = index + 1
        item = {
            "id": event.message_id,
            "date": iso(None),
            "message_type": message_type,
            "otid": _otid(event.message_id, index),
            "step_id": event.step_id,
            "run_id": self.run_id,
        }
        item.update(fields)
        return item

    def feed(self, event: DeltaEvent) -> list[dict[str, Any]]:
        inner = event.event
        out: list[dict[str, Any]] = []
        if isinstance(inner, TextDelta) and inner.text:
            if self.agent_type in MONOLOGUE_TYPES:
                out.append(
                    self._chunk(
                        event,
                        "reasoning_message",
                        reasoning=inner.text,
                        source="non_reasoner_model",
                    )
                )
            else:
                out.append(self._chunk(event, "assistant_message", content=inner.text))
        elif isinstance(inner, ReasoningDelta) and (inner.text or inner.signature):
            out.append(
                self._chunk(
                    event,
                    "reasoning_message",
                    reasoning=inner.text,
                    source="reasoner_model",
                    signature=inner.signature,
                )
            )
        elif isinstance(inner, ToolCallDelta):
            out.extend(self._tool_call(event, inner))
        if out:
            self.streamed.add(event.message_id)
        return [item for item in out if self.options.keeps(item)]

    def _tool_call(self, event: DeltaEvent, delta: ToolCallDelta) -> list[dict[str, Any]]:
        state = self._calls.setdefault((event.message_id, delta.index), _CallState())
        announce = {}
        if delta.name and not state.name:
            state.name = delta.name
            announce["name"] = delta.name
        if delta.id and not state.id:
            state.id = delta.id
            announce["tool_call_id"] = delta.id
        state.arguments += delta.arguments or ""
        opts = self.options
        if opts.use_assistant_message and state.name == opts.assistant_message_tool_name:
            text = partial_json_string(state.arguments, opts.assistant_message_tool_kwarg)
            if text is None or len(text) <= state.spoken:
                return []
            piece, state.spoken = text[state.spoken :], len(text)
            return [self._chunk(event, "assistant_message", content=piece)]
        if not announce and not delta.arguments:
            return []
        call = {
            "name": announce.get("name"),
            "arguments": delta.arguments or None,
            "tool_call_id": announce.get("tool_call_id") or state.id,
        }
        call = {k: v for k, v in call.items() if v is not None}
        return [self._chunk(event, "tool_call_message", tool_call=call, tool_calls=call)]

    def completed(self, message: Message) -> list[dict[str, Any]]:
        """Letta messages for a finished message. An assistant message whose
        tokens were streamed only adds what deltas cannot say: that a call
        now waits for approval."""
        if message.kind == MessageKind.USER:
            return []
        if message.role == "assistant" and message.id in self.streamed:
            pending = set(message.meta.get("approval_pending") or [])
            items = []
            for call in message.tool_calls:
                if call.id in pending:
                    item = _base(message, "approval_request_message", 99)
                    item.update(tool_call=_tool_call(call), tool_calls=[_tool_call(call)])
                    items.append(item)
            return [i for i in items if self.options.keeps(i)]
        return to_letta(message, self.agent_type, self.options)
