"""Hybrid search over the chunks of the files an agent can see (the same
ranking as archival memory: memory/store/search.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memory.files.models import Source, SourcePassage
from memory.llm.embeddings import Embed
from memory.store.search import CANDIDATES, dense_scores, fuse, lexical_scores

_SCOPE = (
    "t.source_id IN (SELECT source_id FROM sources_source_agents WHERE agent_id = %(agent)s) "
    "AND t.file_id IN (SELECT id FROM sources_sourcefile WHERE processing_status = 'completed' "
    "AND source_id IN (SELECT source_id FROM sources_source_agents WHERE agent_id = %(agent)s))"
)


def source_passage_search(
    agent_id: str, query: str, *, embedder_for: Callable[[str], Embed | None], limit: int = 5
) -> list[dict[str, Any]]:
    """`embedder_for` gives the embedding function of a model handle: each
    folder's chunks are compared in the vector space of its own model."""
    params = {"agent": agent_id}
    query = (query or "").strip()
    if not query:
        return []
    candidates = max(CANDIDATES, limit)
    lexical = lexical_scores("sources_sourcepassage", _SCOPE, params, query, candidates)
    semantic: dict[str, float] = {}
    models = set(
        Source.objects.filter(agents__id=agent_id)
        .exclude(embedding="")
        .values_list("embedding", flat=True)
    )
    for model in sorted(models):
        embed = embedder_for(model)
        if embed is None:
            continue
        vector = embed([query])[0]
        semantic.update(
            dense_scores(
                "sources_sourcepassage",
                f"{_SCOPE} AND t.embedding_model = %(model)s",
                {**params, "model": model},
                vector,
                use_index=False,
                limit=candidates,
            )
        )
    ranked = sorted(fuse(lexical, semantic).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    rows = {
        p.id: p
        for p in SourcePassage.objects.filter(pk__in=[i for i, _ in ranked]).select_related(
            "file", "source"
        )
    }
    return [
        {
            "id": pid,
            "content": rows[pid].text,
            "file_name": rows[pid].file.file_name,
            "folder": rows[pid].source.name,
            "chunk": rows[pid].chunk_index,
            "relevance": round(score, 4),
        }
        for pid, score in ranked
        if pid in rows
    ]
