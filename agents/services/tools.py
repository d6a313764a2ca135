"""Writes for tools: create (schema from the Python source), upsert, modify,
delete, attach to and detach from agents, and run one for the tool tester.

Custom tools belong to a team (organization); built-in tools belong to none
and only an admin may change them. A tool's schema is read from its source
with `ast` (signature + Google-style docstring) unless one is given; the
source itself only ever runs in the sandbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from agents.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from agents.models import Agent, Organization, Tool, User
from memory.services.base_tools import base_tools_sync
from memory.services.prompt import agent_refresh_if_idle
from memory.tools.base import ToolError, schema_from_source, validate_arguments
from memory.tools.catalog import BASE_TOOLS
from memory.tools.sandbox import run_in_sandbox

NAME_MAX = 48
SOURCE_TYPES = ("python",)
WRITABLE = {
    "description",
    "tags",
    "source_code",
    "source_type",
    "json_schema",
    "args_json_schema",
    "return_char_limit",
    "pip_requirements",
    "default_requires_approval",
    "enable_parallel_execution",
    "metadata",
}


def team_for(user: User) -> Organization:
    """The organization a user's tools belong to. A user outside every team gets
    a personal one, so their tools never look like shared built-ins."""
    if user.organization_id:
        return user.organization
    org, _ = Organization.objects.get_or_create(name=f"{user.username} (personal)")
    User.objects.filter(pk=user.pk).update(organization=org)
    user.organization = org
    return org


def _schema_for(
    source_code: str, json_schema: dict[str, Any] | None, name: str | None = None
) -> dict[str, Any]:
    if json_schema:
        if not isinstance(json_schema.get("name"), str) or not json_schema["name"]:
            raise InvalidInput("json_schema needs a 'name': the function the model calls.")
        if not isinstance(json_schema.get("parameters", {}), dict):
            raise InvalidInput("json_schema 'parameters' must be a JSON schema object.")
        return json_schema
    try:
        return schema_from_source(source_code, name)
    except ValueError as exc:
        raise InvalidInput(f"Cannot build the tool's schema from its source: {exc}.") from None


def _check(fields: dict[str, Any]) -> None:
    if fields.get("source_type", "python") not in SOURCE_TYPES:
        raise InvalidInput("Only Python tools (source_type 'python') can run here.")
    limit = fields.get("return_char_limit")
    if limit is not None and not 1 <= limit <= 1_000_000:
        raise InvalidInput("return_char_limit must be between 1 and 1000000 characters.")
    if "source_code" in fields and not (fields["source_code"] or "").strip():
        raise InvalidInput("A tool needs source_code: a Python function with a docstring.")


def _writable(*, user: User, tool: Tool) -> None:
    if tool.organization_id is None and not user.is_superuser:
        raise PermissionDenied(f"{tool.name} is a built-in tool; only an admin may change it.")


def _apply(tool: Tool, schema: dict[str, Any], fields: dict[str, Any]) -> None:
    name = schema["name"]
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Tool name {name!r} is longer than {NAME_MAX} characters.")
    tool.name = name
    tool.json_schema = schema
    for key, value in fields.items():
        if key in WRITABLE and value is not None:
            setattr(tool, key, value)
    if fields.get("description") is None:
        tool.description = schema.get("description", "") or tool.description


def tool_create(
    *, user: User, source_code: str, json_schema: dict[str, Any] | None = None, **fields: Any
) -> Tool:
    fields["source_code"] = source_code
    _check(fields)
    schema = _schema_for(source_code, json_schema)
    org = team_for(user)
    if Tool.objects.filter(organization=org, name=schema["name"]).exists():
        raise Conflict(
            f"A tool named {schema['name']!r} already exists; modify it or use upsert (PUT)."
        )
    tool = Tool(organization=org, created_by=user, tool_type="custom")
    _apply(tool, schema, fields)
    try:
        with transaction.atomic():
            tool.save()
    except IntegrityError:
        raise Conflict(f"A tool named {schema['name']!r} already exists.") from None
    return tool


@transaction.atomic
def tool_upsert(
    *, user: User, source_code: str, json_schema: dict[str, Any] | None = None, **fields: Any
) -> Tool:
    fields["source_code"] = source_code
    _check(fields)
    schema = _schema_for(source_code, json_schema)
    org = team_for(user)
    tool = Tool.objects.select_for_update().filter(organization=org, name=schema["name"]).first()
    if tool is None:
        tool = Tool(organization=org, created_by=user, tool_type="custom")
    _apply(tool, schema, fields)
    tool.save()
    return tool


@transaction.atomic
def tool_update(*, user: User, tool: Tool, **changes: Any) -> Tool:
    _writable(user=user, tool=tool)
    unknown = set(changes) - WRITABLE
    if unknown:
        raise InvalidInput(f"Unknown tool fields: {', '.join(sorted(unknown))}.")
    _check(changes)
    if "source_code" in changes or "json_schema" in changes:
        source = changes.get("source_code") or tool.source_code
        schema = _schema_for(
            source, changes.get("json_schema"), None if "source_code" in changes else tool.name
        )
        clash = Tool.objects.filter(
            organization_id=tool.organization_id, name=schema["name"]
        ).exclude(pk=tool.pk)
        if clash.exists():
            raise Conflict(f"Another tool is already named {schema['name']!r}.")
    else:
        schema = tool.json_schema
    changes.pop("json_schema", None)
    _apply(tool, schema, changes)
    tool.save()
    _refresh_agents(tool)
    return tool


def tool_delete(*, user: User, tool: Tool) -> None:
    _writable(user=user, tool=tool)
    agent_ids = list(tool.agents.values_list("id", flat=True))
    tool.delete()
    for agent_id in agent_ids:
        _refresh(agent_id)


def _refresh_agents(tool: Tool) -> None:
    for agent_id in tool.agents.values_list("id", flat=True):
        _refresh(agent_id)


def _refresh(agent_id: str) -> None:
    agent_refresh_if_idle(agent_id)


def base_tools_ensure() -> None:
    """Built-in tools exist before anything refers to them by name (a fresh
    database has none until the first agent with base tools is created)."""
    if not Tool.objects.filter(organization__isnull=True).exists():
        base_tools_sync()


# --- attaching --------------------------------------------------------------------------------


def agent_tool_attach(*, agent: Agent, tool: Tool) -> None:
    if agent.tools.filter(name=tool.name).exclude(pk=tool.pk).exists():
        raise Conflict(f"Agent {agent.id} already has a tool named {tool.name!r}; detach it first.")
    agent.tools.add(tool)
    _refresh(agent.id)


def agent_tool_detach(*, agent: Agent, tool: Tool) -> None:
    if not agent.tools.filter(pk=tool.pk).exists():
        raise NotFound(f"Tool {tool.id} is not attached to agent {agent.id}.")
    agent.tools.remove(tool)
    _refresh(agent.id)


def agent_tool_set_approval(*, agent: Agent, tool_name: str, requires_approval: bool) -> None:
    """Add or remove a requires_approval rule for one of the agent's tools."""
    if not agent.tools.filter(name=tool_name).exists():
        raise NotFound(f"Agent {agent.id} has no tool named {tool_name!r}.")
    rules = [
        r
        for r in (agent.tool_rules or [])
        if not (r.get("type") == "requires_approval" and r.get("tool_name") == tool_name)
    ]
    if requires_approval:
        rules.append({"type": "requires_approval", "tool_name": tool_name})
    Agent.objects.filter(pk=agent.pk).update(tool_rules=rules)
    agent.tool_rules = rules
    _refresh(agent.id)


