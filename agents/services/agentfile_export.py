"""Agent File (.af) export: an agent with its blocks, tools, messages, folders
(with their files' text) and archival memory as one JSON document, in Letta's
layout (AgentFileSchema) so files move between Letta and us.

Ids inside a file are local ("agent-0", "block-1", "source-0", "file-2",
...). Archival memory has no field in Letta's format, so it rides under the
top-level "ade" key, which Letta ignores (docs/agent-file.md has the layout).
The caller chooses which parts go in (`export_parts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from agents.errors import InvalidInput
from agents.models import Agent
from agents.services.agentfile_messages import message_document
from agents.services.letta_config import embedding_config_of, llm_config_of
from memory import models as m
from memory.files.models import FileAgent, FileContent, Source, SourceFile
from memory.store.rows import message_from_row

FORMAT_REVISION = "ade-2"

# What an export holds unless left out, and what it holds only when asked for.
DEFAULT_PARTS = frozenset({"messages", "passages", "folders", "tools"})
OPTIONAL_PARTS = frozenset({"embeddings"})


def export_parts(
    *, include: Iterable[str] = (), exclude: Iterable[str] = (), scrub_messages: bool = False
) -> frozenset[str]:
    """The parts to export: every default part, plus `include`, minus `exclude`
    (each also accepts comma-separated names). `scrub_messages` is Letta's
    name for exclude=messages."""

    def names(values: Iterable[str]) -> set[str]:
        out = {n.strip() for v in values for n in (v or "").split(",") if n.strip()}
        unknown = out - DEFAULT_PARTS - OPTIONAL_PARTS
        if unknown:
            known = ", ".join(sorted(DEFAULT_PARTS | OPTIONAL_PARTS))
            raise InvalidInput(f"Unknown export part(s) {', '.join(sorted(unknown))}; use {known}.")
        return out

    parts = (DEFAULT_PARTS | names(include)) - names(exclude)
    return parts - {"messages"} if scrub_messages else frozenset(parts)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _blocks(agent: Agent) -> list[dict[str, Any]]:
    links = m.AgentBlock.objects.filter(agent=agent).select_related("block")
    return [
        {
            "id": f"block-{i}",
            "label": link.label,
            "value": link.block.value,
            "limit": link.block.limit,
            "description": link.block.description,
            "read_only": link.block.read_only,
            "metadata": link.block.metadata or {},
            "tags": link.block.tags or [],
        }
        for i, link in enumerate(links.order_by("position", "id"))
    ]


def _tools(agent: Agent, parts: frozenset[str]) -> list[dict[str, Any]]:
    rows = agent.tools.all().order_by("name")
    if "tools" not in parts:
        # Built-in tools carry no code and the agent needs them to talk and
        # remember; leaving tools out means leaving out custom tools' code.
        rows = rows.filter(organization__isnull=True)
    return [
        {
            "id": f"tool-{i}",
            "name": t.name,
            "description": t.description,
            "tool_type": t.tool_type,
            "source_type": t.source_type,
            "source_code": t.source_code or None,
            "json_schema": t.json_schema,
            "args_json_schema": t.args_json_schema,
            "return_char_limit": t.return_char_limit,
            "pip_requirements": t.pip_requirements or None,
            "tags": t.tags or [],
            "default_requires_approval": t.default_requires_approval,
            "enable_parallel_execution": t.enable_parallel_execution,
            "metadata_": t.metadata or {},
        }
        for i, t in enumerate(rows)
    ]


def _messages(agent: Agent) -> tuple[list[dict[str, Any]], list[str]]:
    """(messages, in-context local ids). The stored system prompt is kept
    first, as Letta does; import recompiles it anyway."""
    window = list(agent.message_ids or [])
    rows = list(
        m.Message.objects.filter(agent=agent).exclude(role="system").order_by("sequence_id")
    )
    if window:
        rows = list(m.Message.objects.filter(pk=window[0])) + rows
    local = {row.id: f"message-{i}" for i, row in enumerate(rows)}
    documents = [message_document(message_from_row(row), local[row.id], "agent-0") for row in rows]
    return documents, [local[i] for i in window if i in local]


def _folders(
    agent: Agent,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(sources, files, the agent's files_agents) in Letta's shapes. A file's
    text goes in `content`; its chunks are not carried: import chunks and
    embeds the text again, as Letta's does."""
    sources, files, views = [], [], []
    texts = dict(
        FileContent.objects.filter(file__source__agents=agent).values_list("file_id", "text")
    )
    links = {
        link.file_id: link for link in FileAgent.objects.filter(agent=agent).select_related("file")
    }
    for s, source in enumerate(Source.objects.filter(agents=agent).order_by("created_at", "id")):
        source_ref = f"source-{s}"
        sources.append(
            {
                "id": source_ref,
                "name": source.name,
                "description": source.description or None,
                "instructions": source.instructions or None,
                "metadata": source.metadata or {},
                "embedding": source.embedding or None,
                "embedding_chunk_size": source.chunk_size,
                "embedding_config": embedding_config_of(source.embedding),
            }
        )
        for file in SourceFile.objects.filter(source=source).defer("raw").order_by("created_at"):
            file_ref = f"file-{len(files)}"
            files.append(
                {
                    "id": file_ref,
                    "source_id": source_ref,
                    "file_name": file.file_name,
                    "original_file_name": file.original_file_name,
                    "file_path": None,
                    "file_type": file.file_type or None,
                    "file_size": file.file_size,
                    "file_creation_date": _iso(file.created_at),
                    "file_last_modified_date": _iso(file.updated_at),
                    "processing_status": file.processing_status,
                    "error_message": file.error_message or None,
                    "total_chunks": file.total_chunks,
                    "chunks_embedded": file.chunks_embedded,
                    "content": texts.get(file.id),
                }
            )
            link = links.get(file.id)
            if link is not None:
                views.append(
                    {
                        "id": f"file_agent-{len(views)}",
                        "agent_id": "agent-0",
                        "file_id": file_ref,
                        "source_id": source_ref,
                        "file_name": f"{source.name}/{file.file_name}",
                        "is_open": link.is_open,
                        "visible_content": link.visible_content or None,
                        "last_accessed_at": _iso(link.last_accessed_at),
                        "start_line": link.offset + 1,
                        "end_line": link.offset + link.length + 1 if link.length else None,
                    }
                )
    return sources, files, views


