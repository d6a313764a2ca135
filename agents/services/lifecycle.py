"""An agent's life: create it ready to talk, change its configuration,
duplicate and delete it. The API, the ADE and Agent File imports all come
through here; a change that alters what the system prompt shows is followed
by a recompile, and open ADE tabs are told to redraw.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from agents import ids
from agents.errors import Conflict, InvalidInput, NotFound
from agents.models import Agent, Tool, User
from agents.selectors import tools_visible_to
from memory import models as m
from memory import prompts
from memory.engine.rules import parse_rules
from memory.llm.registry import parse_handle
from memory.selectors import blocks_visible_to
from memory.services.base_tools import base_tools_ensure, base_tools_sync
from memory.services.blocks import block_new
from memory.services.context import agent_window_set
from memory.services.events import publish
from memory.services.prompt import agent_refresh, agent_refresh_if_idle
from memory.services.providers import embedder_for, resolve_context_window
from memory.services.reembed import reembed_if_changed
from memory.store.block_window import agent_window_check
from memory.store.blocks import block_attach
from memory.tools.catalog import default_tool_names
from memory.types import AgentType

NAME_PATTERN_HELP = "letters, digits, spaces, '-', '_' and apostrophes"
LLM_SETTINGS = ("temperature", "max_tokens", "enable_reasoner")

CONFIG_FIELDS = {
    "name",
    "description",
    "system",
    "tags",
    "metadata",
    "model",
    "embedding",
    "llm_config",
    "context_window_limit",
    "tool_rules",
    "timezone",
    "message_buffer_autoclear",
    "tool_exec_environment_variables",
    "compaction_settings",
    "response_format",
}
WINDOW_FIELDS = {"tool_ids", "block_ids", "message_ids"}
# What an explicit null means for fields that cannot be null.
NULL_MEANS_EMPTY = {"description", "embedding", "model"}
NULL_MEANS_UNCHANGED = {"name", "system", "timezone", "message_buffer_autoclear"}


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return f"agent-{ids.make_id('x')[2:10]}"
    if len(name) > 200 or not re.fullmatch(r"[\w\s'\-]+", name):
        raise InvalidInput(
            f"Agent name may contain only {NAME_PATTERN_HELP} (at most 200 characters)."
        )
    return name


@transaction.atomic
def agent_create(
    *,
    owner: User,
    name: str = "",
    agent_type: str = AgentType.LETTA_V1.value,
    model: str = "",
    embedding: str = "",
    system: str | None = None,
    description: str = "",
    memory_blocks: list[dict[str, Any]] | None = None,
    block_ids: list[str] | None = None,
    tools: list[str] | None = None,
    tool_ids: list[str] | None = None,
    include_base_tools: bool = True,
    tool_rules: list[dict[str, Any]] | None = None,
    context_window_limit: int | None = None,
    llm_config: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    timezone_name: str = "UTC",
    metadata: dict[str, Any] | None = None,
    tool_env: dict[str, str] | None = None,
    message_buffer_autoclear: bool = False,
) -> Agent:
    try:
        kind = AgentType(agent_type)
    except ValueError:
        raise InvalidInput(
            f"Unknown agent_type {agent_type!r}; use one of "
            f"{', '.join(t.value for t in AgentType)}."
        ) from None
    model = model or settings.DEFAULT_LLM_HANDLE
    for handle in (model, embedding):
        if handle:
            try:
                parse_handle(handle)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
    if context_window_limit is not None and not 256 <= context_window_limit <= 2_147_483_647:
        raise InvalidInput("context_window_limit must be between 256 and 2147483647 tokens.")
    try:
        rules = parse_rules(tool_rules or [])
    except ValueError as exc:
        raise InvalidInput(f"Invalid tool_rules: {exc}") from None
    try:
        ZoneInfo(timezone_name or "UTC")
    except Exception:
        raise InvalidInput(
            f"Unknown timezone {timezone_name!r}; use an IANA name like 'Europe/Paris'."
        ) from None

    # An embedding model whose provider is not configured is refused now (422
    # with the variable to set), not at the first archival insert.
    embedder_for(embedding)
    llm_config = dict(llm_config or {})
    if "context_window" not in llm_config:
        llm_config["context_window"] = resolve_context_window(model)
    agent = Agent.objects.create(
        owner=owner,
        organization_id=owner.organization_id,
        name=_validate_name(name),
        agent_type=kind.value,
        system=system if system is not None else prompts.default_system_prompt(kind),
        model=model,
        embedding=embedding,
        description=description or "",
        llm_config=llm_config,
        context_window_limit=context_window_limit,
        tags=sorted(set(tags or [])),
        tool_rules=[r for r in (tool_rules or [])] if rules is not None else [],
        timezone=timezone_name or "UTC",
        metadata=metadata or {},
        tool_exec_environment_variables=tool_env or {},
        message_buffer_autoclear=message_buffer_autoclear,
    )
    archive = m.Archive.objects.create(
        name=f"{agent.name} archive",
        owner=owner,
        organization_id=owner.organization_id,
        embedding=embedding,
    )
    archive.agents.add(agent)

    for spec in memory_blocks or []:
        if not isinstance(spec, dict):
            raise InvalidInput("Each memory block must be an object with at least a label.")
        block = block_new(
            label=spec.get("label", ""),
            value=spec.get("value", ""),
            limit=spec.get("limit"),
            description=spec.get("description") or "",
            read_only=bool(spec.get("read_only", False)),
            metadata=spec.get("metadata"),
            user=owner,
        )
        block_attach(agent=agent, block=block)
    for block_id in block_ids or []:
        block = m.Block.objects.filter(pk=block_id).first()
        if block is None or (
            block.owner_id != owner.id
            and not (block.organization_id and block.organization_id == owner.organization_id)
        ):
            raise NotFound(f"Block {block_id} not found.")
        block_attach(agent=agent, block=block)

    names = list(tools or [])
    base_tools_ensure()  # built-ins exist before a tool is looked up by name
    if include_base_tools:
        base_tools_sync()
        names = list(dict.fromkeys(default_tool_names(kind) + names))
    for tool in _resolve_tools(owner, names, tool_ids or []):
        agent.tools.add(tool)

    agent_refresh(agent.id, force=True)
    agent_window_check(agent.id)
    agent.refresh_from_db()
    return agent


def _resolve_tools(owner: User, names: list[str], tool_ids: list[str]) -> list[Tool]:
    visible = Tool.objects.filter(
        Q(organization__isnull=True) | Q(organization_id=owner.organization_id)
    )
    found: list[Tool] = []
    for name in names:
        # The organization's own tool wins over a built-in of the same name.
        tool = visible.filter(name=name).order_by("organization_id").first()
        if tool is None:
            raise NotFound(f"No tool named {name!r}.")
        found.append(tool)
    for tool_id in tool_ids:
        tool = visible.filter(pk=tool_id).first()
        if tool is None:
            raise NotFound(f"Tool {tool_id} not found.")
        found.append(tool)
    return list(dict.fromkeys(found))


def _check_handle(handle: str) -> None:
    try:
        parse_handle(handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _clean_config(agent: Agent, changes: dict[str, Any]) -> dict[str, Any]:
    clean = dict(changes)
    if "name" in clean:
        clean["name"] = _validate_name(clean["name"] or agent.name)
    for key in ("model", "embedding"):
        if clean.get(key):
            _check_handle(clean[key])
    if clean.get("tool_rules") is not None:
        try:
            parse_rules(clean["tool_rules"])
        except ValueError as exc:
            raise InvalidInput(f"Invalid tool_rules: {exc}") from None
    if clean.get("timezone"):
        try:
            ZoneInfo(clean["timezone"])
        except Exception:
            raise InvalidInput(
                f"Unknown timezone {clean['timezone']!r}; use an IANA name like 'Europe/Paris'."
            ) from None
    limit = clean.get("context_window_limit")
    if limit is not None and not 256 <= limit <= 2_147_483_647:  # a Postgres integer
        raise InvalidInput("context_window_limit must be between 256 and 2147483647 tokens.")
    if "llm_config" in clean:
        merged = dict(agent.llm_config or {})
        merged.update(clean["llm_config"] or {})
        clean["llm_config"] = merged
    if (
        clean.get("model")
        and clean["model"] != agent.model
        and "context_window" not in (changes.get("llm_config") or {})
    ):
        config = dict(clean.get("llm_config", agent.llm_config) or {})
        config["context_window"] = resolve_context_window(clean["model"])
        clean["llm_config"] = config
    if "tags" in clean:
        clean["tags"] = sorted(set(clean["tags"] or []))
    for key in ("metadata", "tool_exec_environment_variables", "compaction_settings"):
        if key in clean and clean[key] is None:
            clean[key] = {}
    if "tool_rules" in clean and clean["tool_rules"] is None:
        clean["tool_rules"] = []
    return clean


def agent_update(*, agent: Agent, user: User, **changes: Any) -> Agent:
    """Change the fields given. tool_ids / block_ids / message_ids replace the
    whole set; a new `embedding` switches the model and re-embeds archival
    memory in the background (memory/services/reembed.py)."""
    unknown = set(changes) - CONFIG_FIELDS - WINDOW_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
    embedding_sent = "embedding" in changes
    embedding = changes.pop("embedding", None)
    if embedding:
        _check_handle(embedding)
    config = _clean_config(agent, {k: v for k, v in changes.items() if k in CONFIG_FIELDS})
    with transaction.atomic():
        if embedding_sent:
            reembed_if_changed(agent=agent, embedding=embedding)
        if config:
            for key, value in config.items():
                if value is None and key in NULL_MEANS_EMPTY:
                    value = ""
                elif value is None and key in NULL_MEANS_UNCHANGED:
                    continue
                setattr(agent, key, value)
            agent.save()
        if changes.get("tool_ids") is not None:
            _replace_tools(agent, user, changes["tool_ids"])
        if changes.get("block_ids") is not None:
            _replace_blocks(agent, user, changes["block_ids"])
    if changes.get("message_ids") is not None:
        agent_window_set(agent=agent, message_ids=changes["message_ids"])
    else:
        agent_refresh_if_idle(agent.id)
    agent.refresh_from_db()
    publish(agent.id, {"type": "context"})  # open tabs redraw what changed
    return agent


def _replace_tools(agent: Agent, user: User, tool_ids: list[str]) -> None:
    visible = tools_visible_to(user=user)
    tools: list[Tool] = []
    for tool_id in tool_ids:
        tool = visible.filter(pk=tool_id).first()
        if tool is None:
            raise NotFound(f"Tool {tool_id} not found.")
        tools.append(tool)
    names = [t.name for t in tools]
    if len(names) != len(set(names)):
        raise Conflict(
            "Two of those tools have the same name; an agent's tool names must be unique."
        )
    agent.tools.set(tools)


def _replace_blocks(agent: Agent, user: User, block_ids: list[str]) -> None:
    visible = blocks_visible_to(user=user)
    blocks = []
    for block_id in block_ids:
        block = visible.filter(pk=block_id).first()
        if block is None:
            raise NotFound(f"Block {block_id} not found.")
        blocks.append(block)
    m.AgentBlock.objects.filter(agent=agent).exclude(block__in=blocks).delete()
    for block in blocks:
        block_attach(agent=agent, block=block)


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    """Delete the agent, its messages, runs and steps. Its archives go too unless
    another agent shares them; blocks stay, since they may be shared."""
    archives = list(agent.archives.all())
    agent.delete()
    for archive in archives:
        if not archive.agents.exists():
            archive.delete()


def agent_settings_update(*, agent: Agent, user: User, **fields: Any) -> Agent:
    """Apply the settings form: agent fields, and model parameters into llm_config.
    A new embedding model re-embeds archival memory in the background."""
    llm_config = {key: fields.pop(key) for key in LLM_SETTINGS if key in fields}
    if "enable_reasoner" in llm_config:
        llm_config["enable_reasoner"] = bool(llm_config["enable_reasoner"])
    if fields.get("embedding") is None:
        fields.pop("embedding", None)  # the form left it alone
    return agent_update(agent=agent, user=user, llm_config=llm_config, **fields)
