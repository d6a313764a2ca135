"""The built-in tools against an in-memory backend, including every error the model can hit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memory.prompts import LINE_NUMBER_WARNING
from memory.tools import core
from memory.tools.base import ToolContext, ToolError
from memory.tools.catalog import BASE_TOOLS, default_tool_names, tool_defs_for
from memory.types import AgentType, Block

NOW = datetime(2026, 11, 24, 21, 15, 2, tzinfo=UTC)


@dataclass
class FakeBackend:
    """Archival and recall memory as lists, with the real store's filtering semantics."""

    passages: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def archival_insert(self, agent_id: str, text: str, tags: list[str]) -> str:
        passage_id = f"passage-{len(self.passages) + 1}"
        self.passages.append({"id": passage_id, "content": text, "tags": tags, "timestamp": NOW})
        return passage_id

    def archival_search(
        self, agent_id, query, *, tags, tag_match_mode, top_k, start, end
    ) -> list[dict[str, Any]]:
        self.calls.append(
            (
                "archival_search",
                {
                    "query": query,
                    "tags": tags,
                    "mode": tag_match_mode,
                    "top_k": top_k,
                    "start": start,
                    "end": end,
                },
            )
        )
        hits = [
            p
            for p in self.passages
            if any(w in p["content"].lower() for w in query.lower().split())
        ]
        if tags:
            match = all if tag_match_mode == "all" else any
            hits = [p for p in hits if match(t in p["tags"] for t in tags)]
        return [{**p, "relevance": 0.8766} for p in hits[:top_k]]

    def conversation_search(
        self, agent_id, query, *, roles, limit, start, end
    ) -> list[dict[str, Any]]:
        self.calls.append(
            (
                "conversation_search",
                {"query": query, "roles": roles, "limit": limit, "start": start, "end": end},
            )
        )
        hits = [m for m in self.messages if query is None or query.lower() in m["content"].lower()]
        if roles:
            hits = [m for m in hits if m["role"] in roles]
        return hits[:limit]


def make_ctx(**overrides: Any) -> ToolContext:
    blocks = {
        "persona": Block(label="persona", value="I am Sam.\nI like tea.", limit=200),
        "human": Block(label="human", value="Name: Alice\nLives in Lisbon", limit=200),
        "policies": Block(label="policies", value="Be kind.", limit=200, read_only=True),
    }
    args: dict[str, Any] = {
        "agent_id": "agent-1",
        "blocks": blocks,
        "backend": FakeBackend(),
        "timezone": "UTC",
        "now": NOW,
    }
    args.update(overrides)
    return ToolContext(**args)


# --- send_message -----------------------------------------------------------------------------


def test_send_message_confirms():
    assert core.send_message(make_ctx(), "Hello!") == "Sent message successfully."


def test_send_message_refuses_an_empty_message():
    with pytest.raises(ToolError, match="message is empty"):
        core.send_message(make_ctx(), "  ")


# --- core_memory_append / core_memory_replace ----------------------------------------------------


def test_core_memory_append_adds_a_line_and_marks_the_block_changed():
    ctx = make_ctx()
    result = core.core_memory_append(ctx, "human", "Has a cat called Miso")
    assert ctx.blocks["human"].value == "Name: Alice\nLives in Lisbon\nHas a cat called Miso"
    assert ctx.changed_blocks == {"human"}
    assert result.endswith("Has a cat called Miso")


def test_core_memory_append_to_an_empty_block_has_no_leading_newline():
    ctx = make_ctx()
    ctx.blocks["notes"] = Block(label="notes", value="", limit=100)
    core.core_memory_append(ctx, "notes", "first")
    assert ctx.blocks["notes"].value == "first"


def test_core_memory_replace_replaces_every_occurrence():
    ctx = make_ctx()
    ctx.blocks["human"].value = "likes tea; really likes tea"
    core.core_memory_replace(ctx, "human", "tea", "coffee")
    assert ctx.blocks["human"].value == "likes coffee; really likes coffee"


