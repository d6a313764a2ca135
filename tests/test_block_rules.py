import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from agents.errors import Conflict, LimitExceeded
from agents.models import Agent
from memory.models import AgentBlock, BlockHistory
from memory.store.blocks import block_attach, block_create, block_detach, block_undo, block_update


@pytest.fixture
def agent(alice):
    return Agent.objects.create(
        name="helper", owner=alice, organization=alice.organization, system="hi"
    )


def test_an_agent_cannot_have_two_blocks_with_the_same_label(agent, alice):
    first = block_create(label="human", value="Alice", owner=alice)
    second = block_create(label="human", value="Someone else", owner=alice)
    block_attach(agent=agent, block=first)
    with pytest.raises(Conflict, match="already has a block labelled 'human'"):
        block_attach(agent=agent, block=second)


def test_the_database_refuses_a_duplicate_label_even_without_the_service(agent, alice):
    first = block_create(label="human", owner=alice)
    second = block_create(label="persona", owner=alice)
    AgentBlock.objects.create(agent=agent, block=first, label="human")
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentBlock.objects.create(agent=agent, block=second, label="human")


def test_one_block_can_be_shared_by_two_agents(agent, alice):
    other = Agent.objects.create(name="other", owner=alice, system="hi")
    shared = block_create(label="project", value="Apollo", owner=alice)
    block_attach(agent=agent, block=shared)
    block_attach(agent=other, block=shared)
    assert set(shared.agents.values_list("name", flat=True)) == {"helper", "other"}


def test_renaming_a_shared_block_to_a_label_an_agent_already_uses_is_refused(agent, alice):
    shared = block_create(label="notes", owner=alice)
    block_attach(agent=agent, block=shared)
    block_attach(agent=agent, block=block_create(label="human", owner=alice))
    with pytest.raises(Conflict):
        block_update(block=shared, actor_type="user", label="human")


def test_a_value_over_the_limit_is_refused_when_limits_are_enforced(alice):
    block = block_create(label="human", value="short", limit=10, owner=alice)
    with pytest.raises(LimitExceeded, match="over its 10 character limit"):
        block_update(block=block, actor_type="agent", value="x" * 11)
    block.refresh_from_db()
    assert block.value == "short"


@override_settings(BLOCK_LIMIT_POLICY="display")
def test_the_display_policy_keeps_over_limit_values(alice):
    block = block_create(label="human", value="x" * 20, limit=10, owner=alice)
    assert len(block.value) == 20


def test_every_change_writes_a_history_row_naming_who_made_it(alice):
    block = block_create(label="human", value="v1", owner=alice)
    block_update(
        block=block, actor_type="agent", actor_id="agent-x", reason="memory_replace", value="v2"
    )
    rows = list(BlockHistory.objects.filter(block=block).order_by("sequence"))
    assert [(r.sequence, r.value, r.actor_type) for r in rows] == [
        (1, "v1", "user"),
        (2, "v2", "agent"),
    ]
    assert rows[1].actor_id == "agent-x" and rows[1].reason == "memory_replace"


def test_undo_restores_the_previous_value_and_is_itself_undoable(alice):
    block = block_create(label="human", value="v1", owner=alice)
    block_update(block=block, actor_type="user", value="v2")
    block_undo(block=block)
    block.refresh_from_db()
    assert block.value == "v1"
    block_undo(block=block)
    block.refresh_from_db()
    assert block.value == "v2"


def test_a_stale_write_is_refused_instead_of_overwriting_silently(alice):
    block = block_create(label="human", value="v1", owner=alice)
    seen = block.version
    block_update(block=block, actor_type="agent", value="agent edit")
    with pytest.raises(Conflict, match="changed since you read it"):
        block_update(block=block, actor_type="user", value="ui edit", expected_version=seen)


def test_nul_bytes_are_stripped_from_values(alice):
    block = block_create(label="human", value="a\x00b", owner=alice)
    assert block.value == "ab"


def test_detaching_a_block_that_is_not_attached_says_so(agent, alice):
    from agents.errors import NotFound

    with pytest.raises(NotFound):
        block_detach(agent=agent, block=block_create(label="x", owner=alice))
