"""Writes a person makes to an agent's memory from the ADE.

They go through the same services as the API (memory/blocks.py,
memory/block_edits.py, memory/archival.py), so limits, history and
recompiling hold alike. What this adds: edits are recorded as made in the
ADE, undo/restore from a block's history, and every change is announced to
the agent's open tabs once it is committed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents.errors import Conflict, InvalidInput
from agents.models import Agent, User
from memory import models as m
from memory.services.blocks import block_undo, block_update
from memory.services.events import publish


def announce_block(block: m.Block, *, actor: str = "user") -> None:
    """Recompile each agent showing `block` and redraw it in their tabs —
    after commit, so the tabs read what was saved."""
    from agents.services.lifecycle import agent_refresh_if_idle

    agent_ids = list(m.AgentBlock.objects.filter(block=block).values_list("agent_id", flat=True))
    payload = {"type": "block", "event": "updated", "actor": actor,
               "block": {"id": block.id, "label": block.label, "version": block.version}}

    def send() -> None:
        for agent_id in agent_ids:
            agent_refresh_if_idle(agent_id)
            publish(agent_id, {**payload, "agent_id": agent_id})

    transaction.on_commit(send)


# --- blocks ----------------------------------------------------------------------------------


def block_add(*, agent: Agent, user: User, label: str, **fields: Any) -> m.Block:
    from memory.services.block_edits import agent_block_attach, block_new

    label = (label or "").strip()
    # Checked first: attaching would refuse the label, but only after the block existed.
    if m.AgentBlock.objects.filter(agent=agent, label=label).exists():
        raise Conflict(f"This agent already has a block labelled {label!r}.")
    block = block_new(user=user, label=label, **fields)
    agent_block_attach(agent=agent, block=block)
    return block


@transaction.atomic
def block_edit(*, block: m.Block, user: User, expected_version: int | None, **changes: Any) -> m.Block:
    """Save a person's edit; a concurrent change since they opened the form is a Conflict."""
    saved = block_update(block=block, actor_type="user", actor_id=user.id, reason="edited in the ADE",
                         expected_version=expected_version, **changes)
    announce_block(saved)
    return saved


@transaction.atomic
def block_revert(*, block: m.Block, user: User, sequence: int | None = None) -> m.Block:
    """Undo the latest change, or restore the snapshot numbered `sequence`.
    Either is itself a change in the history, so it can be undone too."""
    if sequence is None:
        saved = block_undo(block=block, actor_type="user", actor_id=user.id)
    else:
        snapshot = block.history.filter(sequence=sequence).first()
        if snapshot is None:
            raise InvalidInput(f"Block {block.label!r} has no version #{sequence}.")
        saved = block_update(block=block, actor_type="user", actor_id=user.id, reason=f"restored #{sequence}",
                             value=snapshot.value, limit=snapshot.limit, description=snapshot.description,
                             read_only=snapshot.read_only, label=snapshot.label)
    announce_block(saved)
    return saved


def block_share(*, agent: Agent, block: m.Block) -> None:
    from memory.services.block_edits import agent_block_attach

    agent_block_attach(agent=agent, block=block)


def block_remove(*, agent: Agent, block: m.Block, delete: bool) -> None:
    """Detach the block; with `delete`, delete it, which is refused while other
    agents use it (it would silently change their memory)."""
    from memory.services.block_edits import agent_block_detach, block_delete

    others = m.AgentBlock.objects.filter(block=block).exclude(agent=agent).count()
    if delete and others:
        raise Conflict(f"Block {block.label!r} is shared with {others} other agent(s); detach it instead.")
    if delete:
        block_delete(block=block)
    else:
        agent_block_detach(agent=agent, block=block)


# --- archival memory -------------------------------------------------------------------------


def passage_add(*, agent: Agent, text: str, tags: list[str]) -> None:
    """Insert as the agent's archival_memory_insert does (same embedding)."""
    from memory.services.archival import passage_insert

    passage_insert(agent=agent, text=text, tags=tags)
    publish(agent.id, {"type": "context"})


def passage_remove(*, agent: Agent, passage: m.Passage) -> None:
    from memory.services.archival import passage_delete

    passage_delete(agent=agent, passage_id=passage.id)
    publish(agent.id, {"type": "context"})
