"""Letta's search routes across an account's agents: conversation messages
(/v1/agents/messages/search, /v1/messages/search) and archival passages
(/v1/passages/search). Permission-scoped in memory/services/search.py."""

from __future__ import annotations

from typing import Any

from ninja import Router

from memory.api import schemas as s
from memory.services.search import Hit, messages_search, passages_search
from memory.store.letta_format import iso
from memory.store.search import message_search_text

router = Router(tags=["search"])


def _message(hit: Hit, text: str) -> dict[str, Any]:
    """Letta's Message object, with the words the search matched as its content."""
    row = hit.row
    return {
        "id": row.id,
        "agent_id": row.agent_id,
        "role": row.role,
        "content": [{"type": "text", "text": text}],
        "created_at": iso(row.created_at),
        "step_id": row.step_id,
        "run_id": row.run_id,
        "conversation_id": None,
    }


@router.post("/agents/messages/search", response=list[s.MessageSearchResultOut])
def search_agent_messages(request, payload: s.MessageSearchIn):
    """Search the conversations of your agents (or one, `agent_id`) by words,
    and by meaning when one agent with an embedding model is searched."""
    hits = messages_search(
        user=request.auth,
        query=payload.query,
        search_mode=payload.search_mode,
        roles=payload.roles,
        agent_id=payload.agent_id,
        limit=payload.limit,
        start=payload.start_date,
        end=payload.end_date,
        conversation_id=payload.conversation_id,
        project_id=payload.project_id,
        template_id=payload.template_id,
    )
    out = []
    for hit in hits:
        text = message_search_text(hit.row)
        out.append(
            {
                "embedded_text": text,
                "message": _message(hit, text),
                "fts_rank": hit.rank if payload.query else None,
                "rrf_score": round(hit.score, 4),
            }
        )
    return out


@router.post("/messages/search", response=list[dict[str, Any]])
def search_all_messages(request, payload: s.SearchAllMessagesIn):
    """Search the conversations of your agents; results as Letta's message list items."""
    hits = messages_search(
        user=request.auth,
        query=payload.query,
        search_mode=payload.search_mode,
        agent_id=payload.agent_id,
        limit=payload.limit,
        start=payload.start_date,
        end=payload.end_date,
        conversation_id=payload.conversation_id,
    )
    return [
        {
            "message_type": "user_message" if hit.row.role == "user" else "assistant_message",
            "content": message_search_text(hit.row),
            "message_id": hit.row.id,
            "agent_id": hit.row.agent_id,
            "conversation_id": None,
            "created_at": iso(hit.row.created_at),
        }
        for hit in hits
        if hit.row.role in ("user", "assistant")
    ]


@router.post("/passages/search", response=list[s.PassageSearchResultOut])
def search_passages(request, payload: s.PassageSearchIn):
    """Search the archival memory of your agents (or one agent's, or one archive's)."""
    hits = passages_search(
        user=request.auth,
        query=payload.query,
        agent_id=payload.agent_id,
        archive_id=payload.archive_id,
        tags=payload.tags,
        tag_match_mode=payload.tag_match_mode,
        limit=payload.limit,
        start=payload.start_date,
        end=payload.end_date,
    )
    return [{"passage": hit.row, "score": round(hit.score, 4), "metadata": {}} for hit in hits]
