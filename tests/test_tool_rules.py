"""Tool rules: parsing Letta's JSON shapes and solving all nine kinds."""

from __future__ import annotations

import dataclasses

import pytest

from memory.engine.rules import (
    CONTINUE_BASE_TOOLS,
    TERMINAL_BASE_TOOLS,
    ToolRulesSolver,
    default_base_tool_rules,
    parse_rules,
    render_rule,
)
from memory.tools.catalog import BASE_TOOLS
from memory.types import AgentType, ToolRule, ToolRuleType

TOOLS = ["send_message", "search", "plan", "act", "check", "authenticate", "transfer"]


def solver(*rules: dict) -> ToolRulesSolver:
    return ToolRulesSolver(parse_rules(list(rules)))


# --- parsing ------------------------------------------------------------------------------


def test_parse_accepts_every_kind_in_lettas_shape():
    rules = parse_rules(
        [
            {"type": "run_first", "tool_name": "search", "args": {"query": "x"}},
            {"type": "exit_loop", "tool_name": "send_message", "prompt_template": None},
            {"type": "continue_loop", "tool_name": "search"},
            {"type": "constrain_child_tools", "tool_name": "plan", "children": ["act"]},
            {"type": "parent_last_tool", "tool_name": "authenticate", "children": ["transfer"]},
            {
                "type": "conditional",
                "tool_name": "check",
                "child_output_mapping": {"yes": "act"},
                "default_child": None,
                "require_output_mapping": True,
            },
            {"type": "max_count_per_step", "tool_name": "search", "max_count_limit": 2},
            {"type": "required_before_exit", "tool_name": "act"},
            {"type": "requires_approval", "tool_name": "transfer"},
        ]
    )
    assert [r.type for r in rules] == list(ToolRuleType)
    assert rules[0].args == {"query": "x"}
    assert rules[3].children == ["act"]
    assert rules[5].child_output_mapping == {"yes": "act"} and rules[5].require_output_mapping
    assert rules[6].max_count_limit == 2


def test_parse_maps_child_arg_nodes_to_prefilled_child_args():
    (rule,) = parse_rules(
        [
            {
                "type": "constrain_child_tools",
                "tool_name": "plan",
                "children": ["act", "send_message"],
                "child_arg_nodes": [
                    {"name": "act", "args": {"mode": "safe"}},
                    {"name": "send_message"},
                ],
            }
        ]
    )
    assert rule.args == {"act": {"mode": "safe"}}


