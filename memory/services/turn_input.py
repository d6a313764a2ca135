"""What a message request asks for: the texts and approval decisions of
Letta's `messages` (or `input`) body, checked before a turn starts so that bad
input is a 4xx, not an error mid-stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from agents.errors import InvalidInput, LimitExceeded
from memory.engine.state import ApprovalDecision


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
