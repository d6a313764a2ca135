"""conversation_search over recall memory: each message is indexed with the
messages before it, ranked with idf; roles, dates and the substring fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.services.lifecycle import agent_create
from memory import models as m
from memory.services.stores import store_for
from memory.services.turns import message_send
from tests.engine_helpers import fake_llm, fast_config  # noqa: F401
from tests.fakes.llm_server import reply, tool_call


def chat(alice, fake_llm, *exchanges):
    agent = agent_create(owner=alice, name="Sam", model="openai/gpt-4o-mini")
    for user_text, answer in exchanges:
        fake_llm.script(reply(answer))
        message_send(agent=agent, texts=[user_text], user=alice, config=fast_config())
    return agent


def search(agent, query, **kw):
    kw.setdefault("roles", None)
    return store_for(agent).backend.conversation_search(agent.id, query, **kw)


def test_a_reply_is_found_by_the_words_of_the_question_it_answers(alice, fake_llm):
    agent = chat(
        alice,
        fake_llm,
        ("Which city is the capital of Portugal?", "Lisbon, of course."),
        ("Any plans for the weekend?", "I will read a book."),
    )
    hits = search(agent, "capital of Portugal", roles=["assistant"])
    assert hits[0]["content"] == "Lisbon, of course."


def test_the_message_that_says_it_ranks_first(alice, fake_llm):
    agent = chat(
        alice,
        fake_llm,
        ("My sister is called Ingrid.", "Nice name."),
        ("The weather is grey today.", "Sorry to hear."),
    )
    hits = search(agent, "Ingrid")
    assert hits[0]["content"] == "My sister is called Ingrid." and hits[0]["role"] == "user"
    assert hits[0]["relevance"] > 0 and hits[0]["timestamp"]


def test_a_word_nobody_said_falls_back_to_a_substring_match(alice, fake_llm):
    agent = chat(alice, fake_llm, ("Deploy ticket ABC-1234 tonight", "Will do."))
    assert [h["content"] for h in search(agent, "C-123")] == ["Deploy ticket ABC-1234 tonight"]


def test_the_search_does_not_find_its_own_calls(alice, fake_llm):
    agent = chat(alice, fake_llm, ("I like marmalade", "Noted."))
    fake_llm.script(
        tool_call("conversation_search", {"query": "marmalade"}), reply("You like marmalade.")
    )
    message_send(agent=agent, texts=["What do I like?"], user=alice, config=fast_config())
    contents = [h["content"] for h in search(agent, "marmalade")]
    assert "I like marmalade" in contents
    assert all("conversation_search" not in c for c in contents)


def test_date_range_without_query_lists_newest_first(alice, fake_llm):
    agent = chat(alice, fake_llm, ("first", "one"), ("second", "two"))
    now = datetime.now(UTC)
    hits = search(
        agent, None, limit=2, start=now - timedelta(hours=1), end=now + timedelta(hours=1)
    )
    assert [h["content"] for h in hits] == ["two", "second"]
    old = m.Message.objects.filter(agent=agent).order_by("sequence_id").first()
    assert search(agent, None, start=now + timedelta(days=1)) == [] and old is not None


def test_every_searchable_message_gets_a_weighted_search_vector(alice, fake_llm):
    agent = chat(alice, fake_llm, ("Bananas are yellow", "Indeed, ripe ones."))
    answer = (
        m.Message.objects.filter(agent=agent, role="assistant").order_by("-sequence_id").first()
    )
    vector = str(answer.search_vector)
    assert "'ripe':" in vector and "A" in vector.split("'ripe':")[1].split(" ")[0]
    assert "'banana':" in vector and "B" in vector.split("'banana':")[1].split(" ")[0]
    assert (
        m.Message.objects.filter(agent=agent, role="system", search_vector__isnull=False).count()
        == 0
    )


def test_with_an_embedding_model_messages_are_found_by_meaning(
    alice, fake_llm, django_capture_on_commit_callbacks
):
    agent = agent_create(
        owner=alice,
        name="Sem",
        model="openai/gpt-4o-mini",
        embedding="openai/text-embedding-3-small",
    )
    for said, answer in (("I adopted a kitten", "Noted."), ("The weather is nice", "Indeed.")):
        with django_capture_on_commit_callbacks(execute=True):
            fake_llm.script(reply(answer))
            message_send(agent=agent, texts=[said], user=alice, config=fast_config())
    embedded = m.Message.objects.filter(agent=agent, embedding__isnull=False)
    assert {r.role for r in embedded} == {"user", "assistant"}
    assert {r.embedding_dim for r in embedded} == {1536}
    backend = store_for(agent).backend
    assert backend.semantic
    # The fake embeddings are hashes of the text: the exact text is the nearest.
    hits = backend.conversation_search(agent.id, "I adopted a kitten", roles=None, limit=3)
    assert hits[0]["content"] == "I adopted a kitten" and hits[0]["relevance"] > 0


def test_an_embedding_outage_does_not_fail_the_turn(
    alice, fake_llm, django_capture_on_commit_callbacks, monkeypatch
):
    agent = agent_create(
        owner=alice,
        name="Out",
        model="openai/gpt-4o-mini",
        embedding="openai/text-embedding-3-small",
    )
    backend = store_for(agent).backend

    def down(texts):
        raise RuntimeError("embedding service down")

    monkeypatch.setattr(backend, "embed", down)
    with django_capture_on_commit_callbacks(execute=True):
        backend.embed_messages_later(agent.id, [("msg-x", "hello")])  # logs, does not raise
    with django_capture_on_commit_callbacks(execute=True):
        fake_llm.script(reply("Still here."))
        result = message_send(agent=agent, texts=["hi"], user=alice, config=fast_config())
    assert result.stop_reason.value == "end_turn"
