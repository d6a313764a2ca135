"""Talking to an agent through /v1: JSON replies, SSE streams (steps and
tokens, pings, errors), approvals, queued runs and the worker, cancelling,
listing the conversation, compacting."""

import json
import threading

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent, sse_events
from tests.fakes.llm_server import delay, error, reply, tool_call

HI = {"messages": [{"role": "user", "content": "hi"}]}


def stream(api, agent_id, **options):
    body = {**HI, "streaming": True, **options}
    response = api.post(f"/v1/agents/{agent_id}/messages", body)
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    return sse_events(response)


def test_a_json_reply_is_a_letta_response(as_alice, fake_llm):
    agent = create_agent(as_alice)
    fake_llm.script(reply("Hello!", reasoning="They greeted me.", signature="sig-1"))
    body = as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": "hi"}).json()
    reasoning, answer = body["messages"]
    assert (
        reasoning["message_type"] == "reasoning_message" and reasoning["source"] == "reasoner_model"
    )
    assert reasoning["reasoning"] == "They greeted me."
    assert answer == {**answer, "message_type": "assistant_message", "content": "Hello!"}
    assert reasoning["id"] == answer["id"] and reasoning["otid"] != answer["otid"]
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    assert body["usage"]["message_type"] == "usage_statistics" and body["usage"]["step_count"] == 1


@pytest.mark.django_db(transaction=True)
def test_step_streaming_sends_one_event_per_message_then_stop_usage_and_done(as_alice, fake_llm):
    agent = create_agent(as_alice)
    fake_llm.script(
        tool_call("archival_memory_insert", {"content": "Alice likes tea"}), reply("Noted.")
    )
    events = stream(as_alice, agent["id"])
    kinds = [data["message_type"] if isinstance(data, dict) else data for _, data in events]
    assert kinds == [
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
        "[DONE]",
    ]
    seq = [data["seq_id"] for _, data in events[:3]]
    assert seq == sorted(seq)
    assert events[1][1]["status"] == "success" and events[2][1]["content"] == "Noted."


@pytest.mark.django_db(transaction=True)
def test_memgpt_token_streaming_speaks_only_the_send_message_text(as_alice, fake_llm):
    agent = create_agent(as_alice, agent_type="memgpt_v2_agent")
    spoken = 'Hello "Alice" — ünïcode 😀 and a \\ backslash\nnew line.'
    fake_llm.script(tool_call("send_message", {"message": spoken}, reasoning="Greet warmly."))
    events = stream(as_alice, agent["id"], stream_tokens=True)
    data = [d for _, d in events if isinstance(d, dict)]
    assistant = [d for d in data if d["message_type"] == "assistant_message"]
    assert "".join(d["content"] for d in assistant) == spoken
    assert len({d["id"] for d in assistant}) == 1
    reasoning = [d for d in data if d["message_type"] == "reasoning_message"]
    assert "".join(d["reasoning"] for d in reasoning) == "Greet warmly."
    kinds = {d["message_type"] for d in data}
    assert "tool_call_message" not in kinds and "tool_return_message" not in kinds
    assert data[-2]["stop_reason"] == "end_turn" and events[-1][1] == "[DONE]"


@pytest.mark.django_db(transaction=True)
def test_a_slow_model_gets_pings_while_the_client_waits(as_alice, fake_llm, settings):
    settings.SSE_PING_SECONDS = 0.05
    agent = create_agent(as_alice)
    fake_llm.script(delay(0.6, then=reply("Sorry for the wait.")))
    events = stream(as_alice, agent["id"])
    kinds = [d["message_type"] for _, d in events if isinstance(d, dict)]
    assert kinds.count("ping") >= 3 and kinds.index("ping") < kinds.index("assistant_message")
    assert kinds[-2:] == ["stop_reason", "usage_statistics"]
    settings.SSE_PING_SECONDS = 0.05
    fake_llm.script(delay(0.3, then=reply("quiet")))
    quiet = stream(as_alice, agent["id"], include_pings=False)
    assert "ping" not in [d["message_type"] for _, d in quiet if isinstance(d, dict)]


@pytest.mark.django_db(transaction=True)
def test_a_provider_failure_ends_the_stream_with_an_error_event(as_alice, fake_llm, settings):
    settings.LLM_MAX_RETRIES = 0
    agent = create_agent(as_alice)
    fake_llm.script(error(401, "bad key"))
    events = stream(as_alice, agent["id"])
    assert (
        events[-3][1]["message_type"] == "stop_reason"
        and events[-3][1]["stop_reason"] == "llm_api_error"
    )
    name, data = events[-2]
    assert name == "error" and data["message_type"] == "error_message" and data["run_id"]
    assert events[-1][1] == "[DONE]"


