"""Test doubles that speak real wire protocols (see llm_server.py), and small
builders for the engine requests the provider tests send through them."""

from __future__ import annotations

from typing import Any, Literal

from memory.types import (
    LLMRequest,
    LLMSettings,
    Message,
    MessageKind,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

SEND_MESSAGE: dict[str, Any] = {
    "name": "send_message",
    "description": "Send a message to the user.",
    "parameters": {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "The message text."}},
        "required": ["message"],
        "additionalProperties": False,
    },
}

LOOKUP: dict[str, Any] = {
    "name": "lookup",
    "description": "Look a word up.",
    "parameters": {
        "type": "object",
        "properties": {"word": {"type": "string"}},
        "required": ["word"],
    },
}


def system(text: str = "You are a helpful agent.") -> Message:
    return Message(role="system", content=[TextPart(text)], kind=MessageKind.SYSTEM)


def user(text: str) -> Message:
    return Message(role="user", content=[TextPart(text)], kind=MessageKind.USER)


def tool_result(
    call: ToolCallPart,
    content: str = '{"status": "OK"}',
    status: Literal["success", "error"] = "success",
) -> Message:
    return Message(
        role="tool",
        kind=MessageKind.TOOL,
        content=[
            ToolReturnPart(tool_call_id=call.id, name=call.name, content=content, status=status)
        ],
    )


def chat(
    model: str,
    *history: Message,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str = "auto",
    **settings: Any,
) -> LLMRequest:
    """A request: the system prompt, then `history` (default: one user "hi")."""
    messages = [system(), *(history or (user("hi"),))]
    return LLMRequest(
        model=model,
        messages=messages,
        tools=list(tools or []),
        tool_choice=tool_choice,
        settings=LLMSettings(**settings),
    )
