"""Google Gemini (Developer API) adapter, on the google-genai SDK.

The payload we record is plain JSON (`{"model", "contents", "config"}` in the
SDK's snake_case field names, thought signatures as base64 text); it is turned
into SDK types only when sent.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from memory.llm.base import (
    ModelInfo,
    Provider,
    error_from_status,
    error_from_transport,
    is_generated_call_id,
    parse_duration,
)
from memory.llm.errors import ProviderError
from memory.llm.models_table import context_window_or_default, lookup_embedding_dim
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

GEMINI_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


_API_VERSION = re.compile(r"^(?P<root>.*?)/(?P<version>v1(?:alpha|beta)?\d*)/?$")


def sdk_http_options(base_url: str, timeout: float) -> genai_types.HttpOptions:
    """Shared with the embedder: our base URL, our timeout (the SDK counts in
    milliseconds) and no SDK retries (the loop retries).

    The SDK appends the API version itself, so a GEMINI_BASE_URL written
    with one ("…/v1beta", as many proxies document it) is split into root and
    version instead of becoming "…/v1beta/v1"."""
    api_version: str | None = None
    match = _API_VERSION.match(base_url.rstrip("/"))
    if match is not None:
        base_url, api_version = match.group("root"), match.group("version")
    return genai_types.HttpOptions(
        base_url=base_url,
        api_version=api_version,
        timeout=max(1, int(timeout * 1000)),
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )


def map_gemini_error(provider: str, exc: BaseException, *, streaming: bool = True) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        status = int(exc.code or 500)
        message = f"{status} {exc.status or ''}: {exc.message or exc.details}".replace("  ", " ")
        headers = _headers_of(getattr(exc, "response", None))
        return error_from_status(
            provider,
            status,
            message,
            headers=headers,
            error_type=exc.status,
            retry_after=_retry_delay(exc.details),
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


def _headers_of(response: Any) -> dict[str, str] | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except AttributeError:
        return None


def _retry_delay(details: Any) -> float | None:
    """Google puts the back-off in a google.rpc.RetryInfo detail ("30s")."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details", []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and "retryDelay" in item:
            return parse_duration(item["retryDelay"])
    return None


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _finish(reason: Any) -> str:
    name = str(getattr(reason, "value", reason) or "").upper()
    if name == "STOP":
        return "stop"
    if name == "MAX_TOKENS":
        return "length"
    if name in _FILTERED:
        return "content_filter"
    return name.lower() or "stop"


