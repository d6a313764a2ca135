"""Custom tools run here: a separate Python process that cannot see the
server's secrets, database, files or network.

Layers, strongest available first:
- an empty environment except the variables given explicitly for the agent
  (no provider keys, no database URL);
- CPU, address-space, file-size and process-count limits, plus a wall-clock
  timeout that kills the whole process group (fork bombs included);
- when the server runs as root (the default container and CI): a private
  network namespace (no network at all unless the tool is allowed it), a
  private mount namespace with fresh /tmp, /var/tmp and /dev/shm, and the
  tool itself running as `nobody` in a throwaway working directory;
- when not root: an unprivileged user+network namespace where the kernel
  allows one.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
FILE_SIZE_LIMIT = 50 * 1024 * 1024
PROCESS_LIMIT = 64
OUTPUT_LIMIT = 200_000

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 16384, 1 << 18

# Runs inside the child: executes the tool's source, calls the function with the
# JSON arguments from stdin, and writes one JSON line with the result on the
# original stdout (the tool's own prints are captured separately).
_RUNNER = r"""
import contextlib, io, json, sys, traceback
request = json.loads(sys.stdin.read())
out, err = io.StringIO(), io.StringIO()
reply = {}
try:
    namespace = {"__name__": "__tool__"}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exec(compile(request["source"], "<tool>", "exec"), namespace)
        fn = namespace.get(request["name"])
        if not callable(fn):
            raise NameError(f"the source defines no function named {request['name']!r}")
        result = fn(**request["args"])
    reply["result"] = result if isinstance(result, str) else json.dumps(result, default=str)
except BaseException as exc:
    reply["error"] = f"{type(exc).__name__}: {exc}"
    err.write(traceback.format_exc(limit=3))
reply["stdout"] = out.getvalue()
reply["stderr"] = err.getvalue()
sys.__stdout__.write("\n" + json.dumps(reply))
"""


@dataclass
class SandboxResult:
    result: str = ""
    error: str | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
    return _libc().unshare(flags) == 0


def _mount_tmpfs(path: str) -> None:
    if (
        _libc().mount(
            b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64m,mode=1777"
        )
        != 0
    ):
        raise OSError(ctypes.get_errno(), f"cannot mount a private {path}")


def _child_setup(cpu_seconds: int, allow_network: bool, as_root: bool) -> None:
    """Runs in the forked child before exec. Any failure aborts the tool run
    (better no tool than an unconfined one)."""
    os.setsid()
    if as_root:
        flags = _CLONE_NEWNS | (0 if allow_network else _CLONE_NEWNET)
        if not _unshare(flags):
            raise OSError(ctypes.get_errno(), "cannot create sandbox namespaces")
        if _libc().mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "cannot make mounts private")
        for path in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(path):
                _mount_tmpfs(path)
        nobody = pwd.getpwnam("nobody")
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    elif not allow_network:
        # Best effort without root: an unprivileged user namespace with its own
        # (empty) network, where the kernel allows it.
        _unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    if as_root:
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))


def _world_usable(path: str) -> bool:
    """Whether `nobody` can execute `path`: every directory on the way must be
    traversable by others (a pyenv under /root usually is not)."""
    real = Path(os.path.realpath(path))
    if not real.stat().st_mode & 0o001:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in real.parents)


def _interpreter(as_root: bool) -> str:
    if not as_root or _world_usable(sys.executable):
        return sys.executable
    for candidate in ("/usr/local/bin/python3", "/usr/bin/python3"):
        if os.path.exists(candidate) and _world_usable(candidate):
            return candidate
    raise RuntimeError("no Python interpreter the sandbox user may run")


def _workdir(as_root: bool) -> Path:
    # As root the child gets a fresh, empty /tmp of its own, so its working
    # directory must live elsewhere.
    base = Path(os.environ.get("ADE_SANDBOX_DIR") or tempfile.gettempdir())
    if as_root:
        base = Path("/var/lib/ade-sandbox")
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="tool-", dir=base))
    if as_root:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path


def run_in_sandbox(
    source: str,
    name: str,
    args: dict,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    allow_network: bool = False,
) -> SandboxResult:
    as_root = os.geteuid() == 0
    child_env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "HOME": "/nonexistent",
    }
    child_env.update({k: str(v) for k, v in (env or {}).items()})
    payload = json.dumps({"source": source, "name": name, "args": args})
    workdir = _workdir(as_root)
    cpu = max(1, int(timeout))
    try:
        proc = subprocess.Popen(
            [_interpreter(as_root), "-I", "-c", _RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=workdir,
            env=child_env,
            preexec_fn=lambda: _child_setup(cpu, allow_network, as_root),
        )
        try:
            stdout, stderr = proc.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return SandboxResult(
                error=f"The tool {name} ran longer than {timeout:g} s and was stopped."
            )
        finally:
            _kill_group(proc)  # stray children (a fork bomb's) die with the group
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        log.error("sandbox could not start: %s", exc)
        return SandboxResult(error=f"The tool {name} could not be started in its sandbox: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    last = stdout.strip().rsplit("\n", 1)[-1] if stdout.strip() else ""
    try:
        reply = json.loads(last)
    except json.JSONDecodeError:
        reason = (
            "it ran out of memory or CPU time"
            if proc.returncode and proc.returncode < 0
            else "it crashed"
        )
        return SandboxResult(
            error=f"The tool {name} produced no result: {reason} "
            f"(exit code {proc.returncode}). {stderr[-500:]}".strip()
        )
    return SandboxResult(
        result=str(reply.get("result", ""))[:OUTPUT_LIMIT],
        error=reply.get("error"),
        stdout=[reply["stdout"][:OUTPUT_LIMIT]] if reply.get("stdout") else [],
        stderr=[reply["stderr"][:OUTPUT_LIMIT]] if reply.get("stderr") else [],
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()
