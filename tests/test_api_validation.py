"""Bad input is the caller's mistake: a 4xx with a message that says what is
wrong, never a 500. Each route family gets malformed bodies and ids."""

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import MODEL, create_agent

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
        ("/v1/agents/", {"order": "sideways"}),
        (f"/v1/agents/{agent}/messages", {"include_return_message_types": "bogus"}),
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


# --- found by tests/test_api_fuzz.py -------------------------------------------------------


def test_nul_characters_are_dropped_from_bodies_and_queries(as_alice, ids, fake_llm):
    """Postgres text and jsonb cannot hold NUL: a "\\u0000" in a block edit, a
    metadata key, a message or a query filter used to be a 500."""
    response = as_alice.patch(
        f"/v1/blocks/{ids['block']}", {"value": "a\x00b", "metadata": {"k\x00": "v\x00"}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["value"] == "ab" and response.json()["metadata"] == {"k": "v"}
    agent = ids["agent"]
    response = as_alice.post(
        f"/v1/agents/{agent}/messages", {"messages": [{"role": "user", "content": "hi\x00 there"}]}
    )
    assert response.status_code == 200, response.content
    sent = as_alice.get(f"/v1/agents/{agent}/messages", order="asc").json()
    assert any(m.get("content") == "hi there" for m in sent if m["message_type"] == "user_message")
    for path, params in [
        ("/v1/tools/", {"names": "echo\x00", "search": "\x00"}),
        ("/v1/blocks/count", {"label": "\x00notes"}),
        (f"/v1/agents/{agent}/messages", {"before": "message-\x00"}),
    ]:
        response = as_alice.get(path, **params)
        assert response.status_code < 500, (path, response.content[:300])
    assert as_alice.get("/v1/tools/", names="echo\x00").json()[0]["name"] == "echo"


def test_a_nul_character_in_a_path_id_is_not_found(as_alice):
    for path in ("/v1/agents/agent-%00", "/v1/blocks/%00x", "/v1/runs/run-%00/messages"):
        response = as_alice.get(path)
        assert response.status_code == 404, (path, response.content[:300])


def test_archival_dates_with_offsets_postgres_refuses_are_read_as_instants(as_alice, ids):
    """Python parses UTC offsets up to 23:59; Postgres refuses those over 15:59
    (a 500). The instant is what is stored and searched."""
    agent = ids["agent"]
    response = as_alice.post(
        f"/v1/agents/{agent}/archival-memory",
        {"text": "an old fact", "created_at": "0372-02-07T16:05:26.5-19:31"},
    )
    assert response.status_code == 200, response.content
    assert response.json()[0]["created_at"].startswith("0372-02-08T11:36:26.5")
    response = as_alice.get(
        f"/v1/agents/{agent}/archival-memory/search",
        query="fact",
        start_datetime="0372-02-08T23:00:00+23:00",
        end_datetime="2030-01-01T00:00:00-20:00",
    )
    assert response.status_code == 200, response.content
    assert [hit["content"] for hit in response.json()["results"]] == ["an old fact"]
    response = as_alice.post(
        f"/v1/agents/{agent}/archival-memory",
        {"text": "x", "created_at": "0001-01-01T00:00:00+05:00"},
    )
    assert response.status_code == 422 and "created_at" in response.json()["detail"]


# --- oversized input ---------------------------------------------------------------------


@pytest.mark.parametrize("route", ["messages", "messages/stream", "messages/async"])
def test_every_send_route_refuses_an_oversized_message_with_the_limit(
    as_alice, ids, settings, route
):
    settings.API_MAX_MESSAGE_CHARS = 1000
    response = as_alice.post(
        f"/v1/agents/{ids['agent']}/{route}",
        {"messages": [{"role": "user", "content": "x" * 1001}], "streaming": False},
    )
    assert response.status_code == 413, response.content
    assert "1001" in response.json()["detail"] and "1000" in response.json()["detail"]


def test_a_block_value_over_its_limit_is_refused_with_the_limit(as_alice, ids):
    for method, path in [
        ("patch", f"/v1/blocks/{ids['block']}"),
        ("patch", f"/v1/agents/{ids['agent']}/core-memory/blocks/human"),
    ]:
        response = as_alice.call(method, path, {"value": "x" * 5001, "limit": 5000})
        assert response.status_code == 413, response.content
        assert "5001" in response.json()["detail"] and "5000" in response.json()["detail"]
    response = as_alice.post("/v1/blocks/", {"label": "big", "value": "x" * 101, "limit": 100})
    assert response.status_code == 413 and "100 character limit" in response.json()["detail"]


def test_a_request_body_over_the_size_limit_is_a_413_naming_it(as_alice, ids, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = as_alice.patch(f"/v1/blocks/{ids['block']}", {"value": "x" * 20_000})
    assert response.status_code == 413, response.content
    assert "10000 bytes" in response.json()["detail"]


def test_an_upload_over_the_file_size_limit_is_refused_with_the_limit(as_alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from memory.files.parsing import MAX_FILE_BYTES

    folder = as_alice.post("/v1/folders/", {"name": "big"}).json()
    upload = SimpleUploadedFile("huge.txt", b"x" * (MAX_FILE_BYTES + 1), "text/plain")
    response = as_alice.client.post(
        f"/v1/folders/{folder['id']}/upload", {"file": upload}, **as_alice.headers
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert f"{MAX_FILE_BYTES // (1024 * 1024)} MB" in response.json()["detail"]
    assert as_alice.get(f"/v1/folders/{folder['id']}/files").json() == []


def test_numbers_beyond_what_the_database_holds_are_a_4xx(as_alice, ids):
    """Limits are 32-bit integer columns; 2**31 used to be a 500."""
    huge = 2**31
    for method, path, body in [
        ("post", "/v1/blocks/", {"label": "big", "value": "x", "limit": huge}),
        ("patch", f"/v1/blocks/{ids['block']}", {"limit": huge}),
        ("patch", f"/v1/agents/{ids['agent']}/core-memory/blocks/human", {"limit": huge}),
        ("post", "/v1/agents/", {"name": "Big", "memory_blocks": [{"label": "a", "limit": huge}]}),
        ("patch", f"/v1/agents/{ids['agent']}", {"context_window_limit": huge}),
        ("post", "/v1/agents/", {"name": "Big", "model": MODEL, "context_window_limit": huge}),
        ("patch", f"/v1/tools/{ids['tool']}", {"return_char_limit": huge}),
        ("post", "/v1/folders/", {"name": "big", "embedding_chunk_size": huge}),
    ]:
        response = as_alice.call(method, path, body)
        assert 400 <= response.status_code < 500, (path, body, response.content[:300])
        assert response.json()["detail"]


def test_a_method_a_route_does_not_take_is_a_405_with_a_reason(as_alice, ids):
    # /v1/folders/{id}/files lists files; DELETE there was a bare 405 (the fuzzer found it
    # through DELETE /v1/sources/{id}/{file_id} with file_id "files").
    response = as_alice.call("delete", f"/v1/sources/{ids['agent']}/files", None)
    assert response.status_code == 405
    assert "allowed: GET" in response.json()["detail"] and response["Allow"] == "GET"