def _archives(agent: Agent, with_vectors: bool) -> list[dict[str, Any]]:
    """The agent's archives (its own first) with their passages in insertion
    order. Vectors only when asked for: they are tied to one embedding model
    and many times the size of the text."""
    out = []
    for a, archive in enumerate(m.Archive.objects.filter(agents=agent).order_by("created_at")):
        passages = []
        for p, row in enumerate(archive.passages.order_by("sequence_id")):
            passage: dict[str, Any] = {
                "id": f"passage-{p}",
                "text": row.text,
                "tags": row.tags or [],
                "metadata": row.metadata or {},
                "created_at": _iso(row.created_at),
            }
            if with_vectors and row.embedding is not None:
                passage["embedding_model"] = row.embedding_model
                passage["embedding"] = [float(x) for x in row.embedding]
            passages.append(passage)
        out.append(
            {
                "id": f"archive-{a}",
                "agent_ids": ["agent-0"],
                "name": archive.name,
                "description": archive.description or None,
                "metadata": archive.metadata or {},
                "embedding": archive.embedding or None,
                "passages": passages,
            }
        )
    return out


def agent_export(*, agent: Agent, parts: frozenset[str] = DEFAULT_PARTS) -> dict[str, Any]:
    blocks = _blocks(agent)
    tools = _tools(agent, parts)
    messages, in_context = _messages(agent) if "messages" in parts else ([], [])
    sources, files, views = _folders(agent) if "folders" in parts else ([], [], [])
    archives = _archives(agent, "embeddings" in parts) if "passages" in parts else []
    document = {
        "id": "agent-0",
        "name": agent.name,
        "agent_type": agent.agent_type,
        "system": agent.system,
        "description": agent.description,
        "metadata": agent.metadata or {},
        "tags": agent.tags or [],
        "model": agent.model or None,
        "embedding": agent.embedding or None,
        "llm_config": llm_config_of(agent),
        "embedding_config": embedding_config_of(agent.embedding),
        "context_window_limit": agent.context_window_limit,
        "tool_rules": agent.tool_rules or [],
        "timezone": agent.timezone,
        "message_buffer_autoclear": agent.message_buffer_autoclear,
        "tool_exec_environment_variables": agent.tool_exec_environment_variables or {},
        "block_ids": [b["id"] for b in blocks],
        "tool_ids": [t["id"] for t in tools],
        "source_ids": [s["id"] for s in sources],
        "messages": messages,
        "in_context_message_ids": in_context,
        "files_agents": views,
        "include_base_tools": False,
        "group_ids": [],
    }
    return {
        "agents": [document],
        "groups": [],
        "blocks": blocks,
        "files": files,
        "sources": sources,
        "tools": tools,
        "mcp_servers": [],
        "skills": [],
        # Letta reads metadata as string -> string.
        "metadata": {
            "revision_id": FORMAT_REVISION,
            "exported_by": "ade",
            "parts": ",".join(sorted(parts)),
        },
        "created_at": datetime.now(UTC).isoformat(),
        "ade": {"archives": archives},
    }
