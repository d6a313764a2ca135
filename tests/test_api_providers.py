"""Bring-your-own-key providers (/v1/providers): Alice stores her team's key,
Bob (her team) uses it, Charlie (a stranger) learns nothing. The key is
encrypted in the database and never comes back out of the API; an agent whose
handle names the provider talks to it, over real HTTP, with that key."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent
from tests.fakes.llm_server import FakeLLMServer, error, reply

SECRET = "sk-byok-alice-0123456789abcdef"
HI = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def llm(fake_llm, settings):
    """The BYOK provider's own fake server, on loopback, which the admin allows
    as an endpoint; the server's own providers (fake_llm) must see no chat."""
    settings.ALLOWED_MODEL_ENDPOINTS = "127.0.0.1"
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        yield server
    assert not fake_llm.chat_requests()


def make_provider(api, llm, **overrides):
    body = {
        "name": "my-openai",
        "provider_type": "openai",
        "api_key": SECRET,
        "base_url": llm.url + "/v1",
    }
    body.update(overrides)
    response = api.post("/v1/providers/", body)
    assert response.status_code == 200, response.content
    return response.json()


def send(api, agent_id):
    return api.post(f"/v1/agents/{agent_id}/messages", HI).json()


# --- the key ---------------------------------------------------------------------------------


def test_a_created_provider_never_shows_its_key(as_alice, llm, team):
    made = make_provider(as_alice, llm)
    assert made["id"].startswith("provider-")
    assert (made["name"], made["provider_type"], made["provider_category"]) == (
        "my-openai",
        "openai",
        "byok",
    )
    assert made["organization_id"] == team.id
    assert made["api_key"] is None and made["api_key_enc"] is None
    assert made["last_synced"]  # the models were listed on creation
    for response in (as_alice.get(f"/v1/providers/{made['id']}"), as_alice.get("/v1/providers/")):
        assert response.status_code == 200
        assert SECRET not in response.content.decode()


def test_the_key_is_stored_encrypted(as_alice, llm):
    from agents.providers import crypto

    made = make_provider(as_alice, llm)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_enc, p::text FROM providers_provider p WHERE id = %s", [made["id"]]
        )
        token, whole_row = cursor.fetchone()
    assert SECRET not in whole_row
    assert token.startswith("gAAAAA")  # a Fernet token
    assert crypto.decrypt(token) == SECRET


def test_keys_survive_a_new_encryption_key_and_rotation(as_alice, llm, settings):
    from django.core.management import call_command

    from agents.providers import crypto
    from agents.providers.models import Provider

    made = make_provider(as_alice, llm)  # under the key derived from SECRET_KEY
    settings.ENCRYPTION_KEY = "first-" + "x" * 40
    assert crypto.decrypt(Provider.objects.get(pk=made["id"]).api_key_enc) == SECRET
    call_command("rotate_provider_keys")
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_OLD_KEYS = (
        "second-" + "y" * 40,
        ["first-" + "x" * 40],
    )
    call_command("rotate_provider_keys")
    settings.ENCRYPTION_OLD_KEYS = []
    settings.SECRET_KEY = "a-changed-django-secret-key-" + "z" * 30
    assert crypto.decrypt(Provider.objects.get(pk=made["id"]).api_key_enc) == SECRET


def test_a_key_no_configured_key_decrypts_fails_the_turn_clearly(as_alice, llm, settings):
    made = make_provider(as_alice, llm)
    agent = create_agent(as_alice, model="my-openai/fake-chat")
    settings.ENCRYPTION_KEY = "another-" + "k" * 40
    settings.SECRET_KEY = "another-django-secret-key-" + "s" * 30
    from memory.llm.registry import _PROVIDER_CACHE

    _PROVIDER_CACHE.clear()  # as in a fresh process: no client was built before the key changed
    refused = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    assert refused.status_code == 422 and refused.json()["stop_reason"] == "llm_api_error"
    check = as_alice.post(f"/v1/providers/{made['id']}/check")
    assert check.status_code == 422
    assert "ADE_ENCRYPTION_OLD_KEYS" in check.json()["detail"]


# --- using it --------------------------------------------------------------------------------


