"""Letta's search routes across agents: POST /v1/agents/messages/search,
/v1/messages/search and /v1/passages/search. Alice owns the agent, Bob is on
her team, Charlie is a stranger who must see nothing of it; bad input is a 4xx
with a reason."""

from __future__ import annotations

import pytest

from agents.models import Agent
from memory.services.turns import message_send
from tests.api_helpers import *  # noqa: F403
from tests.api_helpers import create_agent
from tests.engine_helpers import fake_llm, fast_config  # noqa: F401
from tests.fakes.llm_server import reply


@pytest.fixture
def alices_agent(as_alice, alice, fake_llm):
    agent = create_agent(as_alice)
    path = f"/v1/agents/{agent['id']}/archival-memory"
    as_alice.post(path, {"text": "用户养了一只叫豆豆的橘猫。", "tags": ["pets"]})
    as_alice.post(path, {"text": "The harbour opens at nine."})
    fake_llm.script(reply("祝你旅途愉快！"))
    message_send(
        agent=Agent.objects.get(pk=agent["id"]),
        texts=["下周我去西藏旅行"],
        user=alice,
        config=fast_config(),
    )
    return agent


def test_passages_are_searched_across_the_users_agents(as_alice, as_bob, alices_agent):
    for api in (as_alice, as_bob):
        response = api.post("/v1/passages/search", {"query": "橘猫"})
        assert response.status_code == 200, response.content
        (hit,) = response.json()
        assert hit["passage"]["text"] == "用户养了一只叫豆豆的橘猫。"
        assert 0 < hit["score"] <= 1 and hit["passage"]["archive_id"]


def test_passages_are_filtered_by_agent_archive_and_tags(as_alice, alices_agent):
    body = {"query": "橘猫 harbour", "agent_id": alices_agent["id"], "tags": ["pets"]}
    (hit,) = as_alice.post("/v1/passages/search", body).json()
    archive_id = hit["passage"]["archive_id"]
    hits = as_alice.post("/v1/passages/search", {"query": "harbour", "archive_id": archive_id})
    assert [h["passage"]["text"] for h in hits.json()] == ["The harbour opens at nine."]


def test_messages_are_searched_by_their_words(as_alice, alices_agent):
    response = as_alice.post("/v1/agents/messages/search", {"query": "西藏旅行"})
    assert response.status_code == 200, response.content
    hit, reply_hit = response.json()  # the reply is found by the turn before it
    assert hit["embedded_text"] == "下周我去西藏旅行"
    assert hit["message"]["role"] == "user" and hit["message"]["agent_id"] == alices_agent["id"]
    assert hit["fts_rank"] == 1 and 0 < reply_hit["rrf_score"] < hit["rrf_score"] <= 1
    assert reply_hit["embedded_text"] == "祝你旅途愉快！"

    response = as_alice.post("/v1/messages/search", {"query": "西藏", "limit": 1})
    assert response.status_code == 200, response.content
    (item,) = response.json()
    assert item["message_type"] == "user_message" and item["content"] == "下周我去西藏旅行"
    assert item["agent_id"] == alices_agent["id"]


def test_a_stranger_finds_nothing_and_a_named_agent_is_a_404(as_charlie, alices_agent):
    assert as_charlie.post("/v1/passages/search", {"query": "橘猫"}).json() == []
    assert as_charlie.post("/v1/agents/messages/search", {"query": "西藏"}).json() == []
    assert as_charlie.post("/v1/messages/search", {"query": "西藏"}).json() == []
    for path, body in [
        ("/v1/passages/search", {"query": "橘猫", "agent_id": alices_agent["id"]}),
        ("/v1/agents/messages/search", {"query": "西藏", "agent_id": alices_agent["id"]}),
        ("/v1/messages/search", {"query": "西藏", "agent_id": alices_agent["id"]}),
    ]:
        assert as_charlie.post(path, body).status_code == 404


def test_a_strangers_archive_is_a_404(as_alice, as_charlie, alices_agent):
    (hit,) = as_alice.post("/v1/passages/search", {"query": "橘猫"}).json()
    body = {"query": "橘猫", "archive_id": hit["passage"]["archive_id"]}
    assert as_charlie.post("/v1/passages/search", body).status_code == 404


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/passages/search", {"query": "x", "limit": 0}),
        ("/v1/passages/search", {"query": "x", "limit": 101}),
        ("/v1/passages/search", {"query": "x", "tag_match_mode": "some"}),
        ("/v1/passages/search", {"query": ["x"]}),
        ("/v1/passages/search", {"start_date": "yesterday"}),
        ("/v1/passages/search", {"start_date": "2025-02-01", "end_date": "2025-01-01"}),
        ("/v1/messages/search", {}),
        ("/v1/messages/search", {"query": "x", "search_mode": "magic"}),
        ("/v1/messages/search", {"query": "x", "conversation_id": "conv-1"}),
        ("/v1/agents/messages/search", {"query": "x", "roles": ["robot"]}),
        ("/v1/agents/messages/search", {"query": "x", "limit": "many"}),
        ("/v1/agents/messages/search", "not json"),
    ],
)
def test_bad_input_is_refused_with_a_reason(as_alice, path, body):
    response = as_alice.post(path, body)
    assert 400 <= response.status_code < 500, response.content
    assert response.json().get("detail")


def test_search_needs_a_key(client):
    response = client.post("/v1/passages/search", data="{}", content_type="application/json")
    assert response.status_code == 401
