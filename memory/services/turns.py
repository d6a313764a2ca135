"""Services around a turn: create an agent ready to talk, send it messages,
cancel a run, and read its context window.

One turn per agent at a time, across processes: a Postgres advisory lock keyed
by the agent serializes turns, so a second message waits its turn instead of
failing with a 409 (Letta) or interleaving writes (Letta without Redis).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents import ids
from agents.errors import Conflict, InvalidInput, NotFound
from agents.models import Agent, Tool, User
from memory import models as m
from memory.engine import prompts
from memory.engine.context import (
    CompiledSystem,
    ContextOverview,
    compile_system,
    overview,
    system_fingerprint,
)
from memory.engine.loop import AgentLoop, LoopConfig, build_compile_input, refresh_system
from memory.engine.rules import parse_rules
from memory.engine.state import ApprovalDecision, Emit, TurnInputError, TurnResult
from memory.engine.tokens import counter_for
from memory.engine.types import AgentType, Message, MessageKind, StopReason, TextPart, Usage
from memory.llm.base import ProviderError
from memory.services.blocks import block_attach, block_create
from memory.store.turn_store import DjangoTurnStore, load_agent

NAME_PATTERN_HELP = "letters, digits, spaces, '-', '_' and apostrophes"
COMPLETED = {StopReason.END_TURN, StopReason.MAX_STEPS, StopReason.TOOL_RULE, StopReason.REQUIRES_APPROVAL}


def provider_config() -> Any:
    from memory.llm.registry import ProviderConfig

    config = ProviderConfig.from_env(os.environ)
    config.timeout = settings.LLM_TIMEOUT
    return config


def resolve_context_window(handle: str) -> int:
    """The model's real window: asked of the provider where it can tell (Ollama
    /api/show, vLLM max_model_len), else our table of hosted models, else the
    default — capped by GLOBAL_MAX_CONTEXT_WINDOW_LIMIT. Letta guesses 30k for
    every unknown model (#3197)."""
    from memory.llm.models_table import lookup_context_window
    from memory.llm.registry import get_provider, parse_handle

    window: int | None = None
    if handle:
        provider_name, model = parse_handle(handle)
        try:
            window = get_provider(provider_config(), provider_name).context_window(model)
        except (ProviderError, OSError):
            window = None
        window = window or lookup_context_window(model)
    return min(window or settings.DEFAULT_CONTEXT_WINDOW, settings.GLOBAL_MAX_CONTEXT_WINDOW_LIMIT)


def _embedder_for(handle: str) -> Any:
    if not handle:
        return None
    from memory.llm.embeddings import get_embedder

    embedder = get_embedder(provider_config(), handle)
    return embedder.embed


def store_for(agent: Agent) -> DjangoTurnStore:
    return DjangoTurnStore(embed=_embedder_for(agent.embedding), embedding_model=agent.embedding)


# --- creating an agent ------------------------------------------------------------------


def _validate_name(name: str) -> str:
    import re

    name = (name or "").strip()
    if not name:
        return f"agent-{ids.make_id('x')[2:10]}"
    if len(name) > 200 or not re.fullmatch(r"[\w\s'\-]+", name):
        raise InvalidInput(f"Agent name may contain only {NAME_PATTERN_HELP} (at most 200 characters).")
    return name


@transaction.atomic
def agent_create(
    *, owner: User, name: str = "", agent_type: str = AgentType.LETTA_V1.value, model: str = "",
    embedding: str = "", system: str | None = None, description: str = "",
    memory_blocks: list[dict[str, Any]] | None = None, block_ids: list[str] | None = None,
    tools: list[str] | None = None, tool_ids: list[str] | None = None, include_base_tools: bool = True,
    tool_rules: list[dict[str, Any]] | None = None, context_window_limit: int | None = None,
    llm_config: dict[str, Any] | None = None, tags: list[str] | None = None, timezone_name: str = "UTC",
    metadata: dict[str, Any] | None = None, tool_env: dict[str, str] | None = None,
) -> Agent:
    from memory.llm.registry import parse_handle
    from memory.services.base_tools import base_tools_sync
    from memory.tools.catalog import default_tool_names

    try:
        kind = AgentType(agent_type)
    except ValueError:
        raise InvalidInput(f"Unknown agent_type {agent_type!r}; use one of "
                           f"{', '.join(t.value for t in AgentType)}.") from None
    model = model or settings.DEFAULT_LLM_HANDLE
    for handle in (model, embedding):
        if handle:
            try:
                parse_handle(handle)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
    if context_window_limit is not None and not 256 <= context_window_limit <= 2_147_483_647:
        raise InvalidInput("context_window_limit must be between 256 and 2147483647 tokens.")
    try:
        rules = parse_rules(tool_rules or [])
    except ValueError as exc:
        raise InvalidInput(f"Invalid tool_rules: {exc}") from None
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone_name or "UTC")
    except Exception:
        raise InvalidInput(f"Unknown timezone {timezone_name!r}; use an IANA name like 'Europe/Paris'.") from None

    llm_config = dict(llm_config or {})
    if "context_window" not in llm_config:
        llm_config["context_window"] = resolve_context_window(model)
    agent = Agent.objects.create(
        owner=owner, organization_id=owner.organization_id, name=_validate_name(name), agent_type=kind.value,
        system=system if system is not None else prompts.default_system_prompt(kind), model=model,
        embedding=embedding, description=description or "", llm_config=llm_config,
        context_window_limit=context_window_limit, tags=sorted(set(tags or [])),
        tool_rules=[r for r in (tool_rules or [])] if rules is not None else [],
        timezone=timezone_name or "UTC", metadata=metadata or {}, tool_exec_environment_variables=tool_env or {},
    )
    archive = m.Archive.objects.create(name=f"{agent.name} archive", owner=owner,
                                       organization_id=owner.organization_id, embedding=embedding)
    archive.agents.add(agent)

    for spec in memory_blocks or []:
        if not isinstance(spec, dict):
            raise InvalidInput("Each memory block must be an object with at least a label.")
        block = block_create(label=spec.get("label", ""), value=spec.get("value", ""),
                             limit=spec.get("limit"), description=spec.get("description") or "",
                             read_only=bool(spec.get("read_only", False)), metadata=spec.get("metadata"),
                             owner=owner, actor_type="user", actor_id=owner.id)
        block_attach(agent=agent, block=block)
    for block_id in block_ids or []:
        block = m.Block.objects.filter(pk=block_id).first()
        if block is None or (block.owner_id != owner.id and not (
                block.organization_id and block.organization_id == owner.organization_id)):
            raise NotFound(f"Block {block_id} not found.")
        block_attach(agent=agent, block=block)

    names = list(tools or [])
    if include_base_tools:
        base_tools_sync()
        names = list(dict.fromkeys(default_tool_names(kind) + names))
    for tool in _resolve_tools(owner, names, tool_ids or []):
        agent.tools.add(tool)

    state = load_agent(agent.id)
    refresh_system(state, store_for(agent), datetime.now(UTC), force=True)
    agent.refresh_from_db()
    return agent


