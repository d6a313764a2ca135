"""Anthropic Messages API adapter."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic as anthropic_sdk

from memory.llm.base import ModelInfo, Provider, error_from_status, error_from_transport
from memory.llm.errors import ProviderError
from memory.llm.models_table import context_window_or_default
from memory.types import (
    FinishEvent,
    LLMRequest,
    Message,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolReturnPart,
    Usage,
    UsageEvent,
)

ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096  # the Messages API has no default: max_tokens is required
MIN_THINKING_BUDGET = 1024  # the API's minimum budget_tokens

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}
_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_EFFORTS = ("low", "medium", "high", "xhigh", "max")


_VERSIONED = re.compile(r"^claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?:-|$)")


def uses_adaptive_thinking(model: str) -> bool:
    """Claude 4.6 and later (claude-opus-4-6, claude-sonnet-5…) take
    thinking.type=adaptive; earlier ones need an explicit token budget."""
    name = model.rsplit("/", 1)[-1].lower()
    match = _VERSIONED.match(name)
    if match is None:
        # claude-3-7-sonnet style names are older; other unversioned names
        # (claude-mythos-preview) are new-generation.
        return not re.match(r"^claude-\d", name) and name.startswith("claude-")
    version = (int(match.group(1)), int(match.group(2) or 0))
    return version >= (4, 6)


def map_anthropic_error(
    provider: str, exc: BaseException, *, streaming: bool = True
) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, anthropic_sdk.APITimeoutError):
        return ProviderError(
            f"request timed out: {exc.message}", retryable=True, kind="timeout", provider=provider
        )
    if isinstance(exc, anthropic_sdk.APIConnectionError):
        cause = exc.__cause__
        detail = f"{exc.message} ({type(cause).__name__}: {cause})" if cause else exc.message
        return ProviderError(detail, retryable=True, kind="connection", provider=provider)
    if isinstance(exc, anthropic_sdk.APIStatusError):
        message = exc.api_message or exc.message
        # Errors sent as an SSE `error` event arrive on a 200 response: the
        # failure happened server-side mid-answer, so treat it as a 5xx unless
        # its type says otherwise (overloaded, rate limited…).
        status = exc.status_code if exc.status_code >= 400 else 500
        return error_from_status(
            provider,
            status,
            f"{status}: {message}",
            headers=dict(exc.response.headers),
            error_type=exc.type,
        )
    transport = error_from_transport(provider, exc)
    if transport is not None:
        return transport
    if streaming:
        # A malformed chunk mid-stream: another attempt may well succeed.
        return ProviderError(
            f"unreadable response: {type(exc).__name__}: {exc}",
            retryable=True,
            kind="invalid_response",
            provider=provider,
        )
    return ProviderError(
        f"{type(exc).__name__}: {exc}", retryable=False, kind="bad_request", provider=provider
    )


def _wire_id(call_id: str) -> str:
    """Anthropic accepts tool ids matching ^[a-zA-Z0-9_-]+$ only; ids minted by
    other providers may not. Applied to tool_use and tool_result alike."""
    return _ID_CHARS.sub("_", call_id) or "toolu_unnamed"


def _parse_args(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        # The model produced invalid JSON; the loop already reported that to
        # it. tool_use.input must be an object, so keep the raw text inside one.
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


class AnthropicProvider(Provider):
    name = "anthropic"
    supports_reasoning = True
    api_key_env = "ANTHROPIC_API_KEY"

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        super().__init__(
            base_url=(base_url or ANTHROPIC_DEFAULT_BASE_URL).rstrip("/"),
            api_key=api_key,
            timeout=timeout,
        )
        self._client_obj: anthropic_sdk.Anthropic | None = None

    def _client(self) -> anthropic_sdk.Anthropic:
        if self._client_obj is None:
            key = self.api_key
            if not key:
                if "api.anthropic.com" in (self.base_url or ""):
                    raise self.not_configured(self.api_key_env)
                key = "not-needed"  # a keyless Anthropic-compatible proxy
            self._client_obj = anthropic_sdk.Anthropic(
                api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0
            )
        return self._client_obj

    # --- request --------------------------------------------------------

    def build_payload(self, request: LLMRequest) -> dict[str, Any]:
        settings = request.settings
        system, messages = self._convert_messages(request.messages)
        max_tokens = settings.max_tokens or DEFAULT_MAX_TOKENS
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": True,
        }
        if system:
            payload["system"] = system
        forced = bool(request.tools) and request.tool_choice not in ("auto", "none")
        # Extended thinking cannot be combined with a forced tool choice (the
        # API rejects it), and a forced call is what the loop asked for.
        thinking = settings.reasoning and not forced
        if request.tools:
            payload["tools"] = [
                {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "input_schema": t.get("parameters") or {"type": "object", "properties": {}},
                }
                for t in request.tools
            ]
            payload["tool_choice"] = _tool_choice(request.tool_choice, settings.parallel_tool_calls)
        if thinking and uses_adaptive_thinking(request.model):
            # Newer models size their own thinking ("enabled" + budget is
            # deprecated there); effort steers it instead.
            payload["thinking"] = {"type": "adaptive"}
        elif thinking:
            budget = max(MIN_THINKING_BUDGET, settings.max_reasoning_tokens or MIN_THINKING_BUDGET)
            # max_tokens covers thinking too and must exceed the budget.
            if max_tokens <= budget:
                payload["max_tokens"] = budget + max_tokens
            payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if settings.reasoning_effort in _EFFORTS:
            payload["output_config"] = {"effort": settings.reasoning_effort}
        # settings.temperature is deliberately not sent: API version
        # 2026-10-21, which SDK 2.x speaks, rejects temperature/top_p/top_k
        # with a 400 on every model, and the SDK has no parameter for them.
        return payload

    def _convert_messages(self, messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
        system_texts: list[str] = []
        out: list[dict[str, Any]] = []
        for msg in messages:
            if msg.role == "system" and not out:
                if msg.text:
                    system_texts.append(msg.text)
                continue
            role, blocks = self._blocks(msg)
            if not blocks:
                continue
            if out and out[-1]["role"] == role:
                # The API wants strictly alternating roles: merge neighbours.
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})
        for m in out:
            if m["role"] == "user":
                # tool_result blocks must open the user turn that answers a tool_use.
                m["content"].sort(key=lambda b: b.get("type") != "tool_result")
        if not out or out[0]["role"] != "user":
            out.insert(
                0, {"role": "user", "content": [{"type": "text", "text": "(conversation start)"}]}
            )
        return "\n\n".join(system_texts), out

    def _blocks(self, msg: Message) -> tuple[str, list[dict[str, Any]]]:
        if msg.role == "assistant":
            return "assistant", self._assistant_blocks(msg)
        if msg.role == "tool":
            return "user", _tool_result_blocks(msg)
        # user, or a system message in mid-conversation (Anthropic has only the
        # top-level system prompt, so it travels as user text).
        return "user", [{"type": "text", "text": msg.text or "(empty message)"}]

    def _assistant_blocks(self, msg: Message) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in msg.content:
            if isinstance(part, ReasoningPart):
                thinking = self._thinking_block(part)
                if thinking is not None:
                    blocks.append(thinking)
            elif isinstance(part, TextPart) and part.text:
                blocks.append({"type": "text", "text": part.text})
            elif isinstance(part, ToolCallPart):
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": _wire_id(part.id),
                        "name": part.name,
                        "input": _parse_args(part.arguments),
                    }
                )
        return blocks

    def _thinking_block(self, part: ReasoningPart) -> dict[str, Any] | None:
        # Only Anthropic's own signed thinking may be sent back; reasoning
        # from another provider has no valid signature and would be rejected.
        if part.provider not in (None, self.name):
            return None
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.redacted}
        if part.signature:
            return {"type": "thinking", "thinking": part.text, "signature": part.signature}
        return None

    # --- response -------------------------------------------------------

    def stream_payload(self, payload: dict[str, Any]) -> Iterator[StreamEvent]:
        try:
            stream = self._client().messages.create(**payload)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise map_anthropic_error(self.name, exc, streaming=False) from exc
        state = _StreamState()
        try:
            for event in stream:
                yield from state.events(event)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise map_anthropic_error(self.name, exc) from exc
        finally:
            stream.close()

    def count_tokens(self, request: LLMRequest) -> int | None:
        payload = self.build_payload(request)
        kwargs = {
            k: payload[k]
            for k in ("model", "messages", "system", "tools", "tool_choice", "thinking")
            if k in payload
        }
        try:
            return int(self._client().messages.count_tokens(**kwargs).input_tokens)
        except Exception:  # noqa: BLE001 - callers fall back to an estimate
            return None

    def list_models(self) -> list[ModelInfo]:
        try:
            listed = list(self._client().models.list())
        except Exception as exc:  # noqa: BLE001
            raise map_anthropic_error(self.name, exc, streaming=False) from exc
        return [
            ModelInfo(
                handle=f"{self.name}/{m.id}",
                provider=self.name,
                name=m.id,
                context_window=context_window_or_default(
                    m.id, getattr(m, "max_input_tokens", None)
                ),
            )
            for m in listed
        ]


def _tool_result_blocks(msg: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in msg.content:
        if isinstance(part, ToolReturnPart):
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": _wire_id(part.tool_call_id),
                "content": part.content,
            }
            if part.status == "error":
                block["is_error"] = True
            blocks.append(block)
        elif isinstance(part, TextPart) and part.text:
            blocks.append({"type": "text", "text": part.text})
    return blocks


def _tool_choice(choice: str, parallel: bool) -> dict[str, Any]:
    if choice == "none":
        return {"type": "none"}
    if choice == "auto":
        out: dict[str, Any] = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    else:
        out = {"type": "tool", "name": choice}
    out["disable_parallel_tool_use"] = not parallel
    return out


class _StreamState:
    """Per-stream bookkeeping: block kinds by index, signatures, usage."""

    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}
        self.signatures: dict[int, str] = {}
        self.got_args: set[int] = set()
        self.start_input: dict[int, Any] = {}
        self.usage = Usage()
        self.input_tokens = 0

    def events(self, event: Any) -> Iterator[StreamEvent]:
        etype = event.type
        if etype == "message_start":
            self._take_usage(event.message.usage)
        elif etype == "content_block_start":
            yield from self._block_start(event.index, event.content_block)
        elif etype == "content_block_delta":
            yield from self._block_delta(event.index, event.delta)
        elif etype == "content_block_stop":
            yield from self._block_stop(event.index)
        elif etype == "message_delta":
            self._take_usage(event.usage)
            yield UsageEvent(usage=dataclasses.replace(self.usage))
            reason = event.delta.stop_reason
            if reason:
                yield FinishEvent(reason=_FINISH.get(reason, str(reason)))

    def _block_start(self, index: int, block: Any) -> Iterator[StreamEvent]:
        btype = block.type
        self.kinds[index] = btype
        if btype == "text" and block.text:
            yield TextDelta(text=block.text)
        elif btype == "thinking" and block.thinking:
            yield ReasoningDelta(text=block.thinking)
        elif btype == "redacted_thinking":
            yield ReasoningDelta(redacted=block.data)
        elif btype == "tool_use":
            self.start_input[index] = block.input
            yield ToolCallDelta(index=index, id=block.id, name=block.name)

    def _block_delta(self, index: int, delta: Any) -> Iterator[StreamEvent]:
        dtype = delta.type
        if dtype == "text_delta":
            yield TextDelta(text=delta.text)
        elif dtype == "thinking_delta":
            yield ReasoningDelta(text=delta.thinking)
        elif dtype == "signature_delta":
            self.signatures[index] = self.signatures.get(index, "") + delta.signature
        elif dtype == "input_json_delta":
            if delta.partial_json:
                self.got_args.add(index)
                yield ToolCallDelta(index=index, arguments=delta.partial_json)

    def _block_stop(self, index: int) -> Iterator[StreamEvent]:
        kind = self.kinds.get(index)
        if kind == "thinking":
            # The signature arrives whole at the end of the block; emitting it
            # here closes this thinking block in the assembler.
            yield ReasoningDelta(signature=self.signatures.get(index))
        elif kind == "tool_use" and index not in self.got_args:
            start = self.start_input.get(index)
            if start:
                # Some proxies put the whole input in content_block_start.
                yield ToolCallDelta(index=index, arguments=json.dumps(start))

    def _take_usage(self, raw: Any) -> None:
        if raw is None:
            return
        # message_delta usage is cumulative; fields it leaves out stay as they were.
        inp = getattr(raw, "input_tokens", None)
        read = getattr(raw, "cache_read_input_tokens", None)
        write = getattr(raw, "cache_creation_input_tokens", None)
        out = getattr(raw, "output_tokens", None)
        details = getattr(raw, "output_tokens_details", None)
        u = self.usage
        if read is not None:
            u.cached_input_tokens = read
        if write is not None:
            u.cache_write_tokens = write
        if inp is not None:
            # Anthropic's input_tokens excludes cache reads and writes; our
            # prompt_tokens is the whole prompt, as with the other providers.
            self.input_tokens = inp
        u.prompt_tokens = self.input_tokens + u.cached_input_tokens + u.cache_write_tokens
        if out is not None:
            u.completion_tokens = out
        if details is not None and getattr(details, "thinking_tokens", None) is not None:
            u.reasoning_tokens = details.thinking_tokens
