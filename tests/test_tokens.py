"""Token counting: exact against tiktoken, offline, cached per message."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
import tiktoken
import tiktoken.registry

from memory.engine import tokens
from memory.engine.tokens import TokenCounter, encoding_for_model
from memory.types import (
    Message,
    MessageKind,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)

SAMPLES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. " * 20,
    "Ünïcödé, emoji 🎉🚀, 日本語のテキスト, and Ελληνικά.",
    'def f(x):\n    return {"a": [1, 2, 3]}\n\n\tindented\r\nwindows line',
    "<|endoftext|> is plain text here, not a special token",
    "   leading and trailing whitespace   \n\n\n",
]


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("token counting tried to use the network")


def test_first_use_installs_vocabularies_without_touching_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    # Forget every loaded encoding so this really is the first use.
    tokens.get_encoding.cache_clear()
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    try:
        for name in ("o200k_base", "cl100k_base"):
            assert tokens.get_encoding(name).encode_ordinary("offline") != []
    finally:
        tokens.get_encoding.cache_clear()
    for url, _ in tokens._VOCABULARIES.values():
        assert (tmp_path / hashlib.sha1(url.encode()).hexdigest()).is_file()


def test_an_empty_cache_dir_setting_falls_back_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tokens.cache_dir() == Path(tmp_path) / "ade" / "tiktoken"


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_text_counts_equal_tiktokens(model):
    counter = TokenCounter(model)
    reference = tiktoken.get_encoding(encoding_for_model(model))
    for text in SAMPLES:
        assert counter.count_text(text) == len(reference.encode_ordinary(text))


def test_empty_text_has_no_tokens():
    assert TokenCounter("gpt-4o").count_text("") == 0


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("openai/gpt-4.1-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("anthropic/claude-sonnet-4-5", "o200k_base"),
        ("gemini-2.5-flash", "o200k_base"),
        ("llama3.1:8b", "o200k_base"),
    ],
)
def test_encoding_for_model_follows_openais_families(model, encoding):
    assert encoding_for_model(model) == encoding


def test_a_message_is_counted_once_and_the_count_is_kept_on_it():
    counter = TokenCounter("gpt-4o")
    msg = Message(role="user", content=[TextPart("Remember that my cat is called Miso.")])
    first = counter.count_message(msg)
    assert msg.token_count == first
    msg.content = [TextPart("changed after counting " * 50)]
    assert counter.count_message(msg) == first  # history is never re-counted


def test_a_message_counts_role_framing_text_reasoning_tool_calls_and_returns():
    counter = TokenCounter("gpt-4o")
    args = json.dumps({"label": "human", "content": "Likes tea"})
    msg = Message(
        role="assistant",
        name="sam",
        content=[
            ReasoningPart("I should save this.", signature="opaque-signature"),
            TextPart("Saving it."),
            ToolCallPart(id="call_1", name="core_memory_append", arguments=args),
        ],
    )
    expected = (
        tokens.TOKENS_PER_MESSAGE
        + counter.count_text("assistant")
        + tokens.TOKENS_PER_NAME
        + counter.count_text("sam")
        + counter.count_text("I should save this.")
        + counter.count_text("Saving it.")
        + tokens.TOKENS_PER_TOOL_CALL
        + counter.count_text("core_memory_append")
        + counter.count_text(args)
    )
    assert counter.count_message(msg) == expected

    tool = Message(
        role="tool",
        kind=MessageKind.TOOL,
        content=[ToolReturnPart(tool_call_id="call_1", name="core_memory_append", content="OK")],
    )
    tool_expected = (
        tokens.TOKENS_PER_MESSAGE + counter.count_text("tool") + counter.count_text("OK")
    )
    assert counter.count_message(tool) == tool_expected


def test_count_messages_sums_the_messages():
    counter = TokenCounter("gpt-4o")
    messages = [Message(role="user", content=[TextPart(t)]) for t in SAMPLES]
    assert counter.count_messages(messages) == sum(counter.count_message(m) for m in messages)


def test_tools_are_counted_as_the_json_of_openai_tool_objects():
    counter = TokenCounter("gpt-4o")
    schema = {
        "name": "send_message",
        "description": "Say something.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    }
    as_object = {"type": "function", "function": schema}
    expected = counter.count_text(json.dumps(as_object, ensure_ascii=False, separators=(",", ":")))
    assert counter.count_tools([schema]) == expected
    assert counter.count_tools([as_object]) == expected
    assert counter.count_tools([schema, schema]) == 2 * expected


def test_repeated_text_is_served_from_the_cache():
    counter = TokenCounter("gpt-4o")
    counter.count_text("the same string")
    counter.count_text("the same string")
    assert counter._count_cached.cache_info().hits == 1


def test_counter_for_shares_one_counter_per_model():
    assert tokens.counter_for("gpt-4o") is tokens.counter_for("gpt-4o")