def _resolve_tools(owner: User, names: list[str], tool_ids: list[str]) -> list[Tool]:
    from django.db.models import Q

    visible = Tool.objects.filter(Q(organization__isnull=True) | Q(organization_id=owner.organization_id))
    found: list[Tool] = []
    for name in names:
        # The organization's own tool wins over a built-in of the same name.
        tool = visible.filter(name=name).order_by("organization_id").first()
        if tool is None:
            raise NotFound(f"No tool named {name!r}.")
        found.append(tool)
    for tool_id in tool_ids:
        tool = visible.filter(pk=tool_id).first()
        if tool is None:
            raise NotFound(f"Tool {tool_id} not found.")
        found.append(tool)
    return list(dict.fromkeys(found))


# --- sending messages ------------------------------------------------------------------


_local_turn_locks: dict[str, threading.Lock] = {}
_local_turn_locks_guard = threading.Lock()


@contextmanager
def agent_turn_lock(agent_id: str) -> Iterator[None]:
    """Serialize turns of one agent across threads and processes.

    Threads of this process queue on a local lock first, with their database
    connection handed back: each waiting on the advisory lock held one, so 30
    messages queued for one agent took the whole pool (tests/test_concurrent_sends.py),
    later requests failed after the pool timeout and every other request waited."""
    with _local_turn_locks_guard:
        local = _local_turn_locks.setdefault(agent_id, threading.Lock())
    if not local.acquire(blocking=False):
        if not connection.in_atomic_block:
            connection.close()  # back to the pool while we wait; reconnects after
        local.acquire()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [agent_id])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [agent_id])
    finally:
        local.release()


