"""Permission-scoped reads of what agents remember and did, and the cursor
pagination every /v1 list shares.

Whoever may see an agent may see its blocks, passages, messages, runs and
steps; shared blocks are visible to their owner's team. Anything else is, to
the caller, not there (the API answers 404, never 403).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from agents.errors import InvalidInput
from agents.models import Agent, User
from agents.selectors import agents_visible_to
from memory import models as m


def blocks_visible_to(*, user: User) -> QuerySet[m.Block]:
    if user.is_superuser:
        return m.Block.objects.all()
    scope = Q(owner=user)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    return m.Block.objects.filter(scope)


def block_get_for_user(*, user: User, block_id: str) -> m.Block | None:
    return blocks_visible_to(user=user).filter(id=block_id).first()


def agent_block_by_label(*, agent: Agent, label: str) -> m.Block | None:
    link = m.AgentBlock.objects.select_related("block").filter(agent=agent, label=label).first()
    return link.block if link else None


def runs_visible_to(*, user: User) -> QuerySet[m.Run]:
    return m.Run.objects.filter(agent__in=agents_visible_to(user=user))


def run_get_for_user(*, user: User, run_id: str) -> m.Run | None:
    return runs_visible_to(user=user).filter(id=run_id).first()


def steps_visible_to(*, user: User) -> QuerySet[m.Step]:
    return m.Step.objects.filter(agent__in=agents_visible_to(user=user))


def step_get_for_user(*, user: User, step_id: str) -> m.Step | None:
    return steps_visible_to(user=user).filter(id=step_id).first()


def agent_passages(*, agent: Agent) -> QuerySet[m.Passage]:
    return m.Passage.objects.filter(archive__agents=agent).distinct()


def agent_messages(*, agent: Agent, include_system: bool = False) -> QuerySet[m.Message]:
    """Recall memory. Compiled system prompts are left out by default: one is
    stored per recompile, and none is something the agent was told or said."""
    rows = m.Message.objects.filter(agent=agent)
    return rows if include_system else rows.exclude(role="system")


# --- cursor pagination --------------------------------------------------------------------


MAX_PAGE = 1000


def cursor_page(
    rows: QuerySet[Any],
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = 50,
    ascending: bool = True,
    keys: tuple[str, ...] = ("created_at", "id"),
) -> list[Any]:
    """One page of `rows` in (keys) order, Letta's way: `after`/`before` are ids
    and mean after/before *in the requested order*; with `before` alone the
    page is the `limit` rows closest to it. A cursor naming no row (deleted
    since the last page) is ignored, so iterate-and-delete loops carry on."""
    if limit is not None and (limit < 1 or limit > MAX_PAGE):
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}.")
    forward = [k if ascending else f"-{k}" for k in keys]
    backward = [f"-{k}" if ascending else k for k in keys]
    after_anchor = _anchor(rows, after, keys)
    before_anchor = _anchor(rows, before, keys)
    after = after if after_anchor else None
    before = before if before_anchor else None
    if after_anchor:
        rows = rows.filter(_beyond(after_anchor, keys, greater=ascending))
    if before_anchor:
        rows = rows.filter(_beyond(before_anchor, keys, greater=not ascending))
    if before and not after:
        page = list(rows.order_by(*backward)[:limit] if limit else rows.order_by(*backward))
        page.reverse()
        return page
    ordered = rows.order_by(*forward)
    return list(ordered[:limit] if limit else ordered)


def list_page(
    items: list[Any],
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    key: Any = lambda item: item["id"],
) -> list[Any]:
    """cursor_page for a list already in order (e.g. blocks in prompt order)."""
    ids = [key(item) for item in items]
    before = before if before in ids else None
    after = after if after in ids else None
    if after:
        items = items[ids.index(after) + 1 :]
        ids = ids[ids.index(after) + 1 :]
    if before:
        items = items[: ids.index(before)]
        if limit and not after:
            return items[-limit:]
    return items[:limit] if limit else items


def _anchor(rows: QuerySet[Any], cursor: str | None, keys: tuple[str, ...]) -> dict | None:
    if not cursor:
        return None
    return rows.model.objects.filter(pk=cursor).values(*keys).first()


def _beyond(anchor: dict, keys: tuple[str, ...], *, greater: bool) -> Q:
    op = "gt" if greater else "lt"
    # Lexicographic (k1, k2, ...) comparison.
    condition = Q()
    for i, key in enumerate(keys):
        step = Q(**{f"{key}__{op}": anchor[key]})
        for previous in keys[:i]:
            step &= Q(**{previous: anchor[previous]})
        condition |= step
    return condition
