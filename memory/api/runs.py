"""/v1 routes for runs (one request to an agent) and steps (one model call)."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Query, Router, Schema

from agents.errors import NotFound
from agents.models import Agent
from memory import models as m
from memory.api import schemas as s
from memory.api.messages import MessageListQuery, letta_page, list_options
from memory.selectors import (
    cursor_page,
    run_get_for_user,
    runs_visible_to,
    step_get_for_user,
    steps_visible_to,
)
from memory.store.letta_format import Options, messages_to_letta
from memory.store.rows import message_from_row
from memory.types import AgentType

router = Router(tags=["runs"])


def _run(request, run_id: str) -> m.Run:
    run = run_get_for_user(user=request.auth, run_id=run_id)
    if run is None:
        raise NotFound(f"Run {run_id} not found.")
    return run


def _step(request, step_id: str) -> m.Step:
    step = step_get_for_user(user=request.auth, step_id=step_id)
    if step is None:
        raise NotFound(f"Step {step_id} not found.")
    return step


def _letta(rows: list[m.Message], agent: Agent, options: Options) -> list[dict]:
    return messages_to_letta(
        [message_from_row(r) for r in rows], AgentType(agent.agent_type), options
    )


class RunFilters(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 100
    order: Literal["asc", "desc"] = "desc"
    ascending: bool | None = None
    agent_id: str | None = None
    agent_ids: list[str] | None = None
    statuses: list[str] | None = None
    stop_reason: str | None = None
    background: bool | None = None
    active: bool = False


def _filtered_runs(request, f: RunFilters):
    rows = runs_visible_to(user=request.auth)
    if f.agent_id:
        rows = rows.filter(agent_id=f.agent_id)
    if f.agent_ids:
        rows = rows.filter(agent_id__in=f.agent_ids)
    if f.statuses:
        rows = rows.filter(status__in=f.statuses)
    if f.active:
        rows = rows.filter(status__in=["created", "running"])
    if f.stop_reason:
        rows = rows.filter(stop_reason=f.stop_reason)
    if f.background is not None:
        rows = rows.filter(background=f.background)
    return rows


@router.get("/runs/", response=list[s.RunOut])
def list_runs(request, filters: Query[RunFilters]):
    ascending = filters.ascending if filters.ascending is not None else filters.order == "asc"
    return cursor_page(
        _filtered_runs(request, filters),
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=ascending,
    )


@router.get("/runs/active", response=list[s.RunOut])
def list_active_runs(request, agent_id: str | None = None, background: bool | None = None):
    filters = RunFilters(agent_id=agent_id, background=background, active=True, limit=None)
    return list(_filtered_runs(request, filters).order_by("created_at", "id"))


@router.get("/runs/{run_id}", response=s.RunOut)
def retrieve_run(request, run_id: str):
    return _run(request, run_id)


class RunMessageQuery(MessageListQuery):
    order: Literal["asc", "desc"] = "asc"


@router.get("/runs/{run_id}/messages", response=list[dict[str, Any]])
def list_run_messages(request, run_id: str, query: Query[RunMessageQuery]):
    """What the run added, as Letta messages."""
    run = _run(request, run_id)
    return letta_page(
        m.Message.objects.filter(run=run).exclude(role="system"),
        run.agent,
        list_options(query),
        query,
    )


@router.get("/runs/{run_id}/usage", response=s.RunUsageOut)
def run_usage(request, run_id: str):
    run = _run(request, run_id)
    return {
        "completion_tokens": run.completion_tokens,
        "prompt_tokens": run.prompt_tokens,
        "total_tokens": run.total_tokens,
        "cached_input_tokens": run.cached_input_tokens,
        "reasoning_tokens": run.reasoning_tokens,
        "step_count": run.step_count,
    }


@router.get("/runs/{run_id}/steps", response=list[s.StepOut])
def list_run_steps(
    request,
    run_id: str,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = 100,
    order: Literal["asc", "desc"] = "desc",
):
    run = _run(request, run_id)
    return cursor_page(
        run.steps.all(), before=before, after=after, limit=limit, ascending=order == "asc"
    )


class StepFilters(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "desc"
    agent_id: str | None = None
    model: str | None = None


@router.get("/steps/", response=list[s.StepOut], tags=["steps"])
def list_steps(request, filters: Query[StepFilters]):
    rows = steps_visible_to(user=request.auth)
    if filters.agent_id:
        rows = rows.filter(agent_id=filters.agent_id)
    if filters.model:
        rows = rows.filter(model=filters.model)
    return cursor_page(
        rows,
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=filters.order == "asc",
    )


@router.get("/steps/{step_id}", response=s.StepOut, tags=["steps"])
def retrieve_step(request, step_id: str):
    return _step(request, step_id)


@router.get("/steps/{step_id}/metrics", response=s.StepMetricsOut, tags=["steps"])
def step_metrics(request, step_id: str):
    step = _step(request, step_id)
    return {
        "id": step.id,
        "run_id": step.run_id,
        "agent_id": step.agent_id,
        "llm_request_ns": step.llm_ns,
        "tool_execution_ns": step.tool_ns,
        "step_ns": step.step_ns,
    }


@router.get("/steps/{step_id}/messages", response=list[dict[str, Any]], tags=["steps"])
def list_step_messages(
    request,
    step_id: str,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = 100,
    order: Literal["asc", "desc"] = "asc",
):
    step = _step(request, step_id)
    rows = cursor_page(
        m.Message.objects.filter(step=step),
        before=before,
        after=after,
        limit=limit,
        ascending=order == "asc",
        keys=("sequence_id",),
    )
    return _letta(rows, step.agent, Options())
