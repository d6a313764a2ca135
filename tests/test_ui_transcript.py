"""How each kind of message is shown in the chat simulator (pure shaping)."""

import json

from memory.web.transcript import chat_entry
from tests.ui_helpers import *  # noqa: F403 - fixtures


def msg(kind, role, *parts, **extra):
    return {
        "id": "m1",
        "kind": kind,
        "role": role,
        "content": list(parts),
        "run_id": "r1",
        "created_at": "2026-01-01T10:00:00+00:00",
        "is_err": False,
        "meta": {},
        **extra,
    }


def text(value):
    return {"type": "text", "text": value}


def test_user_messages_show_the_words_not_the_envelope():
    entry = chat_entry(
        msg("user_message", "user", text(json.dumps({"type": "user_message", "message": "Hi"})))
    )
    assert (entry["kind"], entry["text"]) == ("user", "Hi")
    assert entry["created_at"].year == 2026


def test_assistant_messages_carry_reasoning_text_and_pretty_tool_arguments():
    entry = chat_entry(
        msg(
            "assistant",
            "assistant",
            {"type": "reasoning", "text": "think"},
            text("Hello"),
            {"type": "tool_call", "id": "c1", "name": "memory_insert", "arguments": '{"a":1}'},
        )
    )
    assert entry["reasoning"] == ["think"] and entry["text"] == "Hello"
    assert entry["tool_calls"] == [
        {
            "id": "c1",
            "name": "memory_insert",
            "arguments": '{\n  "a": 1\n}',
            "awaiting_approval": False,
        }
    ]


def test_send_message_is_the_agent_speaking_and_its_routine_return_is_hidden():
    entry = chat_entry(
        msg(
            "assistant",
            "assistant",
            {
                "type": "tool_call",
                "id": "c1",
                "name": "send_message",
                "arguments": '{"message": "Yo"}',
            },
        )
    )
    assert entry["said"] == "Yo" and entry["tool_calls"] == []
    ok = {
        "type": "tool_return",
        "tool_call_id": "c1",
        "name": "send_message",
        "status": "success",
        "content": json.dumps({"status": "OK", "message": "None"}),
    }
    assert chat_entry(msg("tool_return", "tool", ok)) is None
    failed = dict(ok, status="error", content=json.dumps({"status": "Failed", "message": "boom"}))
    entry = chat_entry(msg("tool_return", "tool", failed))
    assert entry["ok"] is False and entry["result"] == "boom"


def test_tool_results_errors_heartbeats_alerts_and_summaries_are_distinct():
    ret = {
        "type": "tool_return",
        "tool_call_id": "c",
        "name": "lookup",
        "status": "success",
        "content": json.dumps({"status": "OK", "message": '{"x": 1}'}),
        "stdout": ["out"],
    }
    entry = chat_entry(msg("tool_return", "tool", ret))
    assert (
        entry["kind"] == "tool"
        and entry["ok"]
        and entry["result"] == '{\n  "x": 1\n}'
        and entry["stdout"] == "out"
    )
    beat = chat_entry(
        msg("heartbeat", "user", text(json.dumps({"type": "heartbeat", "reason": "go on"})))
    )
    assert (beat["kind"], beat["text"]) == ("heartbeat", "go on")
    alert = chat_entry(
        msg("system_alert", "user", text(json.dumps({"type": "system_alert", "message": "hot"})))
    )
    assert (alert["kind"], alert["label"], alert["text"]) == ("event", "system alert", "hot")
    summary = chat_entry(
        msg("summary", "user", text("x"), meta={"summary": "S", "hidden_count": 4})
    )
    assert (summary["kind"], summary["hidden"], summary["text"]) == ("summary", 4, "S")


def test_the_system_prompt_is_not_a_chat_message_and_approvals_wait_until_answered():
    assert chat_entry(msg("system", "system", text("You are..."))) is None
    call = {"type": "tool_call", "id": "c9", "name": "delete_everything", "arguments": "{}"}
    waiting = msg("assistant", "assistant", call, meta={"approval_pending": ["c9"]})
    assert chat_entry(waiting)["tool_calls"][0]["awaiting_approval"] is True
    assert chat_entry(waiting, answered={"c9"})["tool_calls"][0]["awaiting_approval"] is False


def test_unparseable_envelopes_and_arguments_are_shown_raw():
    assert chat_entry(msg("user_message", "user", text("plain")))["text"] == "plain"
    entry = chat_entry(
        msg(
            "assistant",
            "assistant",
            {"type": "tool_call", "id": "c", "name": "f", "arguments": '{"broken'},
        )
    )
    assert entry["tool_calls"][0]["arguments"] == '{"broken'
