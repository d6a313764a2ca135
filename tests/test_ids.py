from agents import ids
from agents.models import Agent, Tool
from agents.services.accounts import apikey_create
from memory.models import Archive, Message, Passage, Run, Step
from memory.store.blocks import block_create


def test_rows_get_letta_style_prefixed_ids(alice):
    agent = Agent.objects.create(name="a", owner=alice, system="s")
    block = block_create(label="human", owner=alice)
    tool = Tool.objects.create(name="t")
    archive = Archive.objects.create(name="arc")
    from django.utils import timezone

    passage = Passage.objects.create(archive=archive, text="x", created_at=timezone.now())
    run = Run.objects.create(agent=agent)
    step = Step.objects.create(run=run, agent=agent)
    message = Message.objects.create(
        agent=agent, role="user", kind="user_message", created_at=timezone.now()
    )
    for obj, prefix in [
        (agent, "agent"),
        (block, "block"),
        (tool, "tool"),
        (archive, "archive"),
        (passage, "passage"),
        (run, "run"),
        (step, "step"),
        (message, "message"),
        (alice, "user"),
        (alice.organization, "org"),
    ]:
        assert ids.is_id(obj.pk, prefix), (prefix, obj.pk)
    history = block.history.get()
    assert ids.is_id(history.pk, "block_hist")


def test_message_sequence_ids_increase_in_insertion_order(alice):
    from django.utils import timezone

    agent = Agent.objects.create(name="a", owner=alice, system="s")
    made = [
        Message.objects.create(
            agent=agent, role="user", kind="user_message", created_at=timezone.now()
        )
        for _ in range(3)
    ]
    seqs = [
        m.sequence_id
        for m in Message.objects.filter(pk__in=[m.pk for m in made]).order_by("sequence_id")
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert list(Message.objects.filter(agent=agent).values_list("pk", flat=True)) == [
        m.pk for m in made
    ]


def test_api_keys_are_stored_hashed(alice):
    key, secret = apikey_create(user=alice, name="cli")
    key.refresh_from_db()
    assert secret not in (key.hashed_key, key.prefix) and key.hashed_key == key.hash(secret)
