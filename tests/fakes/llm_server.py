"""A scripted fake LLM server speaking the OpenAI, Anthropic, Gemini, Ollama
and vLLM wire formats over real HTTP on 127.0.0.1.

Tests point the real provider SDKs at it. Each chat request takes the next
scripted turn from a FIFO queue and renders it in whichever format the
request arrived in, so one script works for every provider:

    with FakeLLMServer() as server:
        server.script(
            tool_call("send_message", {"message": "hi"}, reasoning="think", signature="sig-1"),
            reply("done"),
            error(429, retry_after=3),
        )
        provider = OpenAIProvider(base_url=server.url + "/v1", api_key="k")
        ...
        assert server.chat_requests()[1].json["messages"][-1]["role"] == "tool"

When the queue is empty the server answers with `server.default_turn`
(a reply "ok"), so a test never hangs. Every request is recorded in
`server.requests`.

Where requests arrive in no fixed order (concurrent turns), a `responder`
answers each chat request from its content instead, e.g. with a tool call that
carries a token the user sent; it is asked when the queue is empty, and
returning None falls back to `default_turn`:

    def respond(req):  # OpenAI wire format here
        last = req.json["messages"][-1]
        return reply("saved") if last["role"] == "tool" else tool_call("memory_insert", {...})
    server.responder = respond
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# --- scripted turns ------------------------------------------------------


@dataclass
class ScriptedCall:
    name: str
    arguments: str  # raw JSON text as the model "produced" it
    id: str | None = None
    signature: str | None = None  # Gemini thought signature on the call part


@dataclass
class Turn:
    """One scripted answer. Build with the helpers below, not directly."""

    kind: str = "reply"  # reply | error | disconnect | delay | truncated
    text: str = ""
    reasoning: str | None = None
    signature: str | None = None
    redacted: str | None = None
    calls: list[ScriptedCall] = field(default_factory=list)
    finish: str | None = None  # "length" to simulate max_tokens; default stop/tool_calls
    usage: dict[str, int] | None = None
    # error
    status: int = 0
    body: Any = None
    message: str | None = None
    retry_after: float | str | None = None
    context_overflow: bool = False
    # disconnect
    reset: bool = True
    # delay / truncated
    seconds: float = 0.0
    then: Turn | None = None
    keep: int | None = None


def _args_text(args: dict[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(args)


def call(
    name: str,
    args: dict[str, Any] | str | None = None,
    *,
    id: str | None = None,
    signature: str | None = None,
) -> ScriptedCall:
    """One tool call for `tool_calls([...])`."""
    return ScriptedCall(
        name=name,
        arguments=_args_text(args if args is not None else {}),
        id=id,
        signature=signature,
    )


def reply(
    text: str,
    *,
    reasoning: str | None = None,
    signature: str | None = None,
    redacted: str | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> Turn:
    """A plain text answer, optionally with reasoning (and its signature) and an
    Anthropic redacted_thinking block."""
    return Turn(
        text=text,
        reasoning=reasoning,
        signature=signature,
        redacted=redacted,
        finish=finish,
        usage=usage,
    )


def tool_call(
    name: str,
    args: dict[str, Any] | str | None = None,
    *,
    id: str | None = None,
    text: str | None = None,
    reasoning: str | None = None,
    signature: str | None = None,
    call_signature: str | None = None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> Turn:
    """One tool call. `args` is a dict or the raw argument text (e.g. broken
    JSON). `signature` signs the reasoning; `call_signature` is the Gemini
    thought signature on the function-call part."""
    return Turn(
        text=text or "",
        reasoning=reasoning,
        signature=signature,
        finish=finish,
        usage=usage,
        calls=[call(name, args, id=id, signature=call_signature)],
    )


def tool_calls(
    calls: list[ScriptedCall | tuple[str, dict[str, Any] | str]],
    *,
    text: str | None = None,
    reasoning: str | None = None,
    signature: str | None = None,
    usage: dict[str, int] | None = None,
) -> Turn:
    """Parallel tool calls in one answer: items are `call(...)` or (name, args)."""
    scripted = [c if isinstance(c, ScriptedCall) else call(c[0], c[1]) for c in calls]
    return Turn(
        text=text or "", reasoning=reasoning, signature=signature, calls=scripted, usage=usage
    )


def empty(*, usage: dict[str, int] | None = None) -> Turn:
    """A complete answer with no text and no tool calls."""
    return Turn(usage=usage)


def error(
    status: int,
    body: Any = None,
    *,
    retry_after: float | str | None = None,
    message: str | None = None,
) -> Turn:
    """An HTTP error. `body`: a dict sent verbatim, a str used as the message in
    the provider's own error envelope, or None for a default message."""
    if isinstance(body, str):
        message, body = body, None
    return Turn(kind="error", status=status, body=body, message=message, retry_after=retry_after)


