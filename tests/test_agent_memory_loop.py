"""An agent remembers across turns: core memory edits, archival memory, recall
search — through the real loop, the real OpenAI SDK against the fake server,
and real Postgres."""

import json

import pytest

from agents.models import Agent
from agents.services.lifecycle import agent_create
from memory import models as m
from memory.services.context import context_overview
from memory.services.turns import message_send
from memory.types import StopReason
from tests.engine_helpers import fake_llm, fast_config, set_provider_env, tool_results  # noqa: F401
from tests.fakes.llm_server import reply, tool_call

BLOCKS = [
    {
        "label": "human",
        "value": "Name: unknown",
        "limit": 500,
        "description": "Facts about the user.",
    },
    {"label": "persona", "value": "I am a helpful assistant.", "limit": 500, "read_only": True},
]


def make_agent(owner, agent_type="letta_v1_agent", **kw):
    return agent_create(
        owner=owner,
        name="Sam",
        agent_type=agent_type,
        model="openai/gpt-4o-mini",
        memory_blocks=BLOCKS,
        **kw,
    )


def test_a_new_agent_starts_with_its_compiled_system_message(alice):
    agent = make_agent(alice)
    assert len(agent.message_ids) == 1
    system = m.Message.objects.get(pk=agent.message_ids[0])
    text = system.content[0]["text"]
    assert system.role == "system" and "Name: unknown" in text and "<memory_blocks>" in text
    names = set(agent.tools.values_list("name", flat=True))
    assert {
        "memory_replace",
        "memory_insert",
        "conversation_search",
        "archival_memory_search",
    } <= names
    assert "send_message" not in names


