"""The core memory editor: every block with its value and limits; edit with
optimistic locking, add, attach a shared block, detach, delete, undo and
restore through the history — Alice (owner), Bob (team), Charlie (stranger)."""

import pytest
from django.urls import reverse

from memory import models as m
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def human(agent):
    return m.Block.objects.get(agent_links__agent=agent, label="human")


def edit(client, agent, block, **data):
    fields = {
        "label": block.label,
        "description": block.description,
        "value": block.value,
        "limit": block.limit,
        "version": block.version,
    }
    fields.update(data)
    return htmx(client, "post", reverse("block-edit", args=[agent.id, block.id]), fields)


def test_the_memory_panel_shows_each_block_with_chars_used_and_limit(agent, as_alice):
    html = htmx(as_alice, "get", reverse("panel", args=[agent.id, "memory"])).text
    block = human(agent)
    assert f'id="block-{block.id}"' in html and "Name: unknown" in html and "13 / 500" in html
    assert "Facts about the user." in html


def test_a_team_member_edits_a_block_and_the_prompt_is_recompiled(agent, as_bob, bob):
    block = human(agent)
    form = htmx(as_bob, "get", reverse("block-edit", args=[agent.id, block.id]))
    assert 'name="version"' in form.text and "Name: unknown" in form.text
    response = edit(as_bob, agent, block, value="Name: Alice\nLikes tea")
    assert response.status_code == 200 and f'id="block-{block.id}"' in response.text
    block.refresh_from_db()
    assert block.value == "Name: Alice\nLikes tea" and block.version == 2
    last = block.history.order_by("-sequence").first()
    assert (last.actor_type, last.actor_id, last.reason) == ("user", bob.id, "edited in the ADE")
    section = htmx(as_bob, "get", reverse("context-section", args=[agent.id, "core_memory"])).text
    assert "Likes tea" in section


def test_a_stale_edit_is_refused_and_shows_what_the_block_says_now(agent, as_alice, as_bob):
    block = human(agent)
    stale_version = block.version
    edit(as_bob, agent, block, value="Name: Bob's idea")
    response = edit(as_alice, agent, block, value="Name: Alice's idea", version=stale_version)
    assert response.status_code == 409 and response["HX-Retarget"] == f"#block-{block.id}-slot"
    assert "changed since you read it" in response.text and "Name: Bob&#x27;s idea" in response.text
    assert f'name="version" value="{stale_version + 1}"' in response.text
    assert human(agent).value == "Name: Bob's idea"


def test_an_edit_over_the_limit_is_refused(agent, as_alice):
    response = edit(as_alice, agent, human(agent), value="x" * 501)
    assert response.status_code == 422 and "over its 500 character limit" in response.text


def test_an_edit_that_cannot_fit_the_context_window_is_refused_with_the_numbers(alice, as_alice):
    agent = make_agent(alice, context_window_limit=4000)
    big = "lorem ipsum dolor sit amet " * 1500
    response = edit(as_alice, agent, human(agent), value=big, limit=100_000)
    assert response.status_code == 422 and "4,000-token context window" in response.text
    assert human(agent).value == "Name: unknown"


def test_undo_and_restore_walk_the_history(agent, as_alice):
    block = human(agent)
    edit(as_alice, agent, block, value="v2")
    edit(as_alice, agent, human(agent), value="v3")
    history = htmx(as_alice, "get", reverse("block-history", args=[agent.id, block.id])).text
    assert "v3" in history and "v2" in history and "Restore" in history
    undone = htmx(as_alice, "post", reverse("block-undo", args=[agent.id, block.id]))
    assert undone.status_code == 200 and human(agent).value == "v2"
    htmx(as_alice, "post", reverse("block-undo", args=[agent.id, block.id]), {"sequence": "1"})
    assert human(agent).value == "Name: unknown"


def test_undo_with_nothing_to_undo_says_so(alice, as_alice):
    agent = make_agent(alice, memory_blocks=[{"label": "notes", "value": "x"}])
    block = m.Block.objects.get(agent_links__agent=agent)
    response = htmx(as_alice, "post", reverse("block-undo", args=[agent.id, block.id]))
    assert response.status_code == 409 and "Nothing to undo" in response.text


def test_adding_a_block_and_refusing_a_duplicate_label(agent, as_alice, alice):
    url = reverse("block-new", args=[agent.id])
    response = htmx(
        as_alice, "post", url, {"new-label": "projects", "new-value": "ADE", "new-limit": "1000"}
    )
    assert response.status_code == 200 and "projects" in response.text
    block = m.Block.objects.get(agent_links__agent=agent, label="projects")
    assert (block.value, block.limit, block.owner) == ("ADE", 1000, alice)
    again = htmx(as_alice, "post", url, {"new-label": "projects", "new-value": "again"})
    assert again.status_code == 422 and "already has a block labelled" in again.text


def test_sharing_a_block_between_agents_and_deleting_only_unshared_ones(alice, agent, as_alice):
    other = make_agent(alice, name="Other", memory_blocks=[{"label": "team", "value": "Acme"}])
    team_block = m.Block.objects.get(agent_links__agent=other)
    panel = htmx(as_alice, "get", reverse("panel", args=[agent.id, "memory"])).text
    assert f'value="{team_block.id}"' in panel  # offered for sharing
    htmx(as_alice, "post", reverse("block-share", args=[agent.id]), {"block_id": team_block.id})
    assert m.AgentBlock.objects.filter(agent=agent, block=team_block).exists()
    refused = htmx(
        as_alice, "post", reverse("block-remove", args=[agent.id, team_block.id]), {"delete": "1"}
    )
    assert refused.status_code == 409 and "shared with 1 other agent" in refused.text
    htmx(as_alice, "post", reverse("block-remove", args=[agent.id, team_block.id]))
    assert not m.AgentBlock.objects.filter(agent=agent, block=team_block).exists()
    assert m.Block.objects.filter(pk=team_block.pk).exists()
    lonely = human(agent)
    htmx(as_alice, "post", reverse("block-remove", args=[agent.id, lonely.id]), {"delete": "1"})
    assert not m.Block.objects.filter(pk=lonely.pk).exists()


def test_strangers_get_404_for_every_block_action(agent, as_charlie, charlie):
    block = human(agent)
    theirs = make_agent(charlie, name="Mine")
    for name, method in (
        ("block-edit", "get"),
        ("block-edit", "post"),
        ("block-undo", "post"),
        ("block-history", "get"),
        ("block-remove", "post"),
        ("block", "get"),
    ):
        response = htmx(as_charlie, method, reverse(name, args=[agent.id, block.id]))
        assert response.status_code == 404, name
    # Nor through an agent of their own.
    assert (
        htmx(as_charlie, "get", reverse("block-edit", args=[theirs.id, block.id])).status_code
        == 404
    )
    assert (
        htmx(
            as_charlie, "post", reverse("block-share", args=[theirs.id]), {"block_id": block.id}
        ).status_code
        == 404
    )
    assert human(agent).version == 1


def test_block_contents_are_escaped(agent, as_alice):
    edit(
        as_alice,
        agent,
        human(agent),
        value='<script>alert(1)</script><img src=x onerror="alert(2)">',
    )
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
