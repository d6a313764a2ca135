"""Searches across the agents a user may see: Letta's /v1/agents/messages/search,
/v1/messages/search and /v1/passages/search. The same search as an agent's own
tools (memory/store/search.py); a stranger's agents and archives are never in
scope (a named one is a 404). One agent's search fuses its embedding model's
vectors; a search across several agents is by words alone, since each agent
may embed with a different model (relevance is absolute, so scores compare
across agents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from agents.errors import InvalidInput, NotFound
from agents.models import Agent, User
from agents.selectors import agent_get_for_user, agents_visible_to
from memory import models as m
from memory.llm.errors import ProviderError
from memory.services.archival import as_utc
from memory.services.providers import embedder_for
from memory.services.stores import store_for
from memory.store.search import PostgresMemoryBackend, passage_scope

SearchMode = Literal["vector", "fts", "hybrid"]


@dataclass(frozen=True)
class Hit:
    row: Any
    score: float
    rank: int


def _bounds(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Naive bounds are UTC (no one agent's time zone applies)."""
    start = start.replace(tzinfo=UTC) if start and start.tzinfo is None else start
    end = end.replace(tzinfo=UTC) if end and end.tzinfo is None else end
    start, end = as_utc(start, "start_date"), as_utc(end, "end_date")
    if start and end and start > end:
        raise InvalidInput("start_date is after end_date.")
    return start, end


def _agent(user: User, agent_id: str) -> Agent:
    agent = agent_get_for_user(user=user, agent_id=agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} not found.")
    return agent


def _words_only() -> PostgresMemoryBackend:
    return PostgresMemoryBackend(embed=None, embedding_model="")


def _unsupported(**filters: str | None) -> None:
    for name, value in filters.items():
        if value:
            raise InvalidInput(f"{name} is not supported here (ADE has no {name[:-3]}s).")


def messages_search(
    *,
    user: User,
    query: str | None,
    search_mode: SearchMode = "hybrid",
    roles: list[str] | None = None,
    agent_id: str | None = None,
    limit: int = 50,
    start: datetime | None = None,
    end: datetime | None = None,
    conversation_id: str | None = None,
    project_id: str | None = None,
    template_id: str | None = None,
) -> list[Hit]:
    """The user's agents' conversation messages that best match `query`."""
    _unsupported(conversation_id=conversation_id, project_id=project_id, template_id=template_id)
    start, end = _bounds(start, end)
    if agent_id:
        agent = _agent(user, agent_id)
        agent_ids = [agent.id]
        backend = _words_only() if search_mode == "fts" else store_for(agent).backend
    else:
        agent_ids = list(agents_visible_to(user=user).values_list("id", flat=True))
        backend = _words_only()
    try:
        order = backend.message_hits(
            agent_ids, query, roles=roles, limit=limit, start=start, end=end
        )
    except ProviderError as exc:
        raise InvalidInput(f"Could not embed the query: {exc.message}") from None
    rows = {r.id: r for r in m.Message.objects.filter(pk__in=[i for i, _ in order])}
    return [Hit(rows[mid], score, n) for n, (mid, score) in enumerate(order, 1) if mid in rows]


def passages_search(
    *,
    user: User,
    query: str | None,
    agent_id: str | None = None,
    archive_id: str | None = None,
    tags: list[str] | None = None,
    tag_match_mode: Literal["any", "all"] = "any",
    limit: int = 50,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Hit]:
    """Archival passages of the user's agents (or of one agent, or one archive
    attached to an agent they may see) that best match `query`."""
    start, end = _bounds(start, end)
    visible = m.Archive.objects.filter(agents__in=agents_visible_to(user=user)).distinct()
    backend = _words_only()
    archive_ids: list[str] | None = None
    scoped_agent: str | None = None
    if agent_id:
        agent = _agent(user, agent_id)
        backend = store_for(agent).backend
        scoped_agent = agent.id
    if archive_id:
        archive = visible.filter(pk=archive_id).first()
        if archive is None or (agent_id and not archive.agents.filter(pk=agent_id).exists()):
            raise NotFound(f"Archive {archive_id} not found.")
        archive_ids, scoped_agent = [archive.id], None
        if not agent_id and archive.embedding:
            backend = PostgresMemoryBackend(
                embed=embedder_for(archive.embedding), embedding_model=archive.embedding
            )
    elif not agent_id:
        archive_ids = list(visible.values_list("id", flat=True))
    scope = passage_scope(
        scoped_agent,
        archive_ids=archive_ids,
        tags=tags or None,
        tag_match_mode=tag_match_mode,
        start=start,
        end=end,
    )
    try:
        order = backend.passage_hits(scope, query or "", limit)
    except ProviderError as exc:
        raise InvalidInput(f"Could not embed the query: {exc.message}") from None
    rows = {p.id: p for p in m.Passage.objects.filter(pk__in=[i for i, _ in order])}
    return [Hit(rows[pid], score, n) for n, (pid, score) in enumerate(order, 1) if pid in rows]
