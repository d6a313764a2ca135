"""Background jobs outlive the workers that run them: a job whose worker died
is taken over once its lease runs out and starts over cleanly (a file) or
resumes (re-embedding); a job that keeps killing its workers is given up with
a clear error; a live worker's lease is renewed, and a worker that lost its
job writes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from agents.services.lifecycle import agent_create
from memory import models as m
from memory.files.models import FileContent, Job, SourceFile, SourcePassage
from memory.services import jobs
from memory.services.file_processing import _insert_chunks, _status
from memory.services.files import file_upload, source_create
from memory.services.jobs import job_claim, job_enqueue, job_run, jobs_waiting, run_pending
from memory.services.providers import embedder_for
from memory.services.reembed import reembed_start
from memory.store.search import PostgresMemoryBackend
from tests.api_helpers import *  # noqa: F403 - fixtures (fake_llm)
from tests.fakes.llm_server import delay

ROOT = Path(__file__).resolve().parent.parent
EMBEDDING = "openai/text-embedding-3-small"
LONG_TEXT = "\n\n".join(
    f"Paragraph {i}: " + " ".join(f"w{i}x{j}" for j in range(30)) for i in range(130)
)


def _worker_died(job: Job) -> None:
    """What a dead worker leaves: a running job whose lease is long over."""
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def _db_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    return f"postgresql://{d['USER']}@/{d['NAME']}?host={d['HOST']}"


def _wait(condition, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_file_whose_worker_was_killed_is_taken_over_and_starts_over(
    alice, fake_llm, monkeypatch, settings
):
    monkeypatch.setenv("ADE_JOBS", "worker")  # only the worker process below runs jobs
    folder = source_create(owner=alice, name="big", embedding=EMBEDDING, chunk_size=50)
    # The first batch is embedded, the second hangs: the worker is killed inside it.
    fake_llm.script_for("embeddings", delay(0), delay(300))
    file, job = file_upload(source=folder, file_name="long.txt", data=LONG_TEXT.encode())
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "PYTHONUNBUFFERED": "1",
        "ADE_LOG_LEVEL": "ERROR",
        "ADE_JOB_LEASE_SECONDS": "2",
        "ADE_WORKER_POLL_SECONDS": "0.2",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(
            lambda: (
                SourceFile.objects.get(pk=file.pk).chunks_embedded >= 64
                and sum(r.group == "embeddings" for r in fake_llm.requests) >= 2
            ),
            "the first batch",
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1
    assert SourcePassage.objects.filter(file=file).count() == 64  # half-written

    settings.JOB_LEASE_SECONDS = 2
    _wait(jobs_waiting, "the dead worker's lease to run out")
    assert run_pending() == 1
    job.refresh_from_db()
    file.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("completed", 2, "")
    assert file.processing_status == "completed" and file.total_chunks > 64
    chunks = list(SourcePassage.objects.filter(file=file).values_list("chunk_index", flat=True))
    assert sorted(chunks) == list(range(file.total_chunks))  # started over: no duplicates


def test_a_file_that_keeps_killing_its_workers_is_given_up_cleanly(alice, settings):
    folder = source_create(owner=alice, name="cursed")
    file, job = file_upload(source=folder, file_name="cursed.txt", data=b"words " * 500)
    for attempt in range(1, settings.JOB_MAX_ATTEMPTS + 1):
        claimed = job_claim()
        assert claimed.id == job.id and claimed.attempts == attempt
        # Each start gets as far as writing some chunks before its worker dies.
        FileContent.objects.update_or_create(file=file, defaults={"text": "partial"})
        _insert_chunks(file, 0, [f"half-written {attempt}"], None, "")
        _status(file, "embedding")
        _worker_died(job)
    assert job_claim() is None
    job.refresh_from_db()
    file.refresh_from_db()
    assert job.status == "failed" and "gave up after 3 starts" in job.error
    assert file.processing_status == "error" and file.error_message == job.error
    assert not SourcePassage.objects.filter(file=file).exists()
    assert not FileContent.objects.filter(file=file).exists()


def test_a_file_taken_over_starts_over_from_nothing(alice):
    folder = source_create(owner=alice, name="retry", chunk_size=50)
    file, job = file_upload(source=folder, file_name="notes.txt", data=LONG_TEXT.encode())
    job_claim()
    _insert_chunks(file, 0, ["left by the dead worker"], None, "")
    _worker_died(job)
    assert run_pending() == 1
    job.refresh_from_db()
    file.refresh_from_db()
    assert (job.status, job.attempts) == ("completed", 2)
    texts = list(SourcePassage.objects.filter(file=file).values_list("text", flat=True))
    assert len(texts) == file.total_chunks and "left by the dead worker" not in texts


def test_re_embedding_taken_over_resumes_where_it_stopped(alice, fake_llm):
    agent = agent_create(
        owner=alice, name="archivist", model="", embedding="", include_base_tools=False
    )
    backend = PostgresMemoryBackend(
        embed=lambda texts: [[1.0, 0.0, 0.0] for _ in texts], embedding_model="test/old"
    )
    for i in range(6):
        backend.archival_insert(agent.id, f"fact {i}", [])
    job = reembed_start(agent=agent, embedding=EMBEDDING)
    job_claim()
    # The dead worker had committed its first batch.
    first = list(m.Passage.objects.order_by("sequence_id")[:2])
    vectors = embedder_for(EMBEDDING)([p.text for p in first])
    for passage, vector in zip(first, vectors, strict=True):
        m.Passage.objects.filter(pk=passage.pk).update(
            embedding=vector, embedding_dim=len(vector), embedding_model=EMBEDDING
        )
    _worker_died(job)
    fake_llm.requests.clear()
    assert run_pending() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("completed", 2)
    embedded = [t for r in fake_llm.requests if r.group == "embeddings" for t in r.json["input"]]
    assert sorted(embedded) == [f"fact {i}" for i in range(2, 6)]
    assert set(m.Passage.objects.values_list("embedding_model", flat=True)) == {EMBEDDING}


NAPPING = threading.Event()
WAKE = threading.Event()


def nap(job: Job) -> None:
    """A handler that reports no progress for a long while (a big parse)."""
    NAPPING.set()
    WAKE.wait(60)


def noop(job: Job) -> None:
    pass


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_lease_is_renewed_so_its_job_is_never_taken_over(
    alice, monkeypatch, settings
):
    from django.db import connection

    monkeypatch.setenv("ADE_JOBS", "worker")
    monkeypatch.setitem(jobs.HANDLERS, "nap", "tests.test_job_reclaim.nap")
    settings.JOB_LEASE_SECONDS = 2.0
    NAPPING.clear()
    WAKE.clear()
    job = job_enqueue(kind="nap")

    def work():
        try:
            run_pending(max_jobs=1)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert NAPPING.wait(30)
        # Several leases pass with no progress reported: another worker finds nothing.
        until = time.monotonic() + 3 * settings.JOB_LEASE_SECONDS
        while time.monotonic() < until:
            assert job_claim() is None
            time.sleep(0.2)
    finally:
        WAKE.set()
        worker.join(30)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("completed", 1)


def test_a_worker_that_lost_its_job_writes_nothing(alice, monkeypatch):
    monkeypatch.setitem(jobs.HANDLERS, "noop", "tests.test_job_reclaim.noop")
    job = job_enqueue(kind="noop")
    stale = job_claim()
    _worker_died(job)  # it was only frozen, but for longer than its lease
    fresh = job_claim()
    assert fresh.id == stale.id and fresh.attempts == 2
    job_run(stale)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.finished_at) == ("running", 2, None)
    job_run(fresh)
    job.refresh_from_db()
    assert job.status == "completed"
