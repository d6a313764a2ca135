"""A turn streamed over Server-Sent Events, Letta's way.

The turn runs in a thread of its own and feeds a queue; the response reads
the queue, so it can ping while the model is slow to answer. Events are
`data: <json>\\n\\n`: the Letta messages (whole, or token deltas), then the
stop reason, the usage statistics and `data: [DONE]`. A failure ends the
stream with the stop reason, `event: error` and `[DONE]`.

Django streams a synchronous iterator under WSGI and an asynchronous one under
ASGI (daphne); given the other kind it would buffer the whole response, so
both are offered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from agents.errors import DomainError
from agents.models import Agent, User
from memory import models as m
from memory.engine.state import CompactionEvent, DeltaEvent, LoopEvent, MessageEvent, TurnResult
from memory.services.runs import run_create, run_fail
from memory.services.turn_input import TurnInput
from memory.services.turns import message_send
from memory.store.letta_format import (
    DeltaTranslator,
    Options,
    error_message,
    ping,
    stop_reason,
    to_letta,
    usage_statistics,
)
from memory.types import AgentType, StopReason

log = logging.getLogger(__name__)

# Stop reasons that end a stream with `event: error` (the turn failed rather than ended).
ERROR_STOPS = {
    StopReason.ERROR,
    StopReason.LLM_API_ERROR,
    StopReason.INVALID_LLM_RESPONSE,
    StopReason.CONTEXT_WINDOW_OVERFLOW_IN_SYSTEM_PROMPT,
}

_DONE = object()


def sse(payload: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload, default=str)}\n\n"


@dataclass
class TurnStream:
    agent: Agent
    user: User
    turn: TurnInput
    options: Options
    max_steps: int | None = None
    stream_tokens: bool = False
    include_pings: bool = True
    include_compaction_messages: bool = False
    ping_seconds: float = 20.0
    run: m.Run | None = None
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _seq: int = 0

    def start(self) -> None:
        """Create the run (so its id is known before the first event) and start the turn."""
        self.run = run_create(
            agent=self.agent,
            user=self.user,
            request_config={
                "max_steps": self.max_steps,
                "streaming": True,
                "stream_tokens": self.stream_tokens,
            },
        )
        self.translator = DeltaTranslator(
            agent_type=AgentType(self.agent.agent_type), options=self.options, run_id=self.run.id
        )
        threading.Thread(target=self._work, name=f"turn-{self.run.id}", daemon=True).start()

    def _work(self) -> None:
        try:
            result = message_send(
                agent=self.agent,
                texts=self.turn.texts,
                user=self.user,
                approvals=self.turn.approvals or None,
                emit=self._queue.put,
                max_steps=self.max_steps,
                run=self.run,
            )
            self._queue.put(result)
        except DomainError as exc:
            self._fail(exc.message)
            self._queue.put(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
            log.exception("streamed turn %s failed", self.run.id if self.run else "?")
            self._fail(f"{type(exc).__name__}: {exc}")
            self._queue.put(exc)
        finally:
            self._queue.put(_DONE)
            connection.close()

    def _fail(self, error: str) -> None:
        run_fail(self.run.id, error)

    # --- translating what the turn reports ------------------------------------------------

    def _frames(self, item: Any) -> list[str]:
        if isinstance(item, (MessageEvent, DeltaEvent, CompactionEvent)):
            return [self._data(p) for p in self._letta(item)]
        if isinstance(item, TurnResult):
            frames = [self._data(stop_reason(item.stop_reason))]
            if item.stop_reason in ERROR_STOPS:
                frames.append(
                    sse(
                        error_message(
                            self.run.id,
                            item.error_type or item.stop_reason.value,
                            item.error or "The turn failed.",
                        ),
                        event="error",
                    )
                )
            else:
                frames.append(
                    self._data(usage_statistics(item.usage, item.step_count, [self.run.id]))
                )
            return frames
        if isinstance(item, BaseException):
            kind = "invalid_input" if isinstance(item, DomainError) else "internal_error"
            text = (
                item.message if isinstance(item, DomainError) else f"{type(item).__name__}: {item}"
            )
            return [
                self._data(stop_reason(StopReason.ERROR)),
                sse(error_message(self.run.id, kind, text), event="error"),
            ]
        return []

    def _letta(self, event: LoopEvent) -> list[dict[str, Any]]:
        if isinstance(event, DeltaEvent):
            return self.translator.feed(event) if self.stream_tokens else []
        if isinstance(event, MessageEvent):
            if self.stream_tokens:
                return self.translator.completed(event.message)
            return (
                []
                if event.message.kind.value == "user_message"
                else to_letta(event.message, self.translator.agent_type, self.options)
            )
        if isinstance(event, CompactionEvent) and self.include_compaction_messages:
            return to_letta(event.summary, self.translator.agent_type, self.options)
        return []

    def _data(self, payload: dict[str, Any]) -> str:
        self._seq += 1
        if "seq_id" in payload or payload.get("message_type") not in (
            "stop_reason",
            "usage_statistics",
        ):
            payload = {**payload, "seq_id": self._seq}
        return sse(payload)

    def _ping(self) -> str:
        return self._data(ping(self.run.id if self.run else None))

    # --- the two iterators ------------------------------------------------------------------

    def events(self) -> Iterator[str]:
        while True:
            try:
                item = self._queue.get(timeout=self.ping_seconds)
            except queue.Empty:
                if self.include_pings:
                    yield self._ping()
                continue
            if item is _DONE:
                yield "data: [DONE]\n\n"
                return
            yield from self._frames(item)

    async def aevents(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        while True:
            try:
                item = await loop.run_in_executor(None, self._queue.get, True, self.ping_seconds)
            except queue.Empty:
                if self.include_pings:
                    yield self._ping()
                continue
            if item is _DONE:
                yield "data: [DONE]\n\n"
                return
            for frame in self._frames(item):
                yield frame