# --- running one ------------------------------------------------------------------------------


def tool_run(
    *,
    source_code: str,
    args: dict[str, Any],
    env: dict[str, str] | None = None,
    name: str | None = None,
    json_schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a tool's source in the sandbox with `args`, as the model would call it.

    Returns {status, result, stdout, stderr}; a bad argument or a raising tool
    is a result with status "error", not an exception: that is what a tool
    tester wants to see."""
    if not isinstance(args, dict):
        raise InvalidInput("args must be an object mapping argument names to values.")
    schema = _schema_for(source_code, json_schema, name)
    try:
        clean = validate_arguments(schema, args)
    except ToolError as exc:
        return {"status": "error", "result": str(exc), "stdout": [], "stderr": []}
    result = run_in_sandbox(
        source_code, schema["name"], clean, env=env or {}, timeout=settings.TOOL_TIMEOUT
    )
    if result.error:
        return {
            "status": "error",
            "result": result.error,
            "stdout": result.stdout,
            "stderr": result.stderr,
        }
    return {
        "status": "success",
        "result": result.result,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def tool_run_for_agent(*, agent: Agent, tool_name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one of the agent's custom tools with the agent's environment variables."""
    tool = agent.tools.filter(name=tool_name).first()
    if tool is None:
        raise NotFound(f"Agent {agent.id} has no tool named {tool_name!r}.")
    if tool.tool_type != "custom" or not tool.source_code:
        raise InvalidInput(
            f"{tool_name} is a built-in memory tool: it runs only inside a turn, "
            "where its edits are recorded. Send the agent a message instead."
        )
    env = {k: str(v) for k, v in (agent.tool_exec_environment_variables or {}).items()}
    return tool_run(
        source_code=tool.source_code,
        args=args,
        env=env,
        name=tool.name,
        json_schema=tool.json_schema,
    )


def tool_return_message(outcome: dict[str, Any], name: str) -> dict[str, Any]:
    """A tool tester's result in Letta's ToolReturnMessage shape."""
    now = datetime.now(UTC)
    call_id = f"call-{uuid.uuid4()}"
    return {
        "id": f"message-{uuid.uuid4()}",
        "date": now.isoformat(),
        "name": name,
        "message_type": "tool_return_message",
        "tool_return": outcome["result"],
        "status": outcome["status"],
        "tool_call_id": call_id,
        "stdout": outcome["stdout"],
        "stderr": outcome["stderr"],
    }


# --- the ADE's tool editor ---------------------------------------------------------------------


def tool_save(*, user: User, source: str, attach_to: Agent) -> Tool:
    """Create or update the team's tool defined by `source` and attach it."""
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
        _refresh(attach_to.id)
    return tool


def tool_test_run(*, agent: Agent, source: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run the editor's source with test arguments, in the agent's sandbox environment."""
    env = {k: str(v) for k, v in (agent.tool_exec_environment_variables or {}).items()}
    return tool_run(source_code=source, args=args, env=env)
