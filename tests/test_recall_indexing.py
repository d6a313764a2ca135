"""Recall search vectors written with a message's INSERT (the turn store's fast
path) are exactly those index_messages computes from the stored rows."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.engine_helpers import fake_llm  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _vectors(agent_id: str) -> list[tuple[str, str | None]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, search_vector::text FROM memory_message WHERE agent_id = %s "
            "ORDER BY sequence_id",
            [agent_id],
        )
        return cursor.fetchall()


def test_vectors_written_with_the_insert_match_the_indexer(alice, fake_llm):  # noqa: F811
    from agents.models import Agent
    from agents.services.lifecycle import agent_create
    from memory.models import Message
    from memory.services.turns import message_send
    from memory.store.rows import message_from_row, searchable_text
    from memory.store.search import index_messages
    from tests.fakes.llm_server import reply, tool_call

    agent = agent_create(owner=alice, name="indexed", model="openai/gpt-4o-mini")
    fake_llm.script(reply("Nice to meet you, Ada."))
    message_send(
        agent=Agent.objects.get(pk=agent.id), texts=["Hello, I am Ada from Lisbon."], user=alice
    )
    fake_llm.script(
        tool_call("memory_insert", {"label": "human", "new_string": "Lives in Lisbon"}),
        reply("Noted that you live in Lisbon."),
    )
    message_send(
        agent=Agent.objects.get(pk=agent.id),
        texts=["I moved there in 2019 for the tram."],
        user=alice,
    )
    fake_llm.script(reply("Trams are great."))
    message_send(
        agent=Agent.objects.get(pk=agent.id), texts=["The 28 is my favourite line."], user=alice
    )

    written = _vectors(agent.id)
    assert sum(1 for _, v in written if v) >= 6
    Message.objects.filter(agent_id=agent.id).update(search_vector=None)
    for row in Message.objects.filter(agent_id=agent.id).order_by("sequence_id"):
        index_messages(agent.id, [(row.id, searchable_text(message_from_row(row)))])
    assert _vectors(agent.id) == written
