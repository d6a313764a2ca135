"""Agent File (.af) import: Letta's files and ours become new agents with
their blocks, tools, messages, folders (files re-chunked and embedded from
their text in the background) and archival memory (embedded in the
background unless the file carries vectors from the agent's own model).

One transaction: a file that is refused half-way leaves nothing behind, and
the background jobs start only once it has committed. Names never collide
with the importer's agents or folders: "Sam_copy", then "Sam_copy_2", ...
(docs/agent-file.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from agents import ids
from agents.errors import InvalidInput
from agents.models import Agent, Tool, User
from agents.services.agentfile_messages import message_from_document, parse_when
from agents.services.letta_config import handle_from_config, valid_handle
from agents.services.lifecycle import agent_create
from agents.services.tools import team_for, tool_upsert
from memory import models as m
from memory.engine.loop import refresh_system
from memory.files.models import Source
from memory.llm.errors import ProviderError
from memory.llm.models_table import lookup_embedding_dim
from memory.llm.registry import parse_handle
from memory.services.archival import PassageIn, passages_restore
from memory.services.base_tools import base_tools_ensure
from memory.services.files import file_restore, source_attach, source_create
from memory.services.providers import embedder_for
from memory.services.stores import store_for
from memory.store.rows import load_agent
from memory.tools.catalog import BASE_TOOLS
from memory.types import Message

LLM_SETTINGS = (
    "temperature",
    "max_tokens",
    "enable_reasoner",
    "reasoning_effort",
    "max_reasoning_tokens",
    "parallel_tool_calls",
    "context_window",
)


@dataclass
class Imported:
    agents: list[Agent]
    # Background work the import queued (file processing, embedding passages),
    # to follow at /v1/jobs/{id}.
    job_ids: list[str] = field(default_factory=list)


# --- reading the document defensively: a malformed file is a 4xx, never a 500 -----------------


def _list(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key)
    value = [] if value is None else value
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput(f"Agent file: '{key}' must be a list of objects.")
    return value


def _refs(document: dict[str, Any], key: str) -> list[str]:
    value = document.get(key)
    value = [] if value is None else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"Agent file: '{key}' must be a list of ids.")
    return value


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise InvalidInput(f"Agent file: '{key}' must be an object.")
    return value


def _string(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"Agent file: '{key}' must be a string.")
    return value or ""


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items if isinstance(item.get("id"), str)}


def distinct_name(base: str, taken: set[str], limit: int = 200) -> str:
    """`base`, or "base_2", "base_3", ... whichever is not taken yet (agent
    names allow letters, digits, spaces, '-', '_' and apostrophes only)."""
    base = base[:limit]
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"_{n}"
        name = base[: limit - len(suffix)] + suffix
    return name


def _agent_names(user: User) -> set[str]:
    scope = Q(owner=user)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    return set(Agent.objects.filter(scope).values_list("name", flat=True))


# --- the parts -----------------------------------------------------------------------------


def _tools_for(
    user: User, tools_by_id: dict[str, dict[str, Any]], wanted: list[str], override: bool
) -> tuple[list[str], list[str]]:
    """(built-in names, custom tool ids) for the file's tools an agent uses."""
    base_tools_ensure()
    names, tool_ids = [], []
    for ref in wanted:
        spec = tools_by_id.get(ref)
        if spec is None:
            raise InvalidInput(f"Agent file: tool {ref} is referenced but not included.")
        name = _string(spec, "name")
        if name in BASE_TOOLS and (spec.get("tool_type") or "custom") != "custom":
            names.append(name)
            continue
        if not _string(spec, "source_code"):
            raise InvalidInput(f"Agent file: tool {name or ref} has no source code to import.")
        existing = Tool.objects.filter(organization=team_for(user), name=name).first()
        if existing is not None and not override:
            tool_ids.append(existing.id)
            continue
        fields = {
            k: spec.get(k)
            for k in (
                "description",
                "tags",
                "return_char_limit",
                "pip_requirements",
                "default_requires_approval",
                "enable_parallel_execution",
            )
        }
        tool = tool_upsert(
            user=user,
            source_code=spec["source_code"],
            json_schema=spec.get("json_schema"),
            **{k: v for k, v in fields.items() if v is not None},
        )
        tool_ids.append(tool.id)
    return names, tool_ids


def _import_messages(agent: Agent, spec: dict[str, Any]) -> None:
    in_context = set(_refs(spec, "in_context_message_ids"))
    state = load_agent(agent.id)
    imported: list[Message] = []
    window: list[Message] = []
    for doc in _list(spec, "messages"):
        message = message_from_document(doc, agent.timezone or "UTC")
        if message is None:
            continue
        message.id = ids.message_id()
        imported.append(message)
        if doc.get("id") in in_context:
            window.append(message)
    if not imported:
        return
    state.messages = state.messages[:1] + window
    store_for(agent).save_messages(state, imported)


