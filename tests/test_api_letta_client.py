"""The official letta-client (1.x) against a live ADE server: the calls a
Letta user's existing code makes work unchanged. The agent's model is the
fake LLM server, so every turn is scripted."""

import json

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import MODEL
from tests.fakes.llm_server import error, reply, tool_call

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_TOOL = '''
def weather_in(city: str, unit: str = "C") -> str:
    """Tell the weather in a city.

    Args:
        city: The city to look up.
        unit: C or F.

    Returns:
        A short forecast.
    """
    print("looking up", city)
    return f"Sunny and 21 {unit} in {city}"
'''


@pytest.fixture
def letta(live_server, secrets):
    from letta_client import Letta

    return Letta(base_url=live_server.url, api_key=secrets["alice"], max_retries=0, timeout=60)


@pytest.fixture
def agent(letta, fake_llm):
    return letta.agents.create(
        name="Sam",
        agent_type="letta_v1_agent",
        model=MODEL,
        memory_blocks=[
            {"label": "human", "value": "Name: unknown", "limit": 500},
            {"label": "persona", "value": "I am a helpful assistant.", "limit": 500},
        ],
        tags=["sdk"],
    )


def test_the_client_creates_lists_and_retrieves_an_agent(letta, agent):
    assert agent.id.startswith("agent-") and agent.llm_config.model == "gpt-4o-mini"
    assert {b.label for b in agent.memory.blocks} == {"human", "persona"}
    assert "memory_replace" in {t.name for t in agent.tools}
    listed = [a.id for a in letta.agents.list(tags=["sdk"])]
    assert listed == [agent.id]
    assert letta.agents.retrieve(agent.id).name == "Sam"
    updated = letta.agents.update(agent.id, description="helps", tags=["sdk", "edited"])
    assert updated.description == "helps" and updated.tags == ["edited", "sdk"]


def test_the_client_sends_a_message_and_reads_the_reply(letta, agent, fake_llm):
    fake_llm.script(
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name: unknown", "new_string": "Name: Alice"},
        ),
        reply("Nice to meet you, Alice!"),
    )
    response = letta.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "I'm Alice"}]
    )
    types = [m.message_type for m in response.messages]
    assert types == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert response.messages[0].tool_call.name == "memory_replace"
    assert response.messages[-1].content == "Nice to meet you, Alice!"
    assert response.stop_reason.stop_reason == "end_turn"
    assert response.usage.step_count == 2 and response.usage.total_tokens > 0
    history = list(letta.agents.messages.list(agent.id, order="asc"))
    assert history[0].message_type == "user_message" and history[0].content == "I'm Alice"
    assert history[-1].content == "Nice to meet you, Alice!"
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Alice"


def test_the_client_streams_steps_and_tokens(letta, agent, fake_llm):
    fake_llm.script(reply("Streaming works fine."))
    chunks = list(
        letta.agents.messages.create(
            agent.id, messages=[{"role": "user", "content": "hi"}], streaming=True
        )
    )
    kinds = [c.message_type for c in chunks]
    assert kinds == ["assistant_message", "stop_reason", "usage_statistics"]
    assert chunks[0].content == "Streaming works fine."

    fake_llm.script(reply("Token by token, the reply arrives."))
    with pytest.warns(DeprecationWarning):  # Letta's older streaming route, still served
        stream = letta.agents.messages.stream(
            agent.id, messages=[{"role": "user", "content": "again"}], stream_tokens=True
        )
    chunks = list(stream)
    pieces = [c for c in chunks if c.message_type == "assistant_message"]
    assert len(pieces) > 1 and len({c.id for c in pieces}) == 1
    assert "".join(c.content for c in pieces) == "Token by token, the reply arrives."
    assert chunks[-1].message_type == "usage_statistics"


def test_the_client_reads_the_context_window_and_edits_a_block(letta, agent):
    context = letta.get(f"/v1/agents/{agent.id}/context", cast_to=object)
    parts = (
        "num_tokens_system",
        "num_tokens_core_memory",
        "num_tokens_external_memory_summary",
        "num_tokens_functions_definitions",
        "num_tokens_messages",
        "num_tokens_summary_memory",
        "num_tokens_tool_usage_rules",
    )
    assert context["context_window_size_current"] == sum(context[p] for p in parts)
    assert "Name: unknown" in context["core_memory"]
    block = letta.agents.blocks.update("human", agent_id=agent.id, value="Name: Alice\nLikes tea")
    assert block.value == "Name: Alice\nLikes tea"
    assert [b.label for b in letta.agents.blocks.list(agent.id)] == ["human", "persona"]
    context = letta.get(f"/v1/agents/{agent.id}/context", cast_to=object)
    assert "Likes tea" in context["core_memory"]


def test_the_client_inserts_and_searches_archival_memory(letta, agent):
    inserted = letta.agents.passages.create(
        agent.id, text="Alice's cat is called Miso.", tags=["pets"]
    )
    assert inserted[0].text == "Alice's cat is called Miso." and inserted[0].tags == ["pets"]
    letta.agents.passages.create(agent.id, text="Alice works as a pilot.", tags=["work"])
    found = letta.agents.passages.search(agent.id, query="cat Miso", tags=["pets"])
    assert found.count == 1 and found.results[0].content == "Alice's cat is called Miso."
    assert len(letta.agents.passages.list(agent.id)) == 2
    letta.agents.passages.delete(inserted[0].id, agent_id=agent.id)
    assert [p.text for p in letta.agents.passages.list(agent.id)] == ["Alice works as a pilot."]


