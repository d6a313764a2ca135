"""The context-window check of a block write from outside a turn (the API, the
ADE, the admin): the new value must fit the window of every agent that shows
the block, beside the rest of that agent's prompt. The agent's own memory tools
are checked inside the turn (memory/engine/loop.py), as a tool error.

ADE_BLOCK_WINDOW_POLICY=refuse (the default) refuses such a write with the
numbers; =warn accepts it and the context bar and overview say why the window
stays full.
"""

from __future__ import annotations

from django.conf import settings

from agents.errors import LimitExceeded
from memory.engine.budget import BlockFit, block_fit
from memory.engine.tokens import counter_for
from memory.models import AgentBlock, Block
from memory.store.rows import load_agent


def prompt_tokens(state) -> int:
    """System message (as last compiled) and tool schemas: the prompt without messages."""
    counter = counter_for(state.model)
    system = state.messages[0] if state.messages else None
    tools = [t.schema for t in state.tools]
    return (counter.count_message(system) if system else 0) + counter.count_tools(tools)


def block_window_check(*, block: Block, value: str, agent_ids: list[str] | None = None) -> None:
    """Refuse `value` for `block` if it cannot fit the window of an agent showing
    it (or of `agent_ids`, about to show it)."""
    if settings.BLOCK_WINDOW_POLICY != "refuse" or not value:
        return
    if agent_ids is None:
        agent_ids = list(AgentBlock.objects.filter(block=block).values_list("agent_id", flat=True))
    for agent_id in agent_ids:
        fit = agent_block_fit(agent_id, block, value)
        if fit is not None and not fit.fits:
            raise LimitExceeded(fit.refusal(agent=agent_id))


def agent_block_fit(agent_id: str, block: Block, value: str) -> BlockFit | None:
    state = load_agent(agent_id)
    if not state.model or not state.messages:
        # No prompt compiled yet (the agent is being created): its creation checks it.
        return None
    shown = next((b for b in state.blocks if b.id == block.id), None)
    return block_fit(
        label=block.label,
        old_value=shown.value if shown is not None else "",
        new_value=value,
        prompt_tokens=prompt_tokens(state),
        window=state.context_window,
        counter=counter_for(state.model),
    )


def agent_window_check(agent_id: str) -> None:
    """After an agent is created: its prompt without any message must fit its
    window; if not, name the largest block."""
    if settings.BLOCK_WINDOW_POLICY != "refuse":
        return
    state = load_agent(agent_id)
    if not state.model or not state.blocks:
        return
    counter = counter_for(state.model)
    total = prompt_tokens(state)
    if total <= state.context_window:
        return
    largest = max(state.blocks, key=lambda b: len(b.value))
    fit = block_fit(
        label=largest.label,
        old_value=largest.value,
        new_value=largest.value,
        prompt_tokens=total,
        window=state.context_window,
        counter=counter,
    )
    raise LimitExceeded(fit.refusal(agent=state.name))