def user_message(text: str, *, tz: str, name: str | None = None, otid: str | None = None) -> Message:
    now = datetime.now(UTC)
    return Message(role="user", kind=MessageKind.USER, content=[TextPart(prompts.user_envelope(text, now, tz))],
                   name=name, otid=otid, created_at=now)


def loop_config() -> LoopConfig:
    return LoopConfig(max_steps=settings.MAX_STEPS, max_retries=settings.LLM_MAX_RETRIES,
                      memory_warning_threshold=settings.MEMORY_WARNING_THRESHOLD,
                      compaction_trigger=settings.COMPACTION_TRIGGER, tool_timeout=settings.TOOL_TIMEOUT)


def message_send(
    *, agent: Agent, texts: list[str], user: User | None = None, approvals: list[ApprovalDecision] | None = None,
    emit: Emit | None = None, max_steps: int | None = None, config: LoopConfig | None = None,
    run: m.Run | None = None,
) -> TurnResult:
    """Run one turn. The run row is created first, so a crash leaves a trace
    that the next turn marks as failed."""
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("A message needs non-empty text.")
    if not texts and not approvals:
        raise InvalidInput("Send at least one message (or an approval).")
    if not agent.model:
        raise InvalidInput("This agent has no model: set its model handle (e.g. 'openai/gpt-4o-mini') first.")
    run = run or m.Run.objects.create(agent=agent, created_by=user, status="created",
                                      request_config={"max_steps": max_steps})
    config = config or loop_config()
    if max_steps:
        config.max_steps = max_steps
    started = time.monotonic_ns()
    with _waiting(run.pk), agent_turn_lock(agent.id):
        _start_run(run, agent)
        state = load_agent(agent.id)
        try:
            result = _run_loop(state, agent, run, texts, approvals, emit, config)
        except TurnInputError as exc:
            _finish(run, agent, StopReason.ERROR, Usage(), 0, str(exc), started)
            raise Conflict(str(exc)) from None
        except Exception as exc:
            _finish(run, agent, StopReason.ERROR, Usage(), 0, f"{type(exc).__name__}: {exc}", started)
            raise
    _finish(run, agent, result.stop_reason, result.usage, result.step_count, result.error, started)
    from memory.services.events import publish

    publish(agent.id, {"type": "run", "run_id": run.id, "stop_reason": result.stop_reason.value,
                       "error": result.error, "step_count": result.step_count,
                       "usage": dataclasses.asdict(result.usage)})
    return result


# Runs of this process waiting for their agent's lock (sends queued behind a
# running turn): alive, so the turn ahead of them must not mark them failed.
_waiting_runs: set[str] = set()
_waiting_runs_guard = threading.Lock()


@contextmanager
def _waiting(run_id: str) -> Iterator[None]:
    with _waiting_runs_guard:
        _waiting_runs.add(run_id)
    try:
        yield
    finally:
        with _waiting_runs_guard:
            _waiting_runs.discard(run_id)


