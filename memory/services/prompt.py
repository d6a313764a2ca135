"""Keeping an agent's stored system prompt in step with its memory.

Whatever changes what the prompt shows (a block, attached files, tools) is
followed by a refresh, so the context overview and the next turn see it at
once. A running turn is never disturbed: it recompiles itself at its next
step, because the prompt's fingerprint changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from memory.engine.loop import refresh_system
from memory.services.locks import agent_lock_if_free
from memory.store.rows import load_agent
from memory.store.turn_store import DjangoTurnStore


def agent_refresh(agent_id: str, *, force: bool = False) -> bool:
    """Recompile the agent's system message if what it shows changed (the
    caller holds the agent's turn lock, or the agent is new)."""
    # Saving a system message embeds nothing and writes no block: a bare store does.
    return refresh_system(load_agent(agent_id), DjangoTurnStore(), datetime.now(UTC), force=force)


def agent_refresh_if_idle(agent_id: str, *, force: bool = False) -> None:
    """Recompile now unless a turn is running. `force` recompiles for changes
    the fingerprint leaves out on purpose (archival counts and tags), as Letta
    does after an archival insert."""
    with agent_lock_if_free(agent_id) as free:
        if free:
            agent_refresh(agent_id, force=force)
