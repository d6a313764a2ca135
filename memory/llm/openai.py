"""OpenAI Chat Completions adapter, also used for every OpenAI-compatible
server (OpenRouter, LM Studio, Ollama's /v1, vLLM, LiteLLM…)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import openai as openai_sdk
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from memory.llm.base import ModelInfo, Provider, error_from_status, error_from_transport
from memory.llm.errors import ProviderError
from memory.llm.models_table import (
    context_window_or_default,
    is_embedding_model_name,
    lookup_embedding_dim,
)
from memory.types import (
    FinishEvent,
    LLMRequest,
    Message,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    UsageEvent,
)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

# o-series and gpt-5 reject `max_tokens` and non-default temperatures.
_REASONING_MODEL = re.compile(r"^(o1|o3|o4|gpt-5)(\b|[-.])")

# On api.openai.com, /models also lists audio, image and moderation models
# that cannot drive an agent.
_NOT_CHAT = (
    "audio",
    "realtime",
    "tts",
    "whisper",
    "dall-e",
    "image",
    "transcribe",
    "moderation",
    "search",
    "babbage",
    "davinci",
    "computer-use",
    "codex-mini",
    "sora",
    "instruct",
)


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING_MODEL.match(model.rsplit("/", 1)[-1].lower()))


def map_openai_error(provider: str, exc: BaseException, *, streaming: bool = True) -> ProviderError:
    """SDK exception → ProviderError (shared with the embedder)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai_sdk.APITimeoutError):
        return ProviderError(
            f"request timed out: {exc}", retryable=True, kind="timeout", provider=provider
        )
    if isinstance(exc, openai_sdk.APIConnectionError):
        cause = exc.__cause__
        detail = f"{exc.message} ({type(cause).__name__}: {cause})" if cause else exc.message
        return ProviderError(detail, retryable=True, kind="connection", provider=provider)
    if isinstance(exc, openai_sdk.APIStatusError):
        message = _status_message(exc)
        return error_from_status(
            provider,
            exc.status_code,
            message,
            headers=dict(exc.response.headers),
            error_type=exc.code or exc.type,
        )
    if isinstance(exc, openai_sdk.APIError):
        # An error object inside a 200 stream: the server gave up mid-answer.
        message = exc.message or str(exc)
        etype = getattr(exc, "code", None) or getattr(exc, "type", None)
        status = _int_or_none(getattr(exc, "code", None)) or 500
        return error_from_status(provider, status, message, error_type=etype)
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


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _status_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return f"{exc.status_code}: {err['message']}"
        if isinstance(err, str):
            return f"{exc.status_code}: {err}"
    return str(exc.message)


