"""The background worker for runs queued by /messages/async.

A run is claimed with SELECT … FOR UPDATE SKIP LOCKED, so any number of
workers, in any processes, each take a run exactly once. `manage.py worker`
loops over `worker_run_once`; with ADE_INPROCESS_WORKER on (the default) the
web process also starts one worker thread when the first run is queued, so a
single `make run` serves async requests too.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from agents.errors import DomainError
from memory import models as m
from memory.engine.state import ApprovalDecision

log = logging.getLogger(__name__)

_thread: threading.Thread | None = None
_wake = threading.Event()
_lock = threading.Lock()


def worker_claim() -> m.Run | None:
    """Take the oldest queued run, or None. Claimed runs are marked running in
    the same transaction, so no other worker can see them as queued."""
    with transaction.atomic():
        run = (
            m.Run.objects.select_for_update(skip_locked=True)
            .filter(status="created", background=True)
            .order_by("created_at", "id")
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


def worker_execute(run: m.Run) -> None:
    """Run the turn a queued run describes; failures end up on the run row."""
    from memory.turns import message_send

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
        _fail(run, exc.message)
    except Exception as exc:  # noqa: BLE001 - a worker outlives any one run's bug
        log.exception("run %s failed", run.id)
        _fail(run, f"{type(exc).__name__}: {exc}")


def _fail(run: m.Run, error: str) -> None:
    # message_send records failures inside its lock; this covers refusals before it.
    m.Run.objects.filter(pk=run.pk, status__in=["created", "running"]).update(
        status="failed", stop_reason="error", error=error, completed_at=timezone.now()
    )


def worker_run_once() -> bool:
    """Claim and execute one queued run. Returns whether there was one."""
    run = worker_claim()
    if run is None:
        return False
    worker_execute(m.Run.objects.select_related("agent", "created_by").get(pk=run.pk))
    return True


def worker_loop(*, stop: threading.Event | None = None, poll: float | None = None) -> None:
    poll = settings.WORKER_POLL_SECONDS if poll is None else poll
    stop = stop or threading.Event()
    while not stop.is_set():
        close_old_connections()
        try:
            busy = worker_run_once()
        except Exception:  # noqa: BLE001 - e.g. the database restarting: wait and retry
            log.exception("worker iteration failed")
            connection.close()
            busy = False
        if not busy:
            _wake.wait(poll)
            _wake.clear()


def _inprocess_main() -> None:
    try:
        worker_loop()
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