def _vector(doc: dict[str, Any]) -> tuple[list[float] | None, str]:
    """A passage's vector and its model, when the file carries a usable one
    (right size for the model, finite numbers); otherwise (None, "")."""
    vector, model = doc.get("embedding"), doc.get("embedding_model")
    if not vector or not isinstance(model, str) or not isinstance(vector, list):
        return None, ""
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in vector):
        return None, ""
    try:
        expected = lookup_embedding_dim(parse_handle(model)[1])
    except ValueError:
        return None, ""
    if expected and len(vector) != expected:
        return None, ""
    return [float(x) for x in vector], model


def _passages(archive_doc: dict[str, Any]) -> list[PassageIn]:
    out = []
    for doc in _list(archive_doc, "passages"):
        tags = doc.get("tags") or []
        if not isinstance(tags, list):
            raise InvalidInput("Agent file: a passage's 'tags' must be a list of strings.")
        vector, model = _vector(doc)
        out.append(
            PassageIn(
                text=_string(doc, "text"),
                tags=tags,
                metadata=_object(doc, "metadata"),
                created_at=parse_when(doc.get("created_at")),
                vector=vector,
                embedding_model=model,
            )
        )
    return out


def _import_archives(user: User, document: dict[str, Any], agents: dict[str, Agent]) -> list[str]:
    """Each archive of the file, new, attached to the file's agents that use
    it (the first one becomes an agent's own archive). Returns queued jobs."""
    jobs = []
    for archive_doc in _list(_object(document, "ade"), "archives"):
        members = [agents[r] for r in _refs(archive_doc, "agent_ids") if r in agents]
        if not members:
            continue
        owner = members[0]
        archive = m.Archive.objects.create(
            name=_string(archive_doc, "name")[:200] or f"{owner.name} archive",
            description=_string(archive_doc, "description"),
            metadata=_object(archive_doc, "metadata"),
            owner=user,
            organization_id=owner.organization_id,
            embedding=owner.embedding,
        )
        archive.agents.add(*members)
        passages = _passages(archive_doc)
        for agent in members:
            job = passages_restore(agent=agent, archive=archive, passages=passages)
            passages = []  # loaded once; the other agents only queue their embedding
            if job is not None:
                jobs.append(job.id)
    return jobs


def _folder_embedding(spec: dict[str, Any], fallback: str) -> str:
    """The folder's own embedding model when this server can use it, else the
    agent's: a folder from another server must not fail every file here."""
    handle = _string(spec, "embedding") or handle_from_config(
        _object(spec, "embedding_config"),
        model_key="embedding_model",
        type_key="embedding_endpoint_type",
    )
    if not handle:
        return fallback
    try:
        valid_handle(handle)
        embedder_for(handle)
    except (InvalidInput, ProviderError):
        return fallback
    return handle


def _views(spec: dict[str, Any], agent: Agent, into: dict[str, dict[str, Any]]) -> None:
    """How the agent had each file open (Letta's 1-based start_line and
    exclusive end_line), by the file's local id."""
    for view in _list(spec, "files_agents"):
        start, end = view.get("start_line"), view.get("end_line")
        offset = start - 1 if isinstance(start, int) and start > 0 else 0
        length = end - 1 - offset if isinstance(end, int) and end - 1 > offset else None
        into.setdefault(_string(view, "file_id"), {})[agent.id] = {
            "is_open": bool(view.get("is_open")),
            "offset": offset,
            "length": length,
        }


def _import_folders(
    user: User,
    document: dict[str, Any],
    agents: list[tuple[dict[str, Any], Agent]],
    embedding: str | None,
) -> list[str]:
    """Each folder the file's agents use, new (with a name the importer does
    not have yet), its files processed from their text, then attached."""
    sources = _by_id(_list(document, "sources"))
    used: dict[str, list[Agent]] = {}
    views: dict[str, dict[str, Any]] = {}
    for spec, agent in agents:
        for ref in _refs(spec, "source_ids") + _refs(spec, "folder_ids"):
            if ref not in sources:
                raise InvalidInput(f"Agent file: folder {ref} is referenced but not included.")
            if agent not in used.setdefault(ref, []):
                used[ref].append(agent)
        _views(spec, agent, views)
    taken = set(
        Source.objects.filter(organization_id=user.organization_id).values_list("name", flat=True)
    )
    jobs = []
    for ref, members in used.items():
        spec = sources[ref]
        name = distinct_name(_string(spec, "name").strip() or "folder", taken)
        taken.add(name)
        chunk_size = spec.get("embedding_chunk_size")
        source = source_create(
            owner=user,
            name=name,
            description=_string(spec, "description"),
            instructions=_string(spec, "instructions"),
            embedding=embedding or _folder_embedding(spec, members[0].embedding),
            chunk_size=chunk_size if type(chunk_size) is int else 300,
        )
        for file_doc in _list(document, "files"):
            if file_doc.get("source_id") != ref:
                continue
            _, job = file_restore(
                source=source,
                file_name=_string(file_doc, "file_name"),
                original_file_name=_string(file_doc, "original_file_name"),
                file_type=_string(file_doc, "file_type"),
                text=_string(file_doc, "content") or None,
                views=views.get(_string(file_doc, "id"), {}),
            )
            if job is not None:
                jobs.append(job.id)
        for agent in members:
            source_attach(source=source, agent=agent)
    return jobs