class OpenAIProvider(Provider):
    name = "openai"
    supports_reasoning = True
    api_key_env = "OPENAI_API_KEY"

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        super().__init__(
            base_url=(base_url or OPENAI_DEFAULT_BASE_URL).rstrip("/"),
            api_key=api_key,
            timeout=timeout,
        )
        self._client_obj: openai_sdk.OpenAI | None = None
        # model id → context size the server's listing gave (None: not given)
        self._listed_windows: dict[str, int | None] | None = None

    # --- client -----------------------------------------------------------

    @property
    def is_official(self) -> bool:
        return "api.openai.com" in (self.base_url or "")

    def _client(self) -> openai_sdk.OpenAI:
        if self._client_obj is None:
            key = self.api_key
            if not key:
                if self.is_official:
                    raise self.not_configured(self.api_key_env)
                # Local OpenAI-compatible servers ignore the key, but the SDK
                # insists on having one.
                key = "not-needed"
            self._client_obj = openai_sdk.OpenAI(
                api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0
            )
        return self._client_obj

    # --- request --------------------------------------------------------

    def build_payload(self, request: LLMRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [m for msg in request.messages for m in self._convert(msg)],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        settings = request.settings
        reasoning_model = is_reasoning_model(request.model)
        if request.tools:
            payload["tools"] = [{"type": "function", "function": t} for t in request.tools]
            payload["tool_choice"] = _tool_choice(request.tool_choice)
            # Only valid alongside tools; OpenAI rejects it otherwise.
            payload["parallel_tool_calls"] = bool(settings.parallel_tool_calls)
        if settings.max_tokens:
            key = "max_completion_tokens" if reasoning_model else "max_tokens"
            payload[key] = settings.max_tokens
        if settings.temperature is not None and not reasoning_model:
            payload["temperature"] = settings.temperature
        if reasoning_model and (settings.reasoning_effort or settings.reasoning):
            payload["reasoning_effort"] = settings.reasoning_effort or "medium"
        return payload

    def _convert(self, msg: Message) -> list[dict[str, Any]]:
        text = msg.text
        if msg.role == "system":
            return [{"role": "system", "content": text}]
        if msg.role == "user":
            out: dict[str, Any] = {"role": "user", "content": text}
            if msg.name:
                out["name"] = msg.name
            return [out]
        if msg.role == "assistant":
            calls = msg.tool_calls
            out = {"role": "assistant", "content": text or (None if calls else "")}
            if calls:
                out["tool_calls"] = [_wire_call(c) for c in calls]
            # ReasoningParts are not sent: Chat Completions has no field for them.
            return [out]
        # role == "tool": one wire message per return.
        returns = msg.tool_returns
        if returns:
            return [
                {"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content}
                for r in returns
            ]
        return [{"role": "user", "content": text}]

    # --- response -------------------------------------------------------

    def stream_payload(self, payload: dict[str, Any]) -> Iterator[StreamEvent]:
        try:
            # Posted as built: the payload is plain JSON already, and the SDK's
            # per-request walk of its TypedDicts (`create(**payload)`) cost more
            # CPU than the rest of a step.
            stream = self._client().post(
                "/chat/completions",
                body=payload,
                cast_to=ChatCompletion,
                options={"security": {"bearer_auth": True}},
                stream=True,
                stream_cls=openai_sdk.Stream[ChatCompletionChunk],
            )
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise map_openai_error(self.name, exc, streaming=False) from exc
        try:
            for chunk in stream:
                yield from self._chunk_events(chunk)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise map_openai_error(self.name, exc) from exc
        finally:
            stream.close()

    def _chunk_events(self, chunk: Any) -> Iterator[StreamEvent]:
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None:
                reasoning = _delta_reasoning(delta)
                if reasoning:
                    yield ReasoningDelta(text=reasoning)
                if delta.content:
                    yield TextDelta(text=delta.content)
                for tc in delta.tool_calls or []:
                    fn = tc.function
                    yield ToolCallDelta(
                        index=tc.index if tc.index is not None else 0,
                        id=tc.id or None,
                        name=(fn.name if fn else None) or None,
                        arguments=(fn.arguments if fn else None) or "",
                    )
            if choice.finish_reason:
                yield FinishEvent(reason=str(choice.finish_reason))
        if chunk.usage is not None:
            yield UsageEvent(usage=_usage(chunk.usage))

    # --- catalogue ------------------------------------------------------

    def context_window(self, model: str) -> int | None:
        if not self.is_official:
            # A self-hosted server knows its real limit (vLLM may run a model
            # with a shorter max_model_len than the model card says).
            if self._listed_windows is None:
                try:
                    self.list_models()
                except ProviderError:
                    # One attempt per provider object: a dead server must not
                    # cost a timeout on every lookup.
                    self._listed_windows = {}
            listed = (self._listed_windows or {}).get(model)
            if listed:
                return listed
        return super().context_window(model)

    def list_models(self) -> list[ModelInfo]:
        try:
            listed = list(self._client().models.list())
        except Exception as exc:  # noqa: BLE001
            raise map_openai_error(self.name, exc, streaming=False) from exc
        models: list[ModelInfo] = []
        windows: dict[str, int | None] = {}
        for item in listed:
            model_id = str(item.id)
            extra = item.model_extra or {}
            windows[model_id] = _listed_context(extra)
            if is_embedding_model_name(model_id):
                models.append(
                    ModelInfo(
                        handle=f"{self.name}/{model_id}",
                        provider=self.name,
                        name=model_id,
                        context_window=context_window_or_default(model_id, windows[model_id]),
                        kind="embedding",
                        embedding_dim=lookup_embedding_dim(model_id),
                        supports_tools=False,
                    )
                )
                continue
            if self.is_official and any(word in model_id for word in _NOT_CHAT):
                continue
            models.append(
                ModelInfo(
                    handle=f"{self.name}/{model_id}",
                    provider=self.name,
                    name=model_id,
                    context_window=context_window_or_default(model_id, windows[model_id]),
                )
            )
        self._listed_windows = windows
        return models


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _wire_call(call: ToolCallPart) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _delta_reasoning(delta: Any) -> str | None:
    """Reasoning text streamed by OpenAI-compatible servers: DeepSeek and vLLM
    use `reasoning_content`, OpenRouter and Ollama `reasoning`."""
    extra = getattr(delta, "model_extra", None) or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _usage(raw: Any) -> Usage:
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    completion_details = getattr(raw, "completion_tokens_details", None)
    return Usage(
        prompt_tokens=raw.prompt_tokens or 0,
        completion_tokens=raw.completion_tokens or 0,
        cached_input_tokens=(getattr(prompt_details, "cached_tokens", None) or 0),
        reasoning_tokens=(getattr(completion_details, "reasoning_tokens", None) or 0),
    )


def _listed_context(extra: dict[str, Any]) -> int | None:
    """Context size where an OpenAI-compatible listing gives one: vLLM
    `max_model_len`, OpenRouter `context_length`, others `context_window`."""
    for key in ("max_model_len", "context_length", "context_window", "max_context_length"):
        value = extra.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None
