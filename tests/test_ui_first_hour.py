"""A new user's first hour, through the pages as they come: the New agent form
left as it is makes an agent that answers; with no provider every page says how
to add one; a provider added on the Providers page serves agents; the account
page gives a person their API keys and password; a team admin adds people."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from agents.models import Agent, APIKey, User
from agents.providers.models import Provider
from agents.services.accounts import apikey_create
from memory import models as m
from tests.engine_helpers import set_provider_env
from tests.fakes.llm_server import FakeLLMServer, reply
from tests.form_defaults import form_defaults
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, logged_in, wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turns_settle")]

SERVER_PROVIDER_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "OLLAMA_BASE_URL",
    "VLLM_API_BASE",
)


@pytest.fixture
def no_provider(monkeypatch):
    for name in SERVER_PROVIDER_VARS:
        set_provider_env(monkeypatch, name, "")


@pytest.fixture(autouse=True)
def fresh_model_lists():
    cache.clear()


def test_the_new_agent_form_lists_the_providers_models_with_one_chosen(as_alice, fake_llm):
    page = as_alice.get(reverse("agent-new")).text
    assert '<select name="model"' in page and '<optgroup label="openai">' in page
    assert '<option value="openai/fake-chat" selected>' in page
    assert 'name="model_other"' in page  # any handle can still be typed
    assert "No model provider is configured" not in page


def test_an_agent_made_without_touching_a_field_answers(as_alice, alice, fake_llm):
    page = as_alice.get(reverse("agent-new")).text
    data = form_defaults(page, form_id="agent-new-form")
    response = as_alice.post(reverse("agent-new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    agent = Agent.objects.get(owner=alice)
    assert agent.model == "openai/fake-chat"
    fake_llm.script(reply("Hello! I'm here."))
    sent = htmx(as_alice, "post", reverse("message-send", args=[agent.id]), {"text": "hello"})
    assert sent.status_code == 200
    run = wait_for_run(m.Run.objects.get(agent=agent).id)
    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    assert "Hello! I" in as_alice.get(reverse("agent", args=[agent.id])).text


def test_a_typed_handle_wins_over_the_list(as_alice, alice, fake_llm):
    page = as_alice.get(reverse("agent-new")).text
    data = {**form_defaults(page, form_id="agent-new-form"), "model_other": "openai/typed-model"}
    assert as_alice.post(reverse("agent-new"), data).status_code == 302
    assert Agent.objects.get(owner=alice).model == "openai/typed-model"


def test_without_a_provider_the_pages_say_how_to_add_one(as_alice, no_provider):
    for url in (reverse("home"), reverse("agent-new"), reverse("providers")):
        page = as_alice.get(url).text
        assert "OPENAI_API_KEY" in page and "OLLAMA_BASE_URL" in page, url
    home = as_alice.get(reverse("home")).text
    assert (
        "No model provider is configured yet" in home and f'href="{reverse("providers")}"' in home
    )


def test_a_provider_added_on_the_providers_page_serves_a_new_agent(as_alice, alice, no_provider):
    settings.ALLOWED_MODEL_ENDPOINTS = "127.0.0.1"  # the fake provider listens on loopback
    with FakeLLMServer() as llm:
        response = as_alice.post(
            reverse("provider-add"),
            {
                "name": "team-openai",
                "provider_type": "openai",
                "api_key": "sk-team",
                "base_url": llm.url + "/v1",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        listed = as_alice.get(reverse("providers")).text
        assert "team-openai" in listed and "sk-team" not in listed
        page = as_alice.get(reverse("agent-new")).text
        assert '<option value="team-openai/fake-chat" selected>' in page
        assert "No model provider is configured" not in page
        as_alice.post(reverse("agent-new"), form_defaults(page, form_id="agent-new-form"))
        agent = Agent.objects.get(owner=alice)
        assert agent.model == "team-openai/fake-chat"
        llm.script(reply("Served by your team's key."))
        htmx(as_alice, "post", reverse("message-send", args=[agent.id]), {"text": "hi"})
        run = wait_for_run(m.Run.objects.get(agent=agent).id)
        assert run.status == "completed", run.error
    settings.ALLOWED_MODEL_ENDPOINTS = ""


def test_a_bad_provider_form_is_refused_with_the_reason(as_alice, no_provider):
    response = as_alice.post(
        reverse("provider-add"), {"name": "openai", "provider_type": "openai", "api_key": "k"}
    )
    assert response.status_code == 422 and "server" in response.content.decode()


def test_a_stranger_cannot_remove_a_teams_provider(as_alice, as_charlie, alice, no_provider):
    row = Provider.objects.create(
        name="mine", provider_type="anthropic", owner=alice, organization_id=alice.organization_id
    )
    as_charlie.post(reverse("provider-remove", args=[row.id]))
    assert Provider.objects.filter(pk=row.pk).exists()
    as_alice.post(reverse("provider-remove", args=[row.id]))
    assert not Provider.objects.filter(pk=row.pk).exists()


# --- the account page ------------------------------------------------------------------------


def test_a_new_key_is_shown_once_works_and_can_be_revoked(as_alice, alice, client):
    created = as_alice.post(reverse("account-key-create"), {"name": "notebook"}, follow=True)
    assert created.status_code == 200
    key = APIKey.objects.get(user=alice, name="notebook")
    secret = created.context["new_secret"]
    assert secret in created.content.decode() and secret.startswith(key.prefix)
    assert secret not in as_alice.get(reverse("account")).content.decode()  # shown once
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/v1/agents/", **auth).status_code == 200
    as_alice.post(reverse("account-key-revoke", args=[key.id]))
    assert client.get("/v1/agents/", **auth).status_code == 401


def test_nobody_revokes_someone_elses_key(as_bob, bob, alice):
    key, _ = apikey_create(user=alice, name="alice's")
    as_bob.post(reverse("account-key-revoke", args=[key.id]))
    key.refresh_from_db()
    assert not key.revoked


def test_a_person_changes_their_password_and_stays_logged_in(as_alice, alice):
    wrong = as_alice.post(
        reverse("account-password"),
        {"old_password": "nope", "new_password": "a-much-longer-one-77"},
    )
    assert wrong.status_code == 422 and "not correct" in wrong.content.decode()
    weak = as_alice.post(
        reverse("account-password"), {"old_password": "alice-pass-123", "new_password": "123"}
    )
    assert weak.status_code == 422
    done = as_alice.post(
        reverse("account-password"),
        {"old_password": "alice-pass-123", "new_password": "a-much-longer-one-77"},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-much-longer-one-77")
    assert as_alice.get(reverse("account")).status_code == 200


def test_a_team_admin_adds_a_person_who_then_sees_the_teams_agents(alice, agent, client):
    User.objects.filter(pk=alice.pk).update(is_team_admin=True)
    alice.refresh_from_db()
    admin = logged_in(alice)
    response = admin.post(
        reverse("account-member-add"), {"username": "dana", "password": "dana-pass-2026-x"}
    )
    assert response.status_code == 302
    dana = User.objects.get(username="dana")
    assert dana.organization_id == alice.organization_id and not dana.is_team_admin
    assert client.login(username="dana", password="dana-pass-2026-x")
    assert client.get(reverse("agent", args=[agent.id])).status_code == 200


def test_a_member_who_is_not_a_team_admin_cannot_add_people(as_bob):
    response = as_bob.post(
        reverse("account-member-add"), {"username": "eve", "password": "eve-pass-2026-x"}
    )
    assert response.status_code == 422 and not User.objects.filter(username="eve").exists()
    assert "Add a person" not in as_bob.get(reverse("account")).content.decode()


def test_pages_named_in_messages_exist(as_alice, client):
    unauthorized = client.get("/v1/agents/").json()["detail"]
    assert "/account/" in unauthorized
    assert as_alice.get("/account/").status_code == 200
    assert as_alice.get("/providers/").status_code == 200
    assert client.get("/favicon.ico").status_code in (301, 302)
