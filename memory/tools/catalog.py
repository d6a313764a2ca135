"""The registry of built-in tools and the default set for each agent type."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from memory.tools import core
from memory.tools import files as file_tools
from memory.tools.base import ToolContext, schema_from_function, validate_arguments
from memory.types import AgentType, ToolDef

CORE = "letta_core"
MEMORY_CORE = "letta_memory_core"


@dataclass(frozen=True)
class BaseTool:
    name: str
    function: Callable[..., str | None]
    tool_type: str
    schema: dict[str, Any]

    def invoke(self, ctx: ToolContext, args: dict[str, Any]) -> str | None:
        """Run the tool with the model's arguments, checked against its schema first."""
        return self.function(ctx, **validate_arguments(self.schema, args))


def _tool(fn: Callable[..., str | None], tool_type: str) -> BaseTool:
    # Computed once at import: the schemas are constant and sent on every request.
    return BaseTool(
        name=fn.__name__, function=fn, tool_type=tool_type, schema=schema_from_function(fn)
    )


BASE_TOOLS: dict[str, BaseTool] = {
    t.name: t
    for t in (
        _tool(core.send_message, CORE),
        _tool(core.conversation_search, CORE),
        _tool(core.archival_memory_insert, CORE),
        _tool(core.archival_memory_search, CORE),
        _tool(core.core_memory_append, CORE),
        _tool(core.core_memory_replace, CORE),
        _tool(core.memory_replace, MEMORY_CORE),
        _tool(core.memory_insert, MEMORY_CORE),
        _tool(core.memory_rethink, MEMORY_CORE),
        _tool(core.memory_finish_edits, MEMORY_CORE),
        *(_tool(fn, file_tools.FILES_CORE) for fn in file_tools.FILE_TOOLS),
    )
}

# Unlike Letta 0.9+, the archival tools stay in every memory agent's defaults:
# archival memory is a core feature here, not an opt-in.
_ARCHIVAL = ["archival_memory_insert", "archival_memory_search"]
_DEFAULTS: dict[AgentType, list[str]] = {
    AgentType.MEMGPT: [
        "send_message",
        "conversation_search",
        *_ARCHIVAL,
        "core_memory_append",
        "core_memory_replace",
    ],
    AgentType.MEMGPT_V2: [
        "send_message",
        "conversation_search",
        *_ARCHIVAL,
        "memory_replace",
        "memory_insert",
    ],
    AgentType.LETTA_V1: ["conversation_search", *_ARCHIVAL, "memory_replace", "memory_insert"],
    AgentType.REACT: [],
}


def default_tool_names(agent_type: AgentType | str) -> list[str]:
    return list(_DEFAULTS[AgentType(agent_type)])


def tool_defs_for(names: Iterable[str]) -> list[ToolDef]:
    """Engine ToolDefs for built-in tools, in the order given."""
    defs: list[ToolDef] = []
    for name in names:
        tool = BASE_TOOLS.get(name)
        if tool is None:
            raise ValueError(
                f"{name!r} is not a built-in tool; built-ins are: {', '.join(BASE_TOOLS)}"
            )
        # A copy: callers may decorate schemas, and BASE_TOOLS must stay pristine.
        defs.append(
            ToolDef(name=tool.name, schema=copy.deepcopy(tool.schema), tool_type=tool.tool_type)
        )
    return defs
