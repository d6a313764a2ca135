"""Changes to an existing agent outside a turn: modify its configuration,
delete it, reset its conversation, compact it now, recompile its prompt.

Whatever changes what the system prompt shows is followed by a recompile, so
the context overview and the next turn see it at once. A change that touches
the in-context window (message_ids, reset, compaction) waits for a running
turn of the agent to finish (the same advisory lock turns take).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from agents.errors import Conflict, InvalidInput, NotFound
from agents.models import Agent, Tool, User
from memory import models as m
from memory.engine.loop import refresh_system
from memory.selectors import blocks_visible_to
from memory.services.blocks import block_attach
from memory.services.turns import agent_turn_lock, resolve_context_window, store_for
from memory.store.turn_store import load_agent

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


def agent_refresh(agent_id: str, *, force: bool = False) -> bool:
    """Recompile the agent's system message if what it shows changed."""
    state = load_agent(agent_id)
    return refresh_system(
        state, store_for(Agent.objects.get(pk=agent_id)), datetime.now(UTC), force=force
    )


def agent_refresh_if_idle(agent_id: str, *, force: bool = False) -> None:
    """Recompile now unless a turn is running; a running turn recompiles
    itself at its next step, because the prompt's fingerprint changed.
    `force` recompiles for changes the fingerprint leaves out on purpose
    (archival counts and tags), as Letta does after an archival insert."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [agent_id])
        (locked,) = cursor.fetchone()
    if not locked:
        return
    try:
        agent_refresh(agent_id, force=force)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [agent_id])


def _check_handle(handle: str) -> None:
    from memory.llm.registry import parse_handle

    try:
        parse_handle(handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _clean_config(agent: Agent, changes: dict[str, Any]) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from memory.engine.rules import parse_rules
    from memory.services.turns import _validate_name

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
    unknown = set(changes) - CONFIG_FIELDS - WINDOW_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
    config = _clean_config(agent, {k: v for k, v in changes.items() if k in CONFIG_FIELDS})
    with transaction.atomic():
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
        _replace_window(agent, changes["message_ids"])
    else:
        agent_refresh_if_idle(agent.id)
    agent.refresh_from_db()
    return agent


def _replace_tools(agent: Agent, user: User, tool_ids: list[str]) -> None:
    from agents.selectors import tools_visible_to

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


def _replace_window(agent: Agent, message_ids: list[str]) -> None:
    with agent_turn_lock(agent.id):
        found = set(
            m.Message.objects.filter(agent=agent, pk__in=message_ids).values_list("id", flat=True)
        )
        missing = [i for i in message_ids if i not in found]
        if missing:
            raise NotFound(f"Messages not found for this agent: {', '.join(missing[:5])}.")
        Agent.objects.filter(pk=agent.pk).update(message_ids=list(message_ids))
        agent_refresh(agent.id, force=True)


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    """Delete the agent, its messages, runs and steps. Its archives go too unless
    another agent shares them; blocks stay, since they may be shared."""
    archives = list(agent.archives.all())
    agent.delete()
    for archive in archives:
        if not archive.agents.exists():
            archive.delete()


def agent_messages_reset(*, agent: Agent) -> Agent:
    """Forget the conversation: every message but the system prompt is deleted,
    as Letta's reset does; core and archival memory stay."""
    with agent_turn_lock(agent.id):
        agent.refresh_from_db()
        system_id = (agent.message_ids or [None])[0]
        with transaction.atomic():
            m.Message.objects.filter(agent=agent).exclude(pk=system_id).delete()
            Agent.objects.filter(pk=agent.pk).update(message_ids=[system_id] if system_id else [])
        agent_refresh(agent.id, force=True)
    agent.refresh_from_db()
    return agent


def agent_compact(*, agent: Agent) -> dict[str, Any]:
    """Summarize the older part of the window now, as an overflow would."""
    from memory.engine.compaction import Compactor
    from memory.engine.tokens import counter_for
    from memory.llm.base import ProviderError
    from memory.services.events import publish_loop_event
    from memory.services.providers import agent_provider

    if not agent.model:
        raise InvalidInput("This agent has no model to write a summary with; set its model first.")
    with agent_turn_lock(agent.id):
        state = load_agent(agent.id)
        store = store_for(agent)
        try:
            provider = agent_provider(agent, state.provider)
        except ProviderError as exc:
            raise InvalidInput(exc.message) from None
        before = len(state.messages)
        compactor = Compactor(
            agent=state,
            store=store,
            provider=provider,
            model=state.model,
            counter=counter_for(state.model),
            emit=lambda e: publish_loop_event(agent.id, e),
            now=lambda: datetime.now(UTC),
        )
        compactor.after = lambda: refresh_system(state, store, datetime.now(UTC), force=True)
        if not compactor.compact(trigger="manual", force=True):
            raise Conflict("Nothing to compact: the context holds too few messages to summarize.")
        summary = next((msg for msg in state.messages if msg.kind.value == "summary"), None)
    return {
        "summary": (summary.meta.get("summary") if summary else "") or "",
        "num_messages_before": before,
        "num_messages_after": len(state.messages),
    }


def agent_recompile(*, agent: Agent, dry_run: bool = False) -> str:
    """The system prompt compiled from current memory; stored unless dry_run."""
    from memory.engine.context import compile_system
    from memory.engine.loop import build_compile_input

    if dry_run:
        state = load_agent(agent.id)
        state.stats = store_for(agent).refresh_stats(state)
        state.stats.last_recompiled = datetime.now(UTC)
        return compile_system(build_compile_input(state)).text
    agent_refresh(agent.id, force=True)
    return load_agent(agent.id).messages[0].text
