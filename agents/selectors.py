"""Permission-scoped reads. A user sees their own agents and those of their team."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agents.models import Agent, Tool, User


def agents_visible_to(*, user: User) -> QuerySet[Agent]:
    if user.is_superuser:
        return Agent.objects.all()
    scope = Q(owner=user)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    return Agent.objects.filter(scope)


def agent_get_for_user(*, user: User, agent_id: str) -> Agent | None:
    return agents_visible_to(user=user).filter(id=agent_id).first()


def agent_tags_visible_to(*, user: User, text: str | None = None) -> list[str]:
    """The tags in use on the agents the user can see, sorted, once each;
    with `text`, those containing it (case-insensitively)."""
    tags = {
        tag for row in agents_visible_to(user=user).values_list("tags", flat=True) for tag in row
    }
    if text:
        tags = {tag for tag in tags if text.casefold() in tag.casefold()}
    return sorted(tags)


def tools_visible_to(*, user: User) -> QuerySet[Tool]:
    """Built-in tools (no organization) and the tools of the user's team."""
    if user.is_superuser:
        return Tool.objects.all()
    scope = Q(organization__isnull=True)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    return Tool.objects.filter(scope)


def tool_get_for_user(*, user: User, tool_id: str) -> Tool | None:
    return tools_visible_to(user=user).filter(id=tool_id).first()
