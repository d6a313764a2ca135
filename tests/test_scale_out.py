"""A team deployment, for real: a Redis, two web processes (`manage.py serve`)
and two `manage.py worker` processes, all on one Postgres. A browser connected
to one web process sees a turn sent through the other; async runs and file
uploads queued through either are executed by the workers, each exactly once.
And /v1/ready/ says not ready, with the reason, when Redis is gone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures (fake_llm)
from tests.fakes.llm_server import reply

ROOT = Path(__file__).resolve().parent.parent
MODEL = "openai/gpt-4o-mini"
EMBEDDING = "openai/text-embedding-3-small"
START_TIMEOUT = 240  # seconds; start-up on a loaded 2-core machine is slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    return f"postgresql://{d['USER']}@/{d['NAME']}?host={d['HOST']}"


class Processes:
    """Child processes with their output in files, stopped in reverse order."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(Path(self.workdir) / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def output(self, name: str) -> str:
        return (Path(self.workdir) / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{self.output(name)[-3000:]}")

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(condition, what: str, procs: Processes, seconds: float = START_TIMEOUT) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        procs.check_alive()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health/", timeout=3).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="ade-so-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def redis_url(workdir):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; CI installs it)")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    "redis-server did not start"
                )
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _last_user_text(request) -> str:
    users = [m for m in request.json.get("messages", []) if m.get("role") == "user"]
    return json.dumps(users[-1]) if users else ""


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.django_db(transaction=True)
def test_web_and_worker_processes_share_live_events_and_queued_work(
    alice, fake_llm, redis_url, workdir
):
    from django.conf import settings
    from django.test import Client
    from websockets.sync.client import connect

    from agents.services.accounts import apikey_create
    from memory import models as m
    from memory.files.models import Job, SourcePassage

    _, secret = apikey_create(user=alice, name="scale-out")
    browser = Client()
    browser.force_login(alice)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "REDIS_URL": redis_url,
        "ADE_DATA_DIR": workdir,
        "ADE_SECRET_KEY": settings.SECRET_KEY,
        "ADE_INPROCESS_WORKER": "0",
        "ADE_JOBS": "worker",
        "ADE_ADMIN_PASSWORD": "scale-out-admin-pass",
        "ADE_WORKER_POLL_SECONDS": "0.3",
        "PYTHONUNBUFFERED": "1",
        "ADE_LOG_LEVEL": "WARNING",
    }
    env.pop("ADE_PG_CLEANUP", None)
    procs = Processes(workdir)
    try:
        ports = [_free_port(), _free_port()]
        for name, port in zip("ab", ports, strict=True):
            procs.start(
                f"web-{name}", [sys.executable, "manage.py", "serve", "--port", str(port)], env
            )
        web_a, web_b = (f"http://127.0.0.1:{p}" for p in ports)
        for url in (web_a, web_b):
            _wait(lambda url=url: _answers(url), f"{url} to answer", procs)
            ready = httpx.get(f"{url}/v1/ready/", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}
        a = httpx.Client(base_url=web_a, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        b = httpx.Client(base_url=web_b, headers={"Authorization": f"Bearer {secret}"}, timeout=60)

        # (a) A tab on web process A sees a turn sent through web process B.
        agent = b.post("/v1/agents/", json={"name": "Shared", "model": MODEL}).json()
        ws_url = f"ws://127.0.0.1:{ports[0]}/ws/agents/{agent['id']}/"
        with connect(
            ws_url,
            origin=web_a,
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
            open_timeout=60,
        ) as tab:
            fake_llm.script(reply("Relayed through Redis to the other process"))
            sent = b.post(
                f"/v1/agents/{agent['id']}/messages",
                json={"messages": [{"role": "user", "content": "hello via B"}]},
            )
            assert sent.status_code == 200, sent.text
            seen = ""
            deadline = time.monotonic() + 60
            while "Relayed through Redis" not in seen and time.monotonic() < deadline:
                try:
                    seen += tab.recv(timeout=5)
                except TimeoutError:
                    pass
            assert "Relayed through Redis to the other process" in seen
            assert "hello via B" in seen

        # (b) Work queued through either web process runs once, on the workers.
        for n in (1, 2):
            procs.start(f"worker-{n}", [sys.executable, "manage.py", "worker"], env)
        for n in (1, 2):
            _wait(lambda n=n: "Worker started" in procs.output(f"worker-{n}"), f"worker {n}", procs)
        agents = [
            (a if i % 2 else b)
            .post("/v1/agents/", json={"name": f"Busy {i}", "model": MODEL})
            .json()
            for i in range(3)
        ]
        folder = a.post(
            "/v1/folders/",
            json={"name": "shared docs", "embedding": EMBEDDING, "embedding_chunk_size": 50},
        ).json()
        assert (
            b.patch(f"/v1/agents/{agents[0]['id']}/folders/attach/{folder['id']}").status_code
            == 200
        )
        runs = {}
        for i in range(8):
            web = a if i % 2 else b
            run = web.post(
                f"/v1/agents/{agents[i % 3]['id']}/messages/async",
                json={"messages": [{"role": "user", "content": f"async job {i}"}]},
            )
            assert run.status_code == 200, run.text
            runs[run.json()["id"]] = f"async job {i}"
        files = []
        for i, web in enumerate((a, b)):
            # Short paragraphs: every chunk names its own, so no two chunks are alike.
            text = "\n\n".join(
                f"Upload {i} paragraph {p}: " + "lorem ipsum dolor " * 6 for p in range(12)
            )
            up = web.post(
                f"/v1/folders/{folder['id']}/upload",
                files={"file": (f"notes-{i}.txt", text.encode(), "text/plain")},
            )
            assert up.status_code == 202, up.text
            files.append(up.json()["id"])

        def all_done() -> bool:
            statuses = [a.get(f"/v1/runs/{rid}").json()["status"] for rid in runs]
            states = [
                a.get(f"/v1/folders/{folder['id']}/files/{fid}").json()["processing_status"]
                for fid in files
            ]
            return all(s in ("completed", "failed", "cancelled") for s in statuses) and all(
                s in ("completed", "error") for s in states
            )

        _wait(all_done, "the queued runs and uploads", procs)

        for run_id in runs:
            run = m.Run.objects.get(pk=run_id)
            assert (run.status, run.stop_reason, run.step_count) == ("completed", "end_turn", 1), (
                run.error
            )
            assert m.Step.objects.filter(run_id=run_id).count() == 1
        asked = Counter(_last_user_text(r) for r in fake_llm.chat_requests())
        for text in runs.values():
            assert sum(n for body, n in asked.items() if text in body) == 1, text

        for file_id in files:
            jobs = list(Job.objects.filter(file_id=file_id))
            assert [(j.status, j.attempts) for j in jobs] == [("completed", 1)]
            chunks = list(
                SourcePassage.objects.filter(file_id=file_id).values_list("chunk_index", "text")
            )
            assert sorted(i for i, _ in chunks) == list(range(len(chunks))) and chunks
        embedded = Counter(
            t for r in fake_llm.requests if r.group == "embeddings" for t in r.json["input"]
        )
        stored = Counter(
            SourcePassage.objects.filter(file_id__in=files).values_list("text", flat=True)
        )
        assert all(embedded[text] == n for text, n in stored.items()), "a chunk was embedded twice"
        procs.check_alive()
    finally:
        procs.stop()


def test_ready_says_not_ready_with_the_reason_when_redis_is_gone(db, settings):
    from django.test import Client

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{_free_port()}/0"]},
        }
    }
    response = Client().get("/v1/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["channel_layer"].startswith("error:") and "127.0.0.1" in body["channel_layer"]
