"""Services for core-memory blocks: every write goes through here so that the
limit policy holds and each change leaves a history row that undo can use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from agents.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from agents.models import Agent, User
from memory.models import AgentBlock, Block, BlockHistory
from memory.store.block_window import block_window_check

LABEL_MAX = 100
LIMIT_MAX = 2_147_483_647  # the column is a Postgres integer: more was a 500


def _clean_value(value: str) -> str:
    # Postgres text cannot hold NUL; Letta strips them too.
    return value.replace("\x00", "")


def check_limit(*, value: str, limit: int) -> None:
    if settings.BLOCK_LIMIT_POLICY == "enforce" and len(value) > limit:
        raise LimitExceeded(
            f"Block value is {len(value)} characters, over its {limit} character limit. "
            "Shorten the value or raise the limit."
        )


def _validate_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise InvalidInput("A block needs a label, e.g. 'human' or 'persona'.")
    if len(label) > LABEL_MAX:
        raise InvalidInput(f"Block label is longer than {LABEL_MAX} characters.")
    return label


def _record_history(block: Block, *, actor_type: str, actor_id: str, reason: str) -> BlockHistory:
    last = block.history.aggregate(m=Max("sequence"))["m"] or 0
    return BlockHistory.objects.create(
        block=block,
        sequence=last + 1,
        label=block.label,
        value=block.value,
        limit=block.limit,
        description=block.description,
        read_only=block.read_only,
        actor_type=actor_type,
        actor_id=actor_id,
        reason=reason[:200],
    )


@transaction.atomic
def block_create(
    *,
    label: str,
    value: str = "",
    limit: int | None = None,
    description: str = "",
    read_only: bool = False,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    owner: User | None = None,
    actor_type: str = "user",
    actor_id: str = "",
) -> Block:
    label = _validate_label(label)
    value = _clean_value(value or "")
    limit = limit if limit is not None else settings.DEFAULT_BLOCK_LIMIT
    if not 0 < limit <= LIMIT_MAX:
        raise InvalidInput(f"Block limit must be between 1 and {LIMIT_MAX} characters.")
    check_limit(value=value, limit=limit)
    block = Block.objects.create(
        label=label,
        value=value,
        limit=limit,
        description=description or "",
        read_only=read_only,
        metadata=metadata or {},
        tags=tags or [],
        owner=owner,
        organization_id=owner.organization_id if owner else None,
    )
    _record_history(
        block,
        actor_type=actor_type,
        actor_id=actor_id or (owner.id if owner else ""),
        reason="created",
    )
    return block


@transaction.atomic
def block_update(
    *,
    block: Block,
    actor_type: str,
    actor_id: str = "",
    reason: str = "",
    expected_version: int | None = None,
    check_window: bool = True,
    **changes: Any,
) -> Block:
    """Apply `changes` (value, limit, description, read_only, label, metadata, tags).

    `expected_version` makes the write conditional: a concurrent edit since the
    caller read the block raises Conflict instead of being silently overwritten.
    A value that grows must fit the context window of every agent showing it
    (`check_window=False`: the turn checked it already, as a tool error).
    """
    allowed = {"value", "limit", "description", "read_only", "label", "metadata", "tags"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"Unknown block fields: {', '.join(sorted(unknown))}")
    locked = Block.objects.select_for_update().get(pk=block.pk)
    if expected_version is not None and locked.version != expected_version:
        raise Conflict(
            f"Block {block.id} changed since you read it (version {locked.version}, "
            f"you had {expected_version}); reload and try again."
        )
    previous = locked.value
    if "value" in changes:
        changes["value"] = _clean_value(changes["value"] or "")
    if "label" in changes:
        changes["label"] = _validate_label(changes["label"])
    for key, val in changes.items():
        setattr(locked, key, val)
    if not 0 < locked.limit <= LIMIT_MAX:
        raise InvalidInput(f"Block limit must be between 1 and {LIMIT_MAX} characters.")
    check_limit(value=locked.value, limit=locked.limit)
    if check_window and len(locked.value) > len(previous):
        block_window_check(block=locked, value=locked.value)
    if "label" in changes:
        clash = AgentBlock.objects.filter(
            agent__in=AgentBlock.objects.filter(block=locked).values("agent"), label=locked.label
        ).exclude(block=locked)
        if clash.exists():
            raise Conflict(
                f"An agent using this block already has a block labelled {locked.label!r}."
            )
        AgentBlock.objects.filter(block=locked).update(label=locked.label)
    # The row is locked (SELECT … FOR UPDATE above), so nobody else can bump
    # the version meanwhile: no need to read it back.
    locked.version += 1
    locked.save()
    _record_history(locked, actor_type=actor_type, actor_id=actor_id, reason=reason or "edited")
    block.__dict__.update(
        {
            k: getattr(locked, k)
            for k in (
                "label",
                "value",
                "limit",
                "description",
                "read_only",
                "metadata",
                "tags",
                "version",
            )
        }
    )
    return locked


@transaction.atomic
def block_undo(*, block: Block, actor_type: str = "user", actor_id: str = "") -> Block:
    """Restore the state before the latest change. The undo is itself a change
    (recorded in history), so it can be undone in turn."""
    snapshots = list(block.history.order_by("-sequence")[:2])
    if len(snapshots) < 2:
        raise Conflict("Nothing to undo: this block has no earlier version.")
    previous = snapshots[1]
    return block_update(
        block=block,
        actor_type=actor_type,
        actor_id=actor_id,
        reason=f"undo to #{previous.sequence}",
        value=previous.value,
        limit=previous.limit,
        description=previous.description,
        read_only=previous.read_only,
        label=previous.label,
    )


def block_attach(*, agent: Agent, block: Block, check_window: bool = True) -> AgentBlock:
    if check_window:
        block_window_check(block=block, value=block.value, agent_ids=[agent.id])
    if AgentBlock.objects.filter(agent=agent, label=block.label).exclude(block=block).exists():
        raise Conflict(
            f"Agent {agent.id} already has a block labelled {block.label!r}; detach it first."
        )
    position = (AgentBlock.objects.filter(agent=agent).aggregate(m=Max("position"))["m"] or 0) + 1
    link, _ = AgentBlock.objects.get_or_create(
        agent=agent, block=block, defaults={"label": block.label, "position": position}
    )
    return link


def block_detach(*, agent: Agent, block: Block) -> None:
    deleted, _ = AgentBlock.objects.filter(agent=agent, block=block).delete()
    if not deleted:
        raise NotFound(f"Block {block.id} is not attached to agent {agent.id}.")
