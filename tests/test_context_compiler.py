"""The context compiler: its output is the product, so it is pinned by snapshots.

Regenerate the snapshots after an intended change with
    UPDATE_SNAPSHOTS=1 pytest tests/test_context_compiler.py
and review the diff under tests/snapshots/.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memory import prompts
from memory.engine import context as context_module
from memory.engine.context import (
    CompileInput,
    ContextOverview,
    compile_system,
    overview,
    system_fingerprint,
)
from memory.engine.rules import default_base_tool_rules, parse_rules
from memory.engine.tokens import TokenCounter
from memory.tools.catalog import default_tool_names, tool_defs_for
from memory.types import (
    AgentType,
    Block,
    Directory,
    DirectoryFile,
    MemoryStats,
    Message,
    MessageKind,
    TextPart,
    ToolCallPart,
    ToolDef,
    ToolReturnPart,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
WHEN = datetime(2026, 11, 24, 21, 15, 2, tzinfo=UTC)


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed (UPDATE_SNAPSHOTS=1)"


def blocks() -> list[Block]:
    return [
        Block(
            label="persona",
            value="I am Sam, a warm and curious companion.\nI keep my answers short.",
            limit=5000,
            description="Who I am and how I speak.",
        ),
        Block(
            label="human",
            value="Name: Alice\nLives in Lisbon\nHas a cat called Miso",
            limit=5000,
            description="What I know about the user.",
        ),
    ]


def make_input(agent_type: AgentType, **changes: object) -> CompileInput:
    names = default_tool_names(agent_type)
    inp = CompileInput(
        agent_id="agent-00000000-0000-4000-8000-000000000001",
        agent_type=agent_type,
        system_template=prompts.default_system_prompt(agent_type),
        blocks=blocks(),
        tools=tool_defs_for(names),
        tool_rules=default_base_tool_rules(agent_type, names),
        stats=MemoryStats(
            recall_count=42,
            archival_count=7,
            archival_tags=["travel", "work"],
            last_recompiled=WHEN,
        ),
        timezone="UTC",
    )
    return dataclasses.replace(inp, **changes)  # type: ignore[arg-type]


# --- snapshots ---------------------------------------------------------------------------


@pytest.mark.parametrize("agent_type", list(AgentType))
def test_each_agent_type_compiles_to_its_snapshot(agent_type):
    assert_snapshot(agent_type.value, compile_system(make_input(agent_type)).text)


def test_anthropic_style_line_numbers_compile_to_their_snapshot():
    inp = make_input(AgentType.MEMGPT_V2, line_numbers=True)
    assert_snapshot("memgpt_v2_agent_line_numbers", compile_system(inp).text)


def test_read_only_blocks_and_no_rules_compile_to_their_snapshot():
    shared = Block(
        label="policies", value="Never share the user's address.", limit=2000, read_only=True
    )
    inp = make_input(
        AgentType.LETTA_V1,
        blocks=[*blocks(), shared],
        stats=MemoryStats(recall_count=0, last_recompiled=WHEN),
        timezone="Europe/Lisbon",
    )
    assert_snapshot("letta_v1_agent_read_only", compile_system(inp).text)


ALL_RULES = [
    {"type": "run_first", "tool_name": "fetch_profile", "args": {"user": "alice"}},
    {"type": "exit_loop", "tool_name": "send_message"},
    {"type": "exit_loop", "tool_name": "finish"},
    {"type": "continue_loop", "tool_name": "conversation_search"},
    {"type": "constrain_child_tools", "tool_name": "plan", "children": ["act", "send_message"]},
    {"type": "parent_last_tool", "tool_name": "authenticate", "children": ["transfer"]},
    {
        "type": "conditional",
        "tool_name": "check",
        "child_output_mapping": {"yes": "act", "no": "send_message"},
        "default_child": "plan",
    },
    {"type": "max_count_per_step", "tool_name": "web_search", "max_count_limit": 3},
    {"type": "required_before_exit", "tool_name": "memory_insert"},
    {"type": "requires_approval", "tool_name": "transfer"},
    {
        "type": "continue_loop",
        "tool_name": "act",
        "prompt_template": "After {{ tool_name }}, report what changed.",
    },
]


def _custom_tool(name: str) -> ToolDef:
    schema = {
        "name": name,
        "description": f"The {name} tool.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    }
    return ToolDef(name=name, schema=schema)


def test_every_rule_kind_renders_to_its_snapshot():
    names = ["fetch_profile", "finish", "plan", "act", "authenticate", "transfer", "check"]
    names += ["web_search"]
    tools = tool_defs_for(default_tool_names(AgentType.MEMGPT_V2)) + [
        _custom_tool(n) for n in names
    ]
    inp = make_input(AgentType.MEMGPT_V2, tools=tools, tool_rules=parse_rules(ALL_RULES))
    assert_snapshot("tool_rules_all_kinds", compile_system(inp).sections["tool_usage_rules"])


def directories() -> list[Directory]:
    return [
        Directory(
            name="handbook",
            description="The company handbook.",
            instructions="Quote the section you rely on.",
            files=[
                DirectoryFile(
                    name="leave.md",
                    is_open=True,
                    visible="1: # Leave\n2: Everyone gets 25 days.\n3: Ask your manager first.",
                ),
                DirectoryFile(name="travel.pdf"),
            ],
        ),
        Directory(
            name="notes",
            files=[DirectoryFile(name="log.txt", is_open=True, visible="41: line 41", offset=40)],
        ),
    ]


def test_attached_folders_compile_to_their_snapshot():
    inp = make_input(AgentType.MEMGPT_V2, directories=directories())
    assert_snapshot("memgpt_v2_agent_directories", compile_system(inp).text)


# --- structure ---------------------------------------------------------------------------


def test_memory_replaces_the_core_memory_placeholder():
    inp = make_input(AgentType.MEMGPT, system_template="Before.\n{CORE_MEMORY}\nAfter.")
    text = compile_system(inp).text
    assert text.startswith("Before.\n<memory_blocks>")
    assert text.endswith("</memory_metadata>\nAfter.")
    assert "{CORE_MEMORY}" not in text


def test_memory_is_appended_when_the_template_has_no_placeholder():
    compiled = compile_system(make_input(AgentType.MEMGPT, system_template="Be kind. {braces} ok"))
    assert compiled.text.startswith("Be kind. {braces} ok\n\n<memory_blocks>")
    assert compiled.sections["base_instructions"] == "Be kind. {braces} ok"


def test_sections_are_named_and_appear_in_order():
    compiled = compile_system(make_input(AgentType.MEMGPT, directories=directories()))
    order = [
        "base_instructions",
        "core_memory",
        "tool_usage_rules",
        "directories",
        "memory_metadata",
    ]
    assert list(compiled.sections) == order
    positions = [compiled.text.index(compiled.sections[name]) for name in order]
    assert positions == sorted(positions)


def test_a_block_shows_description_metadata_and_value():
    core = compile_system(make_input(AgentType.MEMGPT)).sections["core_memory"]
    assert (
        "<human>\n<description>\nWhat I know about the user.\n</description>\n<metadata>\n"
        "- chars_current=49\n- chars_limit=5000\n</metadata>\n<value>\n"
        "Name: Alice\nLives in Lisbon\nHas a cat called Miso\n</value>\n</human>"
    ) in core


def test_values_are_not_escaped():
    odd = Block(label="notes", value="a < b && </value> stays as written", limit=100)
    core = compile_system(make_input(AgentType.MEMGPT, blocks=[odd])).sections["core_memory"]
    assert "<value>\na < b && </value> stays as written\n</value>\n</notes>" in core


def test_line_numbers_prefix_each_value_line_and_warn_the_model():
    core = compile_system(make_input(AgentType.MEMGPT_V2, line_numbers=True)).sections[
        "core_memory"
    ]
    assert "<value>\n1→ Name: Alice\n2→ Lives in Lisbon\n3→ Has a cat called Miso\n</value>" in core
    assert prompts.LINE_NUMBER_WARNING in core


def test_read_only_blocks_say_so_in_their_metadata():
    ro = Block(label="rules", value="x", limit=10, read_only=True)
    core = compile_system(make_input(AgentType.MEMGPT, blocks=[ro])).sections["core_memory"]
    assert "<metadata>\n- read_only=true\n- chars_current=1\n- chars_limit=10\n</metadata>" in core


def test_react_agents_get_no_memory_blocks():
    compiled = compile_system(make_input(AgentType.REACT))
    assert compiled.sections["core_memory"] == ""
    assert "<memory_blocks>" not in compiled.text
    assert "<memory_metadata>" in compiled.text


def test_tool_usage_rules_are_empty_without_rules():
    compiled = compile_system(make_input(AgentType.MEMGPT, tool_rules=[]))
    assert compiled.sections["tool_usage_rules"] == ""
    assert "<tool_usage_rules>" not in compiled.text


def test_rules_about_tools_the_agent_lacks_are_not_rendered():
    rules = parse_rules([{"type": "exit_loop", "tool_name": "not_attached"}])
    compiled = compile_system(make_input(AgentType.MEMGPT, tool_rules=rules))
    assert compiled.sections["tool_usage_rules"] == ""


def test_without_attached_folders_there_is_no_directories_section():
    compiled = compile_system(make_input(AgentType.MEMGPT))
    assert compiled.sections["directories"] == ""
    assert "<directories>" not in compiled.text


def test_directories_show_open_files_with_their_lines_and_closed_files_by_name():
    section = compile_system(make_input(AgentType.LETTA_V1, directories=directories())).sections[
        "directories"
    ]
    assert "- current_files_open=2\n- max_files_open=5" in section
    assert '<directory name="handbook">\n<description>\nThe company handbook.' in section
    assert "<instructions>\nQuote the section you rely on.\n</instructions>" in section
    assert (
        '<file status="open" name="handbook/leave.md">\n<metadata>\n- read_only=true\n'
        "- lines_in_view=1-3\n</metadata>\n<value>\n1: # Leave\n"
    ) in section
    assert '<file status="closed" name="handbook/travel.pdf"/>' in section
    assert "- lines_in_view=41-41" in section
    assert '<directory name="notes">\n<file' in section  # no empty description/instructions


def test_memory_metadata_reports_recall_archival_and_tags_in_local_time():
    inp = make_input(AgentType.MEMGPT, timezone="America/New_York")
    metadata = compile_system(inp).sections["memory_metadata"]
    assert "- AGENT_ID: agent-00000000-0000-4000-8000-000000000001" in metadata
    assert "System prompt last recompiled: 2026-11-24 04:15:02 PM EST-0500" in metadata
    assert "42 earlier messages" in metadata
    assert "7 notes are stored in archival memory" in metadata
    assert "travel, work" in metadata


def test_memory_metadata_omits_archival_when_it_is_empty():
    inp = make_input(AgentType.MEMGPT, stats=MemoryStats(recall_count=3, last_recompiled=WHEN))
    metadata = compile_system(inp).sections["memory_metadata"]
    assert "archival" not in metadata


@pytest.mark.parametrize("agent_type", list(AgentType))
def test_every_default_prompt_has_the_core_memory_placeholder(agent_type):
    assert prompts.CORE_MEMORY_PLACEHOLDER in prompts.default_system_prompt(agent_type)


# --- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_ignores_stats_and_time():
    base = make_input(AgentType.MEMGPT)
    later = dataclasses.replace(
        base,
        stats=MemoryStats(
            recall_count=999,
            archival_count=100,
            archival_tags=["new"],
            last_recompiled=WHEN + timedelta(days=3),
        ),
    )
    assert system_fingerprint(base) == system_fingerprint(later)


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: setattr(b, "value", b.value + "\nLikes tea"),
        lambda b: setattr(b, "limit", b.limit + 1),
        lambda b: setattr(b, "description", "changed"),
        lambda b: setattr(b, "read_only", True),
        lambda b: setattr(b, "label", "user"),
    ],
)
def test_fingerprint_changes_when_a_block_changes(edit):
    base = make_input(AgentType.MEMGPT)
    edited = make_input(AgentType.MEMGPT)
    edit(edited.blocks[1])
    assert system_fingerprint(base) != system_fingerprint(edited)


def test_fingerprint_changes_with_template_tools_and_rules():
    base = make_input(AgentType.MEMGPT)
    fp = system_fingerprint(base)
    assert system_fingerprint(dataclasses.replace(base, system_template="x")) != fp
    assert system_fingerprint(dataclasses.replace(base, tools=base.tools[:-1])) != fp
    assert system_fingerprint(dataclasses.replace(base, tool_rules=[])) != fp
    schema_edit = make_input(AgentType.MEMGPT)
    schema_edit.tools[0].schema["description"] = "different"
    assert system_fingerprint(schema_edit) != fp


def test_fingerprint_without_folders_is_what_it_was_before_files_existed():
    # Pinned: adding <directories> must not recompile every existing agent.
    inp = make_input(AgentType.MEMGPT, directories=[])
    legacy = {
        "agent_id": inp.agent_id,
        "agent_type": "memgpt_agent",
        "template": inp.system_template,
        "timezone": "UTC",
        "line_numbers": False,
        "blocks": [[b.label, b.value, b.limit, b.description, b.read_only] for b in inp.blocks],
        "tools": [[t.name, t.schema] for t in inp.tools],
        "rules": [context_module._jsonable(dataclasses.asdict(r)) for r in inp.tool_rules],
    }
    encoded = json.dumps(legacy, sort_keys=True, ensure_ascii=False, default=str)
    assert system_fingerprint(inp) == hashlib.sha256(encoded.encode()).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop(),  # a folder detached
        lambda d: d.append(Directory(name="new")),  # a folder attached
        lambda d: d[0].files.pop(),  # a file deleted
        lambda d: setattr(d[0].files[1], "is_open", True),  # a file opened
        lambda d: setattr(d[0].files[0], "is_open", False),  # a file closed
        lambda d: setattr(d[1].files[0], "visible", "42: line 42"),  # its view moved
        lambda d: setattr(d[0], "instructions", "Be brief."),
    ],
)
def test_fingerprint_changes_when_files_attach_detach_open_or_close(change):
    base = make_input(AgentType.MEMGPT_V2, directories=directories())
    edited = make_input(AgentType.MEMGPT_V2, directories=directories())
    change(edited.directories)
    assert system_fingerprint(base) != system_fingerprint(edited)


def test_fingerprint_ignores_the_text_a_closed_file_last_showed():
    base = make_input(AgentType.MEMGPT_V2, directories=directories())
    edited = make_input(AgentType.MEMGPT_V2, directories=directories())
    edited.directories[0].files[1].visible = "stale lines from when it was open"
    assert system_fingerprint(base) == system_fingerprint(edited)


# --- overview ------------------------------------------------------------------------------

LETTA_OVERVIEW_FIELDS = [
    "context_window_size_max",
    "context_window_size_current",
    "num_messages",
    "num_archival_memory",
    "num_recall_memory",
    "num_tokens_external_memory_summary",
    "external_memory_summary",
    "num_tokens_system",
    "system_prompt",
    "num_tokens_core_memory",
    "core_memory",
    "num_tokens_memory_filesystem",
    "memory_filesystem",
    "num_tokens_tool_usage_rules",
    "tool_usage_rules",
    "num_tokens_directories",
    "directories",
    "num_tokens_summary_memory",
    "summary_memory",
    "num_tokens_functions_definitions",
    "functions_definitions",
    "num_tokens_messages",
    "messages",
]


def _conversation() -> list[Message]:
    summary_text = prompts.system_alert_envelope(
        prompts.summary_notice(12, "Alice planned a trip."), WHEN, "UTC"
    )
    return [
        Message(role="user", kind=MessageKind.SUMMARY, content=[TextPart(summary_text)]),
        Message(
            role="user",
            kind=MessageKind.USER,
            content=[TextPart(prompts.user_envelope("hi", WHEN, "UTC"))],
        ),
        Message(
            role="assistant",
            content=[
                ToolCallPart(id="c1", name="send_message", arguments='{"message": "Hello Alice!"}')
            ],
        ),
        Message(
            role="tool",
            kind=MessageKind.TOOL,
            content=[ToolReturnPart(tool_call_id="c1", name="send_message", content="OK")],
        ),
    ]


def test_overview_has_exactly_lettas_fields_plus_sections_and_warnings():
    names = [f.name for f in dataclasses.fields(ContextOverview)]
    assert names == [*LETTA_OVERVIEW_FIELDS, "sections", "warnings"]


def test_overview_sections_add_up_to_the_current_size():
    counter = TokenCounter("gpt-4o")
    inp = make_input(AgentType.MEMGPT)
    compiled = compile_system(inp)
    messages = _conversation()
    view = overview(compiled, messages, inp.tools, inp.stats, 128_000, counter)

    assert view.context_window_size_current == sum(tokens for _, tokens in view.sections)
    assert view.context_window_size_current == (
        view.num_tokens_system
        + view.num_tokens_core_memory
        + view.num_tokens_tool_usage_rules
        + view.num_tokens_directories
        + view.num_tokens_external_memory_summary
        + view.num_tokens_summary_memory
        + view.num_tokens_functions_definitions
        + view.num_tokens_messages
    )
    system = Message(role="system", kind=MessageKind.SYSTEM, content=[TextPart(compiled.text)])
    system_tokens = TokenCounter("gpt-4o").count_message(system)
    assert (
        view.num_tokens_system
        + view.num_tokens_core_memory
        + view.num_tokens_tool_usage_rules
        + view.num_tokens_external_memory_summary
    ) == system_tokens
    assert view.num_tokens_core_memory == counter.count_text(compiled.sections["core_memory"])
    assert view.num_tokens_functions_definitions == counter.count_tools(
        [t.schema for t in inp.tools]
    )


def test_overview_counts_attached_files_as_directories():
    counter = TokenCounter("gpt-4o")
    inp = make_input(AgentType.MEMGPT_V2, directories=directories())
    compiled = compile_system(inp)
    view = overview(compiled, _conversation(), inp.tools, inp.stats, 128_000, counter)
    assert view.directories == compiled.sections["directories"]
    assert view.num_tokens_directories == counter.count_text(compiled.sections["directories"]) > 0
    assert ("directories", view.num_tokens_directories) in view.sections
    assert view.context_window_size_current == sum(tokens for _, tokens in view.sections)
    system = Message(role="system", kind=MessageKind.SYSTEM, content=[TextPart(compiled.text)])
    in_system = (
        "system",
        "core_memory",
        "tool_usage_rules",
        "directories",
        "external_memory_summary",
    )
    assert sum(t for name, t in view.sections if name in in_system) == counter.count_message(system)


def test_overview_of_a_system_message_compiled_before_files_existed():
    counter = TokenCounter("gpt-4o")
    inp = make_input(AgentType.MEMGPT)
    compiled = compile_system(inp)
    del compiled.sections["directories"]
    view = overview(compiled, [], inp.tools, inp.stats, 128_000, counter)
    assert view.directories is None and view.num_tokens_directories == 0


def test_overview_counts_a_leading_summary_as_summary_memory():
    counter = TokenCounter("gpt-4o")
    inp = make_input(AgentType.MEMGPT)
    messages = _conversation()
    view = overview(compile_system(inp), messages, inp.tools, inp.stats, 128_000, counter)
    assert view.summary_memory == messages[0].text
    assert view.num_tokens_summary_memory == counter.count_message(messages[0])
    assert view.messages == messages[1:]
    assert view.num_tokens_messages == counter.count_messages(messages[1:])
    assert view.num_messages == len(messages) + 1  # the system message counts


def test_overview_without_a_summary_counts_every_message():
    counter = TokenCounter("gpt-4o")
    inp = make_input(AgentType.MEMGPT)
    messages = _conversation()[1:]
    view = overview(compile_system(inp), messages, inp.tools, inp.stats, 8_000, counter)
    assert view.summary_memory is None
    assert view.num_tokens_summary_memory == 0
    assert view.messages == messages
    assert view.context_window_size_max == 8_000
    assert view.num_recall_memory == 42
    assert view.num_archival_memory == 7


def test_overview_lists_tools_as_openai_tool_objects_and_serializes_to_json():
    inp = make_input(AgentType.MEMGPT)
    view = overview(
        compile_system(inp), _conversation(), inp.tools, inp.stats, 128_000, TokenCounter("gpt-4o")
    )
    assert view.functions_definitions[0] == {"type": "function", "function": inp.tools[0].schema}
    data = json.loads(json.dumps(view.to_dict()))
    assert data["messages"][0]["kind"] == "user_message"
    assert data["sections"][0][0] == "system"
    assert set(LETTA_OVERVIEW_FIELDS) <= set(data)


# --- envelopes and prompt texts --------------------------------------------------------------


def test_user_envelope_is_lettas_json_with_local_time():
    text = prompts.user_envelope("Hi — café?", WHEN, "UTC")
    assert json.loads(text) == {
        "type": "user_message",
        "message": "Hi — café?",
        "time": "2026-11-24 09:15:02 PM UTC+0000",
    }
    assert "café" in text  # readable unicode, as Letta sends it


def test_envelopes_use_the_agents_time_zone():
    data = json.loads(prompts.heartbeat_envelope("go on", WHEN, "Asia/Tokyo"))
    assert data == {
        "type": "heartbeat",
        "reason": "go on",
        "time": "2026-11-25 06:15:02 AM JST+0900",
    }


def test_tool_result_and_alert_and_login_envelopes():
    assert json.loads(prompts.tool_result_envelope("Failed", "boom", WHEN, "UTC")) == {
        "status": "Failed",
        "message": "boom",
        "time": "2026-11-24 09:15:02 PM UTC+0000",
    }
    assert json.loads(prompts.system_alert_envelope("note", WHEN, "UTC"))["type"] == "system_alert"
    login = json.loads(prompts.login_envelope(None, WHEN, "UTC"))
    assert login["type"] == "login" and login["last_login"] == prompts.FIRST_LOGIN
    with pytest.raises(ValueError, match="OK"):
        prompts.tool_result_envelope("Success", "x", WHEN, "UTC")


def test_naive_times_are_taken_as_utc_and_bad_zones_are_refused():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert prompts.format_time(naive, "UTC") == "2026-01-02 03:04:05 AM UTC+0000"
    with pytest.raises(ValueError, match="IANA"):
        prompts.format_time(naive, "Mars/Olympus")


def test_summary_prompt_asks_for_the_structured_first_person_summary():
    text = prompts.summary_prompt(300)
    for heading in (
        "Goals:",
        "What happened:",
        "Important details:",
        "Errors and fixes:",
        "Current state:",
        "Next step:",
    ):
        assert heading in text
    assert "first person" in text and "300 words" in text


def test_memory_pressure_warning_names_only_the_tools_the_agent_has():
    text = prompts.memory_pressure_warning(["memory_replace", "archival_memory_insert"])
    assert "memory_replace" in text and "archival_memory_insert" in text
    assert "core_memory_append" not in text