def test_parse_round_trips_our_own_serialised_rules():
    original = ToolRule(type=ToolRuleType.MAX_COUNT_PER_STEP, tool_name="search", max_count_limit=3)
    raw = {**dataclasses.asdict(original), "type": original.type.value}
    assert parse_rules([raw]) == [original]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not a dict", r"tool_rules\[0\]: expected an object"),
        ({"type": "teleport", "tool_name": "x"}, "type 'teleport' is not one of"),
        ({"type": "exit_loop"}, "tool_name must be a non-empty string"),
        ({"type": "exit_loop", "tool_name": "  "}, "tool_name must be a non-empty string"),
        ({"type": "exit_loop", "tool_name": "x", "colour": "red"}, "unknown field"),
        ({"type": "exit_loop", "tool_name": "x", "children": ["y"]}, "do not apply"),
        ({"type": "constrain_child_tools", "tool_name": "x"}, "children must be a non-empty list"),
        ({"type": "constrain_child_tools", "tool_name": "x", "children": [1]}, "only non-empty"),
        ({"type": "parent_last_tool", "tool_name": "x", "children": []}, "non-empty list"),
        ({"type": "max_count_per_step", "tool_name": "x"}, "positive integer"),
        ({"type": "max_count_per_step", "tool_name": "x", "max_count_limit": 0}, "positive"),
        ({"type": "max_count_per_step", "tool_name": "x", "max_count_limit": True}, "positive"),
        (
            {"type": "conditional", "tool_name": "x", "child_output_mapping": []},
            "must be an object",
        ),
        ({"type": "conditional", "tool_name": "x", "child_output_mapping": {}}, "needs"),
        (
            {"type": "conditional", "tool_name": "x", "child_output_mapping": {"a": 1}},
            "values must be tool names",
        ),
        (
            {
                "type": "conditional",
                "tool_name": "x",
                "child_output_mapping": {"a": "b"},
                "require_output_mapping": "yes",
            },
            "true or false",
        ),
        ({"type": "run_first", "tool_name": "x", "args": "q=1"}, "args must be an object"),
        ({"type": "exit_loop", "tool_name": "x", "prompt_template": 3}, "must be a string"),
        (
            {
                "type": "constrain_child_tools",
                "tool_name": "x",
                "children": ["a"],
                "child_arg_nodes": [{"name": "b"}],
            },
            "not in children",
        ),
    ],
)
def test_parse_explains_bad_rules(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_rules([raw])


# --- solving ----------------------------------------------------------------------------


def test_without_rules_every_available_tool_is_allowed():
    assert ToolRulesSolver([]).allowed_tools(TOOLS) == TOOLS


def test_run_first_allows_only_the_init_tool_until_something_is_called():
    s = solver({"type": "run_first", "tool_name": "search", "args": {"query": "me"}})
    assert s.allowed_tools(TOOLS) == ["search"]
    assert s.should_force(["search"]) == "search"
    assert s.init_args("search") == {"query": "me"}
    s.register_call("search", "found")
    assert s.allowed_tools(TOOLS) == TOOLS
    assert s.init_args("search") is None
    s.reset()  # a new turn starts with the init tool again
    assert s.allowed_tools(TOOLS) == ["search"]


def test_constrain_child_tools_allows_only_children_after_the_parent():
    s = solver({"type": "constrain_child_tools", "tool_name": "plan", "children": ["act", "check"]})
    assert s.allowed_tools(TOOLS) == TOOLS
    s.register_call("plan", "ok")
    assert s.allowed_tools(TOOLS) == ["act", "check"]
    assert s.has_child_rules("plan")
    s.register_call("act", "done")
    assert s.allowed_tools(TOOLS) == TOOLS


def test_a_single_child_is_forced_and_gets_its_prefilled_args():
    s = solver(
        {
            "type": "constrain_child_tools",
            "tool_name": "plan",
            "children": ["act"],
            "child_arg_nodes": [{"name": "act", "args": {"mode": "safe"}}],
        }
    )
    s.register_call("plan", None)
    allowed = s.allowed_tools(TOOLS)
    assert allowed == ["act"]
    assert s.should_force(allowed) == "act"
    assert s.init_args("act") == {"mode": "safe"}
    assert s.init_args("send_message") is None


def test_a_lone_attached_tool_is_not_forced_without_a_rule():
    s = ToolRulesSolver([])
    assert s.should_force(s.allowed_tools(["search"])) is None


def test_parent_last_tool_children_are_callable_only_right_after_the_parent():
    s = solver({"type": "parent_last_tool", "tool_name": "authenticate", "children": ["transfer"]})
    assert "transfer" not in s.allowed_tools(TOOLS)
    s.register_call("authenticate", "ok")
    assert s.allowed_tools(TOOLS) == ["transfer"]
    assert s.should_force(["transfer"]) == "transfer"
    assert not s.has_child_rules("authenticate")  # unlocks transfer, does not demand it
    s.register_call("transfer", "sent")
    assert "transfer" not in s.allowed_tools(TOOLS)


def test_conditional_picks_the_next_tool_from_the_output():
    rule = {
        "type": "conditional",
        "tool_name": "check",
        "child_output_mapping": {"yes": "act", "no": "send_message"},
        "default_child": "plan",
    }
    s = solver(rule)
    s.register_call("check", "yes")
    assert s.allowed_tools(TOOLS) == ["act"]
    assert s.has_child_rules("check")
    s.reset()
    s.register_call("check", "no")
    assert s.allowed_tools(TOOLS) == ["send_message"]
    s.reset()
    s.register_call("check", "maybe")
    assert s.allowed_tools(TOOLS) == ["plan"]
    s.reset()
    s.register_call("check", "Yes")  # exact match only
    assert s.allowed_tools(TOOLS) == ["plan"]


def test_conditional_without_a_match_or_default_leaves_the_choice_open():
    s = solver(
        {"type": "conditional", "tool_name": "check", "child_output_mapping": {"yes": "act"}}
    )
    s.register_call("check", "no")
    assert s.allowed_tools(TOOLS) == TOOLS
    assert s.blocked_reason() is None


def test_conditional_requiring_a_match_blocks_every_tool_when_none_matches():
    s = solver(
        {
            "type": "conditional",
            "tool_name": "check",
            "child_output_mapping": {"yes": "act"},
            "require_output_mapping": True,
        }
    )
    s.register_call("check", "perhaps")
    assert s.allowed_tools(TOOLS) == []
    reason = s.blocked_reason()
    assert reason is not None and "'perhaps'" in reason and "'yes'" in reason
    s.reset()
    s.register_call("check", "yes")
    assert s.allowed_tools(TOOLS) == ["act"]


def test_max_count_per_step_removes_a_tool_after_n_calls_in_the_turn():
    s = solver({"type": "max_count_per_step", "tool_name": "search", "max_count_limit": 2})
    s.register_call("search", "a")
    assert "search" in s.allowed_tools(TOOLS)
    s.register_call("act", "b")
    s.register_call("search", "c")
    assert "search" not in s.allowed_tools(TOOLS)
    s.reset()
    assert "search" in s.allowed_tools(TOOLS)


def test_constraints_intersect():
    s = solver(
        {"type": "constrain_child_tools", "tool_name": "plan", "children": ["search", "act"]},
        {"type": "max_count_per_step", "tool_name": "search", "max_count_limit": 1},
    )
    s.register_call("search", "x")
    s.register_call("plan", "y")
    assert s.allowed_tools(TOOLS) == ["act"]


def test_an_empty_intersection_falls_back_to_every_available_tool():
    s = solver({"type": "constrain_child_tools", "tool_name": "plan", "children": ["missing"]})
    s.register_call("plan", None)
    assert s.allowed_tools(TOOLS) == TOOLS


def test_allowed_tools_are_limited_to_the_available_ones():
    s = solver({"type": "constrain_child_tools", "tool_name": "plan", "children": ["act", "ghost"]})
    s.register_call("plan", None)
    assert s.allowed_tools(TOOLS) == ["act"]


def test_terminal_continue_and_approval_questions():
    s = solver(
        {"type": "exit_loop", "tool_name": "send_message"},
        {"type": "continue_loop", "tool_name": "search"},
        {"type": "requires_approval", "tool_name": "transfer"},
    )
    assert s.is_terminal("send_message") and not s.is_terminal("search")
    assert s.is_continue("search") and not s.is_continue("send_message")
    assert s.requires_approval("transfer") and not s.requires_approval("search")
    assert not s.has_child_rules("search")
    # These rules constrain nothing.
    assert s.allowed_tools(TOOLS) == TOOLS


def test_required_before_exit_lists_tools_not_yet_called_this_turn():
    s = solver(
        {"type": "required_before_exit", "tool_name": "act"},
        {"type": "required_before_exit", "tool_name": "check"},
    )
    assert s.uncalled_required_tools() == ["act", "check"]
    s.register_call("check", "ok")
    assert s.uncalled_required_tools() == ["act"]
    s.register_call("act", "ok")
    assert s.uncalled_required_tools() == []
    s.reset()
    assert s.uncalled_required_tools() == ["act", "check"]


# --- rendering --------------------------------------------------------------------------


def test_each_kind_has_a_default_sentence_naming_its_tools():
    rules = parse_rules(
        [
            {"type": "run_first", "tool_name": "search"},
            {"type": "exit_loop", "tool_name": "send_message"},
            {"type": "continue_loop", "tool_name": "search"},
            {"type": "constrain_child_tools", "tool_name": "plan", "children": ["act"]},
            {"type": "parent_last_tool", "tool_name": "authenticate", "children": ["transfer"]},
            {"type": "conditional", "tool_name": "check", "child_output_mapping": {"y": "act"}},
            {"type": "max_count_per_step", "tool_name": "search", "max_count_limit": 4},
            {"type": "required_before_exit", "tool_name": "act"},
            {"type": "requires_approval", "tool_name": "transfer"},
        ]
    )
    sentences = [render_rule(r) for r in rules]
    assert all(r.tool_name in s for r, s in zip(rules, sentences, strict=True))
    assert "act" in sentences[3] and "transfer" in sentences[4] and "4 times" in sentences[6]
    assert len(set(sentences)) == len(sentences)


def test_prompt_templates_replace_the_default_sentence():
    (rule,) = parse_rules(
        [
            {
                "type": "constrain_child_tools",
                "tool_name": "plan",
                "children": ["act", "check"],
                "prompt_template": "<rule>{{ tool_name }} → {{children}} {{ unknown }}</rule>",
            }
        ]
    )
    assert render_rule(rule) == "<rule>plan → act, check {{ unknown }}</rule>"


def test_simple_rules_of_one_kind_share_a_line():
    s = solver(
        {"type": "continue_loop", "tool_name": "search"},
        {"type": "exit_loop", "tool_name": "send_message"},
        {"type": "continue_loop", "tool_name": "act"},
    )
    assert s.render_usage_rules().splitlines() == [
        "- After any of search, act you always get another step, so you can keep working.",
        "- Calling send_message ends your turn; make it your last call.",
    ]


def test_no_rules_render_to_nothing():
    assert ToolRulesSolver([]).render_usage_rules() == ""


# --- defaults -----------------------------------------------------------------------------


def test_default_rules_end_the_turn_on_send_message_and_continue_after_memory_tools():
    names = ["send_message", "conversation_search", "memory_replace", "my_custom_tool"]
    rules = default_base_tool_rules(AgentType.MEMGPT_V2, names)
    assert [(r.type, r.tool_name) for r in rules] == [
        (ToolRuleType.EXIT_LOOP, "send_message"),
        (ToolRuleType.CONTINUE_LOOP, "conversation_search"),
        (ToolRuleType.CONTINUE_LOOP, "memory_replace"),
    ]


def test_memory_finish_edits_ends_the_turn():
    (rule,) = default_base_tool_rules(AgentType.MEMGPT, ["memory_finish_edits"])
    assert rule.type is ToolRuleType.EXIT_LOOP


def test_letta_v1_agents_get_no_default_rules():
    assert default_base_tool_rules(AgentType.LETTA_V1, ["conversation_search"]) == []


def test_every_base_tool_has_a_default_rule_kind():
    assert set(BASE_TOOLS) <= set(TERMINAL_BASE_TOOLS) | set(CONTINUE_BASE_TOOLS)
