"""GeminiProvider against the fake server through the real google-genai SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from memory.llm.base import is_generated_call_id
from memory.llm.errors import ProviderError
from memory.llm.gemini import GeminiProvider
from memory.types import (
    Message,
    MessageKind,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from tests.fakes import LOOKUP, SEND_MESSAGE, chat, tool_result, user
from tests.fakes.llm_server import (
    FakeLLMServer,
    FakeModel,
    call,
    error,
    reply,
    tool_call,
    tool_calls,
)

MODEL = "gemini-2.5-flash"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def provider(server: FakeLLMServer) -> GeminiProvider:
    return GeminiProvider(base_url=server.url, api_key="gm-test", timeout=5)


def field(obj: dict[str, Any], snake: str) -> Any:
    """A wire field in either spelling: the SDK camel-cases some levels of the
    body and passes others through, and the API accepts both."""
    head, *rest = snake.split("_")
    camel = head + "".join(w.title() for w in rest)
    return obj[camel] if camel in obj else obj[snake]


def test_gemini_assembles_a_streamed_text_reply(server, provider):
    server.script(reply("Hello from Gemini."))

    response = provider.complete(chat(MODEL))

    assert response.message.text == "Hello from Gemini."
    assert response.message.kind is MessageKind.ASSISTANT
    assert response.finish_reason == "stop"
    sent = server.last_chat()
    assert sent.path.endswith(f"/models/{MODEL}:streamGenerateContent")
    assert sent.query == {"alt": ["sse"]}
    assert sent.headers["x-goog-api-key"] == "gm-test"
    assert field(sent.json, "system_instruction")["parts"] == [{"text": "You are a helpful agent."}]
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    json.dumps(response.raw_request)  # the recorded payload is plain JSON


def test_gemini_function_call_gets_a_generated_id(server, provider):
    server.script(tool_call("send_message", {"message": "hello"}))

    response = provider.complete(chat(MODEL, tools=[SEND_MESSAGE]))

    [call_part] = response.message.tool_calls
    assert call_part.name == "send_message"
    assert json.loads(call_part.arguments) == {"message": "hello"}
    assert is_generated_call_id(call_part.id)
    assert response.finish_reason == "tool_calls"
    declaration = field(server.last_chat().json["tools"][0], "function_declarations")[0]
    assert declaration["name"] == "send_message"
    # Full JSON Schema travels as-is (additionalProperties included).
    assert field(declaration, "parameters_json_schema") == SEND_MESSAGE["parameters"]


def test_gemini_parallel_calls_and_their_responses_match_by_name(server, provider):
    server.script(
        tool_calls([call("lookup", {"word": "sun"}), call("send_message", {"message": "wait"})]),
        reply("done"),
    )
    first = provider.complete(chat(MODEL, tools=[LOOKUP, SEND_MESSAGE]))
    lookup_call, send_call = first.message.tool_calls

    provider.complete(
        chat(
            MODEL,
            user("go"),
            first.message,
            tool_result(lookup_call, '{"definition": "a star"}'),
            tool_result(send_call, "sent"),
            tools=[LOOKUP, SEND_MESSAGE],
        )
    )

    contents = server.last_chat().json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    calls = [field(p, "function_call") for p in contents[1]["parts"]]
    assert [c["name"] for c in calls] == ["lookup", "send_message"]
    assert all("id" not in c for c in calls)  # ids we made up are not Gemini's to see
    responses = [field(p, "function_response") for p in contents[2]["parts"]]
    assert responses == [
        {"name": "lookup", "response": {"definition": "a star"}},
        {"name": "send_message", "response": {"output": "sent"}},
    ]


def test_gemini_own_call_ids_are_sent_back(server, provider):
    server.script(tool_call("lookup", {"word": "x"}, id="fc-7"))
    first = provider.complete(chat(MODEL, tools=[LOOKUP]))
    assert first.message.tool_calls[0].id == "fc-7"

    provider.complete(
        chat(
            MODEL,
            user("q"),
            first.message,
            tool_result(first.message.tool_calls[0], "bad", status="error"),
            tools=[LOOKUP],
        )
    )

    contents = server.last_chat().json["contents"]
    assert field(contents[1]["parts"][0], "function_call")["id"] == "fc-7"
    assert field(contents[2]["parts"][0], "function_response") == {
        "id": "fc-7",
        "name": "lookup",
        "response": {"error": "bad"},
    }


def test_gemini_thought_signatures_round_trip(server, provider):
    server.script(
        tool_call(
            "lookup",
            {"word": "tide"},
            reasoning="Need the tide tables.",
            signature="VEhPVUdIVA==",
            call_signature="Q0FMTA==",
        ),
        reply("ok"),
    )

    first = provider.complete(chat(MODEL, tools=[LOOKUP], reasoning=True))

    [reasoning] = first.message.reasoning
    assert (reasoning.text, reasoning.signature) == ("Need the tide tables.", "VEhPVUdIVA==")
    assert reasoning.provider == "gemini"
    assert first.message.tool_calls[0].signature == "Q0FMTA=="

    provider.complete(
        chat(
            MODEL,
            user("tides"),
            first.message,
            tool_result(first.message.tool_calls[0]),
            tools=[LOOKUP],
        )
    )

    model_parts = server.last_chat().json["contents"][1]["parts"]
    assert model_parts[0]["text"] == "Need the tide tables."
    assert model_parts[0]["thought"] is True
    assert field(model_parts[0], "thought_signature") == "VEhPVUdIVA=="
    assert field(model_parts[1], "thought_signature") == "Q0FMTA=="


def test_gemini_signature_on_a_text_part_goes_back_on_the_text(server, provider):
    server.script(reply("Plain answer.", signature="VEVYVA=="))

    first = provider.complete(chat(MODEL))
    assert first.message.reasoning[0].signature == "VEVYVA=="
    provider.complete(chat(MODEL, user("q"), first.message, user("more")))

    [text_part] = server.last_chat().json["contents"][1]["parts"]
    assert text_part["text"] == "Plain answer."
    assert field(text_part, "thought_signature") == "VEVYVA=="


def test_gemini_signature_on_a_function_call_without_thoughts_round_trips(server, provider):
    server.script(tool_call("lookup", {"word": "x"}, signature="RklSU1Q="))

    first = provider.complete(chat(MODEL, tools=[LOOKUP]))
    assert first.message.reasoning == []
    assert first.message.tool_calls[0].signature == "RklSU1Q="
    provider.complete(
        chat(
            MODEL,
            user("q"),
            first.message,
            tool_result(first.message.tool_calls[0]),
            tools=[LOOKUP],
        )
    )

    [call_part] = server.last_chat().json["contents"][1]["parts"]
    assert field(call_part, "thought_signature") == "RklSU1Q="


def test_gemini_drops_reasoning_from_other_providers(server, provider):
    foreign = Message(
        role="assistant",
        content=[
            ReasoningPart(text="claude thinking", signature="abc", provider="anthropic"),
            TextPart("Hi!"),
        ],
    )

    provider.complete(chat(MODEL, user("hello"), foreign, user("next")))

    assert server.last_chat().json["contents"][1]["parts"] == [{"text": "Hi!"}]


def test_gemini_raw_tool_arguments_that_are_not_json_still_form_an_object(server, provider):
    broken = ToolCallPart(id="call_x", name="lookup", arguments='{"word": ')

    provider.complete(
        chat(
            MODEL,
            user("q"),
            Message(role="assistant", content=[broken]),
            tool_result(broken),
            tools=[LOOKUP],
        )
    )

    fc = field(server.last_chat().json["contents"][1]["parts"][0], "function_call")
    assert fc["args"] == {"_raw_arguments": '{"word": '}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("lookup", {"mode": "ANY", "allowedFunctionNames": ["lookup"]}),
    ],
)
def test_gemini_serializes_tool_config(server, provider, choice, expected):
    server.script(tool_call("lookup", {"word": "w"}))

    provider.complete(chat(MODEL, tools=[LOOKUP], tool_choice=choice))

    config = field(field(server.last_chat().json, "tool_config"), "function_calling_config")
    normalised = {
        ("allowedFunctionNames" if k == "allowed_function_names" else k): v
        for k, v in config.items()
    }
    assert normalised == expected


def test_gemini_requests_thoughts_and_generation_limits(server, provider):
    provider.complete(
        chat(MODEL, reasoning=True, max_reasoning_tokens=512, max_tokens=900, temperature=0.3)
    )

    generation = field(server.last_chat().json, "generation_config")
    thinking = field(generation, "thinking_config")
    assert field(thinking, "include_thoughts") is True
    assert field(thinking, "thinking_budget") == 512
    assert field(generation, "max_output_tokens") == 900
    assert generation["temperature"] == 0.3


def test_gemini_usage_counts_thoughts_and_cached_content(server, provider):
    server.script(
        reply(
            "hi",
            reasoning="hmm",
            usage={
                "prompt_tokens": 900,
                "completion_tokens": 70,
                "cached_tokens": 512,
                "reasoning_tokens": 50,
            },
        )
    )

    usage = provider.complete(chat(MODEL, reasoning=True)).usage

    assert usage.prompt_tokens == 900
    assert usage.completion_tokens == 70  # candidates + thoughts
    assert usage.reasoning_tokens == 50
    assert usage.cached_input_tokens == 512


def test_gemini_counts_tokens_with_the_count_api(server, provider):
    server.count_tokens_value = 321

    assert provider.count_tokens(chat(MODEL, tools=[LOOKUP])) == 321

    [sent] = [r for r in server.requests if r.group == "count_tokens"]
    assert sent.path.endswith(f"/models/{MODEL}:countTokens")
    # The system prompt rides along as text (the Developer API counts contents only).
    assert "You are a helpful agent." in json.dumps(sent.json)


def test_gemini_count_tokens_returns_none_when_the_api_fails(server, provider):
    server.script_for("count_tokens", error(503))

    assert provider.count_tokens(chat(MODEL)) is None


def test_gemini_lists_chat_and_embedding_models(server):
    server.models = [
        FakeModel("gemini-2.5-pro", 1_048_576),
        FakeModel("gemini-embedding-001", 2048, ("embedding",)),
    ]
    provider = GeminiProvider(base_url=server.url, api_key="k")

    models = {m.name: m for m in provider.list_models()}

    assert models["gemini-2.5-pro"].kind == "llm"
    assert models["gemini-2.5-pro"].context_window == 1_048_576
    assert models["gemini-2.5-pro"].handle == "gemini/gemini-2.5-pro"
    assert models["gemini-embedding-001"].kind == "embedding"
    assert models["gemini-embedding-001"].embedding_dim == 3072


def test_gemini_reads_the_retry_delay_google_puts_in_the_error_body(server, provider):
    server.script(
        error(
            429,
            body={
                "error": {
                    "code": 429,
                    "message": "Quota exceeded",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
                    ],
                }
            },
        )
    )

    with pytest.raises(ProviderError) as info:
        provider.complete(chat(MODEL))

    assert (info.value.kind, info.value.retryable, info.value.retry_after) == (
        "rate_limit",
        True,
        17.0,
    )


def test_a_base_url_written_with_an_api_version_keeps_that_version(server):
    provider = GeminiProvider(base_url=server.url + "/v1beta/", api_key="k")

    provider.complete(chat(MODEL))

    assert server.last_chat().path == f"/v1beta/models/{MODEL}:streamGenerateContent"


def test_gemini_without_a_key_is_not_configured():
    with pytest.raises(ProviderError) as info:
        GeminiProvider(api_key=None).complete(chat(MODEL))

    assert info.value.kind == "not_configured"
    assert "GEMINI_API_KEY" in info.value.message
