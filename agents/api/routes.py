"""/v1 routes for agents, tools and models. Handlers parse, authorize through
a selector (someone else's agent is simply not found), call one service and
render."""

from __future__ import annotations

import json
from typing import Any, Literal

from django.db.models import Q
from ninja import File, Form, Header, Query, Router, Schema
from ninja.files import UploadedFile

from agents.api import schemas as s
from agents.errors import InvalidInput, NotFound
from agents.models import Agent, Tool
from agents.providers.selectors import models_for_user
from agents.selectors import (
    agent_get_for_user,
    agent_tags_visible_to,
    agents_visible_to,
    tool_get_for_user,
    tools_visible_to,
)
from agents.services.agentfile_export import agent_export, export_parts
from agents.services.agentfile_import import agent_import
from agents.services.letta_config import endpoint_type
from agents.services.lifecycle import agent_create, agent_delete, agent_update
from agents.services.tools import (
    agent_tool_attach,
    agent_tool_detach,
    agent_tool_set_approval,
    tool_create,
    tool_delete,
    tool_return_message,
    tool_run,
    tool_run_for_agent,
    tool_update,
    tool_upsert,
)
from memory.llm.registry import list_all_models
from memory.selectors import MAX_PAGE, cursor_page
from memory.services.base_tools import base_tools_ensure, base_tools_sync
from memory.services.providers import provider_config

router = Router()


def agent_for(request, agent_id: str) -> Agent:
    agent = agent_get_for_user(user=request.auth, agent_id=agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} not found.")
    return agent


def tool_for(request, tool_id: str) -> Tool:
    tool = tool_get_for_user(user=request.auth, tool_id=tool_id)
    if tool is None:
        raise NotFound(f"Tool {tool_id} not found.")
    return tool


class Page(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "desc"
    ascending: bool | None = None

    @property
    def is_ascending(self) -> bool:
        return self.ascending if self.ascending is not None else self.order == "asc"


# --- agents -----------------------------------------------------------------------------------


class AgentFilters(Page):
    name: str | None = None
    tags: list[str] | None = None
    match_all_tags: bool = False
    query_text: str | None = None


def _filtered_agents(request, filters: AgentFilters):
    rows = agents_visible_to(user=request.auth)
    if filters.name:
        rows = rows.filter(name=filters.name)
    if filters.tags:
        rows = (
            rows.filter(tags__contains=filters.tags)
            if filters.match_all_tags
            else rows.filter(tags__overlap=filters.tags)
        )
    if filters.query_text:
        rows = rows.filter(
            Q(name__icontains=filters.query_text) | Q(description__icontains=filters.query_text)
        )
    return rows


@router.get("/agents/", response=list[s.AgentOut], tags=["agents"])
def list_agents(request, filters: Query[AgentFilters]):
    """The agents you can see (yours and your team's), newest first by default."""
    page = cursor_page(
        _filtered_agents(request, filters),
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=filters.is_ascending,
    )
    return [s.agent_out(agent) for agent in page]


@router.get("/agents/count", response=int, tags=["agents"])
def count_agents(request, filters: Query[AgentFilters]):
    return _filtered_agents(request, filters).count()


@router.post("/agents/", response=s.AgentOut, tags=["agents"])
def create_agent(request, payload: s.AgentIn):
    """Create an agent: inline `memory_blocks` and/or shared `block_ids`, tools by
    name or id (plus the base tools of its type unless include_base_tools is false)."""
    agent = agent_create(owner=request.auth, **payload.create_kwargs(request.auth))
    return s.agent_out(agent)


@router.post("/agents/import", response=s.ImportOut, tags=["agents"])
def import_agent(
    request,
    file: File[UploadedFile],
    append_copy_suffix: Form[bool] = True,
    override_existing_tools: Form[bool] = True,
    strip_messages: Form[bool] = False,
    name: Form[str | None] = None,
    override_name: Form[str | None] = None,
    model: Form[str | None] = None,
    override_model_handle: Form[str | None] = None,
    embedding: Form[str | None] = None,
    override_embedding_handle: Form[str | None] = None,
    env_vars_json: Form[str | None] = None,
    secrets: Form[str | None] = None,
    x_override_embedding_model: str | None = Header(None, alias="x-override-embedding-model"),
):
    """Import an Agent File (.af, multipart field `file`), Letta's or ours: its
    agents with their blocks, tools, messages, folders and archival memory.
    A name taken from the file gets "_copy" (append_copy_suffix) and then
    "_2", "_3", ... so repeated imports never share a name. Files are
    chunked and embedded, and passages embedded, in the background:
    `job_ids` lists those jobs (GET /v1/jobs/{id})."""
    try:
        document = json.loads(file.read().decode("utf-8"))
        env_json = secrets or env_vars_json
        env_vars = json.loads(env_json) if env_json else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"The agent file (or secrets / env_vars_json) is not valid JSON: {exc}."
        ) from None
    if env_vars is not None and not isinstance(env_vars, dict):
        raise InvalidInput("secrets / env_vars_json must be a JSON object of names to values.")
    imported = agent_import(
        user=request.auth,
        document=document,
        strip_messages=strip_messages,
        name=override_name or name,
        append_copy_suffix=append_copy_suffix,
        model=override_model_handle or model,
        embedding=x_override_embedding_model or override_embedding_handle or embedding,
        env_vars=env_vars,
        override_existing_tools=override_existing_tools,
    )
    return {"agent_ids": [a.id for a in imported.agents], "job_ids": imported.job_ids}


