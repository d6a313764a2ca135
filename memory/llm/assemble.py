"""Fold a provider's stream events into one assistant message.

Every adapter yields the same `StreamEvent`s, so the rules for turning them
into a `Message` live here once:

* Text deltas concatenate into one `TextPart`.
* Reasoning deltas concatenate into `ReasoningPart`s. A signature closes the
  current part (Anthropic sends `signature_delta` at the end of a thinking
  block; Gemini puts a thought signature on the part it belongs to), and so
  does any text or tool-call delta in between, so interleaved thinking blocks
  stay separate. A redacted payload is always its own part.
* Tool-call deltas are keyed by `index`; the first delta for an index opens
  the call, later ones append argument text. A call the provider left without
  an id gets a generated `call_<hex>` id.
* Each `UsageEvent` carries the usage *so far*: the last one wins.
* A stream without a `FinishEvent` was cut off.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.llm.errors import ProviderError
from memory.types import (
    FinishEvent,
    LLMResponse,
    Message,
    MessageKind,
    Part,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    UsageEvent,
)


def new_tool_call_id() -> str:
    """An id for a tool call the provider left unnamed (Gemini, some local
    servers). The fixed shape lets adapters recognise ids that were never the
    provider's own and avoid sending them back as if they were."""
    return "call_" + secrets.token_hex(12)


@dataclass
class _Reasoning:
    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    closed: bool = False


@dataclass
class _ToolCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""
    signature: str | None = None


@dataclass
class StreamAssembler:
    provider: str
    model: str | None = None
    _text: list[str] = field(default_factory=list)
    _reasoning: list[_Reasoning] = field(default_factory=list)
    _calls: dict[int, _ToolCall] = field(default_factory=dict)
    _usage: Usage = field(default_factory=Usage)
    _finish: str | None = None

    def feed(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            if event.text:
                self._text.append(event.text)
                self._close_reasoning()
        elif isinstance(event, ReasoningDelta):
            self._feed_reasoning(event)
        elif isinstance(event, ToolCallDelta):
            self._feed_tool_call(event)
            self._close_reasoning()
        elif isinstance(event, UsageEvent):
            self._usage = event.usage
        elif isinstance(event, FinishEvent):
            self._finish = event.reason

    def _close_reasoning(self) -> None:
        if self._reasoning:
            self._reasoning[-1].closed = True

    def _feed_reasoning(self, event: ReasoningDelta) -> None:
        if event.redacted is not None:
            self._close_reasoning()
            self._reasoning.append(_Reasoning(redacted=event.redacted, closed=True))
            return
        current = self._reasoning[-1] if self._reasoning else None
        if current is None or current.closed:
            if not event.text and event.signature is None:
                return
            current = _Reasoning()
            self._reasoning.append(current)
        current.text += event.text
        if event.signature is not None:
            current.signature = event.signature
            current.closed = True

    def _feed_tool_call(self, event: ToolCallDelta) -> None:
        call = self._calls.get(event.index)
        if call is None:
            call = self._calls[event.index] = _ToolCall()
        if event.id and not call.id:
            call.id = event.id
        # Some OpenAI-compatible servers repeat the name on every chunk: the
        # first one counts.
        if event.name and not call.name:
            call.name = event.name
        call.arguments += event.arguments
        if event.signature is not None:
            call.signature = event.signature

    # --- result -----------------------------------------------------------

    def finish(self, raw_request: dict[str, Any] | None = None) -> LLMResponse:
        text = "".join(self._text)
        calls = [self._calls[i] for i in sorted(self._calls)]

        if self._finish is None:
            raise ProviderError(
                "the provider's stream ended before the response was complete (truncated)",
                retryable=True,
                kind="invalid_response",
                provider=self.provider,
            )
        for call in calls:
            if not call.name:
                raise ProviderError(
                    "the provider returned a tool call without a name",
                    retryable=True,
                    kind="invalid_response",
                    provider=self.provider,
                )
            if self._finish == "length" and not _is_json(call.arguments or "{}"):
                # Cut off by max_tokens halfway through the arguments: the call
                # cannot be executed, and retrying with the same limit would
                # likely repeat it, but a sampled retry may be shorter.
                raise ProviderError(
                    f"tool call {call.name!r} was truncated by the max_tokens limit",
                    retryable=True,
                    kind="invalid_response",
                    provider=self.provider,
                )
        if not text.strip() and not calls:
            raise ProviderError(
                f"the provider returned an empty response (finish_reason={self._finish})",
                retryable=True,
                kind="empty_response",
                provider=self.provider,
            )

        finish_reason = self._finish
        # OpenAI-compatible servers and Gemini often say "stop" even when the
        # model called tools; the loop keys off "tool_calls".
        if calls and finish_reason == "stop":
            finish_reason = "tool_calls"

        parts: list[Part] = []
        for r in self._reasoning:
            parts.append(
                ReasoningPart(
                    text=r.text, signature=r.signature, provider=self.provider, redacted=r.redacted
                )
            )
        if text:
            parts.append(TextPart(text=text))
        tool_parts: list[ToolCallPart] = []
        for call in calls:
            tool_parts.append(
                ToolCallPart(
                    id=call.id or new_tool_call_id(),
                    name=call.name,
                    # A call without parameters streams no argument text at all
                    # (Anthropic): "{}" is what the model meant.
                    arguments=call.arguments if call.arguments.strip() else "{}",
                    signature=call.signature,
                )
            )
        parts.extend(tool_parts)

        message = Message(
            role="assistant", content=parts, kind=MessageKind.ASSISTANT, model=self.model
        )
        raw_response = {
            "provider": self.provider,
            "model": self.model,
            "text": text,
            "reasoning": [
                {"text": r.text, "signature": r.signature, "redacted": r.redacted}
                for r in self._reasoning
            ],
            "tool_calls": [
                {"id": t.id, "name": t.name, "arguments": t.arguments, "signature": t.signature}
                for t in tool_parts
            ],
            "usage": asdict(self._usage),
            "finish_reason": finish_reason,
        }
        return LLMResponse(
            message=message,
            usage=self._usage,
            finish_reason=finish_reason,
            raw_request=raw_request or {},
            raw_response=raw_response,
        )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