def _start_run(run: m.Run, agent: Agent) -> None:
    """Mark this run running and, in the same statement, the agent's runs whose
    process died as failed: any still "running" (we hold the agent's lock), and
    synchronous ones still "created" that no thread of this process is waiting
    with. Queued background runs wait for a worker; they are not dead. (A send
    waiting in another web process looks dead here; it is marked running
    again, error cleared, when its turn comes.)"""
    with _waiting_runs_guard:
        waiting = [r for r in _waiting_runs if r != run.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE memory_run SET
                   status = CASE WHEN id = %(run)s THEN 'running' ELSE 'failed' END,
                   stop_reason = CASE WHEN id = %(run)s THEN '' ELSE 'error' END,
                   error = CASE WHEN id = %(run)s THEN '' ELSE %(error)s END,
                   completed_at = CASE WHEN id = %(run)s THEN NULL ELSE now() END
               WHERE id = %(run)s OR (agent_id = %(agent)s AND (
                   status = 'running'
                   OR (status = 'created' AND NOT background AND NOT (id = ANY(%(waiting)s::varchar[])))))""",
            {"run": run.pk, "agent": agent.pk, "waiting": waiting,
             "error": "The server stopped before this run finished."})


def _run_loop(state: Any, agent: Agent, run: m.Run, texts: list[str],
              approvals: list[ApprovalDecision] | None, emit: Emit | None, config: LoopConfig) -> TurnResult:
    from memory.services.providers import agent_provider

    try:
        # The server's provider, the organization's own (BYOK), or the agent's model_endpoint.
        provider = agent_provider(agent, state.provider)
    except ProviderError as exc:
        return TurnResult(run_id=run.id, messages=[], stop_reason=StopReason.LLM_API_ERROR, usage=Usage(),
                          step_count=0, error=exc.message, error_type=exc.kind)
    from memory.services.events import publish_loop_event

    def fan_out(event: Any) -> None:
        # Every turn, whoever started it, is visible live in every open ADE tab.
        publish_loop_event(agent.id, event)
        if emit is not None:
            emit(event)

    loop = AgentLoop(agent=state, store=store_for(agent), provider=provider, run_id=run.id, config=config,
                     emit=fan_out)
    inputs = [user_message(text, tz=state.timezone) for text in texts]
    return loop.run(inputs, approvals)


def _finish(run: m.Run, agent: Agent, stop: StopReason, usage: Usage, steps: int, error: str | None,
            started: int) -> None:
    if stop == StopReason.CANCELLED:
        status = "cancelled"
    elif stop in COMPLETED:
        status = "completed"
    else:
        status = "failed"
    duration = time.monotonic_ns() - started
    m.Run.objects.filter(pk=run.pk).update(
        status=status, stop_reason=stop.value, error=error or "", prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, cached_input_tokens=usage.cached_input_tokens,
        reasoning_tokens=usage.reasoning_tokens, step_count=steps, total_duration_ns=duration,
        completed_at=timezone.now())
    Agent.objects.filter(pk=agent.pk).update(last_run_completion=timezone.now(),
                                             last_run_duration_ms=duration // 1_000_000,
                                             last_stop_reason=stop.value)


def run_cancel(*, run: m.Run) -> None:
    if run.status not in ("created", "running"):
        raise Conflict(f"Run {run.id} already ended ({run.status}).")
    m.Run.objects.filter(pk=run.pk).update(cancel_requested=True)


# --- reading the context window -------------------------------------------------------------


def context_overview(*, agent: Agent) -> ContextOverview:
    """What the model sees right now, section by section, with exact token counts."""
    state = load_agent(agent.id)
    store = store_for(agent)
    if not state.messages:
        refresh_system(state, store, datetime.now(UTC), force=True)
    stats = store.refresh_stats(state)
    inp = build_compile_input(state)
    if state.fingerprint != system_fingerprint(inp):
        # The stored prompt is out of date (e.g. passages were added): show the
        # one the next turn will compile and send, without storing it here.
        state.stats = stats
        state.stats.last_recompiled = datetime.now(UTC)
        compiled = compile_system(build_compile_input(state))
    else:
        system = state.messages[0]
        compiled = CompiledSystem(text=system.text, sections=system.meta.get("sections") or {})
    counter = counter_for(state.model)
    return overview(compiled, state.messages[1:], state.tools, stats, state.context_window, counter)
