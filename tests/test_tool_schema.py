"""Tool schemas from functions and from source, argument parsing and result packaging."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from typing import Literal, Optional, Union

import pytest

from memory.tools.base import (
    ToolContext,
    ToolError,
    error_message,
    package_result,
    parse_arguments,
    schema_from_function,
    schema_from_source,
    truncate_result,
    validate_arguments,
    with_inner_thoughts,
    with_request_heartbeat,
)
from memory.tools.catalog import BASE_TOOLS

WHEN = datetime(2026, 11, 24, 21, 15, 2, tzinfo=UTC)

TRIP_SOURCE = '''
def plan_trip(
    ctx,
    city: str,
    days: int,
    budget: float = 100.0,
    direct: bool = False,
    stops: list[str] | None = None,
    extras: dict[str, int] | None = None,
    mode: Literal["train", "plane"] = "train",
    note: Optional[str] = None,
    code: "int | str" = 0,
) -> str:
    """Plan a trip to a city.

    Picks transport and a day-by-day outline,
    honouring the budget.

    Args:
        city: Where to go.
        days: How many days to stay.
        budget: Money available,
            in euros.
        direct: Only direct connections.
        stops: Cities to pass through.
        extras: Extra items and their counts.
        mode: How to travel.
        note: Anything else to consider.
        code: A booking code.
    """
    return "ok"
'''

namespace: dict[str, object] = {"Literal": Literal, "Optional": Optional, "Union": Union}
exec(TRIP_SOURCE, namespace)  # the test's own trusted source, to compare both paths
plan_trip = namespace["plan_trip"]

EXPECTED_TRIP = {
    "name": "plan_trip",
    "description": "Plan a trip to a city.\n\nPicks transport and a day-by-day outline, honouring the budget.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Where to go."},
            "days": {"type": "integer", "description": "How many days to stay."},
            "budget": {"type": "number", "description": "Money available, in euros."},
            "direct": {"type": "boolean", "description": "Only direct connections."},
            "stops": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Cities to pass through.",
            },
            "extras": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Extra items and their counts.",
            },
            "mode": {"type": "string", "enum": ["train", "plane"], "description": "How to travel."},
            "note": {"type": "string", "description": "Anything else to consider."},
            "code": {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "description": "A booking code.",
            },
        },
        "required": ["city", "days"],
    },
}


# --- schema from a function ------------------------------------------------------------


def test_schema_from_function_reads_types_defaults_and_docstring():
    assert schema_from_function(plan_trip) == EXPECTED_TRIP


def test_reserved_parameters_are_not_shown_to_the_model():
    def tool(self, ctx: ToolContext, agent_state: object, query: str) -> str:
        """Find things.

        Args:
            query: What to find.
        """
        return query

    assert list(schema_from_function(tool)["parameters"]["properties"]) == ["query"]


def test_a_function_without_a_docstring_is_refused():
    def tool(query: str) -> str:
        return query

    with pytest.raises(ValueError, match="no docstring"):
        schema_from_function(tool)


def test_an_undescribed_parameter_is_refused():
    def tool(query: str, limit: int = 3) -> str:
        """Find things.

        Args:
            query: What to find.
        """
        return query

    with pytest.raises(ValueError, match="'limit' is not described"):
        schema_from_function(tool)


def test_an_unannotated_parameter_is_refused():
    def tool(query) -> str:  # type: ignore[no-untyped-def]
        """Find things.

        Args:
            query: What to find.
        """
        return str(query)

    with pytest.raises(ValueError, match="needs a type annotation"):
        schema_from_function(tool)


def test_var_args_are_refused():
    def tool(*names: str) -> str:
        """Join names.

        Args:
            names: The names.
        """
        return ""

    with pytest.raises(ValueError, match=r"\*args"):
        schema_from_function(tool)


def test_unsupported_types_are_named_in_the_error():
    def tool(when: datetime) -> str:
        """Do it.

        Args:
            when: The time.
        """
        return ""

    with pytest.raises(ValueError, match="unsupported type annotation"):
        schema_from_function(tool)


# --- schema from source ----------------------------------------------------------------


def test_schema_from_source_matches_the_function_path():
    assert schema_from_source(TRIP_SOURCE) == EXPECTED_TRIP


def test_schema_from_source_never_runs_the_code(tmp_path):
    marker = tmp_path / "ran"
    source = textwrap.dedent(
        f'''
        open({str(marker)!r}, "w").write("ran")
        raise SystemExit("module body executed")

        def ping(host: str) -> str:
            """Ping a host.

            Args:
                host: The host name.
            """
            return host
        '''
    )
    assert schema_from_source(source)["name"] == "ping"
    assert not marker.exists()


def test_schema_from_source_picks_the_named_or_else_the_last_function():
    source = textwrap.dedent(
        '''
        def helper(x: int) -> int:
            """Help.

            Args:
                x: A number.
            """
            return x

        async def main(q: typing.List[str], n: t.Optional[int] = None) -> str:
            """Main tool.

            Args:
                q: Queries.
                n: How many.
            """
            return ""
        '''
    )
    last = schema_from_source(source)
    assert last["name"] == "main"
    assert last["parameters"]["properties"]["q"]["items"] == {"type": "string"}
    assert last["parameters"]["required"] == ["q"]
    assert schema_from_source(source, "helper")["name"] == "helper"


def test_keyword_only_parameters_keep_their_defaults():
    source = textwrap.dedent(
        '''
        def f(a: str, *, b: int, c: bool = True) -> str:
            """F.

            Args:
                a: A.
                b: B.
                c: C.
            """
        '''
    )
    assert schema_from_source(source)["parameters"]["required"] == ["a", "b"]


@pytest.mark.parametrize(
    ("source", "name", "message"),
    [
        ("def broken(:\n    pass", None, "syntax error on line 1"),
        ("x = 1\n", None, "defines no top-level function"),
        ("def f(a: str) -> str:\n    return a\n", None, "no docstring"),
        (
            'def f(a: str) -> str:\n    """F.\n\n    Args:\n        a: A.\n    """\n',
            "g",
            "no top-level function 'g'",
        ),
        (
            'def f(a) -> str:\n    """F.\n\n    Args:\n        a: A.\n    """\n',
            None,
            "type annotation",
        ),
        (
            'def f(a: Foo) -> str:\n    """F.\n\n    Args:\n        a: A.\n    """\n',
            None,
            "unsupported",
        ),
        ('def f(**kw: str) -> str:\n    """F."""\n', None, r"\*\*kwargs"),
        (
            'def f(a: str) -> str:\n    """F.\n\n    Args:\n        b: B.\n    """\n',
            None,
            "'a' is not described",
        ),
    ],
)
def test_schema_from_source_explains_what_is_wrong(source, name, message):
    with pytest.raises(ValueError, match=message):
        schema_from_source(source, name)


# --- decorations ------------------------------------------------------------------------


def test_request_heartbeat_is_added_as_a_required_boolean_without_touching_the_original():
    original = BASE_TOOLS["conversation_search"].schema
    decorated = with_request_heartbeat(original)
    assert decorated["parameters"]["properties"]["request_heartbeat"]["type"] == "boolean"
    assert decorated["parameters"]["required"][-1] == "request_heartbeat"
    assert "request_heartbeat" not in original["parameters"]["properties"]
    assert (
        with_request_heartbeat(decorated)["parameters"]["required"].count("request_heartbeat") == 1
    )


def test_inner_thoughts_come_first():
    decorated = with_inner_thoughts(BASE_TOOLS["send_message"].schema)
    params = decorated["parameters"]
    assert list(params["properties"])[0] == "thinking"
    assert params["required"] == ["thinking", "message"]
    optional = with_inner_thoughts(BASE_TOOLS["send_message"].schema, required=False)
    assert optional["parameters"]["required"] == ["message"]


# --- argument parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ("   ", {}),
        ('{"a": 1}{"b": 2}', {"a": 1}),
        ('{"a": 1} {"b": 2}', {"a": 1}),
        ('"{\\"a\\": 1}"', {"a": 1}),
        ('  {"a": "x"}\n', {"a": "x"}),
    ],
)
def test_arguments_are_parsed_leniently(raw, expected):
    assert parse_arguments(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"a": 1', "not valid JSON: Expecting ',' delimiter at character 7"),
        ("{'a': 1}", "Expecting property name enclosed in double quotes"),
        ("[1, 2]", "you sent an array"),
        ('"just text"', "you sent a string"),
        ("42", "you sent a number"),
        ('{"a": 1} trailing', "extra text after the JSON object"),
    ],
)
def test_unparsable_arguments_tell_the_model_what_was_wrong(raw, message):
    with pytest.raises(ToolError, match=message):
        parse_arguments(raw)


def test_arguments_are_checked_against_the_schema():
    schema = BASE_TOOLS["archival_memory_search"].schema
    args = validate_arguments(
        schema,
        {
            "query": "trip",
            "top_k": "3",
            "tags": '["travel"]',
            "tag_match_mode": "all",
            "start_datetime": None,
            "request_heartbeat": True,
            "thinking": "hm",
        },
    )
    assert args == {"query": "trip", "top_k": 3, "tags": ["travel"], "tag_match_mode": "all"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "missing required argument"),
        ({"query": None}, "missing required argument"),
        ({"query": "x", "page": 2}, "does not take 'page'"),
        ({"query": "x", "top_k": "many"}, "'top_k' must be a whole number"),
        ({"query": "x", "top_k": 2.5}, "whole number"),
        ({"query": "x", "tag_match_mode": "some"}, 'must be one of "any", "all"'),
        ({"query": "x", "tags": "travel"}, "'tags' must be a list"),
        ({"query": ["x"]}, "'query' must be a string"),
    ],
)
def test_wrong_arguments_are_model_errors(args, message):
    with pytest.raises(ToolError, match=message):
        validate_arguments(BASE_TOOLS["archival_memory_search"].schema, args)


def test_booleans_accept_their_string_spellings():
    schema = {
        "name": "t",
        "parameters": {"type": "object", "properties": {"flag": {"type": "boolean"}}},
    }
    assert validate_arguments(schema, {"flag": "true"}) == {"flag": True}
    assert validate_arguments(schema, {"flag": "False"}) == {"flag": False}
    with pytest.raises(ToolError, match="true or false"):
        validate_arguments(schema, {"flag": "maybe"})


# --- results -------------------------------------------------------------------------------


def test_results_are_packaged_in_the_tool_envelope():
    data = json.loads(package_result({"n": 1}, success=True, when=WHEN, timezone="UTC"))
    assert data == {
        "status": "OK",
        "message": '{"n": 1}',
        "time": "2026-11-24 09:15:02 PM UTC+0000",
    }
    failed = json.loads(package_result("boom", success=False, when=WHEN, timezone="UTC"))
    assert failed["status"] == "Failed"
    assert (
        json.loads(package_result(None, success=True, when=WHEN, timezone="UTC"))["message"]
        == "None"
    )


def test_long_results_are_truncated_with_a_note():
    text = truncate_result("x" * 120, 100)
    assert text.startswith(
        "x" * 100 + "\n[Output truncated: showing the first 100 of 120 characters."
    )
    assert truncate_result("short", 100) == "short"
    packaged = json.loads(
        package_result("y" * 50, success=True, when=WHEN, timezone="UTC", char_limit=10)
    )
    assert packaged["message"].startswith("y" * 10 + "\n[Output truncated")


def test_error_messages_pass_tool_errors_verbatim_and_describe_crashes():
    assert error_message("t", ToolError("Use a label.")) == "Use a label."
    crash = error_message("t", KeyError("x"))
    assert crash == "Error executing tool t: KeyError: 'x'"
    assert len(error_message("t", RuntimeError("z" * 5000))) == 1000


def test_every_base_tool_schema_is_complete():
    for name, tool in BASE_TOOLS.items():
        schema = tool.schema
        assert schema["name"] == name
        assert schema["description"]
        props = schema["parameters"]["properties"]
        assert all(p.get("description") for p in props.values())
        assert set(schema["parameters"]["required"]) <= set(props)
        assert "\n" not in schema["description"].replace("\n\n", "")  # wrapped lines joined
