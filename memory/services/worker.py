"""The background worker for runs queued by /messages/async (and, in
`manage.py worker`, the Job queue of files and re-embeddings: memory/services/jobs.py).

A run is claimed with SELECT … FOR UPDATE SKIP LOCKED, so any number of
workers, in any processes, each take a run exactly once. The claim also takes
the agent's turn lock (without waiting): a run is marked running only by the
one holding it, so a busy agent's runs stay queued instead of tying up a
worker, and "running without the lock" reliably means "its process died" —
which `runs_reap` and the agent's next turn both mark failed (a turn has side
effects, so it is not retried). `manage.py worker` loops over both queues;
with ADE_INPROCESS_WORKER on (the default) the web process starts one worker
thread for runs, which also starts the jobs thread when jobs wait, so a single
`make run` serves everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents.errors import DomainError
from agents.models import Agent, User
from memory import models as m
from memory.engine.state import ApprovalDecision
from memory.services.jobs import jobs_poke, run_pending
from memory.services.locks import agent_try_lock, agent_unlock
from memory.services.runs import DEAD_RUN_ERROR, run_create, run_fail
from memory.services.turn_input import TurnInput
from memory.services.turns import message_send

log = logging.getLogger(__name__)

_thread: threading.Thread | None = None
_wake = threading.Event()
_lock = threading.Lock()


# Every so often a worker looks for runs whose process died. Runs younger
# than the grace period are left alone: only code holding the agent's lock
# marks a run running, but a row made by hand (the admin, a fixture) need not.
REAP_EVERY_SECONDS = 30.0
REAP_GRACE = timedelta(seconds=60)
CREATED_REAP_GRACE = timedelta(minutes=15)


def run_enqueue(
    *,
    agent: Agent,
    user: User,
    turn: TurnInput,
    max_steps: int | None,
    presentation: dict[str, Any],
) -> m.Run:
    """A run for the worker (/messages/async): it holds everything the turn needs."""
    config = {
        "texts": turn.texts,
        "approvals": [
            {"tool_call_id": a.tool_call_id, "approve": a.approve, "reason": a.reason}
            for a in turn.approvals
        ],
        "max_steps": max_steps,
        **presentation,
    }
    run = run_create(agent=agent, user=user, background=True, request_config=config)
    transaction.on_commit(wake_inprocess_worker)
    return run


def worker_claim() -> m.Run | None:
    """Take the oldest queued run of an agent that is not busy, or None. The
    caller holds that agent's turn lock until it calls worker_release; the run
    is marked running under it, so no other worker sees it queued."""
    candidates = (
        m.Run.objects.filter(status="created", background=True)
        .order_by("created_at", "id")
        .values_list("id", "agent_id")[:50]
    )
    busy: set[str] = set()
    for run_id, agent_id in candidates:
        if agent_id in busy:
            continue
        if not agent_try_lock(agent_id):
            busy.add(agent_id)  # its turn is running; its runs wait, in order
            continue
        try:
            run = _take(run_id)
        except BaseException:
            agent_unlock(agent_id)
            raise
        if run is not None:
            return run
        agent_unlock(agent_id)  # taken meanwhile, or cancelled: try the next
    return None


def _take(run_id: str) -> m.Run | None:
    """Mark one queued run running (or cancelled, if that was asked), locking
    only its row, so other workers can claim the rest meanwhile."""
    with transaction.atomic():
        run = (
            m.Run.objects.select_for_update(skip_locked=True)
            .filter(pk=run_id, status="created")
            .first()
        )
        if run is None:
            return None
        if run.cancel_requested:
            m.Run.objects.filter(pk=run.pk).update(
                status="cancelled", stop_reason="cancelled", completed_at=timezone.now()
            )
            return None
        m.Run.objects.filter(pk=run.pk).update(status="running")
        run.status = "running"
        return run


def worker_release(run: m.Run) -> None:
    agent_unlock(run.agent_id)


def runs_reap() -> int:
    """Mark failed the runs left running by a process that died: a live turn
    holds its agent's lock, so a running run whose lock is free is dead."""
    reaped = 0
    now = timezone.now()
    # A synchronous send waits as "created" until it takes its agent's lock;
    # one still waiting after a long while had its process die before that.
    old = m.Run.objects.filter(
        Q(status="running", created_at__lt=now - REAP_GRACE)
        | Q(status="created", background=False, created_at__lt=now - CREATED_REAP_GRACE)
    )
    for run_id, agent_id in old.values_list("id", "agent_id"):
        if not agent_try_lock(agent_id):
            continue
        try:
            reaped += run_fail(run_id, DEAD_RUN_ERROR)
        finally:
            agent_unlock(agent_id)
    if reaped:
        log.warning("marked %d run(s) failed: their process stopped before they finished", reaped)
    return reaped


def worker_execute(run: m.Run) -> None:
    """Run the turn a queued run describes; failures end up on the run row."""
    config = run.request_config or {}
    approvals = [
        ApprovalDecision(
            tool_call_id=a["tool_call_id"], approve=a["approve"], reason=a.get("reason") or ""
        )
        for a in config.get("approvals") or []
    ]
    try:
        message_send(
            agent=run.agent,
            texts=list(config.get("texts") or []),
            user=run.created_by,
            approvals=approvals or None,
            max_steps=config.get("max_steps"),
            run=run,
        )
    except DomainError as exc:
        run_fail(run.id, exc.message)
    except Exception as exc:  # noqa: BLE001 - a worker outlives any one run's bug
        log.exception("run %s failed", run.id)
        run_fail(run.id, f"{type(exc).__name__}: {exc}")


def worker_run_once() -> bool:
    """Claim and execute one queued run. Returns whether there was one."""
    run = worker_claim()
    if run is None:
        return False
    try:
        worker_execute(m.Run.objects.select_related("agent", "created_by").get(pk=run.pk))
    finally:
        worker_release(run)
    return True


def worker_loop(
    *,
    stop: threading.Event | None = None,
    poll: float | None = None,
    jobs: Callable[[], bool] | None = None,
) -> None:
    """Work off queued runs until `stop`; each round also calls `jobs` (which
    says whether it did any work), so neither queue starves the other."""
    poll = settings.WORKER_POLL_SECONDS if poll is None else poll
    stop = stop or threading.Event()
    next_reap = 0.0
    while not stop.is_set():
        close_old_connections()
        try:
            if time.monotonic() >= next_reap:
                runs_reap()
                next_reap = time.monotonic() + REAP_EVERY_SECONDS
            ran = worker_run_once()
            worked = jobs() if jobs is not None else False
            busy = ran or worked
        except Exception:  # noqa: BLE001 - e.g. the database restarting: wait and retry
            log.exception("worker iteration failed")
            connection.close()
            busy = False
        if not busy:
            _wake.wait(poll)
            _wake.clear()


def job_run_once() -> bool:
    """Claim and run one background job (a file, a re-embedding)."""
    return run_pending(max_jobs=1) > 0


def _inprocess_main() -> None:
    try:
        worker_loop(jobs=jobs_poke)
    finally:
        connection.close()


def wake_inprocess_worker() -> None:
    """Start this process's worker thread if configured (once), and wake it."""
    global _thread
    if not settings.INPROCESS_WORKER:
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_inprocess_main, name="ade-run-worker", daemon=True)
            _thread.start()
    _wake.set()
