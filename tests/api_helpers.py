"""Shared set-up for /v1 API tests: an API key per actor (Alice owns, Bob is on
her team, Charlie is a stranger), a tiny JSON client, and SSE parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.engine_helpers import fake_llm  # noqa: F401 - re-exported fixture

# Test modules `from tests.api_helpers import *` to get the fixtures too.
__all__ = [
    "MODEL",
    "BLOCKS",
    "Api",
    "create_agent",
    "sse_events",
    "fake_llm",
    "no_inprocess_worker",
    "secrets",
    "as_alice",
    "as_bob",
    "as_charlie",
]

MODEL = "openai/gpt-4o-mini"
BLOCKS = [
    {"label": "human", "value": "Name: unknown", "limit": 500},
    {"label": "persona", "value": "I am a helpful assistant.", "limit": 500},
]


class Api:
    """Django's test client speaking JSON with a bearer key."""

    def __init__(self, client: Any, secret: str | None) -> None:
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        fn = getattr(self.client, method)
        if method in ("get", "delete") and body is None:
            return fn(path, params or None, **self.headers)
        data = (
            body if isinstance(body, (str, bytes)) else json.dumps(body if body is not None else {})
        )
        return fn(path, data=data, content_type="application/json", **self.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("get", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("post", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.call("patch", path, body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.call("put", path, body)

    def delete(self, path: str) -> Any:
        return self.call("delete", path)


@pytest.fixture(autouse=True)
def no_inprocess_worker(settings):
    """Import me into every API test module: tests drive queued runs with
    worker_run_once(), and no worker thread may race them."""
    settings.INPROCESS_WORKER = False


@pytest.fixture
def secrets(alice, bob, charlie) -> dict[str, str]:
    from agents.services.accounts import apikey_create

    return {
        user.username: apikey_create(user=user, name="tests")[1] for user in (alice, bob, charlie)
    }


@pytest.fixture
def as_alice(client, secrets) -> Api:
    return Api(client, secrets["alice"])


@pytest.fixture
def as_bob(client, secrets) -> Api:
    return Api(client, secrets["bob"])


@pytest.fixture
def as_charlie(client, secrets) -> Api:
    return Api(client, secrets["charlie"])


def create_agent(api: Api, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Sam", "agent_type": "letta_v1_agent", "model": MODEL, "memory_blocks": BLOCKS}
    body.update(overrides)
    response = api.post("/v1/agents/", body)
    assert response.status_code == 200, response.content
    return response.json()


def sse_events(response: Any) -> list[tuple[str | None, Any]]:
    """(event name, data) for each SSE event of a streamed response; data is
    parsed JSON, or the raw string for [DONE]."""
    raw = b"".join(response.streaming_content).decode()
    events = []
    for chunk in raw.split("\n\n"):
        if not chunk.strip():
            continue
        name, data = None, ""
        for line in chunk.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
        events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events
