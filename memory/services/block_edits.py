"""Block changes made through the API: the write goes through memory/blocks.py
(limit policy, history, optimistic locking), then every agent showing the
block gets its prompt recompiled and open ADE tabs hear about it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agents.models import Agent, User
from memory import models as m
from memory.services.blocks import block_attach, block_create, block_detach, block_update


def _after_change(agent_ids: list[str], block: m.Block | None, event: str) -> None:
    from agents.services.lifecycle import agent_refresh_if_idle
    from memory.services.events import publish

    for agent_id in agent_ids:
        agent_refresh_if_idle(agent_id)
        payload: dict[str, Any] = {"type": "block", "event": event, "agent_id": agent_id}
        if block is not None:
            payload["block"] = {
                "id": block.id,
                "label": block.label,
                "value": block.value,
                "limit": block.limit,
                "version": block.version,
            }
        publish(agent_id, payload)


def _agents_of(block: m.Block) -> list[str]:
    return list(m.AgentBlock.objects.filter(block=block).values_list("agent_id", flat=True))


def block_new(*, user: User, **fields: Any) -> m.Block:
    return block_create(owner=user, actor_type="user", actor_id=user.id, **fields)


def block_edit(*, user: User, block: m.Block, **changes: Any) -> m.Block:
    saved = block_update(
        block=block, actor_type="user", actor_id=user.id, reason="edited through the API", **changes
    )
    _after_change(_agents_of(saved), saved, "updated")
    return saved


def block_delete(*, block: m.Block) -> None:
    """Delete a block; agents that showed it lose it from their core memory."""
    agent_ids = _agents_of(block)
    with transaction.atomic():
        block.delete()
    _after_change(agent_ids, None, "deleted")


def agent_block_attach(*, agent: Agent, block: m.Block) -> None:
    block_attach(agent=agent, block=block)
    _after_change([agent.id], block, "attached")


def agent_block_detach(*, agent: Agent, block: m.Block) -> None:
    block_detach(agent=agent, block=block)
    _after_change([agent.id], block, "detached")