def context_overflow() -> Turn:
    """A 400 with each provider's own wording for an over-long prompt."""
    return Turn(kind="error", status=400, context_overflow=True)


def disconnect(*, reset: bool = True) -> Turn:
    """Read the request, then drop the connection without answering (a TCP
    reset by default, a plain close with reset=False)."""
    return Turn(kind="disconnect", reset=reset)


def delay(seconds: float, then: Turn | None = None) -> Turn:
    """Wait before answering with `then` (default: reply "ok")."""
    return Turn(kind="delay", seconds=seconds, then=then)


def truncated(then: Turn | None = None, *, keep: int | None = None) -> Turn:
    """Stream the first `keep` content events of `then` (default: half of
    them), then close the connection cleanly, without any finish event."""
    return Turn(kind="truncated", then=then or reply("this answer is cut off mid-way"), keep=keep)


# --- models and embeddings -----------------------------------------------


@dataclass
class FakeModel:
    name: str
    context_length: int | None = 8192
    capabilities: tuple[str, ...] = ("completion", "tools")
    family: str = "llama"
    embedding_dim: int | None = None

    @property
    def is_embedding(self) -> bool:
        return "embedding" in self.capabilities


def default_models() -> list[FakeModel]:
    return [
        FakeModel("fake-chat", 32_768, ("completion", "tools"), "llama"),
        FakeModel("fake-notools", 4_096, ("completion",), "gemma"),
        FakeModel("fake-embed", 2_048, ("embedding",), "nomic-bert", embedding_dim=384),
    ]


# Output sizes of well-known embedding models, so embedders that check the
# size they were promised see the real one.
KNOWN_EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
    "nomic-embed-text": 768,
    "all-minilm": 384,
}