def test_the_client_creates_and_runs_a_custom_tool(letta, agent, fake_llm):
    tool = letta.tools.create(source_code=WEATHER_TOOL)
    assert tool.name == "weather_in" and tool.json_schema["parameters"]["required"] == ["city"]
    letta.agents.tools.attach(tool.id, agent_id=agent.id)
    result = letta.agents.tools.run("weather_in", agent_id=agent.id, args={"city": "Lisbon"})
    assert result.status == "success" and result.func_return == "Sunny and 21 C in Lisbon"
    assert result.stdout == ["looking up Lisbon\n"]

    fake_llm.script(
        tool_call("weather_in", {"city": "Oslo", "unit": "F"}), reply("It is sunny in Oslo.")
    )
    response = letta.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "Weather in Oslo?"}]
    )
    returned = next(m for m in response.messages if m.message_type == "tool_return_message")
    assert returned.status == "success" and returned.tool_return == "Sunny and 21 F in Oslo"

    upserted = letta.tools.upsert(source_code=WEATHER_TOOL.replace("Sunny", "Rainy"))
    assert upserted.id == tool.id and "Rainy" in upserted.source_code
    assert "weather_in" in {t.name for t in letta.tools.list(name="weather_in")}


def test_the_client_queues_a_run_and_reads_its_messages(letta, agent, fake_llm):
    from memory.services.worker import worker_run_once

    run = letta.agents.messages.create_async(
        agent.id, messages=[{"role": "user", "content": "later"}]
    )
    assert run.status == "created"
    fake_llm.script(reply("Done in the background."))
    assert worker_run_once()
    finished = letta.runs.retrieve(run.id)
    assert finished.status == "completed" and finished.stop_reason == "end_turn"
    messages = list(letta.runs.messages.list(run.id))
    assert [m.message_type for m in messages] == ["user_message", "assistant_message"]
    steps = list(letta.runs.steps.list(run.id))
    assert len(steps) == 1 and steps[0].prompt_tokens > 0


def test_the_client_resets_and_deletes_an_agent(letta, agent, fake_llm):
    fake_llm.script(reply("hi"))
    letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hello"}])
    reset = letta.agents.messages.reset(agent.id)
    assert len(reset.message_ids) == 1
    assert list(letta.agents.messages.list(agent.id)) == []
    letta.agents.delete(agent.id)
    from letta_client import NotFoundError

    with pytest.raises(NotFoundError):
        letta.agents.retrieve(agent.id)


def test_the_client_exports_and_imports_an_agent_file(letta, agent, fake_llm):
    fake_llm.script(reply("Remember me."))
    letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": "I am Alice"}])
    exported = letta.agents.export_file(agent.id)
    imported = letta.agents.import_file(file=("sam.af", exported.encode(), "application/json"))
    copy = letta.agents.retrieve(imported.agent_ids[0])
    assert copy.name == "Sam_copy" and {b.label for b in copy.blocks} == {"human", "persona"}
    texts = [m.content for m in letta.agents.messages.list(copy.id, order="asc")]
    assert texts == ["I am Alice", "Remember me."]


def test_the_client_carries_archival_memory_through_an_agent_file(letta, agent):
    letta.agents.passages.create(agent.id, text="The heron nests by the pond.", tags=["birds"])
    exported = letta.agents.export_file(agent.id, scrub_messages=True)
    again = letta.agents.export_file(agent.id, extra_query={"exclude": "passages"})
    assert json.loads(again)["ade"]["archives"] == []
    first = letta.agents.import_file(file=("sam.af", exported.encode(), "application/json"))
    second = letta.agents.import_file(file=("sam.af", exported.encode(), "application/json"))
    names = [letta.agents.retrieve(i.agent_ids[0]).name for i in (first, second)]
    assert names == ["Sam_copy", "Sam_copy_2"]
    passages = letta.agents.passages.list(first.agent_ids[0])
    assert [(p.text, p.tags) for p in passages] == [("The heron nests by the pond.", ["birds"])]
    assert list(letta.agents.messages.list(first.agent_ids[0])) == []


def test_a_bad_key_is_refused_by_the_client(live_server, secrets):
    from letta_client import AuthenticationError, Letta

    bad = Letta(base_url=live_server.url, api_key="nope", max_retries=0)
    with pytest.raises(AuthenticationError):
        bad.agents.list()


def test_a_send_whose_model_call_fails_raises_in_the_client(
    letta, agent, fake_llm, settings, live_server, secrets
):
    from letta_client import APIStatusError, AuthenticationError, Letta

    settings.LLM_MAX_RETRIES = 0
    fake_llm.script(error(401, "invalid x-api-key"))
    with pytest.raises(AuthenticationError) as refused:
        letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hi"}])
    assert "invalid x-api-key" in refused.value.body["detail"]
    # A client with its default retries: the server tells it not to resend the message.
    retrying = Letta(base_url=live_server.url, api_key=secrets["alice"], timeout=60)
    fake_llm.script(error(503, "overloaded"), reply("never asked"))
    with pytest.raises(APIStatusError) as failed:
        retrying.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 502 and failed.value.body["error_type"] == "server"
    assert len(fake_llm.chat_requests()) == 2
