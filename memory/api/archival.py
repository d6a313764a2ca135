"""/v1 routes for an agent's archival memory: list, insert, delete, search."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema

from agents.api.routes import agent_for
from memory.api import schemas as s
from memory.selectors import agent_passages, cursor_page
from memory.services.archival import passage_delete, passage_insert, passage_search

router = Router(tags=["archival memory"])


class PassageQuery(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 100
    ascending: bool = True
    search: str | None = None


@router.get("/agents/{agent_id}/archival-memory", response=list[s.PassageOut])
def list_passages(request, agent_id: str, query: Query[PassageQuery]):
    """The agent's passages, oldest first; `search` keeps those containing the text."""
    rows = agent_passages(agent=agent_for(request, agent_id))
    if query.search:
        rows = rows.filter(text__icontains=query.search)
    return cursor_page(
        rows, before=query.before, after=query.after, limit=query.limit, ascending=query.ascending
    )


@router.post("/agents/{agent_id}/archival-memory", response=list[s.PassageOut])
def insert_passage(request, agent_id: str, payload: s.PassageIn):
    """Store one passage (embedded with the agent's embedding model, if it has one).
    Passages of one imported conversation share a `thread` (ADE's field)."""
    return passage_insert(
        agent=agent_for(request, agent_id),
        text=payload.text,
        tags=payload.tags,
        created_at=payload.created_at,
        thread=payload.thread,
    )


class SearchQuery(Schema):
    query: str = ""
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    top_k: int | None = None
    start_datetime: datetime | None = None
    end_datetime: datetime | None = None


@router.get("/agents/{agent_id}/archival-memory/search", response=s.PassageSearchOut)
def search_passages(request, agent_id: str, query: Query[SearchQuery]):
    """Hybrid search (full text, plus vectors when the agent has an embedding model),
    filtered by tags (any/all) and an inclusive date range."""
    results = passage_search(
        agent=agent_for(request, agent_id),
        query=query.query,
        tags=query.tags,
        tag_match_mode=query.tag_match_mode,
        top_k=query.top_k,
        start=query.start_datetime,
        end=query.end_datetime,
    )
    return {"results": results, "count": len(results)}


@router.delete("/agents/{agent_id}/archival-memory/{memory_id}")
def delete_passage(request, agent_id: str, memory_id: str):
    passage_delete(agent=agent_for(request, agent_id), passage_id=memory_id)
    return {"message": f"Passage id={memory_id} successfully deleted"}