def test_the_agent_edits_core_memory_and_the_edit_is_stored_with_history(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name: unknown", "new_string": "Name: Alice"},
        ),
        reply("Nice to meet you, Alice!"),
    )
    result = message_send(agent=agent, texts=["Hi, I'm Alice"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN
    assert result.messages[-1].text == "Nice to meet you, Alice!"
    block = m.Block.objects.get(label="human", agent_links__agent=agent)
    assert block.value == "Name: Alice"
    last = block.history.order_by("-sequence").first()
    assert (last.actor_type, last.actor_id) == ("agent", agent.id)
    # Two steps, each recorded with usage and the exact provider request.
    steps = list(m.Step.objects.filter(run_id=result.run_id).order_by("created_at"))
    assert len(steps) == 2 and all(s.status == "success" and s.prompt_tokens > 0 for s in steps)
    assert steps[0].request_json["messages"][0]["role"] == "system"
    run = m.Run.objects.get(pk=result.run_id)
    assert (run.status, run.stop_reason, run.step_count) == ("completed", "end_turn", 2)
    # The next turn's system prompt shows the new memory.
    fake_llm.script(reply("Still here."))
    message_send(agent=agent, texts=["Do you remember me?"], user=alice, config=fast_config())
    system_sent = fake_llm.last_chat().json["messages"][0]["content"]
    assert "Name: Alice" in system_sent


def test_archival_memory_is_inserted_and_found_again(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(
        tool_call(
            "archival_memory_insert", {"content": "Alice's cat is called Miso.", "tags": ["pets"]}
        ),
        reply("Noted."),
    )
    message_send(
        agent=agent, texts=["Remember my cat's name is Miso"], user=alice, config=fast_config()
    )
    passage = m.Passage.objects.get(archive__agents=agent)
    assert passage.text == "Alice's cat is called Miso." and passage.tags == ["pets"]
    fake_llm.script(tool_call("archival_memory_search", {"query": "cat name"}), reply("Miso!"))
    result = message_send(
        agent=agent, texts=["What's my cat called?"], user=alice, config=fast_config()
    )
    ((name, status, text),) = tool_results(result)
    assert name == "archival_memory_search" and status == "success" and "Miso" in text


def test_conversation_search_finds_an_earlier_message_in_recall(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(reply("Enjoy the trip!"))
    message_send(
        agent=agent, texts=["I'm flying to Lisbon on Friday"], user=alice, config=fast_config()
    )
    fake_llm.script(tool_call("conversation_search", {"query": "Lisbon flight"}), reply("Friday."))
    result = message_send(
        agent=agent, texts=["When was my trip?"], user=alice, config=fast_config()
    )
    ((_, status, text),) = tool_results(result)
    assert status == "success" and "Lisbon on Friday" in text


def test_memgpt_agent_chains_heartbeats_and_speaks_through_send_message(alice, fake_llm):
    agent = make_agent(alice, agent_type="memgpt_v2_agent")
    fake_llm.script(
        tool_call(
            "memory_insert",
            {"label": "human", "new_string": "Likes tea", "request_heartbeat": True},
        ),
        tool_call("send_message", {"message": "Got it, tea it is."}),
    )
    result = message_send(agent=agent, texts=["I like tea"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN and result.step_count == 2
    kinds = [msg.kind.value for msg in result.messages]
    assert kinds == [
        "user_message",
        "assistant",
        "tool_return",
        "heartbeat",
        "assistant",
        "tool_return",
    ]
    sent = fake_llm.chat_requests()[0].json
    assert sent["tool_choice"] == "required"
    schema = next(t for t in sent["tools"] if t["function"]["name"] == "memory_insert")
    assert "request_heartbeat" in schema["function"]["parameters"]["required"]
    assert "Likes tea" in m.Block.objects.get(label="human", agent_links__agent=agent).value


def test_model_mistakes_go_back_to_the_model_and_the_turn_continues(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(
        tool_call("memory_replace", '{"label": "human", "old_string": '),  # malformed JSON
        tool_call("no_such_tool", {}),
        tool_call(
            "memory_replace", {"label": "persona", "old_string": "helpful", "new_string": "evil"}
        ),
        tool_call(
            "memory_replace", {"label": "human", "old_string": "Name", "new_string": "x" * 600}
        ),
        reply("Sorry about that."),
    )
    result = message_send(agent=agent, texts=["hello"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN
    errors = [(name, status) for name, status, _ in tool_results(result)]
    assert errors == [
        ("memory_replace", "error"),
        ("no_such_tool", "error"),
        ("memory_replace", "error"),
        ("memory_replace", "error"),
    ]
    texts = [text for _, _, text in tool_results(result)]
    assert "JSON" in texts[0] and "no_such_tool" in texts[1] and "read-only" in texts[2].lower()
    assert "limit" in texts[3]
    assert (
        m.Block.objects.get(label="persona", agent_links__agent=agent).value
        == "I am a helpful assistant."
    )


def test_the_loop_guard_stops_identical_repeated_calls(alice, fake_llm):
    agent = make_agent(alice)
    same = tool_call("conversation_search", {"query": "x"})
    fake_llm.script(*[same] * 6)
    result = message_send(agent=agent, texts=["loop"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.INVALID_TOOL_CALL and "Loop guard" in result.error


def test_the_context_overview_counts_every_section(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(reply("hi"))
    message_send(agent=agent, texts=["hello"], user=alice, config=fast_config())
    view = context_overview(agent=Agent.objects.get(pk=agent.pk)).to_dict()
    assert view["num_messages"] == 3 and view["num_tokens_core_memory"] > 0
    parts = (
        "num_tokens_system",
        "num_tokens_core_memory",
        "num_tokens_external_memory_summary",
        "num_tokens_functions_definitions",
        "num_tokens_messages",
        "num_tokens_summary_memory",
        "num_tokens_tool_usage_rules",
    )
    assert (
        view["context_window_size_current"]
        == sum(view[p] for p in parts)
        + view["num_tokens_directories"]
        + view["num_tokens_memory_filesystem"]
    )
    assert json.dumps(view)  # serializable for the API and the UI


@pytest.mark.parametrize(
    "handle",
    [
        "openai/gpt-4o-mini",
        "anthropic/claude-sonnet-4-5",
        "gemini/gemini-2.5-flash",
        "ollama/qwen3:8b",
        "vllm/qwen3-8b",
    ],
)
@pytest.mark.parametrize("agent_type", ["letta_v1_agent", "memgpt_agent"])
def test_every_provider_drives_the_memory_loop(alice, fake_llm, monkeypatch, handle, agent_type):
    set_provider_env(monkeypatch, "OLLAMA_BASE_URL", fake_llm.url)
    set_provider_env(monkeypatch, "VLLM_API_BASE", fake_llm.url)
    agent = agent_create(
        owner=alice, name="Multi", agent_type=agent_type, model=handle, memory_blocks=BLOCKS
    )
    edit = "memory_replace" if agent_type == "letta_v1_agent" else "core_memory_replace"
    args = (
        {"label": "human", "old_string": "unknown", "new_string": "Alice"}
        if edit == "memory_replace"
        else {
            "label": "human",
            "old_content": "unknown",
            "new_content": "Alice",
            "request_heartbeat": True,
        }
    )
    final = (
        reply("Hello Alice")
        if agent_type == "letta_v1_agent"
        else tool_call("send_message", {"message": "Hello Alice"})
    )
    fake_llm.script(
        tool_call(edit, args, reasoning="The user told me their name.", signature="c2lnLTEyMw=="),
        final,
    )
    result = message_send(agent=agent, texts=["I'm Alice"], user=alice, config=fast_config())
    assert result.stop_reason == StopReason.END_TURN, result.error
    assert m.Block.objects.get(label="human", agent_links__agent=agent).value == "Name: Alice"
    # The second request carried the tool result back in the provider's own format.
    second = json.dumps(fake_llm.chat_requests()[1].json)
    assert "Alice" in second and (
        "tool_result" in second or "functionResponse" in second or '"role": "tool"' in second
    )
    assert m.Step.objects.filter(run_id=result.run_id, status="success").count() == 2
    if handle.startswith(("anthropic", "gemini")):
        # Opaque reasoning signatures are stored and sent back verbatim.
        assert "c2lnLTEyMw==" in second


def test_an_agent_with_an_embedding_model_stores_vectors_and_searches_by_meaning(alice, fake_llm):
    agent = make_agent(alice, embedding="openai/text-embedding-3-small")
    fake_llm.script(
        tool_call("archival_memory_insert", {"content": "The launch code is PINEAPPLE."}),
        reply("Stored."),
    )
    message_send(agent=agent, texts=["remember the code"], user=alice, config=fast_config())
    passage = m.Passage.objects.get(archive__agents=agent)
    assert (
        passage.embedding_dim == 1536 and passage.embedding_model == "openai/text-embedding-3-small"
    )
    fake_llm.script(
        tool_call("archival_memory_search", {"query": "launch code"}), reply("PINEAPPLE")
    )
    result = message_send(
        agent=agent, texts=["what is the code?"], user=alice, config=fast_config()
    )
    ((_, status, text),) = tool_results(result)
    assert status == "success" and "PINEAPPLE" in text and "keyword search" not in text
    assert any("/embeddings" in r.path for r in fake_llm.requests)


def test_without_an_embedding_model_search_says_it_matches_words(alice, fake_llm):
    agent = make_agent(alice)
    fake_llm.script(
        tool_call("archival_memory_insert", {"content": "Alice's dog is Rex."}),
        tool_call("archival_memory_search", {"query": "dog"}),
        reply("Rex"),
    )
    result = message_send(agent=agent, texts=["dog?"], user=alice, config=fast_config())
    search = [text for name, _, text in tool_results(result) if name == "archival_memory_search"][0]
    assert "Rex" in search and "keyword search" in search
