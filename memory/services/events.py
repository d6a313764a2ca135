"""Live events for an agent, published to the Channels group `agent.<id>`.

Every source of change publishes here — a turn run from the API or the UI,
a block edited by a person — so every open ADE tab sees it without reload.
Payloads are plain JSON-able dicts; the consumer decides how to render them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from memory.engine.state import CompactionEvent, DeltaEvent, LoopEvent, MessageEvent, StepEvent
from memory.store.rows import part_to_json
from memory.types import Message, ReasoningDelta, TextDelta, ToolCallDelta

log = logging.getLogger(__name__)


def group_name(agent_id: str) -> str:
    return f"agent.{agent_id}"


# In the server, events are handed to the ASGI event loop and sent from there in
# order by one pump task: the turn's thread does not wait for each send (an
# async_to_sync round trip per event cost a tenth of a turn's CPU). Without a
# running server loop (management commands, the worker) they are sent inline.
_loop: asyncio.AbstractEventLoop | None = None
_pending: deque[tuple[Any, str, dict[str, Any]]] = deque()
_pumping = False
_MAX_PENDING = 10_000


def bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the ASGI application: the loop the consumers live on."""
    global _loop
    _loop = loop


def publish(agent_id: str, payload: dict[str, Any]) -> None:
    """Best effort: a broken channel layer must never fail a turn."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "agent.event", "payload": payload}
    loop = _loop
    if loop is not None and loop.is_running():
        if _running_loop() is loop:
            _enqueue(layer, group_name(agent_id), message)
        else:
            loop.call_soon_threadsafe(_enqueue, layer, group_name(agent_id), message)
        return
    try:
        async_to_sync(layer.group_send)(group_name(agent_id), message)
    except Exception:  # pragma: no cover - depends on the channel layer backend
        log.exception("could not publish an event for %s", agent_id)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _enqueue(layer: Any, group: str, message: dict[str, Any]) -> None:
    """On the event loop: queue one event and make sure the pump runs."""
    global _pumping
    if len(_pending) >= _MAX_PENDING:
        _pending.popleft()  # a stalled layer must not grow memory without bound
        log.warning("live event queue full; dropped the oldest event")
    _pending.append((layer, group, message))
    if not _pumping:
        _pumping = True
        asyncio.ensure_future(_pump())


async def _pump() -> None:
    global _pumping
    try:
        while _pending:
            layer, group, message = _pending.popleft()
            try:
                await layer.group_send(group, message)
            except Exception:  # pragma: no cover - depends on the channel layer backend
                log.exception("could not publish an event to %s", group)
    finally:
        _pumping = False


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "kind": message.kind.value,
        "content": [part_to_json(p) for p in message.content],
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "step_id": message.step_id,
        "run_id": message.run_id,
        "is_err": message.is_err,
        "meta": {k: v for k, v in message.meta.items() if k != "sections"},
    }


def loop_event_payload(event: LoopEvent) -> dict[str, Any] | None:
    if isinstance(event, MessageEvent):
        return {"type": "message", "message": message_payload(event.message)}
    if isinstance(event, DeltaEvent):
        inner = event.event
        if isinstance(inner, TextDelta):
            return {
                "type": "delta",
                "message_id": event.message_id,
                "part": "text",
                "text": inner.text,
            }
        if isinstance(inner, ReasoningDelta) and inner.text:
            return {
                "type": "delta",
                "message_id": event.message_id,
                "part": "reasoning",
                "text": inner.text,
            }
        if isinstance(inner, ToolCallDelta):
            return {
                "type": "delta",
                "message_id": event.message_id,
                "part": "tool_call",
                "index": inner.index,
                "name": inner.name,
                "text": inner.arguments,
            }
        return None
    if isinstance(event, StepEvent):
        step = dataclasses.asdict(event.step)
        step.pop("request", None)
        step.pop("response", None)
        return {"type": "step", "step": step}
    if isinstance(event, CompactionEvent):
        return {
            "type": "compaction",
            "summary": message_payload(event.summary),
            "stats": event.stats,
        }
    return None


def publish_loop_event(agent_id: str, event: LoopEvent) -> None:
    payload = loop_event_payload(event)
    if payload is not None:
        publish(agent_id, payload)
