"""Runs from the API's side: what a message request asks for, checks done
before a turn starts (so bad input is a 4xx, not an error mid-stream), queued
runs for /messages/async, and cancelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.errors import InvalidInput, LimitExceeded, NotFound
from agents.models import Agent, User
from memory import models as m
from memory.engine.state import ApprovalDecision
from memory.services.turns import run_cancel

ACTIVE = ("created", "running")


@dataclass
class TurnInput:
    texts: list[str] = field(default_factory=list)
    approvals: list[ApprovalDecision] = field(default_factory=list)


def _content_text(content: Any, where: str) -> str:
    """Letta's content: a string, or a list of parts of which we take the text ones."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise InvalidInput(
                    f"{where}: only text content is supported here "
                    f"(got a {kind or type(part).__name__!s} part)."
                )
            texts.append(part["text"])
        return "\n".join(texts)
    raise InvalidInput(f"{where}: content must be a string or a list of text parts.")


def _approvals(item: dict[str, Any], where: str) -> list[ApprovalDecision]:
    # Letta's newer shape lists decisions; the older one is a single decision.
    entries = item.get("approvals")
    if entries is None:
        entries = [
            {
                "tool_call_id": item.get("approval_request_id") or item.get("tool_call_id"),
                "approve": item.get("approve"),
                "reason": item.get("reason"),
            }
        ]
    decisions = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("tool_call_id"), str):
            raise InvalidInput(f"{where}: each approval needs the tool_call_id it answers.")
        if not isinstance(entry.get("approve"), bool):
            raise InvalidInput(f"{where}: each approval needs approve: true or false.")
        decisions.append(
            ApprovalDecision(
                tool_call_id=entry["tool_call_id"],
                approve=entry["approve"],
                reason=entry.get("reason") or "",
            )
        )
    return decisions


def turn_input(*, messages: list[dict[str, Any]] | None, input: Any = None) -> TurnInput:
    """Texts and approval decisions from a request's `messages` (or `input`)."""
    result = TurnInput()
    if input is not None:
        if messages:
            raise InvalidInput("Send either messages or input, not both.")
        messages = [{"role": "user", "content": input}]
    for index, item in enumerate(messages or []):
        where = f"messages[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} must be an object.")
        if item.get("type") == "approval":
            result.approvals.extend(_approvals(item, where))
            continue
        role = item.get("role", "user")
        if role != "user":
            raise InvalidInput(f"{where}: only role 'user' messages can be sent (got {role!r}).")
        text = _content_text(item.get("content"), where)
        if not text.strip():
            raise InvalidInput(f"{where}: the message text is empty.")
        result.texts.append(text)
    if not result.texts and not result.approvals:
        raise InvalidInput(
            'Send at least one message: messages=[{"role": "user", "content": "..."}].'
        )
    limit = settings.API_MAX_MESSAGE_CHARS
    for text in result.texts:
        if len(text) > limit:
            raise LimitExceeded(f"A message is {len(text)} characters long; the limit is {limit}.")
    return result


def turn_precheck(*, agent: Agent, max_steps: int | None) -> None:
    """What message_send would refuse, checked before a stream or a queued run starts."""
    if not agent.model:
        raise InvalidInput(
            "This agent has no model: set its model handle (e.g. 'openai/gpt-4o-mini') first."
        )
    if max_steps is not None and not 1 <= max_steps <= 1000:
        raise InvalidInput("max_steps must be between 1 and 1000.")


def run_create(
    *, agent: Agent, user: User, background: bool, request_config: dict[str, Any]
) -> m.Run:
    return m.Run.objects.create(
        agent=agent,
        created_by=user,
        status="created",
        background=background,
        request_config=request_config,
    )


def run_enqueue(
    *,
    agent: Agent,
    user: User,
    turn: TurnInput,
    max_steps: int | None,
    presentation: dict[str, Any],
) -> m.Run:
    """A run for the worker: it holds everything the turn needs."""
    config = {
        "texts": turn.texts,
        "approvals": [
            {"tool_call_id": a.tool_call_id, "approve": a.approve, "reason": a.reason}
            for a in turn.approvals
        ],
        "max_steps": max_steps,
        **presentation,
    }
    run = run_create(agent=agent, user=user, background=True, request_config=config)
    from memory.services.worker import wake_inprocess_worker

    transaction.on_commit(wake_inprocess_worker)
    return run


def runs_cancel(*, agent: Agent, run_ids: list[str] | None) -> dict[str, str]:
    """Ask the agent's active runs (or the ones named) to stop. A running turn
    stops at its next step; a queued run never starts."""
    runs = m.Run.objects.filter(agent=agent)
    if run_ids:
        found = {r.id: r for r in runs.filter(pk__in=run_ids)}
        missing = [i for i in run_ids if i not in found]
        if missing:
            raise NotFound(f"Runs not found for this agent: {', '.join(missing)}.")
        targets = list(found.values())
    else:
        targets = list(runs.filter(status__in=ACTIVE))
    results = {}
    for run in targets:
        queued = m.Run.objects.filter(pk=run.pk, status="created", background=True).update(
            status="cancelled",
            stop_reason="cancelled",
            cancel_requested=True,
            completed_at=timezone.now(),
        )
        if queued:
            results[run.id] = "cancelled"
        elif run.status in ACTIVE:
            run_cancel(run=run)
            results[run.id] = "cancelled"
        else:
            results[run.id] = f"already {run.status}"
    return results
