"""OpenAIProvider against the fake server through the real openai SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from memory.llm.base import is_generated_call_id
from memory.llm.errors import ProviderError
from memory.llm.openai import OpenAIProvider
from memory.types import (
    MessageKind,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from tests.fakes import LOOKUP, SEND_MESSAGE, chat, tool_result, user
from tests.fakes.llm_server import (
    FakeLLMServer,
    FakeModel,
    call,
    reply,
    tool_call,
    tool_calls,
)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def provider(server: FakeLLMServer) -> OpenAIProvider:
    return OpenAIProvider(base_url=server.url + "/v1", api_key="sk-test", timeout=5)


def test_openai_assembles_a_streamed_text_reply(server, provider):
    server.script(reply("Hello there, friend."))
    events: list[StreamEvent] = []

    response = provider.complete(chat("gpt-4o-mini"), on_event=events.append)

    assert response.message.role == "assistant"
    assert response.message.kind is MessageKind.ASSISTANT
    assert response.message.text == "Hello there, friend."
    assert response.message.model == "gpt-4o-mini"
    assert response.finish_reason == "stop"
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1  # really streamed
    assert response.raw_response["text"] == "Hello there, friend."
    assert response.raw_response["finish_reason"] == "stop"
    json.dumps(response.raw_response)  # JSON-able for the step record
    # What we record as raw_request is exactly what went over the wire.
    assert server.last_chat().json == response.raw_request


def test_openai_sends_the_key_and_asks_for_usage_in_the_stream(server, provider):
    provider.complete(chat("gpt-4o-mini"))

    sent = server.last_chat()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}


def test_openai_streams_tool_call_arguments_in_pieces(server, provider):
    args = {"message": "The weather in Lisbon is sunny and warm today."}
    server.script(tool_call("send_message", args, id="call_abc"))
    events: list[StreamEvent] = []

    response = provider.complete(chat("gpt-4o", tools=[SEND_MESSAGE]), on_event=events.append)

    pieces = [e.arguments for e in events if isinstance(e, ToolCallDelta) and e.arguments]
    assert len(pieces) > 3
    [call_part] = response.message.tool_calls
    assert call_part.id == "call_abc"
    assert call_part.name == "send_message"
    assert json.loads(call_part.arguments) == args
    assert response.finish_reason == "tool_calls"
    assert response.raw_response["tool_calls"][0]["name"] == "send_message"


def test_openai_assembles_parallel_tool_calls_in_order(server, provider):
    server.script(
        tool_calls(
            [
                call("lookup", {"word": "alpha"}),
                call("lookup", {"word": "beta"}),
                call("send_message", {"message": "done"}),
            ],
            text="Checking.",
        )
    )

    response = provider.complete(
        chat("gpt-4o", tools=[LOOKUP, SEND_MESSAGE], parallel_tool_calls=True)
    )

    calls = response.message.tool_calls
    assert [c.name for c in calls] == ["lookup", "lookup", "send_message"]
    assert [json.loads(c.arguments) for c in calls][:2] == [{"word": "alpha"}, {"word": "beta"}]
    assert len({c.id for c in calls}) == 3
    assert response.message.text == "Checking."
    # Part order: text first, then the calls.
    assert [p.type for p in response.message.content] == [
        "text",
        "tool_call",
        "tool_call",
        "tool_call",
    ]
    assert server.last_chat().json["parallel_tool_calls"] is True


def test_openai_generates_an_id_when_the_server_sends_none(server, provider):
    server.script(tool_call("lookup", {"word": "x"}, id=""))

    response = provider.complete(chat("local-model", tools=[LOOKUP]))

    assert is_generated_call_id(response.message.tool_calls[0].id)


def test_openai_sends_tool_history_back_in_chat_completions_format(server, provider):
    server.script(
        tool_call("lookup", {"word": "moon"}, reasoning="I should look it up"),
        reply("The moon is round."),
    )
    first = provider.complete(chat("gpt-4o", tools=[LOOKUP]))
    call_part = first.message.tool_calls[0]

    provider.complete(
        chat(
            "gpt-4o",
            user("what is the moon?"),
            first.message,
            tool_result(call_part, '{"result": "round"}'),
            tools=[LOOKUP],
        )
    )

    messages = server.last_chat().json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assistant = messages[2]
    assert assistant["content"] is None
    assert assistant["tool_calls"] == [
        {
            "id": call_part.id,
            "type": "function",
            "function": {"name": "lookup", "arguments": call_part.arguments},
        }
    ]
    # Chat Completions has no field for reasoning: it is not sent back.
    assert "reasoning" not in json.dumps(assistant)
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": call_part.id,
        "content": '{"result": "round"}',
    }


def test_openai_captures_reasoning_content_from_compatible_servers(server, provider):
    server.script(reply("42", reasoning="six times seven"))
    events: list[StreamEvent] = []

    response = provider.complete(chat("deepseek-reasoner"), on_event=events.append)

    assert any(isinstance(e, ReasoningDelta) for e in events)
    [reasoning] = response.message.reasoning
    assert isinstance(reasoning, ReasoningPart)
    assert reasoning.text == "six times seven"
    assert reasoning.provider == "openai"
    assert [p.type for p in response.message.content] == ["reasoning", "text"]


def test_openai_reports_cached_and_reasoning_tokens(server, provider):
    server.script(
        reply(
            "hi",
            usage={
                "prompt_tokens": 1200,
                "completion_tokens": 80,
                "cached_tokens": 1024,
                "reasoning_tokens": 64,
            },
        )
    )

    response = provider.complete(chat("o4-mini"))

    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (1200, 80)
    assert usage.cached_input_tokens == 1024
    assert usage.reasoning_tokens == 64
    assert usage.total_tokens == 1280
    assert response.raw_response["usage"]["cached_input_tokens"] == 1024


def test_openai_plausible_usage_grows_with_the_prompt(server, provider):
    short = provider.complete(chat("gpt-4o"))
    long = provider.complete(chat("gpt-4o", user("word " * 400)))

    assert 0 < short.usage.prompt_tokens < long.usage.prompt_tokens
    assert short.usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("send_message", {"type": "function", "function": {"name": "send_message"}}),
    ],
)
def test_openai_serializes_tool_choice(server, provider, choice, wire):
    server.script(tool_call("send_message", {"message": "x"}))

    provider.complete(chat("gpt-4o", tools=[SEND_MESSAGE], tool_choice=choice))

    sent = server.last_chat().json
    assert sent["tool_choice"] == wire
    assert sent["tools"] == [{"type": "function", "function": SEND_MESSAGE}]
    assert sent["parallel_tool_calls"] is False


def test_openai_omits_tool_fields_when_there_are_no_tools(server, provider):
    provider.complete(chat("gpt-4o"))

    sent = server.last_chat().json
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(sent)


def test_openai_uses_max_completion_tokens_for_reasoning_models(server, provider):
    provider.complete(chat("o4-mini", max_tokens=500, temperature=0.2, reasoning=True))
    reasoning_body = server.last_chat().json
    provider.complete(chat("gpt-4o", max_tokens=500, temperature=0.2))
    classic_body = server.last_chat().json

    assert reasoning_body["max_completion_tokens"] == 500
    assert "max_tokens" not in reasoning_body
    assert "temperature" not in reasoning_body  # o-series accept only the default
    assert reasoning_body["reasoning_effort"] == "medium"
    assert classic_body["max_tokens"] == 500
    assert classic_body["temperature"] == 0.2
    assert "max_completion_tokens" not in classic_body


def test_openai_treats_gpt5_as_a_reasoning_model(server, provider):
    provider.complete(chat("gpt-5-mini", max_tokens=100, reasoning_effort="low"))

    sent = server.last_chat().json
    assert sent["max_completion_tokens"] == 100
    assert sent["reasoning_effort"] == "low"


def test_openai_forwards_every_event_in_order(server, provider):
    server.script(tool_call("lookup", {"word": "w"}, text="Let me see."))
    seen: list[str] = []

    provider.complete(
        chat("gpt-4o", tools=[LOOKUP]), on_event=lambda e: seen.append(type(e).__name__)
    )

    assert seen[0] == "TextDelta"
    assert seen.index("ToolCallDelta") > seen.index("TextDelta")
    assert seen[-2:] == ["FinishEvent", "UsageEvent"]


def test_openai_lists_models_with_context_windows_from_the_listing(server):
    server.models = [
        FakeModel("my-served-model", 65_536),
        FakeModel("gpt-4o", None),
        FakeModel("mystery", None),
        FakeModel("text-embedding-3-small", None),
    ]
    provider = OpenAIProvider(base_url=server.url + "/v1", api_key="k")

    models = {m.name: m for m in provider.list_models()}

    assert models["my-served-model"].context_window == 65_536
    assert models["my-served-model"].handle == "openai/my-served-model"
    assert models["gpt-4o"].context_window == 128_000  # from our table
    assert models["mystery"].context_window == 30_000  # Letta's fallback
    assert models["text-embedding-3-small"].kind == "embedding"
    assert models["text-embedding-3-small"].embedding_dim == 1536
    assert provider.context_window("my-served-model") == 65_536
    assert provider.context_window("mystery") is None


def test_openai_count_tokens_is_left_to_tiktoken(provider):
    assert provider.count_tokens(chat("gpt-4o")) is None


def test_openai_without_a_key_for_api_openai_com_is_not_configured():
    provider = OpenAIProvider(api_key=None)

    with pytest.raises(ProviderError) as info:
        provider.complete(chat("gpt-4o"))

    assert info.value.kind == "not_configured"
    assert info.value.retryable is False
    assert "OPENAI_API_KEY" in info.value.message


def test_openai_compatible_servers_need_no_key(server):
    provider = OpenAIProvider(base_url=server.url + "/v1", api_key=None)

    assert provider.complete(chat("local")).message.text == "ok"
