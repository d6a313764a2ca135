"""Agents through /v1: Letta's create knobs, list filters and cursor pages,
modify (including whole-set tool/block changes), delete, agent files."""

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import MODEL, create_agent
from tests.engine_helpers import set_provider_env


def test_create_accepts_llm_config_embedding_config_and_settings(as_alice, fake_llm):
    agent = create_agent(
        as_alice,
        model=None,
        llm_config={
            "model": "gpt-4o-mini",
            "model_endpoint_type": "openai",
            "context_window": 16000,
            "temperature": 0.2,
        },
        embedding_config={
            "embedding_model": "text-embedding-3-small",
            "embedding_endpoint_type": "openai",
            "embedding_dim": 1536,
        },
        max_tokens=512,
        context_window_limit=9000,
        tool_exec_environment_variables={"API_TOKEN": "t"},
        timezone="Europe/Paris",
    )
    assert agent["model"] == MODEL and agent["embedding"] == "openai/text-embedding-3-small"
    assert agent["llm_config"]["temperature"] == 0.2 and agent["llm_config"]["max_tokens"] == 512
    assert agent["llm_config"]["context_window"] == 9000 and agent["context_window_limit"] == 9000
    assert agent["embedding_config"]["embedding_dim"] == 1536
    assert agent["tool_exec_environment_variables"] == [
        {"key": "API_TOKEN", "value": "t", "agent_id": agent["id"]}
    ]
    assert agent["timezone"] == "Europe/Paris"


def test_create_with_shared_blocks_tools_by_name_and_no_base_tools(as_alice):
    shared = as_alice.post("/v1/blocks/", {"label": "project", "value": "ADE"}).json()
    agent = create_agent(
        as_alice,
        block_ids=[shared["id"]],
        include_base_tools=False,
        tools=["conversation_search"],
        agent_type="memgpt_v2_agent",
    )
    assert [b["label"] for b in agent["blocks"]] == ["human", "persona", "project"]
    assert [t["name"] for t in agent["tools"]] == ["conversation_search"]
    assert agent["agent_type"] == "memgpt_v2_agent"
    agents_of_block = as_alice.get(f"/v1/blocks/{shared['id']}/agents").json()
    assert [a["id"] for a in agents_of_block] == [agent["id"]]


def test_list_filters_and_pages(as_alice, as_bob):
    made = [
        create_agent(as_alice, name=f"Agent {i}", tags=["even" if i % 2 == 0 else "odd", "all"])
        for i in range(5)
    ]
    mine = create_agent(as_bob, name="Bobs helper", tags=["all"])
    ids = [a["id"] for a in made]
    listed = as_alice.get("/v1/agents/", order="asc", tags=["all"]).json()
    assert [a["id"] for a in listed] == ids + [mine["id"]]  # Bob is on Alice's team
    assert [a["id"] for a in as_alice.get("/v1/agents/", order="asc", tags=["even"]).json()] == ids[
        ::2
    ]
    both = as_alice.get("/v1/agents/", tags=["even", "odd"], match_all_tags=True).json()
    assert both == []
    assert [a["name"] for a in as_alice.get("/v1/agents/", name="Agent 3").json()] == ["Agent 3"]
    assert [a["name"] for a in as_alice.get("/v1/agents/", query_text="bobs").json()] == [
        "Bobs helper"
    ]
    page1 = as_alice.get("/v1/agents/", order="asc", limit=2).json()
    page2 = as_alice.get("/v1/agents/", order="asc", limit=2, after=page1[-1]["id"]).json()
    assert [a["id"] for a in page1 + page2] == ids[:4]
    newest = as_alice.get("/v1/agents/", limit=2).json()
    assert [a["id"] for a in newest] == [mine["id"], ids[4]]
    before = as_alice.get("/v1/agents/", order="asc", limit=2, before=ids[3]).json()
    assert [a["id"] for a in before] == ids[1:3]
    assert as_alice.get("/v1/agents/count").json() == 6


def test_modify_changes_only_what_is_sent(as_alice, fake_llm):
    agent = create_agent(as_alice, description="first")
    changed = as_alice.patch(
        f"/v1/agents/{agent['id']}",
        {"name": "Renamed", "tags": ["b", "a"], "llm_config": {"temperature": 0.7}},
    ).json()
    assert changed["name"] == "Renamed" and changed["tags"] == ["a", "b"]
    assert changed["description"] == "first" and changed["llm_config"]["temperature"] == 0.7
    tool = as_alice.get("/v1/tools/", name="conversation_search").json()[0]
    block = as_alice.post("/v1/blocks/", {"label": "notes", "value": "n"}).json()
    changed = as_alice.patch(
        f"/v1/agents/{agent['id']}", {"tool_ids": [tool["id"]], "block_ids": [block["id"]]}
    ).json()
    assert [t["name"] for t in changed["tools"]] == ["conversation_search"]
    assert [b["label"] for b in changed["blocks"]] == ["notes"]
    context = as_alice.get(f"/v1/agents/{agent['id']}/context").json()
    assert "<notes>" in context["core_memory"] and "<human>" not in context["core_memory"]
    changed = as_alice.patch(
        f"/v1/agents/{agent['id']}", {"system": "Be brief.\n{CORE_MEMORY}"}
    ).json()
    assert changed["system"].startswith("Be brief.")
    assert (
        as_alice.get(f"/v1/agents/{agent['id']}/context")
        .json()["system_prompt"]
        .startswith("Be brief.")
    )


