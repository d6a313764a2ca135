"""/v1 routes for talking to an agent: send (JSON, SSE, or queued), list the
conversation, cancel, reset, compact, and read or rebuild the context window."""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from ninja import Query, Router, Schema

from agents.api.routes import agent_for
from agents.api.schemas import AgentOut, agent_out
from agents.errors import InvalidInput
from memory.api import schemas as s
from memory.api.streaming import TurnStream
from memory.selectors import agent_messages, cursor_page
from memory.services.context import (
    agent_compact,
    agent_messages_reset,
    agent_recompile,
    context_overview,
)
from memory.services.runs import runs_cancel
from memory.services.turn_input import turn_input
from memory.services.turns import message_send, turn_failure
from memory.services.turns import turn_check as turn_precheck
from memory.services.worker import run_enqueue
from memory.store.letta_format import (
    Options,
    messages_to_letta,
    stop_reason,
    to_letta,
    turn_output,
    usage_statistics,
)
from memory.store.rows import message_from_row
from memory.types import AgentType

router = Router(tags=["messages"])


def _options(body: s.MessageRequest) -> Options:
    return Options(
        use_assistant_message=body.use_assistant_message,
        assistant_message_tool_name=body.assistant_message_tool_name,
        assistant_message_tool_kwarg=body.assistant_message_tool_kwarg,
        include_return_message_types=body.include_return_message_types,
    )


def _stream(
    request, agent, body: s.MessageRequest, *, stream_tokens: bool
) -> StreamingHttpResponse:
    turn = turn_input(messages=body.messages, input=body.input)
    turn_precheck(agent=agent, max_steps=body.max_steps)
    stream = TurnStream(
        agent=agent,
        user=request.auth,
        turn=turn,
        options=_options(body),
        max_steps=body.max_steps,
        stream_tokens=stream_tokens,
        include_pings=body.include_pings,
        include_compaction_messages=body.include_compaction_messages,
        ping_seconds=settings.SSE_PING_SECONDS,
    )
    stream.start()
    # Django streams only an async iterator under ASGI and only a sync one under WSGI.
    events = stream.aevents() if isinstance(request, ASGIRequest) else stream.events()
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@router.post("/agents/{agent_id}/messages", response=s.LettaResponseOut)
def send_message(request, agent_id: str, payload: s.MessageRequest):
    """Send messages and get the agent's reply (LettaResponse). With `streaming: true`
    the answer is Server-Sent Events instead: one event per message (or token deltas
    with `stream_tokens: true`), then stop_reason, usage_statistics and [DONE]."""
    agent = agent_for(request, agent_id)
    if payload.streaming:
        return _stream(request, agent, payload, stream_tokens=payload.stream_tokens)
    turn = turn_input(messages=payload.messages, input=payload.input)
    turn_precheck(agent=agent, max_steps=payload.max_steps)
    result = message_send(
        agent=agent,
        texts=turn.texts,
        user=request.auth,
        approvals=turn.approvals or None,
        max_steps=payload.max_steps,
    )
    failure = turn_failure(result)
    if failure is not None:
        # A 200 with no messages told a client nothing; the run records the turn.
        raise failure
    return {
        "messages": messages_to_letta(
            turn_output(result.messages), AgentType(agent.agent_type), _options(payload)
        ),
        "stop_reason": stop_reason(result.stop_reason),
        "usage": usage_statistics(result.usage, result.step_count, [result.run_id]),
    }


@router.post("/agents/{agent_id}/messages/stream", response=s.LettaMessageOut)
def stream_message(request, agent_id: str, payload: s.MessageRequest):
    """Send messages and stream the reply as Server-Sent Events (Letta's streaming route)."""
    return _stream(
        request, agent_for(request, agent_id), payload, stream_tokens=payload.stream_tokens
    )


