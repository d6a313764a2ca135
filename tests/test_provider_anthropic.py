"""AnthropicProvider against the fake server through the real anthropic SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from memory.llm.anthropic import AnthropicProvider
from memory.llm.errors import ProviderError
from memory.types import (
    Message,
    MessageKind,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
)
from tests.fakes import LOOKUP, SEND_MESSAGE, chat, system, tool_result, user
from tests.fakes.llm_server import (
    FakeLLMServer,
    FakeModel,
    call,
    error,
    reply,
    tool_call,
    tool_calls,
)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def provider(server: FakeLLMServer) -> AnthropicProvider:
    return AnthropicProvider(base_url=server.url, api_key="sk-ant-test", timeout=5)


def test_anthropic_assembles_a_streamed_text_reply(server, provider):
    server.script(reply("Hello from Claude."))

    response = provider.complete(chat("claude-sonnet-4-6"))

    assert response.message.text == "Hello from Claude."
    assert response.message.kind is MessageKind.ASSISTANT
    assert response.finish_reason == "stop"
    sent = server.last_chat()
    assert sent.path == "/v1/messages"
    # SDK 2.x authenticates with a bearer token rather than x-api-key.
    assert sent.headers["authorization"] == "Bearer sk-ant-test"
    assert "anthropic-version" in sent.headers
    assert sent.json == response.raw_request


def test_anthropic_puts_the_system_prompt_at_the_top_level(server, provider):
    provider.complete(chat("claude-sonnet-4-6"))

    sent = server.last_chat().json
    assert sent["system"] == "You are a helpful agent."
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert sent["max_tokens"] == 4096  # required by the API; our default
    assert sent["stream"] is True


def test_anthropic_streams_tool_input_json_in_pieces(server, provider):
    args = {"message": "A fairly long message so the JSON arrives in several pieces."}
    server.script(tool_call("send_message", args, id="toolu_01"))
    events: list[StreamEvent] = []

    response = provider.complete(
        chat("claude-sonnet-4-6", tools=[SEND_MESSAGE]), on_event=events.append
    )

    assert len([e for e in events if isinstance(e, ToolCallDelta) and e.arguments]) > 3
    [call_part] = response.message.tool_calls
    assert (call_part.id, call_part.name) == ("toolu_01", "send_message")
    assert json.loads(call_part.arguments) == args
    assert response.finish_reason == "tool_calls"
    sent = server.last_chat().json
    assert sent["tools"] == [
        {
            "name": "send_message",
            "description": SEND_MESSAGE["description"],
            "input_schema": SEND_MESSAGE["parameters"],
        }
    ]


def test_anthropic_tool_without_parameters_gets_empty_object_arguments(server, provider):
    server.script(tool_call("lookup", "", id="toolu_02"))

    response = provider.complete(chat("claude-sonnet-4-6", tools=[LOOKUP]))

    assert response.message.tool_calls[0].arguments == "{}"


def test_anthropic_assembles_parallel_tool_calls(server, provider):
    server.script(tool_calls([call("lookup", {"word": "a"}), call("lookup", {"word": "b"})]))

    response = provider.complete(
        chat("claude-sonnet-4-6", tools=[LOOKUP], parallel_tool_calls=True)
    )

    assert [json.loads(c.arguments)["word"] for c in response.message.tool_calls] == ["a", "b"]
    assert server.last_chat().json["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": False,
    }


def test_anthropic_thinking_signature_round_trips(server, provider):
    server.script(
        tool_call(
            "lookup",
            {"word": "tide"},
            reasoning="The user wants tides.",
            signature="EqQBCkYIBxgCKkD",
        ),
        reply("Tides come from the moon."),
    )
    events: list[StreamEvent] = []

    first = provider.complete(
        chat("claude-sonnet-4-6", tools=[LOOKUP], reasoning=True), on_event=events.append
    )

    assert server.last_chat().json["thinking"] == {"type": "adaptive"}
    [reasoning] = first.message.reasoning
    assert reasoning.text == "The user wants tides."
    assert reasoning.signature == "EqQBCkYIBxgCKkD"
    assert any(isinstance(e, ReasoningDelta) and e.signature for e in events)
    assert [p.type for p in first.message.content] == ["reasoning", "tool_call"]

    call_part = first.message.tool_calls[0]
    provider.complete(
        chat(
            "claude-sonnet-4-6",
            user("tides?"),
            first.message,
            tool_result(call_part),
            tools=[LOOKUP],
            reasoning=True,
        )
    )

    assistant = server.last_chat().json["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "The user wants tides.",
        "signature": "EqQBCkYIBxgCKkD",
    }
    assert assistant["content"][1] == {
        "type": "tool_use",
        "id": call_part.id,
        "name": "lookup",
        "input": {"word": "tide"},
    }


def test_anthropic_older_models_get_a_thinking_budget_below_max_tokens(server, provider):
    provider.complete(
        chat("claude-3-7-sonnet-latest", reasoning=True, max_tokens=1000, max_reasoning_tokens=2048)
    )
    budgeted = server.last_chat().json
    provider.complete(chat("claude-sonnet-4-20250514", reasoning=True))
    minimum = server.last_chat().json

    assert budgeted["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert budgeted["max_tokens"] == 3048  # thinking counts against max_tokens
    assert minimum["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert minimum["max_tokens"] == 4096


def test_anthropic_redacted_thinking_is_sent_back_verbatim(server, provider):
    server.script(reply("Done.", redacted="ENCRYPTED-BLOB"))
    first = provider.complete(chat("claude-sonnet-4-6", reasoning=True))

    assert first.message.reasoning[0].redacted == "ENCRYPTED-BLOB"
    provider.complete(chat("claude-sonnet-4-6", user("go"), first.message, user("again")))

    assistant = server.last_chat().json["messages"][1]
    assert assistant["content"][0] == {"type": "redacted_thinking", "data": "ENCRYPTED-BLOB"}


def test_anthropic_drops_reasoning_that_another_provider_produced(server, provider):
    foreign = Message(
        role="assistant",
        kind=MessageKind.ASSISTANT,
        content=[
            ReasoningPart(text="gemini thoughts", signature="c2ln", provider="gemini"),
            TextPart("Hi!"),
        ],
    )

    provider.complete(chat("claude-sonnet-4-6", user("hello"), foreign, user("and now?")))

    assistant = server.last_chat().json["messages"][1]
    assert assistant["content"] == [{"type": "text", "text": "Hi!"}]


def test_anthropic_merges_same_role_neighbours_with_tool_results_first(server, provider):
    call_a = ToolCallPart(id="toolu_a", name="lookup", arguments='{"word": "a"}')
    call_b = ToolCallPart(id="toolu_b", name="lookup", arguments='{"word": "b"}')
    assistant = Message(role="assistant", content=[call_a, call_b])

    provider.complete(
        chat(
            "claude-sonnet-4-6",
            user("first"),
            user("second"),
            assistant,
            tool_result(call_a, "A"),
            tool_result(call_b, "B", status="error"),
            user("heartbeat"),
            tools=[LOOKUP],
        )
    )

    messages = server.last_chat().json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[0]["content"]] == ["first", "second"]
    last = messages[2]["content"]
    assert last[0] == {"type": "tool_result", "tool_use_id": "toolu_a", "content": "A"}
    assert last[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_b",
        "content": "B",
        "is_error": True,
    }
    assert last[2] == {"type": "text", "text": "heartbeat"}


def test_anthropic_sends_mid_conversation_system_messages_as_user_text(server, provider):
    alert = system("Memory pressure warning")
    assistant = Message(role="assistant", content=[TextPart("sure")])

    provider.complete(chat("claude-sonnet-4-6", user("hi"), assistant, alert))

    sent = server.last_chat().json
    assert sent["system"] == "You are a helpful agent."
    assert sent["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": "Memory pressure warning"}],
    }


def test_anthropic_sanitises_foreign_tool_ids(server, provider):
    odd = ToolCallPart(id="call:1/x", name="lookup", arguments="{}")

    provider.complete(
        chat(
            "claude-sonnet-4-6",
            user("q"),
            Message(role="assistant", content=[odd]),
            tool_result(odd),
            tools=[LOOKUP],
        )
    )

    messages = server.last_chat().json["messages"]
    assert messages[1]["content"][0]["id"] == "call_1_x"
    assert messages[2]["content"][0]["tool_use_id"] == "call_1_x"


@pytest.mark.parametrize(
    ("choice", "parallel", "wire"),
    [
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("lookup", True, {"type": "tool", "name": "lookup", "disable_parallel_tool_use": False}),
        ("none", False, {"type": "none"}),
    ],
)
def test_anthropic_serializes_tool_choice(server, provider, choice, parallel, wire):
    server.script(tool_call("lookup", {"word": "x"}))

    provider.complete(
        chat("claude-sonnet-4-6", tools=[LOOKUP], tool_choice=choice, parallel_tool_calls=parallel)
    )

    assert server.last_chat().json["tool_choice"] == wire


def test_anthropic_forced_tool_choice_turns_thinking_off(server, provider):
    server.script(tool_call("lookup", {"word": "x"}))

    provider.complete(
        chat("claude-sonnet-4-6", tools=[LOOKUP], tool_choice="lookup", reasoning=True)
    )

    assert "thinking" not in server.last_chat().json


def test_anthropic_never_sends_sampling_parameters(server, provider):
    provider.complete(chat("claude-sonnet-4-6", temperature=0.5, reasoning_effort="high"))

    sent = server.last_chat().json
    assert "temperature" not in sent  # API 2026-10-21 rejects it on every model
    assert sent["output_config"] == {"effort": "high"}


def test_anthropic_usage_includes_cache_reads_and_writes(server, provider):
    server.script(
        reply(
            "cached!",
            usage={
                "prompt_tokens": 5000,
                "completion_tokens": 40,
                "cached_tokens": 4000,
                "cache_write_tokens": 600,
                "reasoning_tokens": 12,
            },
        )
    )

    usage = provider.complete(chat("claude-sonnet-4-6")).usage

    # prompt_tokens counts the whole prompt, cached parts included.
    assert usage.prompt_tokens == 5000
    assert usage.cached_input_tokens == 4000
    assert usage.cache_write_tokens == 600
    assert usage.completion_tokens == 40
    assert usage.reasoning_tokens == 12


def test_anthropic_overloaded_is_a_retryable_server_error(server, provider):
    server.script(error(529))

    with pytest.raises(ProviderError) as info:
        provider.complete(chat("claude-sonnet-4-6"))

    assert (info.value.kind, info.value.retryable, info.value.status) == ("server", True, 529)


def test_anthropic_counts_tokens_with_the_count_api(server, provider):
    server.count_tokens_value = 1234

    count = provider.count_tokens(chat("claude-sonnet-4-6", tools=[LOOKUP]))

    assert count == 1234
    [sent] = [r for r in server.requests if r.group == "count_tokens"]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json["tools"][0]["name"] == "lookup"
    assert "stream" not in sent.json and "max_tokens" not in sent.json


def test_anthropic_count_tokens_returns_none_when_the_api_fails(server, provider):
    server.script_for("count_tokens", error(500))

    assert provider.count_tokens(chat("claude-sonnet-4-6")) is None


def test_anthropic_lists_models_with_their_input_limits(server):
    server.models = [
        FakeModel("claude-sonnet-4-5-20250929", 200_000),
        FakeModel("claude-opus-4-1", None),
    ]
    provider = AnthropicProvider(base_url=server.url, api_key="k")

    models = {m.name: m for m in provider.list_models()}

    assert models["claude-sonnet-4-5-20250929"].context_window == 200_000
    assert models["claude-opus-4-1"].context_window == 200_000  # from our table
    assert models["claude-opus-4-1"].handle == "anthropic/claude-opus-4-1"


def test_anthropic_without_a_key_is_not_configured():
    with pytest.raises(ProviderError) as info:
        AnthropicProvider(api_key=None).complete(chat("claude-sonnet-4-6"))

    assert info.value.kind == "not_configured"
    assert "ANTHROPIC_API_KEY" in info.value.message