def test_message_ids_can_trim_the_window(as_alice, fake_llm):
    agent = create_agent(as_alice)
    from tests.fakes.llm_server import reply

    fake_llm.script(reply("one"))
    as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": "hi"})
    window = as_alice.get(f"/v1/agents/{agent['id']}").json()["message_ids"]
    assert len(window) == 3
    trimmed = as_alice.patch(
        f"/v1/agents/{agent['id']}", {"message_ids": window[:1] + window[2:]}
    ).json()
    assert len(trimmed["message_ids"]) == 2


def test_delete_removes_the_agent_and_its_archive_but_not_shared_blocks(as_alice):
    from memory import models as m

    shared = as_alice.post("/v1/blocks/", {"label": "team", "value": "t"}).json()
    agent = create_agent(as_alice, block_ids=[shared["id"]])
    as_alice.post(f"/v1/agents/{agent['id']}/archival-memory", {"text": "fact"})
    assert as_alice.delete(f"/v1/agents/{agent['id']}").status_code == 200
    assert as_alice.get(f"/v1/agents/{agent['id']}").status_code == 404
    assert not m.Passage.objects.exists() and not m.Archive.objects.exists()
    assert as_alice.get(f"/v1/blocks/{shared['id']}").status_code == 200


def test_an_agent_file_round_trips_messages_tools_and_memory(as_alice, fake_llm, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.fakes.llm_server import tool_call

    tool = as_alice.post(
        "/v1/tools/",
        {
            "source_code": 'def ping(host: str) -> str:\n    """Ping a host.\n\n'
            '    Args:\n        host: where\n    """\n'
            '    return "pong " + host\n'
        },
    ).json()
    agent = create_agent(as_alice, agent_type="memgpt_v2_agent", tool_ids=[tool["id"]])
    fake_llm.script(
        tool_call("send_message", {"message": "hello"}, reasoning="think", signature="sig")
    )
    as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": "hi"})
    document = as_alice.get(f"/v1/agents/{agent['id']}/export").json()
    assert document["agents"][0]["agent_type"] == "memgpt_v2_agent"
    assert {t["name"] for t in document["tools"]} >= {"ping", "send_message"}
    upload = SimpleUploadedFile(
        "a.af", __import__("json").dumps(document).encode(), "application/json"
    )
    response = client.post(
        "/v1/agents/import", {"file": upload, "override_name": "Twin"}, **as_alice.headers
    )
    assert response.status_code == 200, response.content
    twin = as_alice.get(f"/v1/agents/{response.json()['agent_ids'][0]}").json()
    assert twin["name"] == "Twin" and {t["name"] for t in twin["tools"]} == {
        t["name"] for t in agent["tools"]
    }
    original = as_alice.get(f"/v1/agents/{agent['id']}/messages", order="asc").json()
    copied = as_alice.get(f"/v1/agents/{twin['id']}/messages", order="asc").json()
    strip = lambda items: [(m["message_type"], m.get("content"), m.get("reasoning")) for m in items]  # noqa: E731
    assert strip(copied) == strip(original)
    assert len(twin["message_ids"]) == len(agent["message_ids"]) + 3
    fake_llm.script(tool_call("send_message", {"message": "again"}))
    assert (
        as_alice.post(f"/v1/agents/{twin['id']}/messages", {"input": "still there?"}).status_code
        == 200
    )
    bad = SimpleUploadedFile("a.af", b"{not json", "application/json")
    assert client.post("/v1/agents/import", {"file": bad}, **as_alice.headers).status_code == 422


def test_an_unconfigured_embedding_provider_is_a_4xx(as_alice, monkeypatch):
    set_provider_env(monkeypatch, "OPENAI_API_KEY", "")
    set_provider_env(monkeypatch, "OPENAI_BASE_URL", "")
    response = as_alice.post(
        "/v1/agents/", {"name": "x", "embedding": "openai/text-embedding-3-small"}
    )
    assert response.status_code == 422 and "OPENAI_API_KEY" in response.json()["detail"]