def test_core_memory_replace_with_empty_new_content_deletes():
    ctx = make_ctx()
    core.core_memory_replace(ctx, "human", "\nLives in Lisbon", "")
    assert ctx.blocks["human"].value == "Name: Alice"


def test_core_memory_replace_reports_missing_text():
    ctx = make_ctx()
    with pytest.raises(ToolError, match="old_content was not found in memory block 'human'"):
        core.core_memory_replace(ctx, "human", "Name: Bob", "Name: Carol")
    with pytest.raises(ToolError, match="old_content is empty"):
        core.core_memory_replace(ctx, "human", "", "x")
    assert ctx.changed_blocks == set()


# --- errors shared by every edit tool --------------------------------------------------------------

EDITS = [
    lambda ctx, label: core.core_memory_append(ctx, label, "x"),
    lambda ctx, label: core.core_memory_replace(ctx, label, "a", "b"),
    lambda ctx, label: core.memory_replace(ctx, label, "a", "b"),
    lambda ctx, label: core.memory_insert(ctx, label, "x"),
]


@pytest.mark.parametrize("edit", [*EDITS, lambda ctx, label: core.memory_rethink(ctx, label, "x")])
def test_read_only_blocks_cannot_be_edited(edit):
    ctx = make_ctx()
    with pytest.raises(ToolError, match="'policies' is read-only"):
        edit(ctx, "policies")
    assert ctx.blocks["policies"].value == "Be kind."
    assert ctx.changed_blocks == set()


@pytest.mark.parametrize("edit", EDITS)
def test_unknown_labels_list_the_existing_blocks(edit):
    with pytest.raises(
        ToolError,
        match="no memory block labelled 'humans'. Existing blocks: human, persona, policies",
    ):
        edit(make_ctx(), "humans")


def test_an_edit_over_the_limit_fails_and_leaves_the_block_unchanged():
    ctx = make_ctx()
    before = ctx.blocks["human"].value
    with pytest.raises(ToolError) as caught:
        core.core_memory_append(ctx, "human", "x" * 300)
    message = str(caught.value)
    assert message.startswith(
        "Edit failed: block 'human' exceeds the 200 character limit (requested 328)"
    )
    assert ctx.blocks["human"].value == before
    assert ctx.changed_blocks == set()


def test_limits_are_informational_when_enforcement_is_off():
    ctx = make_ctx(enforce_block_limits=False)
    core.core_memory_append(ctx, "human", "x" * 300)
    assert len(ctx.blocks["human"].value) == 328


def test_null_bytes_are_stripped_from_edits():
    ctx = make_ctx()
    core.core_memory_append(ctx, "human", "odd\x00byte")
    assert ctx.blocks["human"].value.endswith("oddbyte")


@pytest.mark.parametrize(
    "edit",
    [
        lambda ctx: core.core_memory_append(ctx, "human", "1→ Name: Alice"),
        lambda ctx: core.core_memory_replace(ctx, "human", "1→ Name: Alice", "Name: Al"),
        lambda ctx: core.memory_replace(ctx, "human", "Name: Alice", "1→ Name: Al"),
        lambda ctx: core.memory_replace(ctx, "human", "Name: Alice\n  2→ Lives", "x"),
        lambda ctx: core.memory_insert(ctx, "human", "3→ Likes tea"),
        lambda ctx: core.memory_rethink(ctx, "human", "1→ Name: Alice"),
        lambda ctx: core.memory_rethink(ctx, "human", f"Name: Alice\n{LINE_NUMBER_WARNING}"),
    ],
)
def test_text_with_line_number_prefixes_is_refused(edit):
    ctx = make_ctx()
    with pytest.raises(ToolError, match="line-number prefixes"):
        edit(ctx)
    assert ctx.changed_blocks == set()


# --- memory_replace -------------------------------------------------------------------------------


def test_memory_replace_replaces_exactly_one_match_and_shows_the_edit():
    ctx = make_ctx()
    result = core.memory_replace(ctx, "human", "Lives in Lisbon", "Lives in Porto")
    assert ctx.blocks["human"].value == "Name: Alice\nLives in Porto"
    assert ctx.changed_blocks == {"human"}
    assert "Lives in Porto" in result and "Edited memory block 'human'" in result


