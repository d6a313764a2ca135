"""Background jobs: enqueue, claim (SELECT ... FOR UPDATE SKIP LOCKED), run,
report progress.

Where jobs run (ADE_JOBS): `thread` (default) starts a worker thread in the
web process when a job is queued, so `make run` needs nothing else; `worker`
leaves them to `manage.py worker` processes (which call run_pending); `inline`
runs them before the request returns (handy in scripts).

A claimed job holds a lease in the database: a thread renews `heartbeat_at`
while the handler runs, so even a long parse never lets it lapse. A job whose
lease ran out was left by a worker that died (killed, out of memory); the next
claim takes it over and runs its handler again from the start (handlers are
written to be re-run: a file starts over, re-embedding resumes), until
JOB_MAX_ATTEMPTS starts; then it is failed with a message saying so. Lease
times are the database's clock, so workers on several machines agree on them.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from memory.files.models import Job, SourceFile
from memory.services.events import publish

log = logging.getLogger(__name__)

# kind -> dotted path of `handler(job)`; a handler reports progress with
# job_progress and raises JobError with a message for the user when it fails.
HANDLERS: dict[str, str] = {
    "file_process": "memory.services.file_processing.file_process",
    "reembed": "memory.services.reembed.reembed_run",
}


# kind -> dotted path of `abandon(job, message)`: undoes what a handler leaves
# behind when its job is given up without the handler running again.
ABANDON: dict[str, str] = {
    "file_process": "memory.services.file_processing.file_abandon",
}


class JobError(Exception):
    """A failure to show the user as is (a bad file, an embedding error)."""


def jobs_mode() -> str:
    return getattr(settings, "ADE_JOBS", None) or os.environ.get("ADE_JOBS", "thread")


def job_enqueue(
    *,
    kind: str,
    agent_id: str | None = None,
    file_id: str | None = None,
    params: dict[str, Any] | None = None,
    total: int = 0,
) -> Job:
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job.objects.create(
        kind=kind, agent_id=agent_id, file_id=file_id, params=params or {}, total=total
    )
    transaction.on_commit(kick)
    return job


def _claimable() -> QuerySet[Job]:
    """Queued jobs, and running ones whose worker stopped renewing the lease
    (no lease at all: running since before leases existed, so long dead)."""
    expired = Now() - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    lapsed = Q(status="running") & (Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True))
    return Job.objects.filter(Q(status="queued") | lapsed)


def job_claim() -> Job | None:
    """The oldest claimable job, now ours; concurrent workers skip it. A job
    taken over from a dead worker too often is failed here instead."""
    while True:
        with transaction.atomic():
            job = (
                _claimable()
                .select_for_update(skip_locked=True)
                .order_by("created_at", "id")
                .first()
            )
            if job is None:
                return None
            if job.status == "running" and job.attempts >= settings.JOB_MAX_ATTEMPTS:
                _give_up(job)
                continue
            if job.status == "running":
                log.warning(
                    "taking over job %s (%s) from a worker that stopped (start %d of %d)",
                    job.id,
                    job.kind,
                    job.attempts + 1,
                    settings.JOB_MAX_ATTEMPTS,
                )
            job.status, job.attempts = "running", job.attempts + 1
            Job.objects.filter(pk=job.pk).update(
                status="running", attempts=job.attempts, started_at=Now(), heartbeat_at=Now()
            )
            job.started_at = timezone.now()
            return job


def _give_up(job: Job) -> None:
    message = (
        f"gave up after {job.attempts} starts: the worker running this job stopped each time "
        "(killed, or out of memory?)"
    )
    abandon = ABANDON.get(job.kind)
    if abandon:
        _load(abandon)(job, message)
    job.status, job.error, job.finished_at = "failed", message, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    transaction.on_commit(lambda: job_publish(job))


def _load(dotted: str) -> Callable[..., None]:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _handler(kind: str) -> Callable[[Job], None]:
    return _load(HANDLERS[kind])


def _ours(job: Job) -> QuerySet[Job]:
    """The job's row while this start still owns it: after a takeover the
    attempt number differs, and a worker that lost its job writes nothing."""
    return Job.objects.filter(pk=job.pk, status="running", attempts=job.attempts)


@contextmanager
def _lease(job: Job) -> Iterator[None]:
    """Renew the job's lease from a thread of its own while the handler runs."""
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(settings.JOB_LEASE_SECONDS / 4):
                try:
                    _ours(job).update(heartbeat_at=Now())
                except Exception:  # a database blip: the next renewal may work
                    log.warning("could not renew the lease of job %s", job.id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=renew, name=f"ade-lease-{job.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def job_run(job: Job) -> Job:
    try:
        with _lease(job):
            _handler(job.kind)(job)
    except JobError as exc:
        _finish(job, "failed", str(exc))
    except Exception as exc:  # our bug or an unexpected failure: keep the worker alive
        log.exception("job %s (%s) failed", job.id, job.kind)
        _finish(job, "failed", f"{type(exc).__name__}: {exc}")
    else:
        status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status is None:
            return job  # deleted meanwhile (its file was deleted): nothing to report
        job.status = status
        if job.status == "running":
            _finish(job, "completed", "")
    return job


def _finish(job: Job, status: str, error: str) -> None:
    finished = timezone.now()
    if not _ours(job).update(status=status, error=error[:2000], finished_at=finished):
        log.warning("job %s was taken over or deleted; this start's result is dropped", job.id)
        return
    job.status, job.error, job.finished_at = status, error[:2000], finished
    job_publish(job)


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    job.done = done
    if total is not None:
        job.total = total
    # Progress is also a sign of life: it renews the lease.
    _ours(job).update(done=job.done, total=job.total, heartbeat_at=Now())
    job_publish(job)


def job_payload(job: Job) -> dict[str, Any]:
    return {
        "type": "job",
        "job": {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "done": job.done,
            "total": job.total,
            "error": job.error,
            "file_id": job.file_id,
            "agent_id": job.agent_id,
        },
    }


def job_publish(job: Job) -> None:
    """Progress, live: to the agent's tabs for its own jobs (re-embedding), and
    to every attached agent's tabs for a file being processed."""
    payload = job_payload(job)
    if job.agent_id:
        publish(job.agent_id, payload)
    if job.file_id:
        file = SourceFile.objects.filter(pk=job.file_id).select_related("source").first()
        if file is not None:
            payload["job"]["source_id"] = file.source_id
            for agent_id in file.source.agents.values_list("id", flat=True):
                publish(agent_id, payload)


def jobs_waiting() -> bool:
    """Whether a job waits for a worker (queued, or left by a dead one)."""
    return _claimable().exists()


def jobs_poke() -> bool:
    """The web process's worker loop calls this every poll: start the jobs
    thread for jobs queued before this process started or left by a dead
    worker. Jobs run in their own thread, so a long file never delays runs."""
    if jobs_mode() == "thread" and jobs_waiting():
        kick()
    return False


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
