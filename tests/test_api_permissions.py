"""Every /v1 route, called by Alice (owner), Bob (her team) and Charlie (a
stranger). Owners and team members get their answer; a stranger learns
nothing: another team's objects are simply not found (404), and lists leave
them out. The last test checks that this table covers every route the API
serves, so a new route cannot ship without its permission test."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import Api, create_agent
from tests.fakes.llm_server import reply

TOOL_SOURCE = '''
def shout(text: str) -> str:
    """Shout a text.

    Args:
        text: What to shout.
    """
    return text.upper()
'''


@dataclass
class World:
    """Alice's things, named the way route templates refer to them."""

    ids: dict[str, str] = field(default_factory=dict)

    def fill(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def world(as_alice, fake_llm) -> World:
    from memory import models as m
    from memory.services.worker import worker_run_once

    agent = create_agent(as_alice, tags=["alices-tag"])
    agent_id = agent["id"]
    fake_llm.script(reply("Hello"))
    sent = as_alice.post(
        f"/v1/agents/{agent_id}/messages", {"messages": [{"role": "user", "content": "hi"}]}
    )
    run_id = sent.json()["usage"]["run_ids"][0]
    step = m.Step.objects.get(run_id=run_id)
    passage = as_alice.post(f"/v1/agents/{agent_id}/archival-memory", {"text": "a fact"}).json()[0]
    block = as_alice.post("/v1/blocks/", {"label": "shared", "value": "team notes"}).json()
    tool = as_alice.post("/v1/tools/", {"source_code": TOOL_SOURCE}).json()
    as_alice.patch(f"/v1/agents/{agent_id}/tools/attach/{tool['id']}")
    as_alice.post(
        f"/v1/agents/{agent_id}/messages/async",
        {"messages": [{"role": "user", "content": "queued"}]},
    )
    worker_run_once()  # the queued run is worked off; its rows stay
    return World(
        ids={
            "agent": agent_id,
            "run": run_id,
            "step": step.id,
            "passage": passage["id"],
            "block": block["id"],
            "tool": tool["id"],
            "tool_name": "shout",
            "label": "human",
            "message": agent["message_ids"][0],
            "tag": "alices-tag",
        }
    )


def _agent_file(as_alice: Api, world: World) -> bytes:
    return as_alice.get(world.fill("/v1/agents/{agent}/export")).content


@dataclass
class Route:
    method: str
    path: str
    body: Any = None
    ok: tuple[int, ...] = (200,)
    # Collections answer everyone; a stranger's view must not contain `hides`.
    hides: str | None = None
    stream: bool = False
    multipart: bool = False

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"


MESSAGE = {"messages": [{"role": "user", "content": "hello"}]}

ROUTES = [
    Route("get", "/v1/agents/", hides="agent"),
    Route("get", "/v1/agents/count"),
    Route("get", "/v1/tags/", hides="tag"),
    Route("post", "/v1/agents/", {"name": "Other", "model": "openai/gpt-4o-mini"}),
    Route("post", "/v1/agents/import", multipart=True),
    Route("get", "/v1/agents/{agent}"),
    Route("patch", "/v1/agents/{agent}", {"description": "changed"}),
    Route("delete", "/v1/agents/{agent}"),
    Route("get", "/v1/agents/{agent}/export"),
    Route("post", "/v1/agents/{agent}/export"),
    Route("get", "/v1/agents/{agent}/tools"),
    Route("patch", "/v1/agents/{agent}/tools/attach/{tool}"),
    Route("patch", "/v1/agents/{agent}/tools/detach/{tool}"),
    Route("patch", "/v1/agents/{agent}/tools/approval/{tool_name}", {"requires_approval": True}),
    Route("post", "/v1/agents/{agent}/tools/{tool_name}/run", {"args": {"text": "hi"}}),
    Route("get", "/v1/tools/", hides="tool"),
    Route("get", "/v1/tools/count"),
    Route("post", "/v1/tools/", {"source_code": TOOL_SOURCE.replace("shout", "whisper")}),
    Route("put", "/v1/tools/", {"source_code": TOOL_SOURCE.replace("shout", "murmur")}),
    Route("post", "/v1/tools/run", {"source_code": TOOL_SOURCE, "args": {"text": "a"}}),
    Route("post", "/v1/tools/add-base-tools"),
    Route("get", "/v1/tools/{tool}"),
    Route("patch", "/v1/tools/{tool}", {"description": "louder"}),
    Route("delete", "/v1/tools/{tool}"),
    Route("get", "/v1/models/"),
    Route("get", "/v1/models/embedding"),
    Route("post", "/v1/agents/{agent}/messages", MESSAGE),
    Route("get", "/v1/agents/{agent}/messages"),
    Route("post", "/v1/agents/{agent}/messages/stream", MESSAGE, stream=True),
    Route("post", "/v1/agents/{agent}/messages/async", MESSAGE),
    Route("post", "/v1/agents/{agent}/messages/cancel", {}),
    Route("patch", "/v1/agents/{agent}/reset-messages", {}),
    Route("post", "/v1/agents/{agent}/summarize", None, ok=(200, 409)),
    Route("get", "/v1/agents/{agent}/context"),
    Route("post", "/v1/agents/{agent}/recompile"),
    Route("get", "/v1/agents/{agent}/core-memory"),
    Route("get", "/v1/agents/{agent}/core-memory/blocks"),
    Route("get", "/v1/agents/{agent}/core-memory/blocks/{label}"),
    Route("patch", "/v1/agents/{agent}/core-memory/blocks/{label}", {"value": "Name: Bob's view"}),
    Route("patch", "/v1/agents/{agent}/core-memory/blocks/attach/{block}"),
    Route("patch", "/v1/agents/{agent}/core-memory/blocks/detach/{block}", ok=(404,)),
    Route("get", "/v1/blocks/", hides="block"),
    Route("get", "/v1/blocks/count"),
    Route("post", "/v1/blocks/", {"label": "mine", "value": "x"}),
    Route("get", "/v1/blocks/{block}"),
    Route("patch", "/v1/blocks/{block}", {"value": "edited"}),
    Route("delete", "/v1/blocks/{block}"),
    Route("get", "/v1/blocks/{block}/agents"),
    Route("get", "/v1/agents/{agent}/archival-memory"),
    Route("post", "/v1/agents/{agent}/archival-memory", {"text": "another fact", "tags": ["t"]}),
    Route("get", "/v1/agents/{agent}/archival-memory/search?query=fact"),
    Route("delete", "/v1/agents/{agent}/archival-memory/{passage}"),
    Route("get", "/v1/runs/", hides="run"),
    Route("get", "/v1/runs/active", hides="agent"),
    Route("get", "/v1/runs/{run}"),
    Route("get", "/v1/runs/{run}/messages"),
    Route("get", "/v1/runs/{run}/usage"),
    Route("get", "/v1/runs/{run}/steps"),
    Route("get", "/v1/steps/", hides="step"),
    Route("get", "/v1/steps/{step}"),
    Route("get", "/v1/steps/{step}/metrics"),
    Route("get", "/v1/steps/{step}/messages"),
]

# Detaching a block that is not attached is a 404 for everyone; attach it first.
PREPARE = {
    "PATCH /v1/agents/{agent}/core-memory/blocks/detach/{block}": "/v1/agents/{agent}/core-memory/blocks/attach/{block}"
}


def _params():
    for route in ROUTES:
        marks = [pytest.mark.django_db(transaction=True)] if route.stream else []
        for actor in ("alice", "bob", "charlie"):
            yield pytest.param(route, actor, id=f"{route.id} as {actor}", marks=marks)


def _call(api: Api, route: Route, world: World, as_alice: Api) -> Any:
    path = world.fill(route.path)
    if route.multipart:
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("agent.af", _agent_file(as_alice, world), "application/json")
        return api.client.post(path, {"file": upload}, **api.headers)
    if route.method in ("get", "delete"):
        return api.call(route.method, path)
    return api.call(route.method, path, route.body if route.body is not None else {})


@pytest.mark.parametrize("route,actor", list(_params()))
def test_route_permissions(route, actor, world, secrets, client, as_alice):
    prepare = PREPARE.get(route.id)
    if prepare:
        as_alice.patch(world.fill(prepare))
        route = Route(route.method, route.path, route.body, ok=(200,))
    api = Api(client, secrets[actor])
    response = _call(api, route, world, as_alice)
    if route.stream and response.status_code == 200:
        b"".join(response.streaming_content)  # let the turn finish
    object_scoped = "{" in route.path
    if actor == "charlie" and object_scoped:
        assert response.status_code == 404, (route.id, response.content)
        assert "not found" in response.json()["detail"].lower()
        return
    assert response.status_code in route.ok, (route.id, actor, response.content)
    if actor == "charlie" and route.hides:
        assert world.ids[route.hides] not in response.content.decode(), route.id


def test_a_stranger_cannot_use_someone_elses_tool_on_their_own_agent(world, as_charlie):
    own = create_agent(as_charlie, name="Mine")
    response = as_charlie.patch(f"/v1/agents/{own['id']}/tools/attach/{world.ids['tool']}")
    assert response.status_code == 404
    response = as_charlie.patch(
        f"/v1/agents/{own['id']}/core-memory/blocks/attach/{world.ids['block']}"
    )
    assert response.status_code == 404
    response = as_charlie.post("/v1/agents/", {"name": "Sneaky", "block_ids": [world.ids["block"]]})
    assert response.status_code == 404


# The tags of the agents and memory routers; other apps' routers (folders, ...)
# carry their own permission tests.
OWN_TAGS = {"agents", "tools", "models", "messages", "blocks", "archival memory", "runs", "steps"}


def test_every_route_is_in_the_permission_table():
    import re

    from ade.api import api

    served = set()
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method, operation in operations.items():
            if set(operation.get("tags", [])) & OWN_TAGS:
                served.add(f"{method.upper()} {path}")
    assert len(served) > 50

    def shape(route: str) -> str:
        return re.sub(r"\{(\w+)\}", "{}", route.split("?")[0])

    covered = {shape(r.id) for r in ROUTES}
    missing = {s for s in served if shape(s) not in covered}
    assert not missing, f"routes without a permission test: {sorted(missing)}"


def test_the_admin_sees_everything(world, client, admin_user):
    from agents.services.accounts import apikey_create

    _, secret = apikey_create(user=admin_user)
    admin = Api(client, secret)
    assert admin.get(world.fill("/v1/agents/{agent}")).status_code == 200
    assert world.ids["agent"] in json.dumps(admin.get("/v1/agents/").json())
