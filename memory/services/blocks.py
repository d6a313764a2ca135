"""Core-memory block edits: the one path for every writer — the API, the ADE,
the admin and the agent's own memory tools (memory/services/stores.py hands
block_saved_by_agent to the turn's store).

The write itself (limit policy, history, optimistic locking) is
memory/store/blocks.py. What this adds: once the write is committed, every
other agent showing the block gets its prompt recompiled and every open ADE
tab of theirs hears about it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents.errors import Conflict, InvalidInput
from agents.models import Agent, User
from memory import models as m
from memory.services.events import publish
from memory.services.prompt import agent_refresh_if_idle
from memory.store.blocks import block_attach, block_create, block_detach, block_undo, block_update


def _agents_of(block: m.Block) -> list[str]:
    return list(m.AgentBlock.objects.filter(block=block).values_list("agent_id", flat=True))


def _announce(
    agent_ids: list[str],
    block: m.Block | None,
    event: str,
    *,
    actor: str = "user",
    block_id: str = "",
) -> None:
    """After commit (so readers see what was saved): recompile each agent's
    prompt unless it is mid-turn, and tell its open tabs."""
    summary = None
    if block is not None:
        summary = {
            "id": block.id,
            "label": block.label,
            "value": block.value,
            "limit": block.limit,
            "version": block.version,
        }
    elif block_id:
        summary = {"id": block_id}

    def send() -> None:
        for agent_id in agent_ids:
            agent_refresh_if_idle(agent_id)
            payload: dict[str, Any] = {
                "type": "block",
                "event": event,
                "actor": actor,
                "agent_id": agent_id,
            }
            if summary is not None:
                payload["block"] = summary
            publish(agent_id, payload)

    transaction.on_commit(send)


def block_saved_by_agent(block: m.Block, agent_id: str) -> None:
    """An agent's memory tool changed a block: the agents it shares the block
    with hear about it (the agent itself recompiles within its turn)."""
    others = [a for a in _agents_of(block) if a != agent_id]
    if others:
        _announce(others, block, "updated", actor="agent")


def block_new(*, user: User, owner: User | None = None, **fields: Any) -> m.Block:
    """A new block, attached to no agent yet, made by `user` (owned by them
    unless `owner` says otherwise)."""
    return block_create(owner=owner or user, actor_type="user", actor_id=user.id, **fields)


@transaction.atomic
def block_edit(
    *,
    user: User,
    block: m.Block,
    expected_version: int | None = None,
    reason: str = "edited",
    **changes: Any,
) -> m.Block:
    """A person's edit; with `expected_version`, a concurrent change since they
    read the block is a Conflict instead of being overwritten."""
    saved = block_update(
        block=block,
        actor_type="user",
        actor_id=user.id,
        reason=reason,
        expected_version=expected_version,
        **changes,
    )
    _announce(_agents_of(saved), saved, "updated")
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
        saved = block_update(
            block=block,
            actor_type="user",
            actor_id=user.id,
            reason=f"restored #{sequence}",
            value=snapshot.value,
            limit=snapshot.limit,
            description=snapshot.description,
            read_only=snapshot.read_only,
            label=snapshot.label,
        )
    _announce(_agents_of(saved), saved, "updated")
    return saved


@transaction.atomic
def block_delete(*, block: m.Block) -> None:
    """Delete a block; agents that showed it lose it from their core memory."""
    agent_ids = _agents_of(block)
    block_id = block.id
    block.delete()
    _announce(agent_ids, None, "deleted", block_id=block_id)


@transaction.atomic
def agent_block_attach(*, agent: Agent, block: m.Block) -> None:
    block_attach(agent=agent, block=block)
    _announce([agent.id], block, "attached")


@transaction.atomic
def agent_block_detach(*, agent: Agent, block: m.Block) -> None:
    block_detach(agent=agent, block=block)
    _announce([agent.id], block, "detached")


@transaction.atomic
def block_add(*, agent: Agent, user: User, label: str, **fields: Any) -> m.Block:
    """A new block in the agent's core memory."""
    label = (label or "").strip()
    # Checked first: attaching would refuse the label, but only after the block existed.
    if m.AgentBlock.objects.filter(agent=agent, label=label).exists():
        raise Conflict(f"This agent already has a block labelled {label!r}.")
    block = block_new(user=user, label=label, **fields)
    agent_block_attach(agent=agent, block=block)
    return block


def block_remove(*, agent: Agent, block: m.Block, delete: bool) -> None:
    """Detach the block; with `delete`, delete it, which is refused while other
    agents use it (it would silently change their memory)."""
    others = m.AgentBlock.objects.filter(block=block).exclude(agent=agent).count()
    if delete and others:
        raise Conflict(
            f"Block {block.label!r} is shared with {others} other agent(s); detach it instead."
        )
    if delete:
        block_delete(block=block)
    else:
        agent_block_detach(agent=agent, block=block)