@router.post("/agents/{agent_id}/messages/async", response=s.RunOut)
def send_message_async(request, agent_id: str, payload: s.MessageRequest):
    """Queue the turn and return its Run at once; poll /v1/runs/{run_id}, then read
    /v1/runs/{run_id}/messages."""
    agent = agent_for(request, agent_id)
    turn = turn_input(messages=payload.messages, input=payload.input)
    turn_precheck(agent=agent, max_steps=payload.max_steps)
    options = _options(payload)
    presentation = {
        "use_assistant_message": options.use_assistant_message,
        "assistant_message_tool_name": options.assistant_message_tool_name,
        "assistant_message_tool_kwarg": options.assistant_message_tool_kwarg,
        "include_return_message_types": options.include_return_message_types,
    }
    return run_enqueue(
        agent=agent,
        user=request.auth,
        turn=turn,
        max_steps=payload.max_steps,
        presentation=presentation,
    )


class MessageListQuery(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 100
    order: Literal["asc", "desc"] = "desc"
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    include_err: bool | None = None
    include_return_message_types: list[str] | None = None


def list_options(query: MessageListQuery) -> Options:
    try:
        s._known_types(query.include_return_message_types)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return Options(
        use_assistant_message=query.use_assistant_message,
        assistant_message_tool_name=query.assistant_message_tool_name,
        assistant_message_tool_kwarg=query.assistant_message_tool_kwarg,
        include_return_message_types=query.include_return_message_types,
        include_err=query.include_err is not False,
    )


def letta_page(rows, agent, options: Options, query: MessageListQuery) -> list[dict[str, Any]]:
    """A page of Letta messages from stored messages. `limit` counts Letta
    messages; a page always ends on a whole stored message (the cursor is a
    stored message id), and stored messages that show as nothing (a hidden
    send_message result) never make a page look like the end."""
    agent_type = AgentType(agent.agent_type)
    limit = query.limit or 100
    ascending = query.order == "asc"
    backwards = bool(query.before and not query.after)
    before, after = query.before, query.after
    out: list[dict[str, Any]] = []
    while True:
        batch = cursor_page(
            rows,
            before=before,
            after=after,
            limit=limit,
            ascending=ascending,
            keys=("sequence_id",),
        )
        items = []
        for row in batch:
            shown = to_letta(message_from_row(row), agent_type, options)
            items.extend(
                shown if ascending else reversed(shown)
            )  # newest first means within a message too
        out = items + out if backwards else out + items
        if len(out) >= limit or len(batch) < limit:
            return out
        if backwards:
            before = batch[0].id
        else:
            after = batch[-1].id


@router.get("/agents/{agent_id}/messages", response=list[dict[str, Any]])
def list_messages(request, agent_id: str, query: Query[MessageListQuery]):
    """The conversation (recall memory) as Letta messages, newest first by default.
    One stored message can show as several Letta messages sharing its id."""
    agent = agent_for(request, agent_id)
    return letta_page(agent_messages(agent=agent), agent, list_options(query), query)


@router.post("/agents/{agent_id}/messages/cancel", response=dict[str, str])
def cancel_runs(request, agent_id: str, payload: s.CancelIn | None = None):
    """Cancel the agent's active runs (or those named in run_ids)."""
    return runs_cancel(
        agent=agent_for(request, agent_id), run_ids=payload.run_ids if payload else None
    )


@router.patch("/agents/{agent_id}/reset-messages", response=AgentOut)
def reset_messages(request, agent_id: str, payload: s.ResetIn | None = None):
    """Forget the conversation; core and archival memory stay."""
    return agent_out(agent_messages_reset(agent=agent_for(request, agent_id)))


@router.post("/agents/{agent_id}/summarize", response=s.CompactionOut)
def summarize(request, agent_id: str):
    """Compact now: fold the older part of the context window into the running summary."""
    return agent_compact(agent=agent_for(request, agent_id))


@router.get("/agents/{agent_id}/context", response=s.ContextOut, tags=["agents"])
def context_window(request, agent_id: str):
    """What the model sees now, section by section, with exact token counts."""
    return context_overview(agent=agent_for(request, agent_id)).to_dict()


@router.post("/agents/{agent_id}/recompile", response=str, tags=["agents"])
def recompile(request, agent_id: str, dry_run: bool = False, update_timestamp: bool = False):
    """Rebuild the system prompt from current memory; returns its text."""
    return agent_recompile(agent=agent_for(request, agent_id), dry_run=dry_run)