def test_an_agent_with_a_byok_handle_talks_to_the_provider_with_its_key(as_alice, as_bob, llm):
    make_provider(as_alice, llm)
    agent = create_agent(as_alice, model="my-openai/fake-chat")
    assert agent["llm_config"]["provider_category"] == "byok"
    assert agent["llm_config"]["model_endpoint_type"] == "openai"
    llm.script(reply("hello from BYOK"))
    body = send(as_alice, agent["id"])
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    chat = llm.last_chat()
    assert chat.headers["authorization"] == f"Bearer {SECRET}"
    assert chat.json["model"] == "fake-chat"

    # Bob's team shares the provider.
    bobs = create_agent(as_bob, name="Bobs", model="my-openai/fake-chat")
    assert send(as_bob, bobs["id"])["stop_reason"]["stop_reason"] == "end_turn"
    assert llm.last_chat().headers["authorization"] == f"Bearer {SECRET}"


def test_a_new_key_is_used_from_the_next_message(as_alice, llm):
    made = make_provider(as_alice, llm)
    agent = create_agent(as_alice, model="my-openai/fake-chat")
    send(as_alice, agent["id"])
    assert (
        as_alice.patch(f"/v1/providers/{made['id']}", {"base_url": llm.url + "/v1"}).status_code
        == 422
    )
    changed = as_alice.patch(f"/v1/providers/{made['id']}", {"api_key": "sk-new-key"})
    assert changed.status_code == 200 and changed.json()["api_key"] is None
    send(as_alice, agent["id"])
    assert llm.last_chat().headers["authorization"] == "Bearer sk-new-key"


def test_a_deleted_provider_fails_its_agents_clearly(as_alice, llm):
    from memory import models as m

    made = make_provider(as_alice, llm)
    agent = create_agent(as_alice, model="my-openai/fake-chat")
    assert as_alice.delete(f"/v1/providers/{made['id']}").status_code == 200
    assert as_alice.get(f"/v1/providers/{made['id']}").status_code == 404
    refused = as_alice.post(f"/v1/agents/{agent['id']}/messages", HI)
    body = refused.json()
    assert refused.status_code == 422 and "unknown provider 'my-openai'" in body["detail"]
    assert "unknown provider 'my-openai'" in m.Run.objects.get(pk=body["run_id"]).error


