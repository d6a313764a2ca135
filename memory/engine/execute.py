"""Running one tool call: built-in tools in-process, custom tools in the sandbox.

Model mistakes (bad arguments, unknown labels, read-only blocks...) come back
as a failed result the model can read; only our own bugs raise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from memory.engine.state import AgentState
from memory.tools.base import ToolContext, ToolError
from memory.tools.catalog import BASE_TOOLS
from memory.tools.sandbox import run_in_sandbox
from memory.types import ToolDef

log = logging.getLogger(__name__)

# Letta's limit on the error text fed back to the model.
MAX_ERROR_CHARS = 1000


@dataclass
class ToolOutcome:
    ok: bool
    output: str  # result text (or the error message when not ok)
    stdout: list[str] | None = None
    stderr: list[str] | None = None


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return (
        text[:limit] + f"\n[NOTE: the output was {len(text)} characters and was cut to {limit}. "
        "Ask for less (a narrower query or fewer results) if you need the rest.]"
    )


def run_tool(
    tool: ToolDef, args: dict[str, Any], ctx: ToolContext, agent: AgentState, timeout: float
) -> ToolOutcome:
    base = BASE_TOOLS.get(tool.name)
    try:
        if base is not None and tool.tool_type != "custom":
            result = base.invoke(ctx, args)  # validates args against the schema first
            text = "None" if result is None else str(result)
            return ToolOutcome(True, _truncate(text, tool.return_char_limit))
        if not tool.source_code:
            raise ToolError(f"Tool {tool.name!r} has no source code to run.")

        sandboxed = run_in_sandbox(
            tool.source_code,
            tool.name,
            args,
            env=agent.tool_env,
            timeout=timeout,
            allow_network=tool.allow_network,
        )
        if sandboxed.error:
            return ToolOutcome(
                False, sandboxed.error[:MAX_ERROR_CHARS], sandboxed.stdout, sandboxed.stderr
            )
        return ToolOutcome(
            True,
            _truncate(sandboxed.result, tool.return_char_limit),
            sandboxed.stdout,
            sandboxed.stderr,
        )
    except ToolError as exc:
        return ToolOutcome(False, str(exc)[:MAX_ERROR_CHARS])
    except Exception as exc:
        # A built-in tool failed unexpectedly: log it for us, tell the model, and
        # let the turn go on rather than leave the agent half-way through a step.
        log.exception("tool %s failed", tool.name)
        message = f"Error executing function {tool.name}: {type(exc).__name__}: {exc}"
        return ToolOutcome(False, message[:MAX_ERROR_CHARS])