@pytest.mark.parametrize(
    ("script", "status", "kind"),
    [
        (error(401, "invalid x-api-key"), 401, "auth"),
        (error(429, retry_after=0), 429, "rate_limit"),
        (error(500, "upstream exploded"), 502, "server"),
        (error(400, "unknown parameter"), 400, "bad_request"),
    ],
)
def test_a_json_send_whose_model_call_fails_is_an_http_error_naming_the_cause(
    as_alice, fake_llm, settings, script, status, kind
):
    settings.LLM_MAX_RETRIES = 0
    agent = create_agent(as_alice)
    fake_llm.script(script)
    response = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    body = response.json()
    assert response.status_code == status and body["error_type"] == kind, body
    assert body["stop_reason"] == "llm_api_error" and body["run_id"] in body["detail"]
    # The run keeps the record; the user's message is kept in the conversation.
    run = as_alice.get(f"/v1/runs/{body['run_id']}").json()
    assert run["status"] == "failed" and run["stop_reason"] == "llm_api_error"
    said = as_alice.get(f"/v1/agents/{agent['id']}/messages").json()
    assert [m["content"] for m in said if m["message_type"] == "user_message"] == ["hi"]


def test_a_json_send_to_an_unconfigured_provider_says_which_key_is_missing(as_alice, monkeypatch):
    from tests.engine_helpers import set_provider_env

    set_provider_env(monkeypatch, "ANTHROPIC_API_KEY", "")
    agent = create_agent(as_alice, model="anthropic/claude-sonnet-4-5")
    response = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    body = response.json()
    assert response.status_code == 422 and body["error_type"] == "not_configured"
    assert "ANTHROPIC_API_KEY" in body["detail"]
    run = as_alice.get(f"/v1/runs/{body['run_id']}").json()
    assert run["status"] == "failed" and "ANTHROPIC_API_KEY" in run["error"]


def test_an_approval_pauses_the_turn_until_a_person_answers(as_alice, fake_llm):
    agent = create_agent(
        as_alice, tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(tool_call("archival_memory_insert", {"content": "secret plan"}, id="call-1"))
    body = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI).json()
    assert body["stop_reason"]["stop_reason"] == "requires_approval"
    request = body["messages"][-1]
    assert request["message_type"] == "approval_request_message"
    assert request["tool_call"]["tool_call_id"] == "call-1"
    pending = as_alice.get(f"/v1/agents/{agent['id']}").json()["pending_approval"]
    assert pending["tool_call"]["name"] == "archival_memory_insert"
    refused = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    assert refused.status_code == 409 and "approval" in refused.json()["detail"]
    fake_llm.script(reply("Saved it."))
    body = as_alice.post(
        f"/v1/agents/{agent['id']}/messages",
        {
            "messages": [
                {"type": "approval", "approvals": [{"tool_call_id": "call-1", "approve": True}]}
            ]
        },
    ).json()
    kinds = [m["message_type"] for m in body["messages"]]
    assert (
        kinds == ["tool_return_message", "assistant_message"]
        and body["stop_reason"]["stop_reason"] == "end_turn"
    )


def test_a_queued_run_is_executed_by_the_worker(as_alice, fake_llm):
    from memory.services.worker import worker_run_once

    agent = create_agent(as_alice)
    run = as_alice.post(f"/v1/agents/{agent['id']}/messages/async", HI).json()
    assert (
        run["status"] == "created" and run["agent_id"] == agent["id"] and run["background"] is True
    )
    assert "texts" not in run["request_config"]
    fake_llm.script(reply("Later."))
    assert worker_run_once() and not worker_run_once()
    done = as_alice.get(f"/v1/runs/{run['id']}").json()
    assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")
    usage = as_alice.get(f"/v1/runs/{run['id']}/usage").json()
    assert usage["step_count"] == 1 and usage["total_tokens"] > 0
    messages = as_alice.get(f"/v1/runs/{run['id']}/messages").json()
    assert [m["message_type"] for m in messages] == ["user_message", "assistant_message"]