def test_byok_models_are_listed_for_the_team_only(as_alice, as_bob, as_charlie, llm):
    made = make_provider(as_alice, llm)
    refreshed = as_alice.patch(f"/v1/providers/{made['id']}/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["last_synced"]
    for api in (as_alice, as_bob):
        handles = {m["handle"] for m in api.get("/v1/models/").json()}
        assert "my-openai/fake-chat" in handles
    only = as_alice.get("/v1/models/", provider_name="my-openai").json()
    assert only and {m["provider_name"] for m in only} == {"my-openai"}
    assert "my-openai/" not in as_charlie.get("/v1/models/").content.decode()


# --- checking a key --------------------------------------------------------------------------


def test_check_accepts_a_good_key_and_rejects_a_bad_one(as_alice, llm):
    good = as_alice.post(
        "/v1/providers/check",
        {"provider_type": "openai", "api_key": "sk-good", "base_url": llm.url + "/v1"},
    )
    assert good.status_code == 200, good.content
    assert "Valid" in good.json()["message"]
    assert llm.requests[-1].headers["authorization"] == "Bearer sk-good"

    llm.script_for("models", error(401, "Incorrect API key provided"))
    bad = as_alice.post(
        "/v1/providers/check",
        {"provider_type": "openai", "api_key": "sk-bad", "base_url": llm.url + "/v1"},
    )
    assert bad.status_code == 401, bad.content
    assert "rejected the API key" in bad.json()["detail"]


def test_check_of_a_stored_provider_uses_its_stored_key(as_alice, llm):
    made = make_provider(as_alice, llm)
    response = as_alice.post(f"/v1/providers/{made['id']}/check")
    assert response.status_code == 200, response.content
    assert llm.requests[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_check_refuses_an_inside_base_url_unless_allowed(as_alice, llm, settings):
    settings.ALLOWED_MODEL_ENDPOINTS = ""
    for url in ("http://localhost:9/v1", llm.url + "/v1"):
        response = as_alice.post(
            "/v1/providers/check", {"provider_type": "openai", "api_key": "k", "base_url": url}
        )
        assert response.status_code == 400
        assert "loopback" in response.json()["detail"]
    assert not llm.requests


# --- permissions -----------------------------------------------------------------------------


def test_a_team_member_sees_and_manages_the_team_s_providers(as_alice, as_bob, llm):
    made = make_provider(as_alice, llm)
    assert [p["id"] for p in as_bob.get("/v1/providers/").json()] == [made["id"]]
    assert as_bob.get(f"/v1/providers/{made['id']}").status_code == 200
    assert as_bob.post(f"/v1/providers/{made['id']}/check").status_code == 200
    assert as_bob.patch(f"/v1/providers/{made['id']}", {"api_key": SECRET}).status_code == 200


def test_a_stranger_cannot_see_or_use_someone_else_s_provider(as_alice, as_charlie, llm):
    made = make_provider(as_alice, llm)
    assert as_charlie.get("/v1/providers/").json() == []
    path = f"/v1/providers/{made['id']}"
    for response in (
        as_charlie.get(path),
        as_charlie.patch(path, {"api_key": "sk-mine"}),
        as_charlie.delete(path),
        as_charlie.post(f"{path}/check"),
        as_charlie.patch(f"{path}/refresh"),
    ):
        assert response.status_code == 404, response.content
        assert "not found" in response.json()["detail"].lower()
    # Nor use it by name: for Charlie's organization the handle names nothing.
    response = as_charlie.post("/v1/agents/", {"model": "my-openai/fake-chat"})
    assert response.status_code == 422
    assert "unknown provider" in response.json()["detail"]
    # The same name in Charlie's organization is his own provider.
    mine = make_provider(as_charlie, llm, api_key="sk-charlie")
    assert mine["id"] != made["id"]
    agent = create_agent(as_charlie, model="my-openai/fake-chat")
    send(as_charlie, agent["id"])
    assert llm.last_chat().headers["authorization"] == "Bearer sk-charlie"


def test_routes_need_an_api_key(client, llm):
    assert client.get("/v1/providers/").status_code == 401
    assert (
        client.post("/v1/providers/check", "{}", content_type="application/json").status_code == 401
    )


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides,status,words",
    [
        ({"name": "OpenAI"}, 422, "server's own providers"),
        ({"name": "a/b"}, 422, "no '/'"),
        ({"name": ""}, 422, "provider name"),
        ({"provider_type": "bedrock"}, 422, "not supported"),
        ({"provider_type": "nonsense"}, 422, "provider_type"),
        ({"provider_type": "ollama", "base_url": None}, 422, "needs a base_url"),
        ({"base_url": "http://169.254.169.254/"}, 400, "link-local"),
        ({"base_url": "file:///etc/passwd"}, 400, "http"),
        ({"extra_field": 1}, 422, "extra"),
        ({"api_key": "sk-ключ"}, 422, "ascii"),
        ({"base_url": "http://" + "a" * 2000 + ".example"}, 422, "base_url"),
    ],
)
def test_bad_provider_input_is_a_clear_4xx(as_alice, llm, overrides, status, words):
    body = {"name": "mine", "provider_type": "openai", "api_key": "k", "base_url": llm.url + "/v1"}
    body.update(overrides)
    response = as_alice.post("/v1/providers/", body)
    assert response.status_code == status, response.content
    assert words.lower() in response.json()["detail"].lower()


def test_a_base_url_the_server_is_configured_with_needs_no_allow_list(as_alice, fake_llm, settings):
    """The admin's own OPENAI_BASE_URL reaches nothing new, even on loopback."""
    settings.ALLOWED_MODEL_ENDPOINTS = ""
    response = as_alice.post(
        "/v1/providers/",
        {
            "name": "proxy",
            "provider_type": "openai",
            "api_key": "k",
            "base_url": fake_llm.url + "/v1",
        },
    )
    assert response.status_code == 200, response.content


def test_a_name_is_taken_once_per_organization_whatever_its_case(as_alice, as_bob, llm):
    make_provider(as_alice, llm)
    again = as_bob.post(
        "/v1/providers/",
        {
            "name": "My-OpenAI",
            "provider_type": "openai",
            "api_key": "k",
            "base_url": llm.url + "/v1",
        },
    )
    assert again.status_code == 409


def test_list_filters_and_pages(as_alice, llm):
    first = make_provider(as_alice, llm, name="one")
    second = make_provider(as_alice, llm, name="two", provider_type="groq")
    ids = lambda r: [p["id"] for p in r.json()]  # noqa: E731
    assert ids(as_alice.get("/v1/providers/")) == [second["id"], first["id"]]
    assert ids(as_alice.get("/v1/providers/", order="asc")) == [first["id"], second["id"]]
    assert ids(as_alice.get("/v1/providers/", name="one")) == [first["id"]]
    assert ids(as_alice.get("/v1/providers/", provider_type="groq")) == [second["id"]]
    assert ids(as_alice.get("/v1/providers/", limit=1)) == [second["id"]]
    assert ids(as_alice.get("/v1/providers/", after=second["id"])) == [first["id"]]
