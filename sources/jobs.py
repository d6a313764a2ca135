"""Background jobs: enqueue, claim (SELECT ... FOR UPDATE SKIP LOCKED), run,
report progress.

Where jobs run (ADE_JOBS): `thread` (default) starts a worker thread in the
web process when a job is queued, so `make run` needs nothing else; `worker`
leaves them to `manage.py worker` processes (which call run_pending); `inline`
runs them before the request returns (handy in scripts).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from sources.models import Job

log = logging.getLogger(__name__)

# kind -> dotted path of `handler(job)`; a handler reports progress with
# job_progress and raises JobError with a message for the user when it fails.
HANDLERS: dict[str, str] = {
    "file_process": "sources.processing.file_process",
    "reembed": "memory.reembed.reembed_run",
}


class JobError(Exception):
    """A failure to show the user as is (a bad file, an embedding error)."""


def jobs_mode() -> str:
    return getattr(settings, "ADE_JOBS", None) or os.environ.get("ADE_JOBS", "thread")


def job_enqueue(*, kind: str, agent_id: str | None = None, file_id: str | None = None,
                params: dict[str, Any] | None = None, total: int = 0) -> Job:
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job.objects.create(kind=kind, agent_id=agent_id, file_id=file_id, params=params or {}, total=total)
    transaction.on_commit(kick)
    return job


def job_claim() -> Job | None:
    """The oldest queued job, now ours; concurrent workers skip it."""
    with transaction.atomic():
        job = (Job.objects.select_for_update(skip_locked=True).filter(status="queued")
               .order_by("created_at", "id").first())
        if job is None:
            return None
        job.status, job.started_at = "running", timezone.now()
        job.save(update_fields=["status", "started_at"])
        return job


def _handler(kind: str) -> Callable[[Job], None]:
    module, _, name = HANDLERS[kind].rpartition(".")
    return getattr(importlib.import_module(module), name)


def job_run(job: Job) -> Job:
    try:
        _handler(job.kind)(job)
    except JobError as exc:
        _finish(job, "failed", str(exc))
    except Exception as exc:  # our bug or an unexpected failure: keep the worker alive
        log.exception("job %s (%s) failed", job.id, job.kind)
        _finish(job, "failed", f"{type(exc).__name__}: {exc}")
    else:
        job.refresh_from_db(fields=["status"])
        if job.status == "running":
            _finish(job, "completed", "")
    return job


def _finish(job: Job, status: str, error: str) -> None:
    job.status, job.error, job.finished_at = status, error[:2000], timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    _publish(job)


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    job.done = done
    if total is not None:
        job.total = total
    Job.objects.filter(pk=job.pk).update(done=job.done, total=job.total)
    _publish(job)


def job_payload(job: Job) -> dict[str, Any]:
    return {"type": "job", "job": {"id": job.id, "kind": job.kind, "status": job.status, "done": job.done,
                                   "total": job.total, "error": job.error, "file_id": job.file_id,
                                   "agent_id": job.agent_id}}


def _publish(job: Job) -> None:
    from sources.events import publish_job

    publish_job(job)


def run_pending(max_jobs: int | None = None) -> int:
    """Run queued jobs until none are left (or max_jobs ran); returns how many ran."""
    ran = 0
    while max_jobs is None or ran < max_jobs:
        job = job_claim()
        if job is None:
            break
        job_run(job)
        ran += 1
    return ran


_thread_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()


def kick() -> None:
    mode = jobs_mode()
    if mode == "inline":
        run_pending()
    elif mode == "thread":
        _start_thread()


def _start_thread() -> None:
    global _thread
    with _thread_lock:
        if _thread is not None and _thread.is_alive():
            _wake.set()
            return
        _thread = threading.Thread(target=_thread_main, name="ade-jobs", daemon=True)
        _thread.start()


def _thread_main() -> None:
    """Run jobs until the queue stays empty for 2 s. The decision to stop is
    taken under the lock kick() takes, so a job queued meanwhile is never missed."""
    global _thread
    try:
        while True:
            _wake.clear()
            if run_pending() or _wake.wait(timeout=2.0):
                continue
            with _thread_lock:
                if _wake.is_set():
                    continue
                _thread = None
                return
    finally:
        close_old_connections()
