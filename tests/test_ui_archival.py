"""Archival memory (insert, browse with pagination, search as the agent does,
tags and dates, delete) and recall search over the whole history."""

import pytest
from django.urls import reverse

from memory import models as m
from tests.engine_helpers import fast_config
from tests.fakes.llm_server import reply
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def insert(client, agent, text, tags=""):
    return htmx(
        client, "post", reverse("passage-new", args=[agent.id]), {"text": text, "tags": tags}
    )


def test_inserting_then_finding_a_memory_as_the_agent_would(agent, as_bob):
    response = insert(as_bob, agent, "Alice's cat is called Miso.", "pets, family")
    assert response.status_code == 200 and "Inserted into archival memory." in response.text
    passage = m.Passage.objects.get(archive__agents=agent)
    assert passage.tags == ["family", "pets"] and "Miso" in response.text
    insert(as_bob, agent, "The office wifi password is hunter2.", "work")
    found = htmx(
        as_bob, "get", reverse("panel", args=[agent.id, "archival"]), {"q": "cat name"}
    ).text
    assert "Miso" in found and "score" in found
    assert "hunter2" not in found or found.index("Miso") < found.index("hunter2")  # best first
    tagged = htmx(
        as_bob,
        "get",
        reverse("panel", args=[agent.id, "archival"]),
        {"q": "password", "tags": "work"},
    ).text
    assert "hunter2" in tagged and "Miso" not in tagged


def test_browsing_is_paginated_newest_first(agent, as_alice):
    for i in range(23):
        insert(as_alice, agent, f"note number {i}")
    first = htmx(as_alice, "get", reverse("panel", args=[agent.id, "archival"])).text
    assert "23 memories" in first and "note number 22" in first and "note number 2<" not in first
    assert "page 1 of 2" in first
    second = htmx(
        as_alice, "get", reverse("panel", args=[agent.id, "archival"]), {"page": "2"}
    ).text
    assert "note number 2<" in second and "note number 22" not in second


def test_searching_by_date_range(agent, as_alice):
    insert(as_alice, agent, "today's thought")
    empty = htmx(
        as_alice,
        "get",
        reverse("panel", args=[agent.id, "archival"]),
        {"q": "thought", "start": "2001-01-01", "end": "2001-12-31"},
    ).text
    assert "Nothing found." in empty
    found = htmx(
        as_alice,
        "get",
        reverse("panel", args=[agent.id, "archival"]),
        {"q": "thought", "start": "2001-01-01"},
    ).text
    assert "today&#x27;s thought" in found


def test_deleting_a_memory(agent, as_alice):
    insert(as_alice, agent, "forget me")
    passage = m.Passage.objects.get()
    response = htmx(as_alice, "post", reverse("passage-delete", args=[agent.id, passage.id]))
    assert response.status_code == 200 and response.text == ""
    assert not m.Passage.objects.exists()


def test_an_empty_memory_is_refused(agent, as_alice):
    response = insert(as_alice, agent, "   ")
    assert response.status_code == 422 and not m.Passage.objects.exists()


def test_strangers_cannot_read_insert_or_delete(agent, alice, as_alice, as_charlie, charlie):
    insert(as_alice, agent, "private")
    passage = m.Passage.objects.get()
    assert htmx(as_charlie, "get", reverse("panel", args=[agent.id, "archival"])).status_code == 404
    assert insert(as_charlie, agent, "sneaky").status_code == 404
    assert (
        htmx(as_charlie, "post", reverse("passage-delete", args=[agent.id, passage.id])).status_code
        == 404
    )
    theirs = make_agent(charlie, name="Theirs")
    assert (
        htmx(
            as_charlie, "post", reverse("passage-delete", args=[theirs.id, passage.id])
        ).status_code
        == 404
    )
    assert m.Passage.objects.count() == 1


def test_recall_search_finds_any_earlier_message(agent, alice, as_alice, fake_llm):
    from memory.services.turns import message_send

    fake_llm.script(reply("Enjoy Lisbon!"))
    message_send(
        agent=agent, texts=["I'm flying to Lisbon on Friday"], user=alice, config=fast_config()
    )
    fake_llm.script(reply("ok"))
    message_send(agent=agent, texts=["Unrelated chatter"], user=alice, config=fast_config())
    found = htmx(
        as_alice, "get", reverse("panel", args=[agent.id, "recall"]), {"q": "Lisbon flight"}
    ).text
    assert "flying to Lisbon on Friday" in found and "Enjoy Lisbon!" in found
    only_agent = htmx(
        as_alice,
        "get",
        reverse("panel", args=[agent.id, "recall"]),
        {"q": "Lisbon", "role": "assistant"},
    ).text
    assert "Enjoy Lisbon!" in only_agent and "flying to Lisbon" not in only_agent
    latest = htmx(as_alice, "get", reverse("panel", args=[agent.id, "recall"])).text
    assert "Unrelated chatter" in latest