@router.get("/agents/{agent_id}", response=s.AgentOut, tags=["agents"])
def retrieve_agent(request, agent_id: str):
    return s.agent_out(agent_for(request, agent_id))


@router.patch("/agents/{agent_id}", response=s.AgentOut, tags=["agents"])
def modify_agent(request, agent_id: str, payload: s.AgentPatch):
    """Change only the fields sent. tool_ids / block_ids / message_ids replace the whole set.
    A new `embedding` (or embedding_config) re-embeds the agent's archival memory in the
    background; follow it with GET /v1/jobs/?agent_id=…"""
    agent = agent_update(
        agent=agent_for(request, agent_id), user=request.auth, **payload.update_kwargs(request.auth)
    )
    return s.agent_out(agent)


@router.delete("/agents/{agent_id}", tags=["agents"])
def delete_agent(request, agent_id: str):
    agent_delete(agent=agent_for(request, agent_id))
    return {"message": f"Agent id={agent_id} successfully deleted"}


class ExportParams(Schema):
    include: list[str] = []
    exclude: list[str] = []
    scrub_messages: bool = False
    use_legacy_format: bool = False
    conversation_id: str | None = None
    max_steps: int | None = None  # deprecated in Letta and ignored there too


def _export(request, agent_id: str, params: ExportParams) -> dict[str, Any]:
    if params.use_legacy_format:
        raise InvalidInput(
            "The legacy v1 Agent File format is not supported; omit use_legacy_format."
        )
    if params.conversation_id:
        raise InvalidInput("Agents here have one conversation; omit conversation_id.")
    parts = export_parts(
        include=params.include, exclude=params.exclude, scrub_messages=params.scrub_messages
    )
    return agent_export(agent=agent_for(request, agent_id), parts=parts)


@router.get("/agents/{agent_id}/export", response=dict[str, Any], tags=["agents"])
def export_agent(request, agent_id: str, params: Query[ExportParams]):
    """The agent as an Agent File (.af) JSON document, in Letta's layout, with
    its archival memory under "ade" (docs/agent-file.md). Every part is in by
    default; leave parts out with `exclude=` (messages, passages, folders,
    tools: custom tools' code) and add the passages' vectors with
    `include=embeddings` (kept on import when the model matches). Names may
    repeat the parameter or be comma-separated; scrub_messages=true is
    exclude=messages."""
    return _export(request, agent_id, params)


@router.post("/agents/{agent_id}/export", response=dict[str, Any], tags=["agents"])
def export_agent_post(request, agent_id: str, params: Query[ExportParams]):
    return _export(request, agent_id, params)


# --- an agent's tools -------------------------------------------------------------------------


@router.get("/agents/{agent_id}/tools", response=list[s.ToolOut], tags=["agents"])
def list_agent_tools(request, agent_id: str, page: Query[Page]):
    agent = agent_for(request, agent_id)
    return cursor_page(
        agent.tools.all(),
        before=page.before,
        after=page.after,
        limit=page.limit,
        ascending=page.is_ascending,
    )


