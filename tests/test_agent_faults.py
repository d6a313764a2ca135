"""Provider faults, overflow, orphaned tool calls, approvals and concurrency:
the agent keeps working and its state stays consistent."""

import json
import threading

import pytest

from agents.errors import Conflict
from agents.models import Agent
from agents.services.lifecycle import agent_create
from memory import models as m
from memory.engine.state import ApprovalDecision
from memory.services.turns import message_send
from memory.types import StopReason
from tests.engine_helpers import fake_llm, fast_config, set_provider_env, tool_results  # noqa: F401
from tests.fakes.llm_server import context_overflow, disconnect, error, reply, tool_call, truncated


def make_agent(owner, **kw):
    kw.setdefault("agent_type", "letta_v1_agent")
    return agent_create(
        owner=owner,
        name="Sam",
        model="openai/gpt-4o-mini",
        memory_blocks=[{"label": "human", "value": "Name: Alice", "limit": 2000}],
        **kw,
    )


def window(agent):
    return Agent.objects.get(pk=agent.pk).message_ids


def test_rate_limits_and_server_errors_are_retried(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(error(429, retry_after=0), error(500), disconnect(), reply("made it"))
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN and result.messages[-1].text == "made it"
    assert len(fake_llm.chat_requests()) == 4


def test_a_provider_that_keeps_failing_ends_the_turn_cleanly(alice, fake_llm):
    agent = make_agent(alice)
    before = window(agent)
    fake_llm.script(*[error(500)] * 5)
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config(max_retries=2))
    assert result.stop_reason == StopReason.LLM_API_ERROR and result.error
    run = m.Run.objects.get(pk=result.run_id)
    assert run.status == "failed" and run.stop_reason == "llm_api_error"
    step = m.Step.objects.get(run=run)
    assert step.status == "failed" and step.error_type == "server"
    # The user's message is kept; nothing half-written follows it.
    after = window(agent)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    fake_llm.script(reply("back again"))
    again = message_send(agent=agent, texts=["still there?"], user=alice, config=fast_config())
    assert again.stop_reason == StopReason.END_TURN


