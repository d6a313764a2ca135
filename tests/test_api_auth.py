"""Who may call /v1: a user's API key (stored hashed), Letta's server password
for the admin, Letta's X-BARE-PASSWORD header; nobody else."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import Api


def test_health_needs_no_key(client):
    body = client.get("/v1/health/").json()
    assert body["status"] == "ok" and body["version"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "Basic x"},
        {"HTTP_X_BARE_PASSWORD": "password wrong"},
    ],
)
def test_a_missing_or_wrong_key_is_401_with_a_clear_message(client, db, headers):
    response = client.get("/v1/agents/", **headers)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]


def test_a_key_acts_as_its_user_and_is_stored_hashed(client, alice):
    from agents.models import APIKey
    from agents.services.accounts import apikey_create

    key, secret = apikey_create(user=alice, name="laptop")
    assert secret not in (key.hashed_key, key.prefix) and key.hashed_key == APIKey.hash(secret)
    assert Api(client, secret).get("/v1/agents/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_revoked_key_or_inactive_user_is_refused(client, alice):
    from agents.services.accounts import apikey_create

    key, secret = apikey_create(user=alice)
    key.revoked = True
    key.save()
    assert Api(client, secret).get("/v1/agents/").status_code == 401
    _, other = apikey_create(user=alice)
    alice.is_active = False
    alice.save()
    assert Api(client, other).get("/v1/agents/").status_code == 401


def test_the_letta_server_password_is_the_admins_key(client, admin_user, settings):
    settings.LETTA_SERVER_PASSWORD = "s3cret-pass"
    assert Api(client, "s3cret-pass").get("/v1/agents/").status_code == 200
    response = client.post(
        "/v1/blocks/",
        data={"label": "x"},
        content_type="application/json",
        HTTP_X_BARE_PASSWORD="password s3cret-pass",
    )
    assert response.status_code == 200 and response.json()["created_by_id"] == admin_user.id
    settings.LETTA_SERVER_PASSWORD = ""
    assert Api(client, "").get("/v1/agents/").status_code == 401


def test_create_api_key_prints_the_secret_once(alice, client):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "alice", "--name", "cli", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("ade-") and "not shown again" in err.getvalue()
    assert Api(client, secret).get("/v1/agents/").status_code == 200
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_key", "nobody", stdout=out, stderr=err)


def test_docs_render_and_the_schema_lists_the_routes(client, db):
    docs = client.get("/v1/docs")
    assert docs.status_code == 200
    # Offline: the Swagger UI comes from our own static files, not a CDN.
    assert b"cdn." not in docs.content and b"/static/ninja/" in docs.content
    schema = client.get("/v1/openapi.json").json()
    for path in (
        "/v1/agents/",
        "/v1/agents/{agent_id}/messages",
        "/v1/agents/{agent_id}/context",
        "/v1/agents/{agent_id}/archival-memory/search",
        "/v1/tools/run",
        "/v1/runs/{run_id}/steps",
        "/v1/blocks/{block_id}",
        "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]