def _create_agent(
    user: User,
    spec: dict[str, Any],
    blocks_by_id: dict[str, dict[str, Any]],
    tools_by_id: dict[str, dict[str, Any]],
    *,
    name: str,
    model: str | None,
    embedding: str | None,
    env_vars: dict[str, str] | None,
    override_existing_tools: bool,
) -> Agent:
    blocks = []
    for ref in _refs(spec, "block_ids"):
        block = blocks_by_id.get(ref)
        if block is None:
            raise InvalidInput(f"Agent file: block {ref} is referenced but not included.")
        blocks.append(
            {
                k: block.get(k)
                for k in ("label", "value", "limit", "description", "read_only", "metadata")
            }
        )
    names, tool_ids = _tools_for(
        user, tools_by_id, _refs(spec, "tool_ids"), override_existing_tools
    )
    handle = valid_handle(
        model or _string(spec, "model") or handle_from_config(_object(spec, "llm_config"))
    )
    embed = valid_handle(
        embedding
        or _string(spec, "embedding")
        or handle_from_config(
            _object(spec, "embedding_config"),
            model_key="embedding_model",
            type_key="embedding_endpoint_type",
        )
    )
    settings = {
        k: v for k, v in _object(spec, "llm_config").items() if k in LLM_SETTINGS and v is not None
    }
    limit = spec.get("context_window_limit")
    if limit is not None and type(limit) is not int:
        raise InvalidInput("Agent file: 'context_window_limit' must be a whole number of tokens.")
    env = dict(_object(spec, "tool_exec_environment_variables"))
    env.update(env_vars or {})
    agent = agent_create(
        owner=user,
        name=name,
        agent_type=_string(spec, "agent_type") or "letta_v1_agent",
        model=handle or "",
        embedding=embed or "",
        system=spec.get("system") if isinstance(spec.get("system"), str) else None,
        description=_string(spec, "description"),
        memory_blocks=blocks,
        tools=names,
        tool_ids=tool_ids,
        include_base_tools=False,
        tool_rules=_list(spec, "tool_rules"),
        context_window_limit=limit,
        llm_config=settings,
        tags=_refs(spec, "tags"),
        timezone_name=_string(spec, "timezone") or "UTC",
        metadata=_object(spec, "metadata"),
        tool_env={k: str(v) for k, v in env.items()},
        message_buffer_autoclear=bool(spec.get("message_buffer_autoclear")),
    )
    return agent


@transaction.atomic
def agent_import(
    *,
    user: User,
    document: Any,
    strip_messages: bool = False,
    name: str | None = None,
    append_copy_suffix: bool = True,
    model: str | None = None,
    embedding: str | None = None,
    env_vars: dict[str, str] | None = None,
    override_existing_tools: bool = True,
) -> Imported:
    """New agents from an Agent File. `name` is used as given; a name taken
    from the file gets Letta's "_copy" suffix (unless append_copy_suffix is
    false) and then "_2", "_3", ... until no agent of the importer's has it."""
    if not isinstance(document, dict):
        raise InvalidInput("An agent file is a JSON object with 'agents', 'blocks' and 'tools'.")
    specs = _list(document, "agents")
    if not specs:
        raise InvalidInput("The agent file holds no agent.")
    blocks_by_id = _by_id(_list(document, "blocks"))
    tools_by_id = _by_id(_list(document, "tools"))
    taken = _agent_names(user)
    created: list[tuple[dict[str, Any], Agent]] = []
    for spec in specs:
        agent_name = name or ""
        if not agent_name:
            base = _string(spec, "name")
            if append_copy_suffix and base:
                base = f"{base}_copy"
            agent_name = distinct_name(base, taken) if base else ""
        agent = _create_agent(
            user,
            spec,
            blocks_by_id,
            tools_by_id,
            name=agent_name,
            model=model,
            embedding=embedding,
            env_vars=env_vars,
            override_existing_tools=override_existing_tools,
        )
        taken.add(agent.name)
        if not strip_messages:
            _import_messages(agent, spec)
        created.append((spec, agent))
    by_ref = {_string(spec, "id"): agent for spec, agent in created if spec.get("id")}
    jobs = _import_archives(user, document, by_ref)
    jobs += _import_folders(user, document, created, embedding)
    now = datetime.now(UTC)
    for _, agent in created:
        refresh_system(load_agent(agent.id), store_for(agent), now, force=True)
        agent.refresh_from_db()
    return Imported(agents=[agent for _, agent in created], job_ids=jobs)
