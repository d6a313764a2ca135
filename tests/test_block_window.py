"""A block that cannot fit the model's context window beside the rest of the
prompt is refused, with the numbers, by every writer (the API, the agent's own
tools as a tool error, agent creation); under ADE_BLOCK_WINDOW_POLICY=warn it is
accepted and the window says why it stays full, as does compaction that cannot
make room."""

from memory import models as m
from memory.services.turns import message_send
from memory.types import StopReason
from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent
from tests.engine_helpers import fast_config
from tests.fakes.llm_server import reply, tool_call

WINDOW = 4000
HUGE = "lorem ipsum dolor sit amet " * 1500  # ~40,000 characters, ~7,500 tokens


def small_window_agent(api, **overrides):
    return create_agent(api, context_window_limit=WINDOW, **overrides)


def human_url(agent):
    return f"/v1/agents/{agent['id']}/core-memory/blocks/human"


def test_a_block_value_over_the_window_is_refused_with_the_numbers(as_alice):
    agent = small_window_agent(as_alice)
    refused = as_alice.patch(human_url(agent), {"value": HUGE, "limit": 100_000})
    assert refused.status_code == 413, refused.content
    detail = refused.json()["detail"]
    assert "'human'" in detail and f"{WINDOW:,}-token context window" in detail
    assert "tokens; the rest of the prompt" in detail
    assert as_alice.get(human_url(agent)).json()["value"] == "Name: unknown"
    # A value that fits is still fine, as is raising the limit alone.
    ok = as_alice.patch(human_url(agent), {"value": "Name: Alice", "limit": 100_000})
    assert ok.status_code == 200 and ok.json()["limit"] == 100_000


def test_an_agent_created_with_a_block_over_its_window_is_refused(as_alice):
    blocks = [{"label": "human", "value": HUGE, "limit": 100_000}]
    refused = as_alice.post(
        "/v1/agents/",
        {
            "name": "Big",
            "agent_type": "letta_v1_agent",
            "model": "openai/gpt-4o-mini",
            "memory_blocks": blocks,
            "context_window_limit": WINDOW,
        },
    )
    assert refused.status_code == 413 and "context window" in refused.json()["detail"]
    assert not m.Block.objects.filter(label="human", value=HUGE).exists()


def test_the_agents_own_edit_over_the_window_is_a_tool_error(alice, as_alice, fake_llm):
    from agents.models import Agent

    made = small_window_agent(as_alice)
    assert as_alice.patch(human_url(made), {"limit": 100_000}).status_code == 200
    agent = Agent.objects.get(pk=made["id"])
    fake_llm.script(tool_call("memory_insert", {"label": "human", "new_string": HUGE}), reply("ok"))
    result = message_send(
        agent=agent, texts=["remember all this"], user=alice, config=fast_config()
    )
    assert result.stop_reason == StopReason.END_TURN
    tool = next(msg for msg in result.messages if msg.role == "tool")
    assert tool.is_err and "context window" in tool.meta["raw"] and "unchanged" in tool.meta["raw"]
    assert m.Block.objects.get(agent_links__agent=agent, label="human").value == "Name: unknown"


def test_under_the_warn_policy_it_is_accepted_and_the_context_says_why_it_is_full(
    as_alice, settings
):
    settings.BLOCK_WINDOW_POLICY = "warn"
    agent = small_window_agent(as_alice)
    assert as_alice.patch(human_url(agent), {"value": HUGE, "limit": 100_000}).status_code == 200
    context = as_alice.get(f"/v1/agents/{agent['id']}/context").json()
    assert context["context_window_size_current"] > WINDOW
    [warning] = context["warnings"]
    assert "core memory" in warning and "compaction" in warning.lower()


def test_compaction_that_cannot_make_room_tells_the_agent_and_the_user(
    alice, as_alice, fake_llm, settings
):
    from agents.models import Agent
    from memory.engine.state import MessageEvent

    settings.BLOCK_WINDOW_POLICY = "warn"
    from memory.engine.tokens import counter_for

    made = small_window_agent(as_alice)
    # Most of the window, but not past it: the turn can run, compaction cannot help.
    before = as_alice.get(f"/v1/agents/{made['id']}/context").json()
    fixed = before["context_window_size_current"] - before["num_tokens_messages"]
    unit = "lorem ipsum dolor sit amet "
    per_unit = counter_for("gpt-4o-mini").count_text(unit * 100) / 100
    fill = unit * int((0.95 * WINDOW - fixed) / per_unit)
    assert as_alice.patch(human_url(made), {"value": fill, "limit": 100_000}).status_code == 200
    agent = Agent.objects.get(pk=made["id"])
    for text in ("one", "two", "three"):
        fake_llm.script(reply(f"noted {text}"))
        message_send(agent=agent, texts=[text], user=alice, config=fast_config())
    events = []
    fake_llm.script(reply("summary"), reply("still here"))
    result = message_send(
        agent=agent, texts=["four"], user=alice, config=fast_config(), emit=events.append
    )
    notes = [msg for msg in result.messages if msg.meta.get("window_full")]
    assert len(notes) == 1 and "compaction can only summarize messages" in notes[0].text
    assert any(isinstance(e, MessageEvent) and e.message.meta.get("window_full") for e in events)
    context = as_alice.get(f"/v1/agents/{made['id']}/context").json()
    assert context["warnings"]