def test_auth_errors_are_not_retried_and_say_so(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(error(401))
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.LLM_API_ERROR and len(fake_llm.chat_requests()) == 1


def test_truncated_streams_are_retried(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(truncated(tool_call("conversation_search", {"query": "x"})), reply("fine"))
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN


def test_a_missing_provider_key_names_the_variable_to_set(alice, monkeypatch):
    set_provider_env(monkeypatch, "ANTHROPIC_API_KEY", "")
    agent = agent_create(owner=alice, name="Claude", model="anthropic/claude-sonnet-4-5")
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.LLM_API_ERROR and "ANTHROPIC_API_KEY" in result.error


def test_an_orphaned_tool_call_is_repaired_before_the_next_request(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(tool_call("conversation_search", {"query": "x"}), reply("ok"))
    message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    # Simulate a crash between the call and its result: drop the result from the window.
    row = Agent.objects.get(pk=agent.pk)
    tool_msg = m.Message.objects.filter(agent=agent, role="tool").last()
    row.message_ids = [i for i in row.message_ids if i != tool_msg.id]
    row.save(update_fields=["message_ids"])
    fake_llm.script(reply("recovered"))
    result = message_send(agent=agent, texts=["again"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN
    sent = fake_llm.last_chat().json["messages"]
    calls = [
        c["id"] for msg in sent if msg["role"] == "assistant" for c in msg.get("tool_calls") or []
    ]
    answered = [msg["tool_call_id"] for msg in sent if msg["role"] == "tool"]
    assert calls and set(calls) <= set(answered)
    assert any(
        "interrupted" in json.loads(msg["content"])["message"]
        for msg in sent
        if msg["role"] == "tool"
    )


def test_a_run_left_running_by_a_crash_is_marked_failed(alice, fake_llm):
    agent = make_agent(alice)
    dead = m.Run.objects.create(agent=agent, status="running")
    fake_llm.script(reply("hi"))
    message_send(agent=agent, texts=["hello"], user=alice, config=fast_config())
    dead.refresh_from_db()
    assert dead.status == "failed" and dead.stop_reason == "error"


def test_context_overflow_from_the_provider_compacts_and_retries(alice, fake_llm):
    agent = make_agent(alice)
    for i in range(6):
        fake_llm.script(reply(f"answer {i} " + "words " * 40))
        message_send(
            agent=agent, texts=[f"question {i} " + "filler " * 40], user=alice, config=fast_config()
        )
    stored_before = m.Message.objects.filter(agent=agent).count()
    fake_llm.script(context_overflow(), reply("SUMMARY: Alice asked six questions."), reply("done"))
    result = message_send(agent=agent, texts=["one more"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN
    row = Agent.objects.get(pk=agent.pk)
    summary = m.Message.objects.get(pk=row.message_ids[1])
    assert summary.kind == "summary" and "six questions" in summary.meta["summary"]
    assert summary.meta["compaction_stats"]["trigger"] == "context_overflow"
    # Evicted messages stay in recall memory.
    assert m.Message.objects.filter(agent=agent).count() > stored_before
    assert len(row.message_ids) < stored_before


def test_a_full_window_is_summarized_automatically_after_a_pressure_warning(alice, fake_llm):
    agent = make_agent(alice, context_window_limit=2600)
    saw_warning = False
    for i in range(12):
        fake_llm.script(
            reply(f"answer {i} " + "words " * 30),
            reply("SUMMARY: we chatted."),
            reply(f"answer {i} again"),
        )
        message_send(
            agent=agent, texts=[f"question {i} " + "filler " * 30], user=alice, config=fast_config()
        )
        saw_warning = (
            saw_warning or m.Message.objects.filter(agent=agent, kind="system_alert").exists()
        )
        if m.Message.objects.filter(agent=agent, kind="summary").exists():
            break
    assert saw_warning
    summary = m.Message.objects.get(agent=agent, kind="summary")
    assert summary.meta["compaction_stats"]["trigger"] == "threshold"
    assert Agent.objects.get(pk=agent.pk).message_ids[1] == summary.id


def test_a_system_prompt_bigger_than_the_window_gives_a_clear_error(alice, fake_llm, settings):
    # By default such an agent is refused at creation (tests/test_block_window.py);
    # accepted under the warn policy, its turns say why they cannot run.
    settings.BLOCK_WINDOW_POLICY = "warn"
    agent = agent_create(
        owner=alice,
        name="Big",
        model="openai/gpt-4o-mini",
        context_window_limit=300,
        memory_blocks=[{"label": "human", "value": "fact " * 200, "limit": 5000}],
    )
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.CONTEXT_WINDOW_OVERFLOW_IN_SYSTEM_PROMPT
    assert "context window" in result.error and not fake_llm.chat_requests()


def test_a_tool_that_requires_approval_waits_for_a_human(alice, fake_llm):
    agent = make_agent(
        alice, tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(
        tool_call("archival_memory_insert", {"content": "secret plan"}, id="call_approve_1")
    )
    result = message_send(agent=agent, texts=["save this"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.REQUIRES_APPROVAL
    assert not m.Passage.objects.filter(archive__agents=agent).exists()
    with pytest.raises(Conflict, match="waiting for approval"):
        message_send(agent=agent, texts=["hello?"], user=alice, config=fast_config())
    fake_llm.script(reply("Saved."))
    done = message_send(
        agent=agent,
        texts=[],
        user=alice,
        config=fast_config(),
        approvals=[ApprovalDecision(tool_call_id="call_approve_1", approve=True)],
    )
    assert done.stop_reason == StopReason.END_TURN
    assert m.Passage.objects.get(archive__agents=agent).text == "secret plan"


def test_a_denied_tool_call_tells_the_model_why(alice, fake_llm):
    agent = make_agent(
        alice, tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(tool_call("archival_memory_insert", {"content": "x"}, id="call_deny_1"))
    message_send(agent=agent, texts=["save this"], user=alice, config=fast_config())
    fake_llm.script(reply("OK, I won't."))
    done = message_send(
        agent=agent,
        texts=[],
        user=alice,
        config=fast_config(),
        approvals=[ApprovalDecision(tool_call_id="call_deny_1", approve=False, reason="no")],
    )
    ((name, status, text),) = tool_results(done)
    assert status == "error" and "denied" in text and "no" in text


def test_a_custom_tool_runs_in_the_sandbox_without_server_secrets(alice, fake_llm, monkeypatch):
    from agents.models import Tool
    from memory.tools.base import schema_from_source

    monkeypatch.setenv("ADE_TEST_SECRET", "hunter2")
    source = '''
import os

def read_env(name: str) -> str:
    """Return an environment variable.

    Args:
        name: the variable
    """
    return os.environ.get(name, "<unset>") + "|" + os.environ.get("GREETING", "")
'''
    tool = Tool.objects.create(
        name="read_env",
        organization=alice.organization,
        source_code=source,
        json_schema=schema_from_source(source),
    )
    agent = make_agent(alice, tools=["read_env"], tool_env={"GREETING": "hello"})
    fake_llm.script(tool_call("read_env", {"name": "ADE_TEST_SECRET"}), reply("done"))
    result = message_send(agent=agent, texts=["go"], user=alice, config=fast_config())
    ((_, status, text),) = tool_results(result)
    assert status == "success" and text == "<unset>|hello" and tool.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_messages_to_one_agent_are_processed_in_turn(fake_llm):
    from agents.models import User

    owner = User.objects.create_user(username="dora", password="x-pass-123")
    agent = make_agent(owner)
    fake_llm.default_turn = reply("ok")
    errors = []

    def send(i):
        from django.db import connection

        try:
            message_send(agent=agent, texts=[f"message {i}"], user=owner, config=fast_config())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    runs = m.Run.objects.filter(agent=agent)
    assert runs.count() == 6 and set(runs.values_list("status", flat=True)) == {"completed"}
    row = Agent.objects.get(pk=agent.pk)
    kinds = list(m.Message.objects.filter(pk__in=row.message_ids).values_list("kind", flat=True))
    # Every turn is whole: user message then reply, never interleaved.
    convo = [k for k in kinds if k in ("user_message", "assistant")]
    assert convo == ["user_message", "assistant"] * 6


def test_a_slow_provider_times_out_and_is_retried(alice, fake_llm, settings):
    from tests.fakes.llm_server import delay

    settings.LLM_TIMEOUT = 0.5
    agent = make_agent(alice)
    fake_llm.script(delay(3, then=reply("too late")), reply("in time"))
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN and result.messages[-1].text == "in time"


def test_a_run_cancelled_mid_turn_stops_before_the_next_step(alice, fake_llm):
    from memory.engine.state import StepEvent
    from memory.services.runs import run_cancel

    agent = make_agent(alice)
    fake_llm.script(tool_call("conversation_search", {"query": "a"}), reply("never sent"))
    run = m.Run.objects.create(agent=agent, status="created")

    def on_event(event):
        if isinstance(event, StepEvent):
            run_cancel(run=m.Run.objects.get(pk=run.pk))

    result = message_send(
        agent=agent, texts=["hi"], user=alice, config=fast_config(), emit=on_event, run=run
    )
    assert result.stop_reason == StopReason.CANCELLED and len(fake_llm.chat_requests()) == 1
    assert m.Run.objects.get(pk=run.pk).status == "cancelled"


def test_tokens_stream_as_deltas_with_the_final_message_id(alice, fake_llm):
    from memory.engine.state import DeltaEvent, MessageEvent

    agent = make_agent(alice)
    fake_llm.script(reply("A fairly long answer that arrives in several pieces."))
    events = []
    result = message_send(
        agent=agent, texts=["hi"], user=alice, config=fast_config(), emit=events.append
    )
    deltas = [e for e in events if isinstance(e, DeltaEvent)]
    final = result.messages[-1]
    assert len(deltas) > 1 and {d.message_id for d in deltas} == {final.id}
    assert "".join(getattr(d.event, "text", "") for d in deltas) == final.text
    assert any(isinstance(e, MessageEvent) and e.message.id == final.id for e in events)


def test_tool_rules_force_the_first_tool_and_gate_the_exit(alice, fake_llm):
    agent = make_agent(
        alice,
        tool_rules=[
            {"type": "run_first", "tool_name": "conversation_search"},
            {"type": "required_before_exit", "tool_name": "archival_memory_search"},
        ],
    )
    fake_llm.script(
        tool_call("conversation_search", {"query": "hello"}),
        reply("I want to stop now"),
        tool_call("archival_memory_search", {"query": "hello"}),
        reply("done"),
    )
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    first = fake_llm.chat_requests()[0].json
    assert first["tool_choice"] == {"type": "function", "function": {"name": "conversation_search"}}
    assert result.stop_reason == StopReason.END_TURN and len(fake_llm.chat_requests()) == 4
    assert any(msg.kind.value == "heartbeat" for msg in result.messages)


def test_react_agents_render_no_memory_and_answer_in_text(alice, fake_llm):
    agent = agent_create(
        owner=alice,
        name="React",
        agent_type="react_agent",
        model="openai/gpt-4o-mini",
        memory_blocks=[{"label": "human", "value": "SECRET-FACT"}],
    )
    assert agent.tools.count() == 0
    fake_llm.script(reply("hello"))
    result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN
    assert "SECRET-FACT" not in json.dumps(fake_llm.last_chat().json)


def test_context_windows_come_from_the_provider_or_the_model_table(alice, fake_llm, monkeypatch):
    set_provider_env(monkeypatch, "VLLM_API_BASE", fake_llm.url)
    hosted = agent_create(owner=alice, name="Hosted", model="openai/gpt-4o-mini")
    assert hosted.llm_config["context_window"] == 128_000
    local = agent_create(owner=alice, name="Local", model="vllm/fake-chat")
    assert (
        local.llm_config["context_window"] == fake_llm.model("fake-chat").context_length == 32_768
    )
    capped = agent_create(
        owner=alice, name="Capped", model="openai/gpt-4o-mini", context_window_limit=16_000
    )
    from memory.store.rows import load_agent

    assert load_agent(capped.id).context_window == 16_000


def test_anthropic_token_counts_calibrate_the_pressure_estimate(alice, fake_llm):
    from memory.engine.loop import AgentLoop
    from memory.llm.anthropic import AnthropicProvider
    from memory.services.stores import store_for
    from memory.store.rows import load_agent

    agent = agent_create(owner=alice, name="Claude", model="anthropic/claude-sonnet-4-5")
    state = load_agent(agent.id)
    provider = AnthropicProvider(base_url=fake_llm.url, api_key="k")
    loop = AgentLoop(
        agent=state, store=store_for(agent), provider=provider, run_id="run-x", config=fast_config()
    )
    loop._calibrate(loop._build_request(False))
    assert any(r.path.endswith("/count_tokens") for r in fake_llm.requests)
    assert 0.5 <= loop.token_scale <= 2.0


@pytest.mark.django_db(transaction=True)
def test_a_person_editing_a_shared_block_mid_turn_is_not_overwritten(fake_llm):
    """The agent read the block before a person changed it; its edit applies to
    the current value instead of silently replacing the person's."""
    from agents.models import User
    from memory.engine.state import DeltaEvent
    from memory.store.blocks import block_update

    owner = User.objects.create_user(username="erin", password="x-pass-123")
    agent = make_agent(owner)
    block = m.Block.objects.get(agent_links__agent=agent, label="human")
    edited = []

    def person_edits_during_the_llm_call(event):
        if isinstance(event, DeltaEvent) and not edited:
            edited.append(True)
            t = threading.Thread(
                target=lambda: block_update(
                    block=m.Block.objects.get(pk=block.pk),
                    actor_type="user",
                    value="Name: Alice\nLikes: jazz",
                )
            )
            t.start()
            t.join()

    fake_llm.script(
        tool_call("memory_insert", {"label": "human", "new_string": "Works at: Acme"}), reply("ok")
    )
    message_send(
        agent=agent,
        texts=["I work at Acme"],
        user=owner,
        config=fast_config(),
        emit=person_edits_during_the_llm_call,
    )
    value = m.Block.objects.get(pk=block.pk).value
    assert "Likes: jazz" in value and "Works at: Acme" in value
