"""Custom tools run here: in a separate, isolated Python process with CPU,
memory and wall-time limits, an empty environment (no provider keys, no
database URL) except the variables given explicitly for the agent, and a
throwaway working directory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
OUTPUT_LIMIT = 200_000

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


def _limits(cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024 * 1024, 50 * 1024 * 1024))
    os.setsid()


def run_in_sandbox(source: str, name: str, args: dict, *, env: dict[str, str] | None = None,
                   timeout: float = 60.0) -> SandboxResult:
    child_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    child_env.update({k: str(v) for k, v in (env or {}).items()})
    payload = json.dumps({"source": source, "name": name, "args": args})
    with tempfile.TemporaryDirectory(prefix="ade-tool-") as workdir:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", _RUNNER],
                input=payload, capture_output=True, text=True, timeout=timeout, cwd=workdir,
                env=child_env, preexec_fn=lambda: _limits(max(1, int(timeout))),
            )
        except subprocess.TimeoutExpired:
            return SandboxResult(error=f"The tool {name} ran longer than {timeout:g} s and was stopped.")
    last = done.stdout.strip().rsplit("\n", 1)[-1] if done.stdout.strip() else ""
    try:
        reply = json.loads(last)
    except json.JSONDecodeError:
        reason = "it ran out of memory or CPU time" if done.returncode < 0 else "it crashed"
        return SandboxResult(error=f"The tool {name} produced no result: {reason} "
                                   f"(exit code {done.returncode}). {done.stderr[-500:]}".strip())
    return SandboxResult(
        result=str(reply.get("result", ""))[:OUTPUT_LIMIT],
        error=reply.get("error"),
        stdout=[reply["stdout"][:OUTPUT_LIMIT]] if reply.get("stdout") else [],
        stderr=[reply["stderr"][:OUTPUT_LIMIT]] if reply.get("stderr") else [],
    )
