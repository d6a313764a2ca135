"""The embedded start-up path a newcomer takes with `make run`, for real:
a fresh data directory, the embedded Postgres, migrations, the first admin,
and daphne answering on a port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _env(data_dir: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "LETTA_PG_URI", "ADE_ADMIN_PASSWORD", "ADE_PG_CLEANUP")
    }
    # "stop": each process stops the embedded server it started when it exits.
    env.update(
        {"ADE_DATA_DIR": data_dir, "ADE_PG_CLEANUP": "stop", "PYTHONUNBUFFERED": "1"}, **extra
    )
    return env


def _manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def data_dir():
    path = tempfile.mkdtemp(prefix="ade-s-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_first_start_creates_the_database_and_prints_the_admin_password_once(data_dir):
    first = _manage("serve", "--check-only", env=_env(data_dir))
    assert first.returncode == 0, first.stderr
    assert "Created the admin user 'admin' with the password:" in first.stdout
    assert (Path(data_dir) / "pgdata" / "PG_VERSION").exists()
    again = _manage("serve", "--check-only", env=_env(data_dir))
    assert again.returncode == 0, again.stderr
    assert "password" not in again.stdout


@pytest.mark.slow
def test_the_configured_admin_password_is_used_and_not_printed(data_dir):
    done = _manage(
        "serve",
        "--check-only",
        env=_env(data_dir, ADE_ADMIN_USER="root", ADE_ADMIN_PASSWORD="s3cret-pass-42"),
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret-pass-42" not in done.stdout
    check = _manage(
        "shell",
        "-c",
        "from agents.models import User; u = User.objects.get(username='root');"
        "print(u.is_superuser, u.check_password('s3cret-pass-42'))",
        env=_env(data_dir),
    )
    assert check.stdout.strip().endswith("True True"), check.stderr


@pytest.mark.slow
def test_a_new_admin_password_at_start_replaces_a_lost_one(data_dir):
    first = _manage("serve", "--check-only", env=_env(data_dir))
    assert "changepassword admin" in first.stdout  # the hint says how to recover
    reset = _manage(
        "serve", "--check-only", env=_env(data_dir, ADE_ADMIN_PASSWORD="recovered-pass-77")
    )
    assert reset.returncode == 0, reset.stderr
    assert "was set from ADE_ADMIN_PASSWORD" in reset.stdout
    assert "recovered-pass-77" not in reset.stdout
    check = _manage(
        "shell",
        "-c",
        "from agents.models import User; print(User.objects.get(username='admin')"
        ".check_password('recovered-pass-77'))",
        env=_env(data_dir),
    )
    assert check.stdout.strip().endswith("True"), check.stderr
    same = _manage(
        "serve", "--check-only", env=_env(data_dir, ADE_ADMIN_PASSWORD="recovered-pass-77")
    )
    assert "ADE_ADMIN_PASSWORD" not in same.stdout


@pytest.mark.slow
def test_serve_answers_health_and_admin_over_http(data_dir):
    port = _free_port()
    env = _env(data_dir, ADE_PORT=str(port), ADE_ADMIN_PASSWORD="s3cret-pass-42")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health/", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(f"serve exited early: {proc.stdout.read()}")
                time.sleep(0.3)
        assert health is not None and health.status_code == 200
        assert health.json()["status"] == "ok"
        admin = httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5)
        assert admin.status_code == 200 and "ADE administration" in admin.text
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 302 and "/login/" in home.headers["location"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_database_without_pgvector_stops_start_up_with_instructions(django_db_blocker, data_dir):
    """The Supabase case: the extension is missing and this user may not create it."""
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS ade_novector")
            cursor.execute("DROP ROLE IF EXISTS ade_limited")
            cursor.execute("CREATE ROLE ade_limited LOGIN")
            cursor.execute("CREATE DATABASE ade_novector")
        host = connection.settings_dict["HOST"]
    try:
        url = f"postgresql://ade_limited@/ade_novector?host={host}"
        done = _manage("serve", "--check-only", env=_env(data_dir, DATABASE_URL=url))
        assert done.returncode == 2
        assert "create extension vector;" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
    finally:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS ade_novector")
            cursor.execute("DROP ROLE IF EXISTS ade_limited")


def test_an_unreachable_database_gives_a_clear_error(data_dir):
    done = _manage(
        "serve",
        "--check-only",
        env=_env(data_dir, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"),
    )
    assert done.returncode == 2
    assert "Cannot connect to the database" in done.stderr
    assert "Traceback" not in done.stderr


def test_database_urls_are_parsed_for_sockets_poolers_and_letta_names(monkeypatch):
    from ade.database import configured_url, parse_database_url

    sock = parse_database_url("postgresql://postgres:@/postgres?host=/tmp/x/pgdata")
    assert sock["HOST"] == "/tmp/x/pgdata" and sock["NAME"] == "postgres"
    pooled = parse_database_url(
        "postgres://u:p%40ss@db.example:6543/app?sslmode=require&pgbouncer=true"
    )
    assert pooled["PASSWORD"] == "p@ss" and pooled["PORT"] == "6543"
    assert (
        pooled["OPTIONS"]["sslmode"] == "require" and pooled["OPTIONS"]["prepare_threshold"] is None
    )
    # Our own connection pool is on by default (ASGI requests each run in a new thread).
    assert pooled["OPTIONS"]["pool"]["max_size"] >= 1 and pooled["CONN_MAX_AGE"] == 0
    assert configured_url({"LETTA_PG_URI": "postgresql://l/x"}) == "postgresql://l/x"
    assert (
        configured_url({"DATABASE_URL": "postgresql://d/x", "LETTA_PG_URI": "postgresql://l/x"})
        == "postgresql://d/x"
    )


def _forward_to_postgres(port: int, socket_path: str) -> socket.socket:
    """A TCP port that relays to the Postgres Unix socket: the database
    "coming up" at a moment the test chooses."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(socket_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener


@pytest.mark.slow
def test_replicas_started_before_their_database_wait_for_it_and_migrate_one_at_a_time(
    django_db_blocker, data_dir
):
    """docker compose starts ADE's replicas and Postgres together: both wait,
    then one migrates a fresh database while the other waits its turn."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS ade_replicas")
        cursor.execute("CREATE DATABASE ade_replicas")
    d = connection.settings_dict
    socket_path = f"{d['HOST']}/.s.PGSQL.{d['PORT'] or 5432}"
    port = _free_port()
    env = _env(
        data_dir,
        DATABASE_URL=f"postgresql://{d['USER']}@127.0.0.1:{port}/ade_replicas",
        ADE_DB_WAIT_SECONDS="240",
        ADE_ADMIN_PASSWORD="s3cret-pass-42",
    )
    replicas = [
        subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--check-only"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs: list[list[str]] = [[], []]
    readers = [
        threading.Thread(target=lambda r=r, out=out: out.extend(r.stdout), daemon=True)
        for r, out in zip(replicas, outputs, strict=True)
    ]
    for reader in readers:
        reader.start()
    listener = None
    try:
        deadline = time.monotonic() + 180
        while not all(
            any(line.startswith("Waiting up to 240s for the database") for line in out)
            for out in outputs
        ):
            assert time.monotonic() < deadline and all(r.poll() is None for r in replicas), outputs
            time.sleep(0.2)
        listener = _forward_to_postgres(port, socket_path)
        for replica, reader in zip(replicas, readers, strict=True):
            replica.wait(timeout=240)
            reader.join(10)
        assert [r.returncode for r in replicas] == [0, 0], outputs
        assert all("Database ready.\n" in out for out in outputs)
        check = _manage(
            "shell",
            "-c",
            "from django.db import connection; c = connection.cursor();"
            "c.execute('SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations');"
            "from agents.models import User;"
            "print('counts', *c.fetchone(), User.objects.filter(is_superuser=True).count())",
            env=env,
        )
        line = next(
            (x for x in check.stdout.splitlines() if x.startswith("counts ")),
            check.stdout + check.stderr,
        )
        _, applied, distinct, admins = line.split()
        assert applied == distinct and int(applied) > 0 and admins == "1", check.stderr
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()
        if listener is not None:
            listener.close()
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS ade_replicas WITH (FORCE)")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_serve_starts_the_background_worker_for_jobs_left_from_before(alice, monkeypatch, data_dir):
    """A file queued before the start, and one whose worker died, are both
    processed by the worker thread `serve` starts."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from memory.files.models import Job
    from memory.services.files import file_upload, source_create

    monkeypatch.setenv("ADE_JOBS", "worker")  # nothing runs them in this process
    folder = source_create(owner=alice, name="left over")
    queued, _ = file_upload(source=folder, file_name="queued.txt", data=b"queued before the start")
    orphan, orphan_job = file_upload(source=folder, file_name="orphan.txt", data=b"its worker died")
    Job.objects.filter(pk=orphan_job.pk).update(
        status="running", attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    d = connection.settings_dict
    port = _free_port()
    env = _env(
        data_dir,
        DATABASE_URL=f"postgresql://{d['USER']}@/{d['NAME']}?host={d['HOST']}",
        ADE_PORT=str(port),
        ADE_ADMIN_PASSWORD="s3cret-pass-42",
        ADE_JOBS="thread",
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        jobs = Job.objects.filter(file__in=[queued, orphan])
        while set(jobs.values_list("status", flat=True)) != {"completed"}:
            if proc.poll() is not None:
                pytest.fail(f"serve exited early: {proc.stdout.read()}")
            assert time.monotonic() < deadline, list(jobs.values_list("status", "attempts"))
            time.sleep(0.3)
        assert sorted(jobs.values_list("attempts", flat=True)) == [1, 2]
        assert (Path(data_dir) / "static" / "app.css").exists()  # collected for a proxy to serve
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
