"""Engine messages → Letta's message union, and token deltas → Letta delta
chunks. Pure functions: no database, no server."""

import json
from datetime import UTC, datetime

import pytest

from memory import prompts
from memory.engine.state import DeltaEvent
from memory.store.letta_format import DeltaTranslator, Options, partial_json_string, to_letta
from memory.types import (
    AgentType,
    Message,
    MessageKind,
    ReasoningDelta,
    ReasoningPart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolReturnPart,
)

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def msg(role, parts, kind=MessageKind.ASSISTANT, **kw):
    return Message(
        role=role,
        content=parts,
        kind=kind,
        id="message-1",
        created_at=WHEN,
        run_id="run-1",
        step_id="step-1",
        **kw,
    )


def types(items):
    return [i["message_type"] for i in items]


def test_a_user_message_shows_the_users_own_words():
    message = msg(
        "user", [TextPart(prompts.user_envelope("Hi there", WHEN, "UTC"))], MessageKind.USER
    )
    (item,) = to_letta(message, AgentType.LETTA_V1)
    assert item["message_type"] == "user_message" and item["content"] == "Hi there"
    assert (
        item["date"] == WHEN.isoformat() and item["id"] == "message-1" and item["run_id"] == "run-1"
    )


def test_heartbeats_and_alerts_stay_json_as_letta_shows_them():
    beat = msg(
        "user", [TextPart(prompts.heartbeat_envelope("go on", WHEN, "UTC"))], MessageKind.HEARTBEAT
    )
    (item,) = to_letta(beat, AgentType.MEMGPT)
    assert (
        item["message_type"] == "user_message"
        and json.loads(item["content"])["type"] == "heartbeat"
    )


def test_a_summary_is_a_summary_message_with_its_stats():
    summary = msg(
        "user",
        [TextPart("{...}")],
        MessageKind.SUMMARY,
        meta={
            "summary": "We talked.",
            "compaction_stats": {
                "trigger": "manual",
                "context_window": 100,
                "messages_count_before": 9,
                "messages_count_after": 3,
            },
        },
    )
    (item,) = to_letta(summary, AgentType.LETTA_V1)
    assert item["message_type"] == "summary_message" and item["summary"] == "We talked."
    assert item["compaction_stats"]["messages_count_after"] == 3


def test_assistant_parts_become_reasoning_tool_calls_and_text_in_order():
    message = msg(
        "assistant",
        [
            ReasoningPart("plan", signature="sig"),
            TextPart("Done!"),
            ToolCallPart(id="c1", name="memory_insert", arguments='{"label": "human"}'),
        ],
    )
    items = to_letta(message, AgentType.LETTA_V1)
    assert types(items) == ["reasoning_message", "assistant_message", "tool_call_message"]
    assert items[0]["source"] == "reasoner_model" and items[0]["signature"] == "sig"
    assert items[2]["tool_call"] == {
        "name": "memory_insert",
        "arguments": '{"label": "human"}',
        "tool_call_id": "c1",
    }
    assert len({i["otid"] for i in items}) == 3 and {i["id"] for i in items} == {"message-1"}


def test_memgpt_text_is_inner_monologue_and_send_message_is_the_reply():
    call = ToolCallPart(
        id="c1", name="send_message", arguments='{"message": "Hello!", "request_heartbeat": false}'
    )
    message = msg("assistant", [TextPart("User greeted me."), call])
    items = to_letta(message, AgentType.MEMGPT_V2)
    assert types(items) == ["reasoning_message", "assistant_message"]
    assert items[0]["source"] == "non_reasoner_model" and items[1]["content"] == "Hello!"
    raw = to_letta(message, AgentType.MEMGPT_V2, Options(use_assistant_message=False))
    assert types(raw) == ["reasoning_message", "tool_call_message"]
    result = msg(
        "tool",
        [ToolReturnPart(tool_call_id="c1", name="send_message", content="{}")],
        MessageKind.TOOL,
    )
    assert to_letta(result, AgentType.MEMGPT_V2) == []
    assert types(to_letta(result, AgentType.MEMGPT_V2, Options(use_assistant_message=False))) == [
        "tool_return_message"
    ]


def test_a_custom_speaking_tool_can_be_named():
    call = ToolCallPart(id="c1", name="reply_to_user", arguments='{"text": "Hey"}')
    items = to_letta(
        msg("assistant", [call]),
        AgentType.MEMGPT,
        Options(assistant_message_tool_name="reply_to_user", assistant_message_tool_kwarg="text"),
    )
    assert items[0]["message_type"] == "assistant_message" and items[0]["content"] == "Hey"


