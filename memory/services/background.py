"""Turns started from the ADE run in the background.

The view answers at once with the user's message; the turn runs on a worker
thread and everything it produces reaches the page over the WebSocket.

The turn publishes its events through memory/services/events.py, which hands
them to the server's event loop once the ASGI application has bound it. Until
then (and under test servers that never bind one) it falls back to
async_to_sync, which from a plain thread would run each send on a throwaway
event loop, touching the in-memory channel layer's queues from the wrong loop
and thread: the consumers, which live on the server's loop, would hear late or
not at all. So the worker thread records the server's loop the way asgiref's
own sync_to_async threads do, and async_to_sync hands every send to that loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from django.db import connections

from agents.errors import DomainError, InvalidInput
from agents.models import Agent, User
from memory import models as m
from memory.engine.state import ApprovalDecision
from memory.services.events import publish
from memory.services.runs import run_create
from memory.services.turns import message_send, turn_check

log = logging.getLogger(__name__)

# Each running turn holds one thread for its whole length (it waits on the provider).
_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ade-turn")


def turn_prepare(*, agent: Agent, user: User, text: str = "", approval: bool = False) -> m.Run:
    """Check the request can start a turn and record its run (status `created`)."""
    if not approval and not (text or "").strip():
        raise InvalidInput("Type a message first.")
    turn_check(agent=agent)
    return run_create(agent=agent, user=user, request_config={"source": "ade"})


def _run_turn(
    loop: asyncio.AbstractEventLoop | None,
    run_id: str,
    texts: list[str],
    approvals: list[ApprovalDecision] | None,
) -> None:
    if loop is not None:
        SyncToAsync.threadlocal.main_event_loop = loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    run = None
    try:
        run = m.Run.objects.select_related("agent", "created_by").get(pk=run_id)
        message_send(
            agent=run.agent, texts=texts, user=run.created_by, approvals=approvals, run=run
        )
    except Exception as exc:  # noqa: BLE001 - whatever failed, the page must hear about it
        if not isinstance(exc, DomainError):
            log.exception("turn %s failed", run_id)
        if run is not None:
            message = (
                exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
            )
            publish(
                run.agent_id,
                {
                    "type": "run",
                    "run_id": run_id,
                    "stop_reason": "error",
                    "error": message,
                    "step_count": 0,
                    "usage": {},
                },
            )
    finally:
        SyncToAsync.threadlocal.main_event_loop = None
        # This worker thread's own connection; the pool reuses threads.
        connections.close_all()


def turn_launch(
    run: m.Run,
    *,
    texts: list[str],
    approvals: list[ApprovalDecision] | None = None,
    server_loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Run the turn on a worker thread. `server_loop`: the loop the WebSocket
    consumers run on (an ASGI server's), when there is one."""
    _EXECUTOR.submit(_run_turn, server_loop, run.id, texts, approvals)