class GeminiProvider(Provider):
    name = "gemini"
    supports_reasoning = True
    api_key_env = "GEMINI_API_KEY"

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        super().__init__(
            base_url=(base_url or GEMINI_DEFAULT_BASE_URL).rstrip("/"),
            api_key=api_key,
            timeout=timeout,
        )
        self._client_obj: genai.Client | None = None

    def _client(self) -> genai.Client:
        if self._client_obj is None:
            if not self.api_key:
                raise self.not_configured(self.api_key_env)
            self._client_obj = genai.Client(
                vertexai=False,
                api_key=self.api_key,
                http_options=sdk_http_options(
                    self.base_url or GEMINI_DEFAULT_BASE_URL, self.timeout
                ),
            )
        return self._client_obj

    # --- request --------------------------------------------------------

    def build_payload(self, request: LLMRequest) -> dict[str, Any]:
        system, contents = self._convert_messages(request.messages)
        settings = request.settings
        config: dict[str, Any] = {}
        if system:
            config["system_instruction"] = system
        if request.tools:
            config["tools"] = [
                {
                    "function_declarations": [
                        # parameters_json_schema takes full JSON Schema, so tool
                        # schemas need no rewriting into Gemini's OpenAPI subset.
                        {
                            "name": t["name"],
                            "description": t.get("description", ""),
                            "parameters_json_schema": t.get("parameters")
                            or {"type": "object", "properties": {}},
                        }
                        for t in request.tools
                    ]
                }
            ]
            config["tool_config"] = {"function_calling_config": _tool_config(request.tool_choice)}
        if settings.temperature is not None:
            config["temperature"] = settings.temperature
        if settings.max_tokens:
            config["max_output_tokens"] = settings.max_tokens
        if settings.reasoning:
            thinking: dict[str, Any] = {"include_thoughts": True}
            if request.model.startswith("gemini-3") and settings.reasoning_effort:
                # Gemini 3 takes a level; setting a budget as well is an error.
                thinking["thinking_level"] = settings.reasoning_effort.upper()
            elif settings.max_reasoning_tokens:
                thinking["thinking_budget"] = settings.max_reasoning_tokens
            config["thinking_config"] = thinking
        return {"model": request.model, "contents": contents, "config": config}

    def _convert_messages(self, messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
        system_texts: list[str] = []
        contents: list[dict[str, Any]] = []
        for msg in messages:
            if msg.role == "system" and not contents:
                if msg.text:
                    system_texts.append(msg.text)
                continue
            role, parts = self._parts(msg)
            if not parts:
                continue
            if contents and contents[-1]["role"] == role:
                # Parallel function responses must share one content, and
                # Gemini expects user/model turns to alternate.
                contents[-1]["parts"].extend(parts)
            else:
                contents.append({"role": role, "parts": parts})
        if not contents or contents[0]["role"] != "user":
            contents.insert(0, {"role": "user", "parts": [{"text": "(conversation start)"}]})
        return "\n\n".join(system_texts), contents

    def _parts(self, msg: Message) -> tuple[str, list[dict[str, Any]]]:
        if msg.role == "assistant":
            return "model", self._model_parts(msg)
        if msg.role == "tool":
            parts: list[dict[str, Any]] = []
            for part in msg.content:
                if isinstance(part, ToolReturnPart):
                    parts.append({"function_response": _function_response(part)})
                elif isinstance(part, TextPart) and part.text:
                    parts.append({"text": part.text})
            return "user", parts
        return "user", [{"text": msg.text or "(empty message)"}]

    def _model_parts(self, msg: Message) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        # A signature Gemini attached to a plain text part comes back to us as
        # a text-less ReasoningPart; it goes back on the text part.
        pending_signature: str | None = None
        own = [
            p
            for p in msg.content
            if not isinstance(p, ReasoningPart) or p.provider in (None, self.name)
        ]
        for part in own:
            if isinstance(part, ReasoningPart):
                if part.text:
                    thought: dict[str, Any] = {"text": part.text, "thought": True}
                    if part.signature:
                        thought["thought_signature"] = part.signature
                    parts.append(thought)
                elif part.signature:
                    pending_signature = part.signature
            elif isinstance(part, TextPart) and part.text:
                text_part: dict[str, Any] = {"text": part.text}
                if pending_signature:
                    text_part["thought_signature"] = pending_signature
                    pending_signature = None
                parts.append(text_part)
            elif isinstance(part, ToolCallPart):
                fc: dict[str, Any] = {"name": part.name, "args": _parse_args(part.arguments)}
                if not is_generated_call_id(part.id):
                    fc["id"] = part.id
                call_part: dict[str, Any] = {"function_call": fc}
                if part.signature:
                    call_part["thought_signature"] = part.signature
                parts.append(call_part)
        return parts

    # --- response -------------------------------------------------------

    def _sdk_args(self, payload: dict[str, Any]) -> dict[str, Any]:
        contents = [
            genai_types.Content.model_validate_json(json.dumps(c)) for c in payload["contents"]
        ]
        config = genai_types.GenerateContentConfig.model_validate(
            {
                **payload["config"],
                # SDK-side behaviour, not part of the request body: we run tools
                # ourselves and the loop owns retries / resumption.
                "automatic_function_calling": {"disable": True},
                "automatic_continuation": False,
            }
        )
        return {"model": payload["model"], "contents": contents, "config": config}

    def stream_payload(self, payload: dict[str, Any]) -> Iterator[StreamEvent]:
        try:
            stream = self._client().models.generate_content_stream(**self._sdk_args(payload))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise map_gemini_error(self.name, exc, streaming=False) from exc
        calls = 0
        try:
            for chunk in stream:
                for event in _chunk_events(chunk, calls):
                    if isinstance(event, ToolCallDelta):
                        calls += 1
                    yield event
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise map_gemini_error(self.name, exc) from exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def count_tokens(self, request: LLMRequest) -> int | None:
        payload = self.build_payload(request)
        # The Developer API's countTokens takes contents only (no system
        # instruction or tools), so those ride along as text: an estimate of
        # the same size rather than an undercount.
        extra: list[dict[str, Any]] = []
        config = payload["config"]
        if config.get("system_instruction"):
            extra.append({"role": "user", "parts": [{"text": config["system_instruction"]}]})
        if config.get("tools"):
            extra.append({"role": "user", "parts": [{"text": json.dumps(config["tools"])}]})
        try:
            contents = [
                genai_types.Content.model_validate_json(json.dumps(c))
                for c in extra + payload["contents"]
            ]
            result = self._client().models.count_tokens(model=payload["model"], contents=contents)
            return int(result.total_tokens) if result.total_tokens is not None else None
        except Exception:  # noqa: BLE001 - callers fall back to an estimate
            return None

    def list_models(self) -> list[ModelInfo]:
        try:
            listed = list(self._client().models.list())
        except Exception as exc:  # noqa: BLE001
            raise map_gemini_error(self.name, exc, streaming=False) from exc
        models: list[ModelInfo] = []
        for m in listed:
            name = (m.name or "").removeprefix("models/")
            actions = set(m.supported_actions or [])
            if "generateContent" in actions:
                models.append(
                    ModelInfo(
                        handle=f"{self.name}/{name}",
                        provider=self.name,
                        name=name,
                        context_window=context_window_or_default(name, m.input_token_limit),
                    )
                )
            elif actions & {"embedContent", "batchEmbedContents"}:
                models.append(
                    ModelInfo(
                        handle=f"{self.name}/{name}",
                        provider=self.name,
                        name=name,
                        context_window=context_window_or_default(name, m.input_token_limit),
                        kind="embedding",
                        embedding_dim=lookup_embedding_dim(name),
                        supports_tools=False,
                    )
                )
        return models


def _chunk_events(chunk: Any, calls_so_far: int) -> Iterator[StreamEvent]:
    index = calls_so_far
    candidates = chunk.candidates or []
    if not candidates:
        feedback = getattr(chunk, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            yield FinishEvent(reason="content_filter")
    for cand in candidates[:1]:
        content = cand.content
        for part in (content.parts if content is not None else None) or []:
            sig = _b64(part.thought_signature)
            if part.function_call is not None:
                fc = part.function_call
                yield ToolCallDelta(
                    index=index,
                    id=fc.id or None,
                    name=fc.name,
                    arguments=json.dumps(fc.args or {}),
                    signature=sig,
                )
                index += 1
            elif part.thought:
                yield ReasoningDelta(text=part.text or "", signature=sig)
            else:
                if part.text:
                    yield TextDelta(text=part.text)
                if sig:
                    yield ReasoningDelta(signature=sig)
        if cand.finish_reason:
            yield FinishEvent(reason=_finish(cand.finish_reason))
    meta = chunk.usage_metadata
    if meta is not None:
        # Each chunk reports the running total: the assembler keeps the last.
        thoughts = meta.thoughts_token_count or 0
        yield UsageEvent(
            usage=Usage(
                prompt_tokens=(meta.prompt_token_count or 0)
                + (meta.tool_use_prompt_token_count or 0),
                completion_tokens=(meta.candidates_token_count or 0) + thoughts,
                cached_input_tokens=meta.cached_content_token_count or 0,
                reasoning_tokens=thoughts,
            )
        )


def _tool_config(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"mode": "AUTO"}
    if choice == "none":
        return {"mode": "NONE"}
    if choice == "required":
        return {"mode": "ANY"}
    return {"mode": "ANY", "allowed_function_names": [choice]}


def _parse_args(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _function_response(part: ToolReturnPart) -> dict[str, Any]:
    try:
        parsed: Any = json.loads(part.content)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        response = parsed
    else:
        # Gemini wants an object; "output" / "error" are the keys its docs use.
        response = {"error" if part.status == "error" else "output": part.content}
    out: dict[str, Any] = {"name": part.name, "response": response}
    if not is_generated_call_id(part.tool_call_id):
        out["id"] = part.tool_call_id
    return out