def test_memory_replace_with_an_empty_string_deletes():
    ctx = make_ctx()
    core.memory_replace(ctx, "persona", "\nI like tea.", "")
    assert ctx.blocks["persona"].value == "I am Sam."


def test_memory_replace_lists_the_lines_of_duplicate_matches():
    ctx = make_ctx()
    ctx.blocks["human"].value = "likes tea\nName: Alice\nlikes tea"
    with pytest.raises(ToolError, match=r"appears 2 times in memory block 'human' \(lines 1, 3\)"):
        core.memory_replace(ctx, "human", "likes tea", "likes coffee")
    assert ctx.blocks["human"].value == "likes tea\nName: Alice\nlikes tea"


def test_memory_replace_reports_text_that_is_not_there():
    with pytest.raises(ToolError, match="does not appear verbatim"):
        core.memory_replace(make_ctx(), "human", "Lives in Paris", "x")
    with pytest.raises(ToolError, match="old_string is empty"):
        core.memory_replace(make_ctx(), "human", "", "x")


def test_memory_replace_matches_tabs_shown_as_spaces():
    ctx = make_ctx()
    ctx.blocks["human"].value = "key:\tvalue"
    core.memory_replace(ctx, "human", "key:   value".replace("   ", "\t"), "key: new")
    assert ctx.blocks["human"].value == "key: new"


# --- memory_insert --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (0, "Likes tea\nName: Alice\nLives in Lisbon"),
        (1, "Name: Alice\nLikes tea\nLives in Lisbon"),
        (2, "Name: Alice\nLives in Lisbon\nLikes tea"),
        (-1, "Name: Alice\nLives in Lisbon\nLikes tea"),
    ],
)
def test_memory_insert_puts_text_after_the_given_line(line, expected):
    ctx = make_ctx()
    result = core.memory_insert(ctx, "human", "Likes tea", line)
    assert ctx.blocks["human"].value == expected
    assert "Likes tea" in result


def test_memory_insert_into_an_empty_block():
    ctx = make_ctx()
    ctx.blocks["notes"] = Block(label="notes", value="", limit=100)
    core.memory_insert(ctx, "notes", "first\nsecond")
    assert ctx.blocks["notes"].value == "first\nsecond"


@pytest.mark.parametrize("line", [3, -2, 99])
def test_memory_insert_rejects_lines_out_of_range(line):
    with pytest.raises(
        ToolError, match=f"insert_line {line} is out of range: block 'human' has 2 lines"
    ):
        core.memory_insert(make_ctx(), "human", "x", line)


def test_memory_insert_refuses_empty_text():
    with pytest.raises(ToolError, match="new_string is empty"):
        core.memory_insert(make_ctx(), "human", "")


# --- memory_rethink / memory_finish_edits ------------------------------------------------------------


def test_memory_rethink_rewrites_the_whole_block():
    ctx = make_ctx()
    result = core.memory_rethink(ctx, "human", "Alice, Lisbon, cat Miso.")
    assert ctx.blocks["human"].value == "Alice, Lisbon, cat Miso."
    assert ctx.changed_blocks == {"human"}
    assert "Rewrote memory block 'human'" in result


def test_memory_rethink_creates_a_missing_block():
    ctx = make_ctx()
    result = core.memory_rethink(ctx, "projects", "Trip to Porto in May.")
    block = ctx.blocks["projects"]
    assert (block.value, block.limit) == ("Trip to Porto in May.", core.DEFAULT_BLOCK_LIMIT)
    assert ctx.changed_blocks == {"projects"}
    assert "Created memory block 'projects'" in result


def test_memory_rethink_refuses_labels_that_cannot_be_tags():
    ctx = make_ctx()
    with pytest.raises(ToolError, match="cannot be a block label"):
        core.memory_rethink(ctx, "my notes", "x")
    assert "my notes" not in ctx.blocks


