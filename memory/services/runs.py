"""Runs: one request to an agent, from created to completed, failed or
cancelled. Every way a turn starts (the API's JSON, SSE and queued sends, the
ADE's chat, the worker) creates, starts, finishes, fails and cancels its run
here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.utils import timezone

from agents.errors import Conflict, NotFound
from agents.models import Agent, User
from memory import models as m
from memory.services.events import publish
from memory.types import StopReason, Usage

ACTIVE = ("created", "running")
COMPLETED = {
    StopReason.END_TURN,
    StopReason.MAX_STEPS,
    StopReason.TOOL_RULE,
    StopReason.REQUIRES_APPROVAL,
}
DEAD_RUN_ERROR = "The server stopped before this run finished."


def run_create(
    *,
    agent: Agent,
    user: User | None,
    background: bool = False,
    request_config: dict[str, Any] | None = None,
) -> m.Run:
    """Record a run before its turn starts, so its id is known to the caller
    and a crash leaves a trace that the next turn marks as failed."""
    return m.Run.objects.create(
        agent=agent,
        created_by=user,
        status="created",
        background=background,
        request_config=request_config or {},
    )


# Runs of this process waiting for their agent's lock (sends queued behind a
# running turn): alive, so the turn ahead of them must not mark them failed.
_waiting_runs: set[str] = set()
_waiting_runs_guard = threading.Lock()


@contextmanager
def run_waiting(run_id: str) -> Iterator[None]:
    """Mark the run as alive in this process while it waits for its turn."""
    with _waiting_runs_guard:
        _waiting_runs.add(run_id)
    try:
        yield
    finally:
        with _waiting_runs_guard:
            _waiting_runs.discard(run_id)


def run_start(run: m.Run, agent: Agent) -> None:
    """Mark this run running and, in the same statement, the agent's runs whose
    process died as failed: any still "running" (the caller holds the agent's
    turn lock), and synchronous ones still "created" that no thread of this
    process is waiting with. Queued background runs wait for a worker; they are
    not dead. (A send waiting in another web process looks dead here; it is
    marked running again, error cleared, when its turn comes.)"""
    with _waiting_runs_guard:
        waiting = [r for r in _waiting_runs if r != run.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE memory_run SET
                   status = CASE WHEN id = %(run)s THEN 'running' ELSE 'failed' END,
                   stop_reason = CASE WHEN id = %(run)s THEN '' ELSE 'error' END,
                   error = CASE WHEN id = %(run)s THEN '' ELSE %(error)s END,
                   completed_at = CASE WHEN id = %(run)s THEN NULL ELSE now() END
               WHERE id = %(run)s OR (agent_id = %(agent)s AND (
                   status = 'running'
                   OR (status = 'created' AND NOT background AND NOT (id = ANY(%(waiting)s::varchar[])))))""",
            {"run": run.pk, "agent": agent.pk, "waiting": waiting, "error": DEAD_RUN_ERROR},
        )


def run_finish(
    run: m.Run,
    agent: Agent,
    *,
    stop: StopReason,
    usage: Usage,
    steps: int,
    error: str | None,
    started_ns: int,
) -> None:
    """Record how the turn ended, on the run and on the agent."""
    if stop == StopReason.CANCELLED:
        status = "cancelled"
    elif stop in COMPLETED:
        status = "completed"
    else:
        status = "failed"
    duration = time.monotonic_ns() - started_ns
    now = timezone.now()
    m.Run.objects.filter(pk=run.pk).update(
        status=status,
        stop_reason=stop.value,
        error=error or "",
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        step_count=steps,
        total_duration_ns=duration,
        completed_at=now,
    )
    Agent.objects.filter(pk=agent.pk).update(
        last_run_completion=now,
        last_run_duration_ms=duration // 1_000_000,
        last_stop_reason=stop.value,
    )


def run_fail(run_id: str, error: str) -> int:
    """Mark a run failed unless it already ended. message_send records the
    failures inside its lock; this covers refusals before it and dead processes."""
    return m.Run.objects.filter(pk=run_id, status__in=ACTIVE).update(
        status="failed", stop_reason="error", error=error, completed_at=timezone.now()
    )


def run_cancel(*, run: m.Run) -> None:
    """Ask one run to stop. Its turn, in whichever process, abandons the model
    call in flight within a fraction of a second (it polls this flag) and runs
    none of the tool calls of that step; every open tab shows it stopping now
    and, once the turn has ended, the run's end."""
    if run.status not in ACTIVE:
        raise Conflict(f"Run {run.id} already ended ({run.status}).")
    m.Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    publish(run.agent_id, {"type": "run_stopping", "run_id": run.id})


def runs_cancel(*, agent: Agent, run_ids: list[str] | None) -> dict[str, str]:
    """Ask the agent's active runs (or the ones named) to stop. A running turn
    stops within a fraction of a second, mid-call; a queued run never starts."""
    runs = m.Run.objects.filter(agent=agent)
    if run_ids:
        found = {r.id: r for r in runs.filter(pk__in=run_ids)}
        missing = [i for i in run_ids if i not in found]
        if missing:
            raise NotFound(f"Runs not found for this agent: {', '.join(missing)}.")
        targets = list(found.values())
    else:
        targets = list(runs.filter(status__in=ACTIVE))
    results = {}
    for run in targets:
        queued = m.Run.objects.filter(pk=run.pk, status="created", background=True).update(
            status="cancelled",
            stop_reason="cancelled",
            cancel_requested=True,
            completed_at=timezone.now(),
        )
        if queued:
            results[run.id] = "cancelled"
            # It never starts, so no turn will announce its end: say it here.
            publish(
                agent.id,
                {"type": "run", "run_id": run.id, "stop_reason": "cancelled", "error": None},
            )
        elif run.status in ACTIVE:
            run_cancel(run=run)
            results[run.id] = "cancelled"
        else:
            results[run.id] = f"already {run.status}"
    return results
