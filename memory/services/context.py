"""An agent's context window outside a turn: read it section by section,
recompile its system prompt, reset the conversation, compact it now.

A change to the in-context window waits for a running turn of the agent to
finish (the turn lock, memory/services/locks.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from agents.errors import Conflict, InvalidInput, NotFound
from agents.models import Agent
from memory import models as m
from memory.engine.compaction import Compactor
from memory.engine.context import (
    CompiledSystem,
    ContextOverview,
    compile_system,
    overview,
    system_fingerprint,
    window_warnings,
)
from memory.engine.loop import build_compile_input, refresh_system
from memory.engine.tokens import counter_for
from memory.llm.errors import ProviderError
from memory.services.events import publish_loop_event
from memory.services.locks import agent_turn_lock
from memory.services.prompt import agent_refresh
from memory.services.providers import agent_provider
from memory.services.stores import store_for
from memory.services.turns import require_model
from memory.store.rows import load_agent


def context_overview(*, agent: Agent) -> ContextOverview:
    """What the model sees right now, section by section, with exact token counts."""
    state = load_agent(agent.id)
    store = store_for(agent)
    if not state.messages:
        refresh_system(state, store, datetime.now(UTC), force=True)
    stats = store.refresh_stats(state)
    inp = build_compile_input(state)
    if state.fingerprint != system_fingerprint(inp):
        # The stored prompt is out of date (e.g. passages were added): show the
        # one the next turn will compile and send, without storing it here.
        state.stats = stats
        state.stats.last_recompiled = datetime.now(UTC)
        compiled = compile_system(build_compile_input(state))
    else:
        system = state.messages[0]
        compiled = CompiledSystem(text=system.text, sections=system.meta.get("sections") or {})
    counter = counter_for(state.model)
    view = overview(compiled, state.messages[1:], state.tools, stats, state.context_window, counter)
    view.warnings = window_warnings(view, compaction_trigger=settings.COMPACTION_TRIGGER)
    return view


def agent_recompile(*, agent: Agent, dry_run: bool = False) -> str:
    """The system prompt compiled from current memory; stored unless dry_run."""
    if dry_run:
        state = load_agent(agent.id)
        state.stats = store_for(agent).refresh_stats(state)
        state.stats.last_recompiled = datetime.now(UTC)
        return compile_system(build_compile_input(state)).text
    with agent_turn_lock(agent.id):
        agent_refresh(agent.id, force=True)
    return load_agent(agent.id).messages[0].text


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


def agent_window_set(*, agent: Agent, message_ids: list[str]) -> None:
    """Make these messages (the agent's own) its in-context window."""
    with agent_turn_lock(agent.id):
        found = set(
            m.Message.objects.filter(agent=agent, pk__in=message_ids).values_list("id", flat=True)
        )
        missing = [i for i in message_ids if i not in found]
        if missing:
            raise NotFound(f"Messages not found for this agent: {', '.join(missing[:5])}.")
        Agent.objects.filter(pk=agent.pk).update(message_ids=list(message_ids))
        agent_refresh(agent.id, force=True)


def agent_compact(*, agent: Agent) -> dict[str, Any]:
    """Summarize the older part of the window now, as an overflow would."""
    require_model(agent)
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