def test_memory_rethink_over_the_limit_changes_nothing():
    ctx = make_ctx()
    with pytest.raises(
        ToolError, match="Edit failed: block 'human' exceeds the 200 character limit"
    ):
        core.memory_rethink(ctx, "human", "y" * 201)
    assert ctx.blocks["human"].value == "Name: Alice\nLives in Lisbon"


def test_memory_finish_edits_is_a_no_op():
    ctx = make_ctx()
    assert core.memory_finish_edits(ctx) == "Memory edits finished."
    assert ctx.changed_blocks == set()


# --- archival memory -------------------------------------------------------------------------------


def test_archival_insert_stores_one_passage_with_clean_tags():
    ctx = make_ctx()
    result = core.archival_memory_insert(
        ctx, "Alice's sister is Beatriz.", [" family ", "family", ""]
    )
    assert ctx.backend.passages[0]["content"] == "Alice's sister is Beatriz."
    assert ctx.backend.passages[0]["tags"] == ["family"]
    assert ctx.archival_changed
    assert result == "Saved to archival memory with tags family (id passage-1)."


def test_archival_insert_refuses_empty_content():
    ctx = make_ctx()
    with pytest.raises(ToolError, match="content is empty"):
        core.archival_memory_insert(ctx, " ")
    assert not ctx.archival_changed


def test_archival_search_returns_readable_json_in_local_time():
    ctx = make_ctx(timezone="Europe/Lisbon", now=NOW + timedelta(days=2))
    core.archival_memory_insert(ctx, "Trip to Porto in May", ["travel"])
    core.archival_memory_insert(ctx, "Work trip to Berlin", ["work", "travel"])
    data = json.loads(core.archival_memory_search(ctx, "trip", tags=["work"]))
    assert data["message"] == "Showing 1 results:"
    assert data["results"] == [
        {
            "timestamp": "2026-11-24 09:15:02 PM WET+0000",
            "time_ago": "2 days ago",
            "content": "Work trip to Berlin",
            "tags": ["work", "travel"],
            "relevance": 0.877,
        }
    ]


def test_archival_search_passes_filters_and_defaults_to_the_backend():
    ctx = make_ctx(timezone="America/New_York")
    core.archival_memory_search(
        ctx,
        " trip ",
        tags=["a"],
        tag_match_mode="all",
        start_datetime="2026-03-01",
        end_datetime="2026-03-02T09:30",
    )
    _, call = ctx.backend.calls[-1]
    assert call["query"] == "trip" and call["mode"] == "all" and call["top_k"] == 5
    assert call["start"].isoformat() == "2026-03-01T00:00:00-05:00"
    assert call["end"].isoformat() == "2026-03-02T09:30:00-05:00"


def test_archival_search_with_no_hits_says_so():
    data = json.loads(core.archival_memory_search(make_ctx(), "anything"))
    assert data == {"message": "No matching notes in archival memory.", "results": []}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "x", "top_k": 0}, "top_k must be at least 1"),
        ({"query": "x", "start_datetime": "yesterday"}, "start_datetime 'yesterday' is not a date"),
        ({"query": "x", "start_datetime": "2026-05-02", "end_datetime": "2026-05-01"}, "is after"),
    ],
)
def test_archival_search_errors(kwargs, message):
    with pytest.raises(ToolError, match=message):
        core.archival_memory_search(make_ctx(), **kwargs)


# --- conversation_search ------------------------------------------------------------------------------


def _with_history() -> ToolContext:
    ctx = make_ctx(now=NOW + timedelta(hours=5))
    ctx.backend.messages = [
        {"id": "m2", "role": "assistant", "content": "Porto sounds lovely!", "timestamp": NOW},
        {
            "id": "m1",
            "role": "user",
            "content": "I want to visit Porto",
            "timestamp": NOW - timedelta(minutes=1),
        },
    ]
    return ctx


def test_conversation_search_finds_messages_newest_first_with_times():
    ctx = _with_history()
    data = json.loads(core.conversation_search(ctx, "porto"))
    assert data["message"] == "Showing 2 results:"
    assert data["results"][0] == {
        "timestamp": "2026-11-24 09:15:02 PM UTC+0000",
        "time_ago": "5 hours ago",
        "role": "assistant",
        "content": "Porto sounds lovely!",
    }


