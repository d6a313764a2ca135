"""Archival memory from the API: insert, delete and search an agent's passages.

Inserts and searches go through the same backend the agent's own tools use,
so a passage added here is embedded and found exactly as one the agent wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from agents import ids
from agents.errors import InvalidInput, LimitExceeded, NotFound
from agents.models import Agent
from memory import models as m
from memory.llm.errors import ProviderError
from memory.prompts import local_time, zone
from memory.selectors import agent_passages
from memory.services.events import publish
from memory.services.reembed import reembed_queue
from memory.services.stores import store_for
from memory.store.search import index_archives, vector_literal

TAG_MAX = 100
THREAD_MAX = 200
TOP_K_MAX = 100


def _tags(tags: list[str] | None) -> list[str]:
    clean = []
    for tag in tags or []:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("Tags must be non-empty strings.")
        if len(tag) > TAG_MAX:
            raise InvalidInput(f"A tag is longer than {TAG_MAX} characters.")
        clean.append(tag.strip())
    return clean


def as_utc(value: datetime | None, name: str) -> datetime | None:
    """Postgres refuses UTC offsets beyond 15:59 that Python accepts (a 500
    before); only the instant matters, so send it in UTC."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name} is out of range.") from None


def system_mark_stale(agent: Agent) -> None:
    """Archival counts and tags changed: the agent's next turn recompiles its
    system prompt (once, however many passages came meanwhile). Recompiling at
    every insert cost a new system message per passage and broke the provider's
    prompt cache for nothing while nobody was talking to the agent."""
    Agent.objects.filter(pk=agent.pk).update(system_fingerprint="")
    # Open ADE tabs redraw the context window: it shows the prompt that turn will send.
    transaction.on_commit(lambda: publish(agent.id, {"type": "context"}))


def passage_insert(
    *,
    agent: Agent,
    text: str,
    tags: list[str] | None = None,
    created_at: datetime | None = None,
    thread: str | None = None,
) -> list[m.Passage]:
    """One passage for the whole text, as Letta stores it. Returns a list to
    match Letta's response shape. Passages given the same `thread` are the
    consecutive parts of one whole (an imported conversation's turns, in
    order): each is also found by its neighbours' words in the thread."""
    text = (text or "").replace("\x00", "")
    if not text.strip():
        raise InvalidInput("A passage needs non-empty text.")
    thread = (thread or "").strip()
    if len(thread) > THREAD_MAX:
        raise InvalidInput(f"thread is longer than {THREAD_MAX} characters.")
    created_at = as_utc(created_at, "created_at")
    if len(text) > settings.API_MAX_MESSAGE_CHARS:
        raise LimitExceeded(
            f"Passage text is {len(text)} characters, over the limit of "
            f"{settings.API_MAX_MESSAGE_CHARS}."
        )
    try:
        passage_id = store_for(agent).backend.archival_insert(
            agent.id, text, _tags(tags), created_at, thread=thread
        )
    except ProviderError as exc:
        raise InvalidInput(
            f"Could not embed the passage with {agent.embedding}: {exc.message}"
        ) from None
    # The prompt shows archival counts and tags: its next turn recompiles it.
    system_mark_stale(agent)
    return [m.Passage.objects.get(pk=passage_id)]


@dataclass
class PassageIn:
    """A passage brought in from elsewhere (an Agent File), with its vector
    when it came with one from `embedding_model`."""

    text: str
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    vector: list[float] | None = None
    embedding_model: str = ""


def passages_restore(*, agent: Agent, archive: m.Archive, passages: list[PassageIn]) -> Any:
    """Load passages into `archive` (already attached to `agent`) in the given
    order, keeping each one's tags, metadata and date. A vector is kept only
    when it came from the agent's own embedding model; the others are
    embedded in the background (re-embedding's job, with its progress).
    Returns that job, or None when nothing needs embedding."""
    rows = []
    for passage in passages:
        text = (passage.text or "").replace("\x00", "")
        if not text.strip():
            raise InvalidInput("A passage needs non-empty text.")
        if len(text) > settings.API_MAX_MESSAGE_CHARS:
            raise LimitExceeded(
                f"A passage is {len(text)} characters, over the limit of "
                f"{settings.API_MAX_MESSAGE_CHARS}."
            )
        keep = bool(passage.vector) and passage.embedding_model == (agent.embedding or None)
        rows.append(
            (
                ids.passage_id(),
                archive.id,
                archive.organization_id,
                text,
                sorted(set(_tags(passage.tags))),
                json.dumps(passage.metadata or {}),
                vector_literal(passage.vector) if keep else None,
                len(passage.vector) if keep else None,
                passage.embedding_model if keep else "",
                as_utc(passage.created_at, "created_at") or datetime.now(UTC),
            )
        )
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO memory_passage (id, archive_id, organization_id, text, tags, metadata, "
                "embedding, embedding_dim, embedding_model, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s::varchar[], %s::jsonb, %s::vector, %s, %s, %s, now())",
                rows,
            )
        # One pass gives every passage its search vector with its neighbours.
        index_archives([archive.id])
        system_mark_stale(agent)
    return reembed_queue(agent=agent)


def passage_delete(*, agent: Agent, passage_id: str) -> None:
    passage = agent_passages(agent=agent).filter(pk=passage_id).first()
    if passage is None:
        raise NotFound(f"Passage {passage_id} not found in this agent's archival memory.")
    m.Passage.objects.filter(pk=passage.pk).delete()
    system_mark_stale(agent)


def passage_search(
    *,
    agent: Agent,
    query: str,
    tags: list[str] | None = None,
    tag_match_mode: str = "any",
    top_k: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    if tag_match_mode not in ("any", "all"):
        raise InvalidInput("tag_match_mode must be 'any' or 'all'.")
    top_k = 10 if top_k is None else top_k
    if not 1 <= top_k <= TOP_K_MAX:
        raise InvalidInput(f"top_k must be between 1 and {TOP_K_MAX}.")
    # Naive bounds are in the agent's time zone, as the agent's own tool reads them.
    tz = zone(agent.timezone or "UTC")
    start = start.replace(tzinfo=tz) if start and start.tzinfo is None else start
    end = end.replace(tzinfo=tz) if end and end.tzinfo is None else end
    start, end = as_utc(start, "start_datetime"), as_utc(end, "end_datetime")
    if start and end and start > end:
        raise InvalidInput("start_datetime is after end_datetime.")
    try:
        hits = store_for(agent).backend.archival_search(
            agent.id,
            query or "",
            tags=_tags(tags) or None,
            tag_match_mode=tag_match_mode,
            top_k=top_k,
            start=start,
            end=end,
        )
    except ProviderError as exc:
        raise InvalidInput(
            f"Could not embed the query with {agent.embedding}: {exc.message}"
        ) from None
    return [
        {
            "id": hit["id"],
            "content": hit["content"],
            "tags": hit.get("tags") or [],
            "timestamp": local_time(hit["timestamp"], agent.timezone or "UTC").isoformat(),
            "relevance": hit.get("relevance"),
        }
        for hit in hits
    ]
