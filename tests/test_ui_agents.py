"""The agent list, creating, duplicating, deleting, importing and exporting
agents, and the workspace page — with Alice (owner), Bob (team) and Charlie
(stranger)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from memory import models as m
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, make_agent


def test_every_page_requires_login(agent):
    client = Client()
    for url in (
        reverse("home"),
        reverse("agent-new"),
        reverse("agent", args=[agent.id]),
        reverse("panel", args=[agent.id, "archival"]),
        reverse("context", args=[agent.id]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), (
            url
        )


def test_the_list_shows_own_and_team_agents_but_not_strangers(
    alice, charlie, as_alice, as_bob, as_charlie
):
    make_agent(alice, name="Alices helper", tags=["support"])
    make_agent(charlie, name="Charlies secret")
    assert "Alices helper" in as_alice.get(reverse("home")).text
    bob_page = as_bob.get(reverse("home")).text
    assert "Alices helper" in bob_page and "Charlies secret" not in bob_page
    charlie_page = as_charlie.get(reverse("home")).text
    assert "Charlies secret" in charlie_page and "Alices helper" not in charlie_page


def test_the_list_searches_and_filters_by_tag_with_htmx_returning_only_rows(alice, as_alice):
    make_agent(alice, name="Support bot", tags=["support"])
    make_agent(alice, name="Research bot", tags=["research"])
    response = htmx(as_alice, "get", reverse("home"), {"q": "research"})
    assert response.text.lstrip().startswith('<tbody id="agent-rows">')
    assert "Research bot" in response.text and "Support bot" not in response.text
    tagged = as_alice.get(reverse("home"), {"tag": "support"}).text
    assert "Support bot" in tagged and "Research bot" not in tagged


def test_the_list_shows_model_last_activity_and_token_use(alice, as_alice, agent):
    m.Run.objects.create(agent=agent, status="completed", prompt_tokens=1200, completion_tokens=34)
    page = as_alice.get(reverse("home")).text
    assert "openai/gpt-4o-mini" in page and "1234" in page and " ago" in page


def test_creating_an_agent_from_the_form(alice, as_alice):
    form = as_alice.get(reverse("agent-new"))
    assert form.status_code == 200 and 'name="persona"' in form.text
    response = as_alice.post(
        reverse("agent-new"),
        {
            "name": "Ada",
            "agent_type": "memgpt_v2_agent",
            "model": "openai/gpt-4o-mini",
            "embedding": "",
            "persona": "I am Ada.",
            "human": "Name: Alice",
            "tools": ["memory_rethink"],
            "tags": "math, demo",
        },
    )
    agent = Agent.objects.get(name="Ada")
    assert response.status_code == 302 and response["Location"] == reverse("agent", args=[agent.id])
    assert agent.owner == alice and agent.tags == ["demo", "math"]
    values = {b.label: b.value for b in agent.blocks.all()}
    assert values == {"persona": "I am Ada.", "human": "Name: Alice"}
    names = set(agent.tools.values_list("name", flat=True))
    assert {"send_message", "memory_replace", "memory_rethink"} <= names


def test_creating_with_a_bad_model_handle_shows_the_error(as_alice):
    response = as_alice.post(
        reverse("agent-new"),
        {"name": "Bad", "agent_type": "letta_v1_agent", "model": "no-slash-here"},
    )
    assert response.status_code == 422 and "provider/model" in response.text
    assert not Agent.objects.filter(name="Bad").exists()


def test_the_workspace_opens_for_owner_and_team_and_is_a_404_for_strangers(
    agent, as_alice, as_bob, as_charlie
):
    url = reverse("agent", args=[agent.id])
    page = as_alice.get(url)
    assert page.status_code == 200
    for marker in (
        'id="chat-log"',
        'id="context-panel"',
        'id="blocks-list"',
        'id="settings-panel"',
        'id="tools-panel"',
        f'ws-connect="/ws/agents/{agent.id}/?tab=memory"',
        "Name: unknown",
    ):
        assert marker in page.text, marker
    assert as_bob.get(url).status_code == 200
    assert as_charlie.get(url).status_code == 404


def test_the_workspace_opens_each_tab_as_a_full_page(agent, as_alice):
    for tab, marker in (
        ("archival", 'id="archival-panel"'),
        ("recall", 'id="recall-panel"'),
        ("runs", 'id="runs-panel"'),
        ("nonsense", 'id="memory-panel"'),
    ):
        page = as_alice.get(reverse("agent", args=[agent.id]), {"tab": tab})
        assert marker in page.text, tab


def test_the_page_loads_htmx_and_its_ws_extension_from_our_own_static_files(agent, as_alice):
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert "/static/vendor/htmx.min.js" in page and "/static/vendor/ws.min.js" in page
    assert "https://" not in page.replace("https://htmx.org", "")


def test_duplicating_copies_configuration_and_memory_but_not_the_conversation(agent, bob, as_bob):
    response = as_bob.post(reverse("agent-duplicate", args=[agent.id]))
    copy = Agent.objects.exclude(pk=agent.pk).get()
    assert response["Location"] == reverse("agent", args=[copy.id])
    assert copy.owner == bob and copy.name == "Sam copy" and copy.model == agent.model
    assert {b.label: b.value for b in copy.blocks.all()} == {
        b.label: b.value for b in agent.blocks.all()
    }
    assert set(copy.blocks.values_list("id", flat=True)).isdisjoint(
        agent.blocks.values_list("id", flat=True)
    )
    assert set(copy.tools.all()) == set(agent.tools.all())
    assert not copy.messages.exclude(role="system").exists()


def test_deleting_removes_the_agent_with_its_conversation_and_archive(agent, as_alice):
    archive = m.Archive.objects.get(agents=agent)
    m.Run.objects.create(agent=agent, status="completed")
    response = as_alice.post(reverse("agent-delete", args=[agent.id]), follow=True)
    assert response.status_code == 200 and "Deleted Sam." in response.text
    assert not Agent.objects.filter(pk=agent.pk).exists()
    assert not m.Run.objects.exists() and not m.Archive.objects.filter(pk=archive.pk).exists()


def test_strangers_cannot_delete_duplicate_or_export(agent, as_charlie):
    for name in ("agent-delete", "agent-duplicate"):
        assert as_charlie.post(reverse(name, args=[agent.id])).status_code == 404
    assert as_charlie.get(reverse("agent-export", args=[agent.id])).status_code == 404
    assert Agent.objects.filter(pk=agent.pk).count() == 1


def test_forms_refuse_posts_without_a_csrf_token(agent, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("agent-delete", args=[agent.id])).status_code == 403
    assert Agent.objects.filter(pk=agent.pk).exists()


def test_export_then_import_round_trips_an_agent_file(agent, alice, as_alice):
    pytest.importorskip("agents.services.agentfile")
    from django.core.files.uploadedfile import SimpleUploadedFile

    exported = as_alice.get(reverse("agent-export", args=[agent.id]))
    assert exported.status_code == 200 and ".af" in exported["Content-Disposition"]
    upload = SimpleUploadedFile("sam.af", exported.content, content_type="application/json")
    response = as_alice.post(reverse("agent-import"), {"file": upload})
    imported = Agent.objects.exclude(pk=agent.pk).get()
    assert response["Location"] == reverse("agent", args=[imported.id])
    assert {b.label for b in imported.blocks.all()} == {"human", "persona"}


def test_the_export_dialog_downloads_only_the_parts_ticked(agent, as_alice):
    from memory.services.archival import passage_insert

    passage_insert(agent=agent, text="The heron nests by the pond.", tags=["birds"])
    page = as_alice.get(reverse("home")).text
    assert 'id="export-dialog"' in page and 'data-export="Sam"' in page
    url = reverse("agent-export", args=[agent.id])
    everything = json.loads(as_alice.get(url).content)
    assert [p["text"] for p in everything["ade"]["archives"][0]["passages"]] == [
        "The heron nests by the pond."
    ]
    ticked = as_alice.get(url, {"chosen": "1", "part": ["messages", "folders", "tools"]})
    document = json.loads(ticked.content)
    assert document["ade"]["archives"] == [] and document["metadata"]["parts"] == (
        "folders,messages,tools"
    )
    nothing = json.loads(as_alice.get(url, {"chosen": "1"}).content)
    assert nothing["metadata"]["parts"] == "" and nothing["agents"][0]["messages"] == []


def test_importing_a_file_that_is_not_json_says_so(as_alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("junk.af", b"\x00not json", content_type="application/json")
    response = as_alice.post(reverse("agent-import"), {"file": upload}, follow=True)
    assert "not an Agent File" in response.text


def test_settings_are_saved_by_the_team_and_refused_to_strangers(agent, as_bob, as_charlie):
    data = {
        "name": "Sammy",
        "description": "Helps",
        "system": "Be brief.\n{CORE_MEMORY}",
        "model": "openai/gpt-4o",
        "temperature": "0.3",
        "max_tokens": "512",
        "enable_reasoner": "",
        "context_window_limit": "8000",
        "embedding": "",
        "tags": "a, b",
    }
    assert as_charlie.post(reverse("agent-settings", args=[agent.id]), data).status_code == 404
    response = htmx(as_bob, "post", reverse("agent-settings", args=[agent.id]), data)
    assert response.status_code == 200 and "Saved." in response.text
    assert 'id="agent-title" hx-swap-oob="true">Sammy<' in response.text
    agent.refresh_from_db()
    assert (agent.name, agent.model, agent.context_window_limit, agent.tags) == (
        "Sammy",
        "openai/gpt-4o",
        8000,
        ["a", "b"],
    )
    assert agent.llm_config["temperature"] == 0.3 and agent.llm_config["max_tokens"] == 512
    assert json.dumps(agent.llm_config)


def test_invalid_settings_come_back_with_errors(agent, as_alice):
    response = htmx(
        as_alice,
        "post",
        reverse("agent-settings", args=[agent.id]),
        {"name": "<bad>", "model": "x", "context_window_limit": "10"},
    )
    assert response.status_code == 422
    assert "provider/model" in response.text and "256" in response.text
    agent.refresh_from_db()
    assert agent.name == "Sam"


def test_the_workspace_works_behind_a_path_prefix(agent, as_alice):
    from django.urls import clear_script_prefix, set_script_prefix

    # What the handler does under ADE_PATH_PREFIX (the test client does not).
    set_script_prefix("/ade/")
    try:
        page = as_alice.get(f"/agents/{agent.id}/").text
    finally:
        clear_script_prefix()
    assert (
        f'ws-connect="/ade/ws/agents/{agent.id}/?tab=memory"' in page
        and 'href="/ade/v1/docs"' in page
    )
    assert f'hx-post="/ade/agents/{agent.id}/messages/"' in page
