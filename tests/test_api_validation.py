"""Bad input is the caller's mistake: a 4xx with a message that says what is
wrong, never a 500. Each route family gets malformed bodies and ids."""

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent

# Not an object at all: every route with a body refuses these.
NOT_OBJECTS = ["{not json", "[]", '"a string"', "null", "42"]

MESSAGES = [
    '{"messages": "hello"}',
    '{"messages": [{"role": "user", "content": [{"type": "image", "url": "x"}]}]}',
    '{"messages": [{"role": "assistant", "content": "hi"}]}',
    '{"messages": [{"role": "user", "content": "   "}]}',
    '{"messages": [{"role": "user", "content": 5}]}',
    '{"messages": [], "max_steps": 0}',
    '{"messages": [{"role": "user", "content": "x"}], "max_steps": -1}',
    '{"include_return_message_types": ["no_such_type"], "messages": [{"role": "user", "content": "x"}]}',
    '{"messages": [{"type": "approval", "approvals": [{"approve": "yes"}]}]}',
    '{"messages": [{"role": "user", "content": "x"}], "input": "y"}',
]
BLOCK_EDIT = [
    '{"value": ["x"]}',
    '{"limit": -5}',
    '{"label": ""}',
    '{"value": "' + "x" * 600 + '"}',
    '{"metadata": "x"}',
]
TOOL_SOURCE = [
    '{"source_code": ""}',
    '{"source_code": "def broken(:\\n  pass"}',
    '{"source_code": "x = 1"}',
    '{"source_code": "def f(a):\\n  return a"}',
    '{"source_code": 5}',
    '{"source_code": "def f(a: int) -> int:\\n  return a", "return_char_limit": 0}',
    '{"json_schema": {"parameters": 3}, "source_code": "def f(): pass"}',
]

BODY_ROUTES = [
    (
        "post",
        "/v1/agents/",
        [
            '{"name": 42}',
            '{"memory_blocks": "x"}',
            '{"tags": {"a": 1}}',
            '{"model": "not-a-handle"}',
            '{"model": "nosuchprovider/model"}',
            '{"tool_rules": [{"type": "no_such_rule", "tool_name": "x"}]}',
            '{"timezone": "Mars/Olympus"}',
            '{"agent_type": "sleeptime_agent"}',
            '{"name": "bad/name"}',
            '{"context_window_limit": 10}',
            '{"block_ids": ["block-00000000-0000-4000-8000-000000000000"]}',
            '{"tools": ["no_such_tool"]}',
            '{"tool_ids": ["nope"]}',
            '{"memory_blocks": [{"label": "a", "value": "' + "x" * 30 + '", "limit": 10}]}',
            '{"llm_config": {"model": "x", "model_endpoint_type": "nowhere"}}',
        ],
    ),
    (
        "patch",
        "/v1/agents/{agent}",
        [
            '{"model": "x"}',
            '{"tool_ids": ["nope"]}',
            '{"block_ids": ["nope"]}',
            '{"message_ids": ["message-missing"]}',
            '{"timezone": "Nowhere/City"}',
            '{"tool_rules": [{"type": "bogus"}]}',
            '{"name": "no/slashes"}',
            '{"context_window_limit": 3}',
            '{"tags": "x"}',
        ],
    ),
    ("post", "/v1/agents/{agent}/messages", MESSAGES),
    ("post", "/v1/agents/{agent}/messages/stream", MESSAGES),
    ("post", "/v1/agents/{agent}/messages/async", MESSAGES),
    (
        "post",
        "/v1/agents/{agent}/messages/cancel",
        ['{"run_ids": ["run-missing"]}', '{"run_ids": "x"}'],
    ),
    ("patch", "/v1/agents/{agent}/core-memory/blocks/human", BLOCK_EDIT),
    (
        "post",
        "/v1/blocks/",
        [
            '{"value": "no label"}',
            '{"label": "", "value": "x"}',
            '{"label": "a", "limit": 0}',
            '{"label": "a", "value": "' + "x" * 30 + '", "limit": 5}',
        ],
    ),
    ("patch", "/v1/blocks/{block}", BLOCK_EDIT),
    (
        "post",
        "/v1/agents/{agent}/archival-memory",
        [
            '{"text": ""}',
            '{"text": {"nested": true}}',
            '{"text": "x", "tags": [1, 2]}',
            '{"text": "x", "tags": [""]}',
            '{"text": "x", "created_at": "not a date"}',
            "{}",
        ],
    ),
    ("post", "/v1/tools/", TOOL_SOURCE),
    ("put", "/v1/tools/", TOOL_SOURCE),
    (
        "patch",
        "/v1/tools/{tool}",
        [
            '{"source_code": "x = 1"}',
            '{"return_char_limit": -1}',
            '{"source_type": "typescript"}',
            '{"tags": "x"}',
        ],
    ),
    (
        "post",
        "/v1/tools/run",
        [
            '{"source_code": "def f(a: int) -> int:\\n  return a", "args": "x"}',
            '{"args": {}}',
            '{"source_code": "x = 1", "args": {}}',
        ],
    ),
    (
        "patch",
        "/v1/agents/{agent}/tools/approval/memory_replace",
        ['{"requires_approval": "maybe"}', "{}"],
    ),
    ("post", "/v1/agents/{agent}/tools/memory_replace/run", ['{"args": "x"}', '{"args": {}}']),
]