def test_tool_returns_unwrap_the_envelope_and_keep_status_and_output():
    envelope = prompts.tool_result_envelope("Failed", "No such label", WHEN, "UTC")
    part = ToolReturnPart(
        tool_call_id="c9",
        name="memory_replace",
        content=envelope,
        status="error",
        stdout=["out"],
        stderr=["err"],
    )
    (item,) = to_letta(msg("tool", [part], MessageKind.TOOL, is_err=True), AgentType.LETTA_V1)
    assert (
        item["tool_return"] == "No such label"
        and item["status"] == "error"
        and item["is_err"] is True
    )
    assert item["stdout"] == ["out"] and item["tool_returns"][0]["tool_call_id"] == "c9"
    hidden = to_letta(
        msg("tool", [part], MessageKind.TOOL, is_err=True),
        AgentType.LETTA_V1,
        Options(include_err=False),
    )
    assert hidden == []


def test_a_call_waiting_for_approval_is_an_approval_request():
    call = ToolCallPart(id="c1", name="delete_everything", arguments="{}")
    items = to_letta(
        msg("assistant", [call], meta={"approval_pending": ["c1"]}), AgentType.LETTA_V1
    )
    assert (
        types(items) == ["approval_request_message"]
        and items[0]["tool_call"]["tool_call_id"] == "c1"
    )


def test_redacted_reasoning_is_hidden_reasoning():
    items = to_letta(msg("assistant", [ReasoningPart("", redacted="opaque")]), AgentType.LETTA_V1)
    assert items[0] == {**items[0], "message_type": "hidden_reasoning_message", "state": "redacted"}


def test_include_return_message_types_filters():
    message = msg("assistant", [ReasoningPart("plan"), TextPart("Done!")])
    only = to_letta(
        message, AgentType.LETTA_V1, Options(include_return_message_types=["assistant_message"])
    )
    assert types(only) == ["assistant_message"]


@pytest.mark.parametrize(
    "text", ["plain", 'quote " and \\ slash', "line\nbreak\ttab", "ünï 😀 emoji", ""]
)
def test_partial_send_message_arguments_stream_only_whole_characters(text):
    full = json.dumps({"message": text, "request_heartbeat": True})
    seen = ""
    for cut in range(len(full) + 1):
        value = partial_json_string(full[:cut], "message")
        if value is None:
            continue
        assert text.startswith(value), (cut, value)
        assert len(value) >= len(seen)
        seen = value
    assert seen == text


def test_ascii_escaped_emoji_split_between_chunks_is_held_back():
    full = json.dumps({"message": "a😀b"})  # ensure_ascii: a surrogate pair of \\u escapes
    assert "\\ud83d" in full
    for cut in range(len(full) + 1):
        value = partial_json_string(full[:cut], "message")
        assert value is None or "a😀b".startswith(value)


def test_the_delta_translator_streams_send_message_as_assistant_deltas():
    translator = DeltaTranslator(agent_type=AgentType.MEMGPT_V2, run_id="run-1")
    args = json.dumps({"message": "Hi Alice, welcome!", "request_heartbeat": False})
    chunks = [ReasoningDelta(text="Greet."), TextDelta(text="monologue")]
    chunks += [ToolCallDelta(index=0, id="c1", name="send_message")]
    chunks += [ToolCallDelta(index=0, arguments=args[i : i + 3]) for i in range(0, len(args), 3)]
    out = []
    for chunk in chunks:
        out += translator.feed(DeltaEvent(message_id="message-7", step_id="step-1", event=chunk))
    assert types(out[:2]) == ["reasoning_message", "reasoning_message"]
    assert (
        "".join(o["content"] for o in out if o["message_type"] == "assistant_message")
        == "Hi Alice, welcome!"
    )
    assert {o["id"] for o in out} == {"message-7"} and len({o["otid"] for o in out}) == len(out)
    done = msg("assistant", [ToolCallPart(id="c1", name="send_message", arguments=args)])
    done.id = "message-7"
    assert translator.completed(done) == []


def test_the_delta_translator_streams_other_tool_calls_as_argument_fragments():
    translator = DeltaTranslator(agent_type=AgentType.LETTA_V1)
    first = translator.feed(
        DeltaEvent("message-8", "step-1", ToolCallDelta(index=0, id="c2", name="lookup"))
    )
    more = translator.feed(
        DeltaEvent("message-8", "step-1", ToolCallDelta(index=0, arguments='{"q": 1}'))
    )
    assert first[0]["tool_call"] == {"name": "lookup", "tool_call_id": "c2"}
    assert more[0]["tool_call"] == {"arguments": '{"q": 1}', "tool_call_id": "c2"}
    waiting = msg(
        "assistant",
        [ToolCallPart(id="c2", name="lookup", arguments='{"q": 1}')],
        meta={"approval_pending": ["c2"]},
    )
    waiting.id = "message-8"
    assert types(translator.completed(waiting)) == ["approval_request_message"]
