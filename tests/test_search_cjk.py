"""Chinese, Japanese, Korean and mixed-script text is found by its words, with
no embedding model: through the archival API, the agent's own tools (a scripted
fake model calling archival_memory_search and conversation_search) and the
file search; and facts saved one after another stay independent."""

from __future__ import annotations

import pytest
from django.db import connection

from agents.services.lifecycle import agent_create
from memory import models as m
from memory.services.turns import message_send
from memory.store.search_reindex import reindex_agent_messages, reindex_passages
from tests.api_helpers import *  # noqa: F403
from tests.api_helpers import create_agent
from tests.engine_helpers import fake_llm, fast_config, tool_results  # noqa: F401
from tests.fakes.llm_server import reply, tool_call

FACTS = [
    "用户养了一只叫豆豆的橘猫。",
    "使用者每個禮拜三晚上去打羽毛球。",
    "ユーザーは毎朝ジョギングをしている。",
    "ユーザーは東京の渋谷に住んでいる。",
    "사용자는 땅콩 알레르기가 있다.",
    "用户买了一辆特斯拉Model 3，白色的。",
    "I have a dentist appointment on Tuesday.",
]


def search(api, agent_id, query):
    response = api.get(f"/v1/agents/{agent_id}/archival-memory/search", query=query)
    assert response.status_code == 200, response.content
    return [r["content"] for r in response.json()["results"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("橘猫", FACTS[0]),
        ("羽毛球", FACTS[1]),
        ("ジョギング", FACTS[2]),
        ("東京", FACTS[3]),
        ("땅콩", FACTS[4]),
        ("알레르기", FACTS[4]),
        ("特斯拉", FACTS[5]),
        ("Model", FACTS[5]),
        ("dentists", FACTS[6]),
    ],
)
def test_archival_search_finds_cjk_and_mixed_text_by_its_words(as_alice, query, expected):
    agent = create_agent(as_alice)
    for fact in FACTS:
        response = as_alice.post(f"/v1/agents/{agent['id']}/archival-memory", {"text": fact})
        assert response.status_code == 200, response.content
    assert search(as_alice, agent["id"], query) == [expected]


def test_a_word_inside_a_longer_run_is_found_and_an_absent_one_is_not(as_alice):
    agent = create_agent(as_alice)
    as_alice.post(f"/v1/agents/{agent['id']}/archival-memory", {"text": FACTS[0]})
    as_alice.post(f"/v1/agents/{agent['id']}/archival-memory", {"text": FACTS[1]})
    assert search(as_alice, agent["id"], "猫") == [FACTS[0]]  # a lone character
    assert search(as_alice, agent["id"], "豆豆的猫") == [FACTS[0]]
    assert search(as_alice, agent["id"], "小狗") == []


def test_passages_of_one_thread_are_found_by_their_neighbours_words(as_alice):
    agent = create_agent(as_alice)
    path = f"/v1/agents/{agent['id']}/archival-memory"
    as_alice.post(path, {"text": "Bob: 你去过西藏吗？", "thread": "chat-1"})
    answer = as_alice.post(path, {"text": "Alice: 去年夏天去了两个星期。", "thread": "chat-1"})
    assert answer.json()[0]["thread"] == "chat-1"
    as_alice.post(path, {"text": "用户不吃香菜。"})
    assert search(as_alice, agent["id"], "西藏") == [
        "Bob: 你去过西藏吗？",
        "Alice: 去年夏天去了两个星期。",
    ]


def test_the_agent_finds_cjk_with_its_own_tools(alice, fake_llm):
    agent = agent_create(owner=alice, name="Sam", model="openai/gpt-4o-mini")
    fake_llm.script(
        tool_call("archival_memory_insert", {"content": "用户养了一只叫豆豆的橘猫。"}),
        reply("记住了。"),
    )
    message_send(agent=agent, texts=["我的猫叫豆豆"], user=alice, config=fast_config())
    fake_llm.script(tool_call("archival_memory_search", {"query": "橘猫"}), reply("豆豆！"))
    result = message_send(agent=agent, texts=["我的猫叫什么？"], user=alice, config=fast_config())
    ((name, status, text),) = tool_results(result)
    assert name == "archival_memory_search" and status == "success" and "豆豆" in text

    fake_llm.script(reply("楽しんで！"))
    message_send(agent=agent, texts=["来週、京都へ旅行します"], user=alice, config=fast_config())
    fake_llm.script(tool_call("conversation_search", {"query": "京都 旅行"}), reply("来週です。"))
    result = message_send(agent=agent, texts=["旅行はいつ？"], user=alice, config=fast_config())
    ((name, status, text),) = tool_results(result)
    assert name == "conversation_search" and status == "success" and "京都へ旅行" in text


def test_reindexing_makes_old_rows_findable(alice):
    """Rows indexed before the CJK functions (one token per run) are re-indexed
    by the migration's functions."""
    agent = agent_create(owner=alice, name="Sam", model="")
    archive = m.Archive.objects.create(name="old", owner=alice)
    archive.agents.add(agent)
    passage = m.Passage.objects.create(
        archive=archive,
        text="用户养了一只叫豆豆的橘猫。",
        created_at="2025-01-01T00:00:00Z",
    )
    with connection.cursor() as cursor:  # as the old code indexed it
        cursor.execute(
            "UPDATE memory_passage SET search_vector = to_tsvector('english', text) WHERE id = %s",
            [passage.id],
        )
    lines: list[str] = []
    reindex_passages(lines.append)
    assert lines and "archives" in lines[-1]
    vector = str(m.Passage.objects.get(pk=passage.id).search_vector)
    assert "'橘猫'" in vector and "'豆豆'" in vector
    assert reindex_agent_messages(agent.id) == 0
