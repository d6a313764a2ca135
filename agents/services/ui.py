"""Writes a person makes to an agent from the ADE: its settings and tools,
duplicating, deleting, importing and exporting it.

The domain work is the API's own services (memory/agent_edits.py,
agents/tools_service.py, memory/agentfile.py); this layer maps the ADE's
forms onto them and tells the agent's open tabs to redraw what changed.
"""

from __future__ import annotations

from typing import Any

from agents.errors import Conflict, InvalidInput
from agents.models import Agent, Tool, User
from memory.services.events import publish

LLM_SETTINGS = ("temperature", "max_tokens", "enable_reasoner")


def _redraw(agent: Agent) -> None:
    publish(agent.id, {"type": "context"})


def agent_settings_update(*, agent: Agent, user: User, **fields: Any) -> Agent:
    """Apply the settings form: agent fields, and model parameters into llm_config.
    A new embedding model re-embeds archival memory in the background."""
    from django.db import transaction

    from agents.services.lifecycle import agent_update
    from memory.services.reembed import reembed_if_changed

    llm_config = {key: fields.pop(key) for key in LLM_SETTINGS if key in fields}
    if "enable_reasoner" in llm_config:
        llm_config["enable_reasoner"] = bool(llm_config["enable_reasoner"])
    embedding = fields.pop("embedding", None)
    with transaction.atomic():
        agent = agent_update(agent=agent, user=user, llm_config=llm_config, **fields)
        if embedding is not None:
            reembed_if_changed(agent=agent, embedding=embedding)
    _redraw(agent)
    return agent


def agent_tool_rules_set(*, agent: Agent, user: User, rules: list[dict[str, Any]]) -> None:
    from agents.services.lifecycle import agent_update

    agent_update(agent=agent, user=user, tool_rules=rules)
    _redraw(agent)


def agent_tool_attach(*, agent: Agent, tool: Tool) -> None:
    from agents.services.tools import agent_tool_attach as attach

    attach(agent=agent, tool=tool)
    _redraw(agent)


def agent_tool_detach(*, agent: Agent, tool: Tool) -> None:
    from agents.services.tools import agent_tool_detach as detach

    detach(agent=agent, tool=tool)
    _redraw(agent)


def tool_save(*, user: User, source: str, attach_to: Agent) -> Tool:
    """Create or update the team's tool defined by `source` and attach it."""
    from agents.services.tools import tool_upsert
    from memory.tools.base import schema_from_source
    from memory.tools.catalog import BASE_TOOLS

    try:
        name = schema_from_source(source)["name"]
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    # A team tool named like a built-in would silently replace it for new agents.
    if name in BASE_TOOLS:
        raise Conflict(f"{name!r} is a built-in tool; give your function another name.")
    tool = tool_upsert(user=user, source_code=source)
    if not attach_to.tools.filter(pk=tool.pk).exists():
        agent_tool_attach(agent=attach_to, tool=tool)
    else:
        _redraw(attach_to)
    return tool


def tool_test_run(*, agent: Agent, source: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run the editor's source with test arguments, in the agent's sandbox environment."""
    from agents.services.tools import tool_run

    env = {k: str(v) for k, v in (agent.tool_exec_environment_variables or {}).items()}
    return tool_run(source_code=source, args=args, env=env)


def agent_duplicate(*, agent: Agent, user: User) -> Agent:
    """A copy through the Agent File: same configuration, tools and memory,
    and a fresh conversation."""
    from agents.services.agentfile import agent_export, agent_import

    document = agent_export(agent=agent)
    return agent_import(user=user, document=document, strip_messages=True, name=f"{agent.name} copy"[:200])[0]


def agent_delete(*, agent: Agent) -> None:
    from agents.services.lifecycle import agent_delete as delete

    delete(agent=agent)


def agent_export(*, agent: Agent) -> dict[str, Any]:
    from agents.services.agentfile import agent_export as export

    return export(agent=agent)


def agent_import(*, user: User, data: Any) -> Agent:
    from agents.services.agentfile import agent_import as load

    return load(user=user, document=data)[0]
