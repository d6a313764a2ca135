"""A turn: send an agent messages (or approval decisions) and run its loop.

Every way a turn starts — the API's JSON, SSE and queued sends, the ADE's chat,
the worker — ends up in message_send: one run, one turn lock, one place that
records how it ended and announces it live.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from agents.errors import Conflict, InvalidInput, TurnFailed
from agents.models import Agent, User
from memory import models as m
from memory import prompts
from memory.engine.loop import AgentLoop, LoopConfig
from memory.engine.state import ApprovalDecision, Emit, TurnInputError, TurnResult
from memory.llm.errors import ProviderError
from memory.services.events import publish, publish_loop_event
from memory.services.locks import agent_turn_lock
from memory.services.providers import agent_provider
from memory.services.runs import run_create, run_finish, run_start, run_waiting
from memory.services.stores import store_for
from memory.store.rows import load_agent
from memory.types import Message, MessageKind, StopReason, TextPart, Usage

NO_MODEL = (
    "This agent has no model yet: choose one in its settings, or set its model handle "
    "(e.g. 'openai/gpt-4o-mini')."
)


def require_model(agent: Agent) -> None:
    """The one refusal for an agent that has no model to talk to."""
    if not agent.model:
        raise InvalidInput(NO_MODEL)


def turn_check(*, agent: Agent, max_steps: int | None = None) -> None:
    """What message_send would refuse, checked before a stream or a queued run starts."""
    require_model(agent)
    if max_steps is not None and not 1 <= max_steps <= 1000:
        raise InvalidInput("max_steps must be between 1 and 1000.")


def user_message(
    text: str, *, tz: str, name: str | None = None, otid: str | None = None
) -> Message:
    now = datetime.now(UTC)
    return Message(
        role="user",
        kind=MessageKind.USER,
        content=[TextPart(prompts.user_envelope(text, now, tz))],
        name=name,
        otid=otid,
        created_at=now,
    )


# A turn that got no answer from its model, by error kind: the HTTP status of a
# non-streaming send (Letta's: the caller's key or request → 4xx, upstream → 5xx)
# and what the detail starts with.
FAILED_TURN = {
    "not_configured": (422, "The agent's model provider is not configured"),
    "auth": (401, "Authentication failed with the model provider"),
    "rate_limit": (429, "The model provider's rate limit was exceeded"),
    "timeout": (504, "The model provider did not answer in time"),
    "bad_request": (400, "The model request was refused"),
    "context_overflow": (400, "The prompt is over the model's context window"),
    "system_prompt_overflow": (422, "The prompt cannot fit the model's context window"),
}
UPSTREAM_FAILURE = (502, "The model provider failed")
FAILED_STOPS = {
    StopReason.LLM_API_ERROR,
    StopReason.INVALID_LLM_RESPONSE,
    StopReason.CONTEXT_WINDOW_OVERFLOW_IN_SYSTEM_PROMPT,
}


def turn_failure(result: TurnResult) -> TurnFailed | None:
    """The error a non-streaming send answers with when its turn got no answer
    from the model; None when the turn ended otherwise. The run keeps the record;
    streaming sends say the same in their `event: error`."""
    if result.stop_reason not in FAILED_STOPS:
        return None
    kind = result.error_type or "error"
    status, headline = FAILED_TURN.get(kind, UPSTREAM_FAILURE)
    return TurnFailed(
        f"{headline}: {result.error or 'no detail given'} (run {result.run_id})",
        status=status,
        extra={
            "error_type": kind,
            "stop_reason": result.stop_reason.value,
            "run_id": result.run_id,
        },
    )


def loop_config() -> LoopConfig:
    return LoopConfig(
        max_steps=settings.MAX_STEPS,
        max_retries=settings.LLM_MAX_RETRIES,
        memory_warning_threshold=settings.MEMORY_WARNING_THRESHOLD,
        compaction_trigger=settings.COMPACTION_TRIGGER,
        tool_timeout=settings.TOOL_TIMEOUT,
        block_window_policy=settings.BLOCK_WINDOW_POLICY,
    )


def message_send(
    *,
    agent: Agent,
    texts: list[str],
    user: User | None = None,
    approvals: list[ApprovalDecision] | None = None,
    emit: Emit | None = None,
    max_steps: int | None = None,
    config: LoopConfig | None = None,
    run: m.Run | None = None,
) -> TurnResult:
    """Run one turn. The run row is created first (unless the caller made it),
    so a crash leaves a trace that the next turn marks as failed."""
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("A message needs non-empty text.")
    if not texts and not approvals:
        raise InvalidInput("Send at least one message (or an approval).")
    turn_check(agent=agent)
    run = run or run_create(agent=agent, user=user, request_config={"max_steps": max_steps})
    config = config or loop_config()
    if max_steps:
        config.max_steps = max_steps
    started = time.monotonic_ns()
    with run_waiting(run.pk), agent_turn_lock(agent.id):
        run_start(run, agent)
        state = load_agent(agent.id)
        try:
            result = _run_loop(state, agent, run, texts, approvals, emit, config)
        except TurnInputError as exc:
            run_finish(
                run,
                agent,
                stop=StopReason.ERROR,
                usage=Usage(),
                steps=0,
                error=str(exc),
                started_ns=started,
            )
            raise Conflict(str(exc)) from None
        except Exception as exc:
            run_finish(
                run,
                agent,
                stop=StopReason.ERROR,
                usage=Usage(),
                steps=0,
                error=f"{type(exc).__name__}: {exc}",
                started_ns=started,
            )
            raise
    run_finish(
        run,
        agent,
        stop=result.stop_reason,
        usage=result.usage,
        steps=result.step_count,
        error=result.error,
        started_ns=started,
    )
    publish(
        agent.id,
        {
            "type": "run",
            "run_id": run.id,
            "stop_reason": result.stop_reason.value,
            "error": result.error,
            "step_count": result.step_count,
            "usage": dataclasses.asdict(result.usage),
        },
    )
    return result


def _run_loop(
    state: Any,
    agent: Agent,
    run: m.Run,
    texts: list[str],
    approvals: list[ApprovalDecision] | None,
    emit: Emit | None,
    config: LoopConfig,
) -> TurnResult:
    try:
        # The server's provider, the organization's own (BYOK), or the agent's model_endpoint.
        provider = agent_provider(agent, state.provider)
    except ProviderError as exc:
        return TurnResult(
            run_id=run.id,
            messages=[],
            stop_reason=StopReason.LLM_API_ERROR,
            usage=Usage(),
            step_count=0,
            error=exc.message,
            error_type=exc.kind,
        )

    def fan_out(event: Any) -> None:
        # Every turn, whoever started it, is visible live in every open ADE tab.
        publish_loop_event(agent.id, event)
        if emit is not None:
            emit(event)

    loop = AgentLoop(
        agent=state,
        store=store_for(agent),
        provider=provider,
        run_id=run.id,
        config=config,
        emit=fan_out,
    )
    inputs = [user_message(text, tz=state.timezone) for text in texts]
    return loop.run(inputs, approvals)