def test_a_queued_run_cancelled_before_it_starts_never_runs(as_alice, fake_llm):
    from memory.services.worker import worker_run_once

    agent = create_agent(as_alice)
    run = as_alice.post(f"/v1/agents/{agent['id']}/messages/async", HI).json()
    cancelled = as_alice.post(f"/v1/agents/{agent['id']}/messages/cancel", {}).json()
    assert cancelled == {run["id"]: "cancelled"}
    assert not worker_run_once()
    assert as_alice.get(f"/v1/runs/{run['id']}").json()["status"] == "cancelled"
    assert fake_llm.chat_requests() == []


def test_a_turn_in_between_does_not_fail_a_queued_run(as_alice, fake_llm):
    from memory.services.worker import worker_run_once

    agent = create_agent(as_alice)
    run = as_alice.post(f"/v1/agents/{agent['id']}/messages/async", HI).json()
    fake_llm.script(reply("now"), reply("later"))
    as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    assert worker_run_once()
    assert as_alice.get(f"/v1/runs/{run['id']}").json()["status"] == "completed"


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_a_run_exactly_once(as_alice, fake_llm):
    from django.db import connection

    from memory.services.worker import worker_claim, worker_release

    # Three agents: runs of one agent are claimed one at a time (tests/test_run_claims.py).
    agents = [create_agent(as_alice) for _ in range(3)]
    runs = [
        as_alice.post(f"/v1/agents/{agent['id']}/messages/async", HI).json()["id"]
        for agent in agents
    ]
    claimed: list[str] = []
    barrier = threading.Barrier(6)

    def claim():
        barrier.wait()
        try:
            run = worker_claim()
            if run is not None:
                claimed.append(run.id)
                worker_release(run)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(runs)


def test_the_conversation_lists_in_pages_with_letta_types(as_alice, fake_llm):
    agent = create_agent(as_alice, agent_type="memgpt_v2_agent")
    for word in ("one", "two", "three"):
        fake_llm.script(
            tool_call("send_message", {"message": f"reply {word}"}, text=f"thinking {word}")
        )
        as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": word})
    path = f"/v1/agents/{agent['id']}/messages"
    everything = as_alice.get(path, order="asc", limit=100).json()
    kinds = [m["message_type"] for m in everything]
    assert kinds == ["user_message", "reasoning_message", "assistant_message"] * 3
    assert (
        everything[1]["source"] == "non_reasoner_model" and everything[2]["content"] == "reply one"
    )
    first = as_alice.get(path, order="asc", limit=2).json()
    rest = as_alice.get(path, order="asc", limit=100, after=first[-1]["id"]).json()
    stored_ids = list(dict.fromkeys(m["id"] for m in everything))
    assert list(dict.fromkeys(m["id"] for m in first + rest)) == stored_ids
    newest = as_alice.get(
        path, limit=1
    ).json()  # the newest stored message is a hidden send_message result
    assert [m["message_type"] for m in newest] == ["assistant_message", "reasoning_message"]
    assert newest[0]["content"] == "reply three"
    just_before = as_alice.get(path, order="asc", limit=1, before=everything[-1]["id"]).json()
    assert [(m["message_type"], m["content"]) for m in just_before] == [("user_message", "three")]
    only = as_alice.get(
        path, order="asc", include_return_message_types=["assistant_message"]
    ).json()
    assert [m["content"] for m in only] == ["reply one", "reply two", "reply three"]
    raw = as_alice.get(path, order="asc", use_assistant_message=False).json()
    assert "tool_call_message" in [m["message_type"] for m in raw]
    assert "tool_return_message" in [m["message_type"] for m in raw]


def test_summarize_folds_the_window_into_a_summary(as_alice, fake_llm):
    agent = create_agent(as_alice)
    for word in ("alpha", "beta", "gamma"):
        fake_llm.script(reply(f"ok {word}"))
        as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": word})
    fake_llm.script(reply("Alice said alpha, beta and gamma."))
    body = as_alice.post(f"/v1/agents/{agent['id']}/summarize").json()
    assert body["summary"] == "Alice said alpha, beta and gamma."
    assert body["num_messages_after"] < body["num_messages_before"]
    context = as_alice.get(f"/v1/agents/{agent['id']}/context").json()
    assert context["num_tokens_summary_memory"] > 0 and "alpha, beta" in context["summary_memory"]


def test_recompile_returns_the_system_prompt(as_alice):
    agent = create_agent(as_alice)
    as_alice.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/human", {"value": "Name: Alice"})
    dry = as_alice.post(f"/v1/agents/{agent['id']}/recompile?dry_run=true").json()
    assert "Name: Alice" in dry
    stored = as_alice.post(f"/v1/agents/{agent['id']}/recompile").json()
    assert "Name: Alice" in stored and json.dumps(stored)
