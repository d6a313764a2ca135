"""What every provider adapter implements, and the shared code around it.

An adapter translates an engine `LLMRequest` into its wire format, streams the
provider's answer as engine `StreamEvent`s, and maps SDK errors to
`ProviderError`. Assembling the events into one assistant `Message` happens
once, here (`Provider.complete`). Adapters never touch storage and never retry:
retries live in the loop.
"""

from __future__ import annotations

import email.utils
import importlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from memory.llm.assemble import StreamAssembler
from memory.llm.cancel import cancellable
from memory.llm.errors import ContextWindowExceeded, ProviderError
from memory.llm.models_table import lookup_context_window
from memory.types import LLMRequest, LLMResponse, StreamEvent


@dataclass
class ModelInfo:
    handle: str  # "provider/model"
    provider: str
    name: str  # model name as the provider knows it
    context_window: int
    kind: str = "llm"  # "llm" | "embedding"
    embedding_dim: int | None = None
    supports_tools: bool = True


class Provider(ABC):
    """Base class for chat providers. Subclasses set `name` and implement
    `build_payload`, `stream_payload` and `list_models`."""

    name: str = ""
    supports_token_streaming: bool = True
    supports_parallel_tool_calls: bool = True
    supports_reasoning: bool = False

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout

    @abstractmethod
    def build_payload(self, request: LLMRequest) -> dict[str, Any]:
        """The exact request body sent to the provider (recorded on the step)."""

    @abstractmethod
    def stream_payload(self, payload: dict[str, Any]) -> Iterator[StreamEvent]:
        """Send the payload and yield stream events; raise ProviderError."""

    @abstractmethod
    def list_models(self) -> list[ModelInfo]: ...

    def context_window(self, model: str) -> int | None:
        """Context window for a model, if the provider or our table knows it."""
        return lookup_context_window(model)

    def count_tokens(self, request: LLMRequest) -> int | None:
        """Exact prompt token count from a provider count API; None if none."""
        return None

    def complete(
        self,
        request: LLMRequest,
        on_event: Callable[[StreamEvent], None] | None = None,
        *,
        cancelled: Callable[[], bool] | None = None,
    ) -> LLMResponse:
        """Stream one completion, forwarding events to `on_event`, and assemble it.
        With `cancelled`, the call is abandoned (CallCancelled) soon after it
        says so, even while the provider is silent (memory/llm/cancel.py)."""
        payload = self.build_payload(request)
        assembler = StreamAssembler(provider=self.name, model=request.model)
        events = self.stream_payload(payload)
        if cancelled is not None:
            events = cancellable(events, cancelled)
        try:
            for event in events:
                assembler.feed(event)
                if on_event is not None:
                    on_event(event)
        finally:
            # Closing the generator closes the SDK stream (and its HTTP
            # connection) even when on_event raised, e.g. on cancellation.
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return assembler.finish(raw_request=payload)

    # --- helpers shared by adapters ---------------------------------------

    def not_configured(self, env_var: str) -> ProviderError:
        return ProviderError(
            f"{env_var} is not set: configure it to use the {self.name} provider",
            retryable=False,
            kind="not_configured",
            provider=self.name,
        )


# --- ids ---------------------------------------------------------------

_GENERATED_CALL_ID = re.compile(r"^call_[0-9a-f]{24}$")


def is_generated_call_id(call_id: str | None) -> bool:
    return bool(call_id) and bool(_GENERATED_CALL_ID.match(call_id or ""))


# --- error classification ------------------------------------------------

_CONTEXT_PATTERNS = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "exceeds the maximum number of tokens",
    "maximum number of tokens allowed",
    "reduce the length of the messages",
)


def is_context_overflow_message(message: str) -> bool:
    low = message.lower()
    return any(p in low for p in _CONTEXT_PATTERNS)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or the
    `retry-after-ms` header OpenAI sends; None when absent or unreadable."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def parse_duration(value: Any) -> float | None:
    """'30s' / '1.5s' / '250ms' (Google RetryInfo.retryDelay) → seconds."""
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value)
    if not m:
        return None
    number = float(m.group(1))
    return number / 1000.0 if m.group(2) == "ms" else number


def error_from_status(
    provider: str,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    error_type: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """Map an HTTP status (and the provider's error type, if it gave one) to
    our error kinds. `error_type` matters for errors that arrive inside a 200
    stream, e.g. Anthropic's mid-stream `overloaded_error`."""
    etype = (error_type or "").lower()
    if retry_after is None:
        retry_after = parse_retry_after(headers)
    if status == 429 or "rate_limit" in etype or etype == "resource_exhausted":
        return ProviderError(
            message,
            retryable=True,
            kind="rate_limit",
            status=status,
            retry_after=retry_after,
            provider=provider,
        )
    if status in (401, 403) or etype in ("authentication_error", "permission_error"):
        return ProviderError(
            message, retryable=False, kind="auth", status=status, provider=provider
        )
    # Checked before the 5xx rule: some local servers report an over-long
    # prompt as a 500, and retrying that can never succeed.
    if is_context_overflow_message(message) or etype == "context_length_exceeded":
        return ContextWindowExceeded(message, provider=provider, status=status)
    if (
        status >= 500
        or "overloaded" in etype
        or etype in ("api_error", "server_error", "internal", "unavailable")
    ):
        return ProviderError(
            message,
            retryable=True,
            kind="server",
            status=status,
            retry_after=retry_after,
            provider=provider,
        )
    if status == 408:
        return ProviderError(
            message, retryable=True, kind="timeout", status=status, provider=provider
        )
    return ProviderError(
        message, retryable=False, kind="bad_request", status=status, provider=provider
    )


def _transport_modules() -> list[Any]:
    """httpx2 (the SDKs' fork) and httpx, whichever are installed."""
    mods: list[Any] = []
    for name in ("httpx2", "httpx"):
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            continue
    return mods


def error_from_transport(provider: str, exc: BaseException) -> ProviderError | None:
    """Timeouts and broken connections raised by the HTTP layer itself (httpx,
    its fork httpx2 that the SDKs use, or raw sockets). None if `exc` is not
    a transport error."""
    for mod in _transport_modules():
        if isinstance(exc, mod.TimeoutException):
            return ProviderError(
                f"request timed out: {exc}", retryable=True, kind="timeout", provider=provider
            )
        if isinstance(exc, mod.TransportError):
            return ProviderError(
                f"connection error: {exc or type(exc).__name__}",
                retryable=True,
                kind="connection",
                provider=provider,
            )
    if isinstance(exc, TimeoutError):
        return ProviderError(
            f"request timed out: {exc}", retryable=True, kind="timeout", provider=provider
        )
    if isinstance(exc, OSError):  # ConnectionResetError, BrokenPipeError…
        return ProviderError(
            f"connection error: {exc}", retryable=True, kind="connection", provider=provider
        )
    return None