@router.patch("/agents/{agent_id}/tools/attach/{tool_id}", response=s.AgentOut, tags=["agents"])
def attach_tool(request, agent_id: str, tool_id: str):
    agent = agent_for(request, agent_id)
    agent_tool_attach(agent=agent, tool=tool_for(request, tool_id))
    return s.agent_out(agent)


@router.patch("/agents/{agent_id}/tools/detach/{tool_id}", response=s.AgentOut, tags=["agents"])
def detach_tool(request, agent_id: str, tool_id: str):
    agent = agent_for(request, agent_id)
    agent_tool_detach(agent=agent, tool=tool_for(request, tool_id))
    return s.agent_out(agent)


@router.patch("/agents/{agent_id}/tools/approval/{tool_name}", response=s.AgentOut, tags=["agents"])
def tool_approval(
    request,
    agent_id: str,
    tool_name: str,
    requires_approval: bool | None = None,
    payload: s.ApprovalIn | None = None,
):
    """Require (or stop requiring) a human's approval before the agent runs this tool."""
    wanted = (
        payload.requires_approval
        if payload is not None and payload.requires_approval is not None
        else requires_approval
    )
    if wanted is None:
        raise InvalidInput("Say requires_approval: true or false (query parameter or body).")
    agent = agent_for(request, agent_id)
    agent_tool_set_approval(agent=agent, tool_name=tool_name, requires_approval=wanted)
    return s.agent_out(agent)


@router.post(
    "/agents/{agent_id}/tools/{tool_name}/run", response=s.ToolExecutionOut, tags=["agents"]
)
def run_agent_tool(request, agent_id: str, tool_name: str, payload: s.AgentToolRunIn):
    """Run one of the agent's custom tools in the sandbox, with the agent's environment variables."""
    outcome = tool_run_for_agent(
        agent=agent_for(request, agent_id), tool_name=tool_name, args=payload.args
    )
    return {
        "status": outcome["status"],
        "func_return": outcome["result"],
        "stdout": outcome["stdout"],
        "stderr": outcome["stderr"],
    }


# --- tools ------------------------------------------------------------------------------------


class ToolFilters(Page):
    name: str | None = None
    names: list[str] | None = None
    tool_ids: list[str] | None = None
    search: str | None = None
    tool_types: list[str] | None = None
    exclude_tool_types: list[str] | None = None
    return_only_letta_tools: bool = False


def _filtered_tools(request, filters: ToolFilters):
    base_tools_ensure()  # a fresh database lists the built-ins too
    rows = tools_visible_to(user=request.auth)
    if filters.name:
        rows = rows.filter(name=filters.name)
    if filters.names:
        rows = rows.filter(name__in=filters.names)
    if filters.tool_ids:
        rows = rows.filter(pk__in=filters.tool_ids)
    if filters.search:
        rows = rows.filter(
            Q(name__icontains=filters.search) | Q(description__icontains=filters.search)
        )
    if filters.tool_types:
        rows = rows.filter(tool_type__in=filters.tool_types)
    if filters.exclude_tool_types:
        rows = rows.exclude(tool_type__in=filters.exclude_tool_types)
    if filters.return_only_letta_tools:
        rows = rows.filter(tool_type__startswith="letta")
    return rows


@router.get("/tools/", response=list[s.ToolOut], tags=["tools"])
def list_tools(request, filters: Query[ToolFilters]):
    """Built-in tools and your team's custom tools."""
    return cursor_page(
        _filtered_tools(request, filters),
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=filters.is_ascending,
    )


@router.get("/tools/count", response=int, tags=["tools"])
def count_tools(request, filters: Query[ToolFilters]):
    return _filtered_tools(request, filters).count()


@router.post("/tools/", response=s.ToolOut, tags=["tools"])
def create_tool(request, payload: s.ToolIn):
    """Create a custom tool from Python source; its schema comes from the
    function's signature and Google-style docstring unless json_schema is given."""
    return tool_create(user=request.auth, **payload.model_dump())


@router.put("/tools/", response=s.ToolOut, tags=["tools"])
def upsert_tool(request, payload: s.ToolIn):
    """Create the tool, or replace the one of the same name."""
    return tool_upsert(user=request.auth, **payload.model_dump())