@pytest.fixture
def ids(as_alice):
    agent = create_agent(as_alice)
    block = as_alice.post("/v1/blocks/", {"label": "notes", "value": "x", "limit": 100}).json()
    tool = as_alice.post(
        "/v1/tools/",
        {
            "source_code": 'def echo(x: str) -> str:\n    """Echo.\n\n    Args:\n'
            '        x: text\n    """\n    return x\n'
        },
    ).json()
    return {"agent": agent["id"], "block": block["id"], "tool": tool["id"]}


@pytest.mark.parametrize("method,path,bodies", BODY_ROUTES)
def test_malformed_bodies_get_a_4xx_with_a_message(as_alice, ids, method, path, bodies):
    for body in NOT_OBJECTS + bodies:
        response = as_alice.call(method, path.format(**ids), body)
        assert 400 <= response.status_code < 500, (
            method,
            path,
            body,
            response.status_code,
            response.content[:300],
        )
        if response.headers.get("Content-Type", "").startswith("application/json"):
            detail = response.json()["detail"]
            assert isinstance(detail, str) and len(detail) > 5, (body, detail)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/agents/agent-00000000-0000-4000-8000-000000000000",
        "/v1/agents/nonsense/context",
        "/v1/agents/nonsense/messages",
        "/v1/blocks/nonsense",
        "/v1/tools/nonsense",
        "/v1/runs/nonsense",
        "/v1/steps/nonsense",
        "/v1/runs/nonsense/messages",
        "/v1/agents/nonsense/archival-memory",
    ],
)
def test_unknown_ids_are_not_found(as_alice, path):
    response = as_alice.get(path)
    assert response.status_code == 404 and "not found" in response.json()["detail"].lower()


def test_bad_query_parameters_are_a_4xx(as_alice, ids):
    agent = ids["agent"]
    for path, params in [
        ("/v1/agents/", {"limit": "many"}),
        ("/v1/agents/", {"limit": 0}),
        ("/v1/agents/", {"after": "agent-nope"}),
        ("/v1/agents/", {"order": "sideways"}),
        (f"/v1/agents/{agent}/messages", {"include_return_message_types": "bogus"}),
        (f"/v1/agents/{agent}/messages", {"before": "message-nope"}),
        (f"/v1/agents/{agent}/archival-memory/search", {"query": "x", "top_k": 0}),
        (f"/v1/agents/{agent}/archival-memory/search", {"query": "x", "tag_match_mode": "some"}),
        (
            f"/v1/agents/{agent}/archival-memory/search",
            {"query": "x", "start_datetime": "yesterday"},
        ),
        (
            f"/v1/agents/{agent}/archival-memory/search",
            {"query": "x", "start_datetime": "2026-02-01", "end_datetime": "2026-01-01"},
        ),
        ("/v1/runs/", {"limit": 100000}),
    ]:
        response = as_alice.get(path, **params)
        assert 400 <= response.status_code < 500, (path, params, response.content[:300])
        assert response.json()["detail"]


def test_explicit_nulls_in_a_patch_are_never_a_500(as_alice, ids):
    body = {
        "model": None,
        "system": None,
        "timezone": None,
        "name": None,
        "description": None,
        "tags": None,
        "metadata": None,
        "tool_rules": None,
        "llm_config": None,
        "embedding": None,
        "message_buffer_autoclear": None,
        "tool_exec_environment_variables": None,
    }
    response = as_alice.patch(f"/v1/agents/{ids['agent']}", body)
    assert response.status_code == 200, response.content
    agent = response.json()
    assert (
        agent["model"] is None
        and agent["system"]
        and agent["timezone"] == "UTC"
        and agent["name"] == "Sam"
    )


def test_an_oversized_message_is_refused_with_the_limit(as_alice, ids, settings):
    settings.API_MAX_MESSAGE_CHARS = 1000
    response = as_alice.post(
        f"/v1/agents/{ids['agent']}/messages",
        {"messages": [{"role": "user", "content": "x" * 1001}]},
    )
    assert response.status_code == 413 and "1000" in response.json()["detail"]
    response = as_alice.post(f"/v1/agents/{ids['agent']}/archival-memory", {"text": "x" * 1001})
    assert response.status_code == 413


def test_validation_errors_name_the_field(as_alice):
    response = as_alice.post("/v1/agents/", {"name": "x", "memory_blocks": [{"value": "no label"}]})
    assert response.status_code == 422
    assert "memory_blocks.0.label" in response.json()["detail"]
    response = as_alice.post("/v1/agents/", "{oops")
    assert response.status_code == 400 and "parse" in response.json()["detail"]


def test_a_message_to_an_agent_without_a_model_is_refused_up_front(as_alice, settings):
    settings.DEFAULT_LLM_HANDLE = ""
    agent = as_alice.post("/v1/agents/", {"name": "Modelless"}).json()
    for streaming in (False, True):
        response = as_alice.post(
            f"/v1/agents/{agent['id']}/messages",
            {"messages": [{"role": "user", "content": "hi"}], "streaming": streaming},
        )
        assert response.status_code == 422 and "model" in response.json()["detail"]