def fake_embedding(text: str, dim: int = 384) -> list[float]:
    """Deterministic unit vector seeded by the text's hash."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    vec = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


# --- recorded requests ------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    group: str  # chat | embeddings | models | count_tokens | other
    wire: str  # openai | anthropic | gemini | ollama


# --- wire rendering ------------------------------------------------------


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def _approx_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return max(1, len(text) // 4)


@dataclass
class _Usage:
    prompt: int
    completion: int
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0


def _usage_for(turn: Turn, request_json: Any) -> _Usage:
    reasoning = _approx_tokens(turn.reasoning) if turn.reasoning else 0
    completion = (
        (_approx_tokens(turn.text) if turn.text else 0)
        + reasoning
        + sum(_approx_tokens(c.arguments) + 2 for c in turn.calls)
        + 1
    )
    usage = _Usage(
        prompt=_approx_tokens(request_json or {}), completion=completion, reasoning=reasoning
    )
    for key, value in (turn.usage or {}).items():
        attr = {
            "prompt_tokens": "prompt",
            "completion_tokens": "completion",
            "cached_tokens": "cached",
            "cache_write_tokens": "cache_write",
            "reasoning_tokens": "reasoning",
        }[key]
        setattr(usage, attr, value)
    return usage


@dataclass
class _Plan:
    """A streamed answer: frames[:content] can be cut by `truncated`; the rest
    finish the response."""

    frames: list[bytes]
    content: int
    json_body: Any


def _openai_plan(turn: Turn, req: dict[str, Any]) -> _Plan:
    model = req.get("model", "fake")
    created = int(time.time())
    cid = "chatcmpl-" + uuid.uuid4().hex[:12]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n".encode()

    frames = [chunk({"role": "assistant", "content": ""})]
    if turn.reasoning:
        frames += [chunk({"reasoning_content": p}) for p in _pieces(turn.reasoning, 6)]
    frames += [chunk({"content": p}) for p in _pieces(turn.text, 4)]
    # id=None: the server makes one up; id="": some local servers send none.
    ids = [("call_" + uuid.uuid4().hex[:20]) if c.id is None else c.id for c in turn.calls]
    for i, (c, cid_) in enumerate(zip(turn.calls, ids, strict=True)):
        opening: dict[str, Any] = {
            "index": i,
            "type": "function",
            "function": {"name": c.name, "arguments": ""},
        }
        if cid_:
            opening["id"] = cid_
        frames.append(chunk({"tool_calls": [opening]}))
        frames += [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
            for p in _pieces(c.arguments, 7)
        ]
    content = len(frames)
    finish = turn.finish or ("tool_calls" if turn.calls else "stop")
    frames.append(chunk({}, finish))
    u = _usage_for(turn, req)
    usage = {
        "prompt_tokens": u.prompt,
        "completion_tokens": u.completion,
        "total_tokens": u.prompt + u.completion,
        "prompt_tokens_details": {"cached_tokens": u.cached},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    }
    if (req.get("stream_options") or {}).get("include_usage"):
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        frames.append(f"data: {json.dumps(data)}\n\n".encode())
    frames.append(b"data: [DONE]\n\n")
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
    if turn.calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c, i in zip(turn.calls, ids, strict=True)
        ]
    body = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }
    return _Plan(frames, content, body)


def _anthropic_plan(turn: Turn, req: dict[str, Any]) -> _Plan:
    model = req.get("model", "fake")
    u = _usage_for(turn, req)

    def ev(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    start_usage = {
        "input_tokens": u.prompt - u.cached - u.cache_write,
        "output_tokens": 1,
        "cache_read_input_tokens": u.cached,
        "cache_creation_input_tokens": u.cache_write,
    }
    msg_id = "msg_" + uuid.uuid4().hex[:20]
    frames = [
        ev(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        ),
        ev("ping", {"type": "ping"}),
    ]
    blocks: list[dict[str, Any]] = []
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]], final: dict[str, Any]) -> None:
        nonlocal index
        frames.append(
            ev(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        for d in deltas:
            frames.append(
                ev(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": d},
                )
            )
        frames.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
        blocks.append(final)
        index += 1

    if turn.redacted:
        b = {"type": "redacted_thinking", "data": turn.redacted}
        block(b, [], b)
    if turn.reasoning:
        sig = turn.signature or "sig-" + hashlib.sha1(turn.reasoning.encode()).hexdigest()[:16]
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(turn.reasoning, 6)]
        deltas.append({"type": "signature_delta", "signature": sig})
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            deltas,
            {"type": "thinking", "thinking": turn.reasoning, "signature": sig},
        )
    if turn.text:
        block(
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": p} for p in _pieces(turn.text, 4)],
            {"type": "text", "text": turn.text},
        )
    for c in turn.calls:
        cid = c.id or "toolu_" + uuid.uuid4().hex[:20]
        try:
            parsed: Any = json.loads(c.arguments)
        except ValueError:
            parsed = {}
        block(
            {"type": "tool_use", "id": cid, "name": c.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": p} for p in _pieces(c.arguments, 7)],
            {"type": "tool_use", "id": cid, "name": c.name, "input": parsed},
        )
    content = len(frames)
    if turn.finish == "length":
        stop = "max_tokens"
    else:
        stop = "tool_use" if turn.calls else (turn.finish or "end_turn")
    out_usage: dict[str, Any] = {"output_tokens": u.completion}
    if u.reasoning:
        out_usage["output_tokens_details"] = {"thinking_tokens": u.reasoning}
    frames.append(
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": out_usage,
            },
        )
    )
    frames.append(ev("message_stop", {"type": "message_stop"}))
    body = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {**start_usage, "output_tokens": u.completion},
    }
    return _Plan(frames, content, body)


def _gemini_plan(turn: Turn, req: dict[str, Any], model: str) -> _Plan:
    u = _usage_for(turn, req)

    def chunk(parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": model,
        }

    chunks: list[dict[str, Any]] = []
    all_parts: list[dict[str, Any]] = []
    if turn.reasoning:
        pieces = _pieces(turn.reasoning, 6)
        for i, p in enumerate(pieces):
            part: dict[str, Any] = {"text": p, "thought": True}
            if turn.signature and i == len(pieces) - 1:
                part["thoughtSignature"] = turn.signature
            chunks.append(chunk([part]))
        merged = {"text": turn.reasoning, "thought": True}
        if turn.signature:
            merged["thoughtSignature"] = turn.signature
        all_parts.append(merged)
    text_pieces = _pieces(turn.text, 4)
    # Without shown thoughts, Gemini puts the turn's signature on the first
    # function call, or else on the (last) text part.
    hidden = turn.signature if not turn.reasoning else None
    text_signature = hidden if not turn.calls else None
    first_call_signature = hidden if turn.calls else None
    for i, p in enumerate(text_pieces):
        part = {"text": p}
        if text_signature and i == len(text_pieces) - 1:
            part["thoughtSignature"] = text_signature
        chunks.append(chunk([part]))
    if turn.text:
        merged = {"text": turn.text}
        if text_signature:
            merged["thoughtSignature"] = text_signature
        all_parts.append(merged)
    for c in turn.calls:
        try:
            args = json.loads(c.arguments)
        except ValueError:
            args = {"raw": c.arguments}
        fc: dict[str, Any] = {"name": c.name, "args": args}
        if c.id:
            fc["id"] = c.id
        part = {"functionCall": fc}
        signature = c.signature or (first_call_signature if c is turn.calls[0] else None)
        if signature:
            part["thoughtSignature"] = signature
        chunks.append(chunk([part]))
        all_parts.append(part)
    content = len(chunks)
    finish = {"length": "MAX_TOKENS"}.get(turn.finish or "", (turn.finish or "STOP").upper())
    usage = {
        "promptTokenCount": u.prompt,
        "candidatesTokenCount": u.completion - u.reasoning,
        "totalTokenCount": u.prompt + u.completion,
        "cachedContentTokenCount": u.cached,
        "thoughtsTokenCount": u.reasoning,
    }
    chunks.append(
        {
            "candidates": [{"finishReason": finish, "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
        }
    )
    frames = [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks]
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": all_parts}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": usage,
        "modelVersion": model,
    }
    return _Plan(frames, content, body)


_DEFAULT_ERROR_TEXT = {
    400: "invalid request",
    401: "invalid api key",
    403: "permission denied",
    404: "not found",
    429: "rate limit exceeded, slow down",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    529: "overloaded",
}

_CONTEXT_TEXT = {
    "openai": "This model's maximum context length is 8192 tokens. However, your messages "
    "resulted in 9001 tokens. Please reduce the length of the messages.",
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
    "gemini": "The input token count (1200000) exceeds the maximum number of tokens "
    "allowed (1048576).",
    "ollama": "the input length exceeds the context length",
}

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _error_body(turn: Turn, wire: str) -> Any:
    if turn.body is not None:
        return turn.body
    status = turn.status
    if turn.context_overflow:
        message = _CONTEXT_TEXT[wire]
    else:
        message = turn.message or _DEFAULT_ERROR_TEXT.get(status, f"error {status}")
    if wire == "anthropic":
        return {
            "type": "error",
            "error": {
                "type": _ANTHROPIC_ERROR_TYPES.get(
                    status, "api_error" if status >= 500 else "invalid_request_error"
                ),
                "message": message,
            },
        }
    if wire == "gemini":
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
    if wire == "ollama":
        return {"error": message}
    code = "context_length_exceeded" if turn.context_overflow else None
    etype = "invalid_request_error" if status < 500 else "server_error"
    if status == 429:
        etype = code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


# --- the server ----------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping in delay()
    allow_reuse_address = True
    owner: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-stream are part of the script.
        return


class FakeLLMServer:
    """Real HTTP server on 127.0.0.1 (random port), run in a daemon thread."""

    def __init__(
        self,
        *,
        default_turn: Turn | None = None,
        embedding_dim: int = 384,
        models: list[FakeModel] | None = None,
    ) -> None:
        self.default_turn = default_turn or reply("ok")
        self.embedding_dim = embedding_dim
        self.models = models if models is not None else default_models()
        # Anthropic /count_tokens answer; None = approximate from the body.
        self.count_tokens_value: int | None = None
        # Answers a chat request from its content when the queue is empty.
        self.responder: Callable[[RecordedRequest], Turn | None] | None = None
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str, deque[Turn]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-llm-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers waiting in delay()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting -------------------------------------------------------

    def script(self, *turns: Turn) -> FakeLLMServer:
        """Queue answers for chat requests, in order."""
        return self.script_for("chat", *turns)

    def script_for(self, group: str, *turns: Turn) -> FakeLLMServer:
        """Queue answers for another route group: embeddings | models |
        count_tokens (only error / disconnect / delay make sense there)."""
        with self._lock:
            self._queues.setdefault(group, deque()).extend(turns)
        return self

    def pending(self, group: str = "chat") -> int:
        with self._lock:
            return len(self._queues.get(group, ()))

    def next_turn(self, group: str, request: RecordedRequest | None = None) -> Turn | None:
        with self._lock:
            queue = self._queues.get(group)
            if queue:
                return queue.popleft()
        responder = self.responder
        if group == "chat" and responder is not None and request is not None:
            answer = responder(request)
            if answer is not None:
                return answer
        return self.default_turn if group == "chat" else None

    # --- inspection ------------------------------------------------------

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.group == "chat"]

    def last_chat(self) -> RecordedRequest:
        chats = self.chat_requests()
        if not chats:
            raise AssertionError("no chat request was received")
        return chats[-1]

    def model(self, name: str) -> FakeModel | None:
        bare = name.removeprefix("models/")
        for m in self.models:
            if m.name == bare or m.name.split(":")[0] == bare.split(":")[0]:
                return m
        return None

    def embed_dim(self, model: str, requested: int | None) -> int:
        if requested:
            return requested
        known = self.model(model)
        if known is not None and known.embedding_dim:
            return known.embedding_dim
        bare = model.removeprefix("models/").split(":")[0]
        return KNOWN_EMBEDDING_DIMS.get(bare, self.embedding_dim)


def _route(path: str, headers: dict[str, str]) -> tuple[str, str, str | None]:
    """(wire, group, action) for a request. Gemini shares /v1/models with
    OpenAI and Anthropic, so the SDK's identifying headers decide."""
    google = "x-goog-api-key" in headers or "x-goog-api-client" in headers
    if google or path.startswith("/v1beta/"):
        last = path.rsplit("/", 1)[-1]
        action = last.split(":", 1)[1] if ":" in last else None
        group = {
            "generateContent": "chat",
            "streamGenerateContent": "chat",
            "countTokens": "count_tokens",
            "embedContent": "embeddings",
            "batchEmbedContents": "embeddings",
        }.get(action or "", "models")
        return "gemini", group, action
    if path.startswith("/api/"):
        group = {
            "/api/embed": "embeddings",
            "/api/embeddings": "embeddings",
            "/api/tags": "models",
            "/api/show": "models",
        }.get(path, "other")
        return "ollama", group, path
    wire = "anthropic" if "anthropic-version" in headers else "openai"
    if path.endswith("/chat/completions"):
        return "openai", "chat", "chat"
    if path.endswith("/embeddings"):
        return "openai", "embeddings", "embeddings"
    if path.endswith("/messages/count_tokens"):
        return "anthropic", "count_tokens", "count_tokens"
    if path.endswith("/messages"):
        return "anthropic", "chat", "messages"
    if path.endswith("/models") or "/models/" in path:
        return wire, "models", "models"
    return wire, "other", None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # every answer ends by closing: truncation is a clean EOF

    def log_message(self, format: str, *args: Any) -> None:
        return

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # --- plumbing ------------------------------------------------------

    @property
    def owner(self) -> FakeLLMServer:
        return self.server.owner

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        wire, group, action = _route(path, headers)
        req = RecordedRequest(
            method=self.command,
            path=path,
            query=parse_qs(parts.query),
            headers=headers,
            body=raw,
            json=body,
            group=group,
            wire=wire,
        )
        self.owner.record(req)
        try:
            self._serve(req, action, self.owner.next_turn(group, req))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass

    def _serve(self, req: RecordedRequest, action: str | None, turn: Turn | None) -> None:
        while turn is not None and turn.kind == "delay":
            if self.owner._stopping.wait(turn.seconds):
                return
            turn = turn.then or reply("ok")
        if turn is not None and turn.kind == "disconnect":
            self._drop(turn.reset)
            return
        if turn is not None and turn.kind == "error":
            headers = {}
            if turn.retry_after is not None:
                headers["Retry-After"] = str(turn.retry_after)
            self._json(turn.status, _error_body(turn, req.wire), headers)
            return
        if req.group == "chat":
            self._chat(req, action, turn or self.owner.default_turn)
        elif req.group == "embeddings":
            self._embeddings(req, action)
        elif req.group == "models":
            self._models(req, action)
        elif req.group == "count_tokens":
            self._count(req)
        else:
            self._json(404, {"error": {"message": f"no route for {req.path}"}})

    def _drop(self, reset: bool) -> None:
        sock = self.connection
        if reset:
            # SO_LINGER with zero timeout makes close() send a TCP RST.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        sock.close()
        self.close_connection = True
        self.wfile = _NullWriter()  # type: ignore[assignment]

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, frames: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for frame in frames:
            self.wfile.write(frame)
            self.wfile.flush()

    # --- chat ------------------------------------------------------------

    def _chat(self, req: RecordedRequest, action: str | None, turn: Turn) -> None:
        cut = turn.kind == "truncated"
        inner = (turn.then or reply("")) if cut else turn
        body = req.json if isinstance(req.json, dict) else {}
        if req.wire == "openai":
            plan = _openai_plan(inner, body)
            streaming = bool(body.get("stream"))
        elif req.wire == "anthropic":
            plan = _anthropic_plan(inner, body)
            streaming = bool(body.get("stream"))
        else:
            model = req.path.rsplit("/", 1)[-1].split(":", 1)[0]
            plan = _gemini_plan(inner, body, model)
            streaming = action == "streamGenerateContent"
        if not streaming:
            data = json.dumps(plan.json_body).encode()
            if cut:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
            else:
                self._json(200, plan.json_body)
            return
        if cut:
            keep = turn.keep if turn.keep is not None else max(1, plan.content // 2)
            self._sse(plan.frames[: min(keep, plan.content)])
        else:
            self._sse(plan.frames)

    # --- embeddings ------------------------------------------------------

    def _embeddings(self, req: RecordedRequest, action: str | None) -> None:
        body = req.json if isinstance(req.json, dict) else {}
        owner = self.owner
        if req.wire == "openai":
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
            model = str(body.get("model", ""))
            dim = owner.embed_dim(model, body.get("dimensions"))
            as_b64 = body.get("encoding_format") == "base64"
            data = []
            for i, text in enumerate(texts):
                vec = fake_embedding(str(text), dim)
                emb: Any = (
                    base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if as_b64 else vec
                )
                data.append({"object": "embedding", "index": i, "embedding": emb})
            tokens = sum(_approx_tokens(str(t)) for t in texts)
            self._json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )
        elif req.wire == "ollama":
            inputs = body.get("input", body.get("prompt"))
            texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
            model = str(body.get("model", ""))
            if owner.model(model) is None:
                self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
                return
            dim = owner.embed_dim(model, body.get("dimensions"))
            self._json(
                200, {"model": model, "embeddings": [fake_embedding(str(t), dim) for t in texts]}
            )
        else:  # gemini
            model = req.path.rsplit("/", 1)[-1].split(":", 1)[0]
            if action == "batchEmbedContents":
                items = body.get("requests", [])
            else:
                items = [body]
            out = []
            for item in items:
                text = "".join(p.get("text", "") for p in item.get("content", {}).get("parts", []))
                dim = owner.embed_dim(model, item.get("outputDimensionality"))
                out.append({"values": fake_embedding(text, dim)})
            if action == "batchEmbedContents":
                self._json(200, {"embeddings": out})
            else:
                self._json(200, {"embedding": out[0]})

    # --- catalogues ------------------------------------------------------

    def _models(self, req: RecordedRequest, action: str | None) -> None:
        owner = self.owner
        if req.wire == "ollama":
            if action == "/api/tags":
                self._json(
                    200,
                    {
                        "models": [
                            {
                                "name": m.name,
                                "model": m.name,
                                "modified_at": "2025-01-01T00:00:00Z",
                                "size": 1_000_000,
                                "digest": hashlib.sha256(m.name.encode()).hexdigest(),
                                "details": {"family": m.family, "format": "gguf"},
                            }
                            for m in owner.models
                        ]
                    },
                )
                return
            body = req.json if isinstance(req.json, dict) else {}
            name = str(body.get("model") or body.get("name") or "")
            m = owner.model(name)
            if m is None:
                self._json(404, {"error": f"model '{name}' not found"})
                return
            info: dict[str, Any] = {"general.architecture": m.family}
            if m.context_length:
                info[f"{m.family}.context_length"] = m.context_length
            if m.embedding_dim:
                info[f"{m.family}.embedding_length"] = m.embedding_dim
            self._json(
                200,
                {
                    "modelfile": "",
                    "parameters": "",
                    "template": "",
                    "details": {"family": m.family},
                    "model_info": info,
                    "capabilities": list(m.capabilities),
                },
            )
        elif req.wire == "gemini":
            models = []
            for m in owner.models:
                methods = (
                    ["embedContent", "batchEmbedContents"]
                    if m.is_embedding
                    else ["generateContent", "countTokens"]
                )
                models.append(
                    {
                        "name": f"models/{m.name}",
                        "displayName": m.name,
                        "inputTokenLimit": m.context_length or 0,
                        "outputTokenLimit": 8192,
                        "supportedGenerationMethods": methods,
                    }
                )
            self._json(200, {"models": models})
        elif req.wire == "anthropic":
            data = [
                {
                    "type": "model",
                    "id": m.name,
                    "display_name": m.name,
                    "created_at": "2025-01-01T00:00:00Z",
                    "lifecycle": "active",
                    "max_input_tokens": m.context_length,
                }
                for m in owner.models
                if not m.is_embedding
            ]
            self._json(
                200,
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                },
            )
        else:  # OpenAI and vLLM
            data = []
            for m in owner.models:
                entry: dict[str, Any] = {
                    "id": m.name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "fake",
                }
                if m.context_length:
                    entry["max_model_len"] = m.context_length
                data.append(entry)
            self._json(200, {"object": "list", "data": data})

    def _count(self, req: RecordedRequest) -> None:
        body = req.json if isinstance(req.json, dict) else {}
        value = self.owner.count_tokens_value
        if req.wire == "gemini":
            self._json(200, {"totalTokens": value if value is not None else _approx_tokens(body)})
        else:
            self._json(200, {"input_tokens": value if value is not None else _approx_tokens(body)})


class _NullWriter:
    """Swallows writes after the socket was dropped on purpose."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        return

    def close(self) -> None:
        return


__all__ = [
    "FakeLLMServer",
    "FakeModel",
    "RecordedRequest",
    "ScriptedCall",
    "Turn",
    "call",
    "context_overflow",
    "default_models",
    "delay",
    "disconnect",
    "empty",
    "error",
    "KNOWN_EMBEDDING_DIMS",
    "fake_embedding",
    "reply",
    "tool_call",
    "tool_calls",
    "truncated",
]