def test_conversation_search_filters_by_role_and_limits_results():
    ctx = _with_history()
    data = json.loads(core.conversation_search(ctx, "porto", roles=["user"], limit=1))
    assert [r["role"] for r in data["results"]] == ["user"]
    assert ctx.backend.calls[-1][1]["limit"] == 1
    core.conversation_search(ctx, "porto", limit=500)
    assert ctx.backend.calls[-1][1]["limit"] == core.MAX_SEARCH_RESULTS


def test_conversation_search_by_dates_alone_covers_whole_days():
    ctx = _with_history()
    core.conversation_search(ctx, start_date="2026-11-24", end_date="2026-11-24")
    call = ctx.backend.calls[-1][1]
    assert call["query"] is None
    assert call["start"] == datetime(2026, 11, 24, tzinfo=UTC)
    assert call["end"] == datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=UTC)


def test_conversation_search_accepts_a_space_between_date_and_time():
    ctx = _with_history()
    core.conversation_search(ctx, "porto", start_date="2026-11-24 08:00")
    assert ctx.backend.calls[-1][1]["start"] == datetime(2026, 11, 24, 8, tzinfo=UTC)


def test_conversation_search_with_no_hits_suggests_what_to_try():
    data = json.loads(core.conversation_search(make_ctx(), "nothing"))
    assert data["results"] == [] and "No results found" in data["message"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Give a query, a date range, or both"),
        ({"query": "  "}, "Give a query"),
        ({"query": "x", "limit": 0}, "limit must be at least 1"),
        (
            {"query": "x", "end_date": "24/11/2026"},
            "end_date '24/11/2026' is not a date. Use YYYY-MM-DD",
        ),
        ({"start_date": "2026-11-25", "end_date": "2026-11-24"}, "start_date is after end_date"),
    ],
)
def test_conversation_search_errors(kwargs, message):
    with pytest.raises(ToolError, match=message):
        core.conversation_search(make_ctx(), **kwargs)


# --- catalog -------------------------------------------------------------------------------------------


def test_default_tools_per_agent_type_keep_archival_memory():
    assert default_tool_names(AgentType.MEMGPT) == [
        "send_message",
        "conversation_search",
        "archival_memory_insert",
        "archival_memory_search",
        "core_memory_append",
        "core_memory_replace",
    ]
    assert default_tool_names(AgentType.MEMGPT_V2) == [
        "send_message",
        "conversation_search",
        "archival_memory_insert",
        "archival_memory_search",
        "memory_replace",
        "memory_insert",
    ]
    assert default_tool_names("letta_v1_agent") == [
        "conversation_search",
        "archival_memory_insert",
        "archival_memory_search",
        "memory_replace",
        "memory_insert",
    ]
    assert default_tool_names(AgentType.REACT) == []


def test_tool_defs_carry_schema_and_type_and_refuse_unknown_names():
    (search, edit) = tool_defs_for(["conversation_search", "memory_replace"])
    assert (search.tool_type, edit.tool_type) == ("letta_core", "letta_memory_core")
    assert search.schema == BASE_TOOLS["conversation_search"].schema
    search.schema["description"] = "mutated"
    assert BASE_TOOLS["conversation_search"].schema["description"] != "mutated"
    with pytest.raises(ValueError, match="not a built-in tool"):
        tool_defs_for(["web_search"])


def test_invoking_a_base_tool_validates_the_models_arguments():
    ctx = make_ctx()
    tool = BASE_TOOLS["memory_insert"]
    tool.invoke(
        ctx,
        {
            "label": "human",
            "new_string": "Likes tea",
            "insert_line": "0",
            "request_heartbeat": True,
        },
    )
    assert ctx.blocks["human"].value.startswith("Likes tea\n")
    with pytest.raises(ToolError, match="missing required argument"):
        tool.invoke(ctx, {"label": "human"})
