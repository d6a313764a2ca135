"""Queued runs across workers: a busy agent's runs wait for it (in order)
instead of tying up a worker, and a run whose worker process died is marked
failed by the next worker that looks, not left running forever."""

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
from memory.services.runs import DEAD_RUN_ERROR, run_create
from memory.services.worker import runs_reap, worker_claim, worker_release

ROOT = Path(__file__).resolve().parent.parent


def _queued(agent, user, text: str) -> m.Run:
    return run_create(agent=agent, user=user, background=True, request_config={"texts": [text]})


def _in_another_session(fn):
    """Call fn in a thread of its own: its own database session, so its own locks."""
    from django.db import connection

    out: list = []

    def target():
        try:
            out.append(fn())
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    return out[0]


def _claim_and_release():
    run = worker_claim()
    if run is not None:
        worker_release(run)
    return run


@pytest.mark.django_db(transaction=True)
def test_a_busy_agents_runs_wait_while_other_agents_runs_go_ahead(alice):
    busy = agent_create(owner=alice, name="busy", model="", include_base_tools=False)
    idle = agent_create(owner=alice, name="idle", model="", include_base_tools=False)
    first, second = _queued(busy, alice, "one"), _queued(busy, alice, "two")
    other = _queued(idle, alice, "three")

    mine = worker_claim()  # this session now runs `busy`'s turn
    assert mine.id == first.id
    try:
        assert _in_another_session(_claim_and_release).id == other.id
        assert _in_another_session(_claim_and_release) is None  # `second` waits for `busy`
        assert m.Run.objects.get(pk=second.pk).status == "created"
    finally:
        m.Run.objects.filter(pk=first.pk).update(status="completed")
        worker_release(mine)
    assert _in_another_session(_claim_and_release).id == second.id


HOLDER = """
import os, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ade.settings")
django.setup()
from memory.services.worker import worker_claim

run = worker_claim()
print(f"claimed {run.id if run else None}", flush=True)
time.sleep(600)
"""


def _db_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    return f"postgresql://{d['USER']}@/{d['NAME']}?host={d['HOST']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_process_died_is_marked_failed(alice):
    agent = agent_create(owner=alice, name="orphan", model="", include_base_tools=False)
    run = _queued(agent, alice, "hello")
    # Queued a while ago: runs younger than the reaper's grace period are left alone.
    m.Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "PYTHONUNBUFFERED": "1",
        "ADE_LOG_LEVEL": "ERROR",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == f"claimed {run.id}"
        # Alive, the worker holds the agent's lock: its run is left alone.
        assert runs_reap() == 0
        assert m.Run.objects.get(pk=run.pk).status == "running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    # Postgres ends the dead process's session (and its lock) once it notices.
    deadline = time.monotonic() + 60
    while runs_reap() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    run.refresh_from_db()
    assert (run.status, run.stop_reason, run.error) == ("failed", "error", DEAD_RUN_ERROR)
    assert run.completed_at is not None