@router.post("/tools/run", response=dict[str, Any], tags=["tools"])
def run_tool_from_source(request, payload: s.ToolRunIn):
    """The tool tester: run source code with arguments in the sandbox, without saving
    anything. Answers with a tool_return_message (status success or error)."""
    outcome = tool_run(
        source_code=payload.source_code,
        args=payload.args,
        env=payload.env_vars,
        name=payload.name,
        json_schema=payload.json_schema,
    )
    return tool_return_message(outcome, payload.name or "tool")


@router.post("/tools/add-base-tools", response=list[s.ToolOut], tags=["tools"])
def add_base_tools(request):
    return base_tools_sync()


@router.get("/tools/{tool_id}", response=s.ToolOut, tags=["tools"])
def retrieve_tool(request, tool_id: str):
    return tool_for(request, tool_id)


@router.patch("/tools/{tool_id}", response=s.ToolOut, tags=["tools"])
def modify_tool(request, tool_id: str, payload: s.ToolPatch):
    changes = payload.model_dump(exclude_unset=True)
    if "metadata_" in changes:
        changes["metadata"] = changes.pop("metadata_") or {}
    return tool_update(user=request.auth, tool=tool_for(request, tool_id), **changes)


@router.delete("/tools/{tool_id}", tags=["tools"])
def delete_tool(request, tool_id: str):
    tool_delete(user=request.auth, tool=tool_for(request, tool_id))
    return {"message": f"Tool id={tool_id} successfully deleted"}


# --- tags -------------------------------------------------------------------------------------


class TagFilters(Page):
    order: Literal["asc", "desc"] = "asc"
    name: str | None = None
    query_text: str | None = None


@router.get("/tags/", response=list[str], tags=["tag"])
def list_tags(request, filters: Query[TagFilters]):
    """The tags in use on your agents, alphabetically; `after`/`before` are tags
    (they need not be in use) and mean after/before in the requested order."""
    if filters.limit is not None and not 1 <= filters.limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}.")
    tags = agent_tags_visible_to(user=request.auth, text=filters.name or filters.query_text)
    if not filters.is_ascending:
        tags.reverse()
    ascending = filters.is_ascending
    if filters.after:
        tags = [tag for tag in tags if _beyond(tag, filters.after, ascending=ascending)]
    if filters.before:
        tags = [tag for tag in tags if _beyond(filters.before, tag, ascending=ascending)]
        if not filters.after and filters.limit:
            return tags[-filters.limit :]
    return tags[: filters.limit] if filters.limit else tags


def _beyond(tag: str, cursor: str, *, ascending: bool) -> bool:
    return tag > cursor if ascending else tag < cursor


# --- models -----------------------------------------------------------------------------------


@router.get("/models/", response=list[s.ModelOut], tags=["models"])
def list_models(request, provider_name: str | None = None, provider_type: str | None = None):
    """Chat models of every configured provider (a provider that fails is left out)."""
    models, _errors = list_all_models(provider_config())
    out = []
    for info in models:
        if info.kind != "llm":
            continue
        kind = endpoint_type(info.provider)
        if provider_name and provider_name not in (info.provider, kind):
            continue
        if provider_type and provider_type != kind:
            continue
        out.append(
            {
                "handle": info.handle,
                "name": info.name,
                "display_name": info.name,
                "model": info.name,
                "model_endpoint_type": kind,
                "provider_name": info.provider,
                "provider_type": kind,
                "context_window": info.context_window,
                "max_context_window": info.context_window,
            }
        )

    for row in models_for_user(user=request.auth):  # the organization's own (BYOK)
        if provider_name in (None, row["provider_name"]) and provider_type in (
            None,
            row["provider_type"],
        ):
            out.append(
                {
                    **row,
                    "model": row["name"],
                    "model_endpoint_type": row["provider_type"],
                    "max_context_window": row["context_window"],
                }
            )
    return out


@router.get("/models/embedding", response=list[s.EmbeddingModelOut], tags=["models"])
def list_embedding_models(request):
    models, _errors = list_all_models(provider_config())
    return [
        {
            "handle": info.handle,
            "name": info.name,
            "display_name": info.name,
            "embedding_model": info.name,
            "embedding_endpoint_type": endpoint_type(info.provider),
            "embedding_dim": info.embedding_dim or 0,
            "provider_name": info.provider,
            "provider_type": endpoint_type(info.provider),
        }
        for info in models
        if info.kind == "embedding"
    ]
