"""Custom tool code is contained: no server secrets, database, files or
network, and runaway code is stopped."""

import os
import socket
import threading
from pathlib import Path

import pytest

from memory.tools.sandbox import run_in_sandbox

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and user switching need root")


def run(body: str, **kw):
    source = "def tool():\n" + "\n".join("    " + line for line in body.strip().splitlines())
    return run_in_sandbox(source, "tool", {}, timeout=kw.pop("timeout", 10), **kw)


def test_tools_see_only_the_variables_given_to_them(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret")
    result = run("import os\nreturn sorted(os.environ)", env={"TOOL_TOKEN": "t"})
    names = result.result
    assert "TOOL_TOKEN" in names and "OPENAI_API_KEY" not in names and "DATABASE_URL" not in names


def test_tool_output_errors_and_prints_come_back(monkeypatch):
    result = run("print('hello')\nraise ValueError('bad input')")
    assert result.error == "ValueError: bad input" and result.stdout == ["hello\n"]


def test_an_endless_loop_is_stopped():
    result = run("while True:\n    pass", timeout=2)
    assert result.error and ("stopped" in result.error or "CPU" in result.error)


def test_memory_hogs_are_stopped():
    result = run("x = bytearray(2 * 1024 * 1024 * 1024)\nreturn len(x)")
    assert result.error and "MemoryError" in result.error


@ROOT_ONLY
def test_a_fork_bomb_is_contained():
    result = run("import os\nwhile True:\n    os.fork()", timeout=5)
    assert result.error


@ROOT_ONLY
def test_tools_cannot_reach_the_network_or_the_database():
    from django.conf import settings

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    threading.Thread(target=lambda: listener.accept(), daemon=True).start()
    host = settings.DATABASES["default"]["HOST"] or "/tmp"
    code = f"""
import socket, os
out = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    out.append("tcp-open")
except OSError as exc:
    out.append("tcp-denied")
try:
    os.listdir({host!r})
    out.append("db-dir-readable")
except OSError:
    out.append("db-dir-denied")
return ",".join(out)
"""
    result = run(code)
    assert result.result == "tcp-denied,db-dir-denied", result
    allowed = run(code.replace("db-dir", "x"), allow_network=True)
    assert allowed.result.startswith("tcp-open")
    listener.close()


@ROOT_ONLY
def test_tools_cannot_write_outside_their_sandbox(tmp_path):
    target = Path("/tmp") / f"ade-escape-{os.getpid()}"
    code = f"""
import os
results = []
for path in [{str(target)!r}, "/work/escape.txt", {str(tmp_path / "x.txt")!r}]:
    try:
        open(path, "w").write("x")
        results.append("wrote")
    except OSError:
        results.append("denied")
return ",".join(results)
"""
    result = run(code)
    assert not target.exists() and not Path("/work/escape.txt").exists()
    assert "denied" in result.result and not (tmp_path / "x.txt").exists()
