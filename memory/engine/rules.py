"""Tool rules: which tools the model may call next, and when a turn may end.

Semantics follow Letta's ToolRulesSolver: the allowed set is the intersection
of every constraint with the attached tools, and if that intersection is empty
we fall back to all attached tools rather than wedge the agent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from memory.types import AgentType, ToolRule, ToolRuleType

# --- parsing -----------------------------------------------------------------

_KNOWN_FIELDS = {
    "type",
    "tool_name",
    "children",
    "child_arg_nodes",
    "args",
    "max_count_limit",
    "default_child",
    "child_output_mapping",
    "require_output_mapping",
    "prompt_template",
}
# Fields that mean something for each rule type; a non-empty value elsewhere is
# almost certainly a mistake, so we say so instead of ignoring it.
_FIELDS_FOR: dict[ToolRuleType, set[str]] = {
    ToolRuleType.RUN_FIRST: {"args"},
    ToolRuleType.CONSTRAIN_CHILD_TOOLS: {"children", "child_arg_nodes"},
    ToolRuleType.PARENT_LAST_TOOL: {"children"},
    ToolRuleType.CONDITIONAL: {"default_child", "child_output_mapping", "require_output_mapping"},
    ToolRuleType.MAX_COUNT_PER_STEP: {"max_count_limit"},
}
_COMMON_FIELDS = {"type", "tool_name", "prompt_template"}


def parse_rules(raw: Iterable[Mapping[str, Any]]) -> list[ToolRule]:
    """Letta-shaped rule dicts → ToolRules; ValueError names the rule and the problem."""
    return [_parse_rule(i, item) for i, item in enumerate(raw)]


def _empty(value: Any) -> bool:
    return value is None or value is False or value == [] or value == {}


def _parse_rule(index: int, item: Mapping[str, Any]) -> ToolRule:
    where = f"tool_rules[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
    unknown = sorted(set(item) - _KNOWN_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    try:
        kind = ToolRuleType(item.get("type"))
    except ValueError:
        valid = ", ".join(t.value for t in ToolRuleType)
        raise ValueError(f"{where}: type {item.get('type')!r} is not one of: {valid}") from None
    where = f"{where} ({kind.value})"
    tool_name = item.get("tool_name")
    if not isinstance(tool_name, str) or not tool_name.strip():
        raise ValueError(f"{where}: tool_name must be a non-empty string")
    allowed = _COMMON_FIELDS | _FIELDS_FOR.get(kind, set())
    misplaced = sorted(k for k, v in item.items() if k not in allowed and not _empty(v))
    if misplaced:
        raise ValueError(f"{where}: field(s) {', '.join(misplaced)} do not apply to this rule type")
    template = item.get("prompt_template")
    if template is not None and not isinstance(template, str):
        raise ValueError(f"{where}: prompt_template must be a string")
    rule = ToolRule(type=kind, tool_name=tool_name, prompt_template=template)

    if kind is ToolRuleType.RUN_FIRST:
        rule.args = _optional_dict(item.get("args"), f"{where}: args")
    elif kind is ToolRuleType.CONSTRAIN_CHILD_TOOLS:
        rule.children = _names(item.get("children"), f"{where}: children")
        rule.args = _child_arg_nodes(item.get("child_arg_nodes"), rule.children, where)
    elif kind is ToolRuleType.PARENT_LAST_TOOL:
        rule.children = _names(item.get("children"), f"{where}: children")
    elif kind is ToolRuleType.CONDITIONAL:
        _parse_conditional(rule, item, where)
    elif kind is ToolRuleType.MAX_COUNT_PER_STEP:
        limit = item.get("max_count_limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"{where}: max_count_limit must be a positive integer")
        rule.max_count_limit = limit
    return rule


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where} must be a non-empty list of tool names")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where} must contain only non-empty strings")
    return list(value)


def _optional_dict(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    return dict(value)


def _child_arg_nodes(value: Any, children: list[str], where: str) -> dict[str, Any] | None:
    """Letta's [{"name", "args"}] nodes, stored as {child_name: args} in `ToolRule.args`."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{where}: child_arg_nodes must be a list of {{name, args}} objects")
    prefilled: dict[str, Any] = {}
    for node in value:
        if not isinstance(node, Mapping) or not isinstance(node.get("name"), str):
            raise ValueError(f"{where}: each child_arg_nodes entry needs a string 'name'")
        if node["name"] not in children:
            raise ValueError(
                f"{where}: child_arg_nodes names {node['name']!r}, which is not in children"
            )
        args = _optional_dict(node.get("args"), f"{where}: child_arg_nodes[{node['name']}].args")
        if args:
            prefilled[node["name"]] = args
    return prefilled or None


def _parse_conditional(rule: ToolRule, item: Mapping[str, Any], where: str) -> None:
    mapping = item.get("child_output_mapping")
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: child_output_mapping must be an object of output → tool name")
    if not all(isinstance(v, str) and v for v in mapping.values()):
        raise ValueError(f"{where}: child_output_mapping values must be tool names")
    default = item.get("default_child")
    if default is not None and (not isinstance(default, str) or not default):
        raise ValueError(f"{where}: default_child must be a tool name")
    if not mapping and default is None:
        raise ValueError(f"{where}: needs child_output_mapping entries or a default_child")
    required = item.get("require_output_mapping", False)
    if not isinstance(required, bool):
        raise ValueError(f"{where}: require_output_mapping must be true or false")
    rule.child_output_mapping = {str(k): v for k, v in mapping.items()}
    rule.default_child = default
    rule.require_output_mapping = required


# --- solving -------------------------------------------------------------------


@dataclass
class _Call:
    name: str
    output: str | None


class ToolRulesSolver:
    """Tracks one turn's tool calls and answers what the rules allow next."""

    def __init__(self, rules: Iterable[ToolRule]) -> None:
        self.rules = list(rules)
        self.history: list[_Call] = []

    def _of(self, kind: ToolRuleType) -> list[ToolRule]:
        return [r for r in self.rules if r.type is kind]

    def _named(self, kind: ToolRuleType, name: str) -> bool:
        return any(r.tool_name == name for r in self._of(kind))

    # turn bookkeeping

    def register_call(self, name: str, output: str | None = None) -> None:
        self.history.append(_Call(name, output))

    def reset(self) -> None:
        self.history.clear()

    # the allowed set

    def _constraints(self, available: set[str]) -> list[set[str]]:
        """One set per active constraint; a tool must be in all of them."""
        init = {r.tool_name for r in self._of(ToolRuleType.RUN_FIRST)}
        if not self.history and init:
            # Before the first call only run_first tools count; nothing else applies yet.
            return [init]
        last = self.history[-1] if self.history else None
        sets: list[set[str]] = []
        for rule in self.rules:
            after_it = last is not None and last.name == rule.tool_name
            if rule.type is ToolRuleType.CONSTRAIN_CHILD_TOOLS and after_it:
                sets.append(set(rule.children))
            elif rule.type is ToolRuleType.PARENT_LAST_TOOL:
                # Children are reachable only straight after the parent.
                sets.append(set(rule.children) if after_it else available - set(rule.children))
            elif rule.type is ToolRuleType.CONDITIONAL and last is not None and after_it:
                chosen = _conditional_next(rule, last.output)
                if chosen is not None:
                    sets.append(chosen)
            elif rule.type is ToolRuleType.MAX_COUNT_PER_STEP and rule.max_count_limit is not None:
                used = sum(1 for c in self.history if c.name == rule.tool_name)
                if used >= rule.max_count_limit:
                    sets.append(available - {rule.tool_name})
        return sets

    def blocked_reason(self) -> str | None:
        """Why no tool at all may be called now, or None.

        The one hard stop: a conditional rule with require_output_mapping whose
        tool returned an output that matches none of its cases."""
        if not self.history:
            return None
        last = self.history[-1]
        for rule in self._of(ToolRuleType.CONDITIONAL):
            if rule.tool_name == last.name and _conditional_next(rule, last.output) == set():
                cases = ", ".join(repr(k) for k in rule.child_output_mapping)
                return (
                    f"{rule.tool_name} returned {last.output!r}, which matches none of the cases "
                    f"its conditional rule requires ({cases})"
                )
        return None

    def allowed_tools(self, available: list[str]) -> list[str]:
        """The tools the model may call now, in `available`'s order.

        Empty only when `blocked_reason()` says why; the loop should stop then."""
        if self.blocked_reason() is not None:
            return []
        pool = set(available)
        allowed = pool.copy()
        for constraint in self._constraints(pool):
            allowed &= constraint
        if not allowed:
            # Letta's choice: an over-constrained agent gets every tool back
            # instead of a request with no tools it could never satisfy.
            allowed = pool
        return [name for name in available if name in allowed]

    def is_strictly_constrained(self) -> bool:
        """True when a run_first, child, parent or conditional rule picked the next tool."""
        if not self.history:
            return bool(self._of(ToolRuleType.RUN_FIRST))
        last = self.history[-1].name
        return any(
            r.tool_name == last
            for r in self.rules
            if r.type
            in (
                ToolRuleType.CONSTRAIN_CHILD_TOOLS,
                ToolRuleType.PARENT_LAST_TOOL,
                ToolRuleType.CONDITIONAL,
            )
        )

    def should_force(self, allowed: list[str]) -> str | None:
        """The tool to force with tool_choice, if a rule narrowed the choice to one.

        A lone tool that is simply the only one attached is not forced: a
        letta_v1 agent must still be able to answer in plain text."""
        if len(allowed) == 1 and self.is_strictly_constrained():
            return allowed[0]
        return None

    # per-tool questions

    def is_terminal(self, name: str) -> bool:
        return self._named(ToolRuleType.EXIT_LOOP, name)

    def is_continue(self, name: str) -> bool:
        return self._named(ToolRuleType.CONTINUE_LOOP, name)

    def has_child_rules(self, name: str) -> bool:
        """Whether calling `name` obliges a follow-up call (so the turn must go on).

        Not parent_last_tool: a parent only unlocks its children, it does not
        demand that one of them is called."""
        return self._named(ToolRuleType.CONSTRAIN_CHILD_TOOLS, name) or self._named(
            ToolRuleType.CONDITIONAL, name
        )

    def requires_approval(self, name: str) -> bool:
        return self._named(ToolRuleType.REQUIRES_APPROVAL, name)

    def uncalled_required_tools(self) -> list[str]:
        called = {c.name for c in self.history}
        names = [r.tool_name for r in self._of(ToolRuleType.REQUIRED_BEFORE_EXIT)]
        return [n for n in dict.fromkeys(names) if n not in called]

    def init_args(self, name: str) -> dict[str, Any] | None:
        """Arguments a rule prefills for calling `name` now (they override the model's)."""
        if not self.history:
            for rule in self._of(ToolRuleType.RUN_FIRST):
                if rule.tool_name == name and rule.args:
                    return dict(rule.args)
            return None
        last = self.history[-1].name
        for rule in self._of(ToolRuleType.CONSTRAIN_CHILD_TOOLS):
            if rule.tool_name == last and rule.args and isinstance(rule.args.get(name), dict):
                return dict(rule.args[name])
        return None

    # prompt text

    def render_usage_rules(self) -> str:
        """The lines inside <tool_usage_rules>; empty when there are no rules.

        Default-worded rules of the same simple kind share one line ("After
        any of a, b, c ..."), which says the same in far fewer tokens."""
        # Each entry is a finished sentence, or a rule kind whose names are collected first.
        entries: list[str | ToolRuleType] = []
        grouped: dict[ToolRuleType, list[str]] = {}
        for rule in self.rules:
            if rule.type in _GROUPABLE and not rule.prompt_template:
                if rule.type not in grouped:
                    grouped[rule.type] = []
                    entries.append(rule.type)
                if rule.tool_name not in grouped[rule.type]:
                    grouped[rule.type].append(rule.tool_name)
            else:
                entries.append(render_rule(rule))
        return "\n".join(
            f"- {_render_group(e, grouped[e]) if isinstance(e, ToolRuleType) else e}"
            for e in entries
        )


def _conditional_next(rule: ToolRule, output: str | None) -> set[str] | None:
    """The tools a conditional rule allows after its tool returned `output`.

    None means "no constraint" (no match, no default, mapping not required);
    an empty set means the rule demands a match that did not happen."""
    if output is not None and output in rule.child_output_mapping:
        return {rule.child_output_mapping[output]}
    if rule.default_child:
        return {rule.default_child}
    if rule.require_output_mapping:
        return set()
    return None


def _children_of(rule: ToolRule) -> list[str]:
    if rule.type is ToolRuleType.CONDITIONAL:
        targets = list(rule.child_output_mapping.values())
        if rule.default_child:
            targets.append(rule.default_child)
        return list(dict.fromkeys(targets))
    return rule.children


_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _names_text(names: list[str], any_of: str) -> str:
    return names[0] if len(names) == 1 else f"{any_of} {', '.join(names)}"


def render_rule(rule: ToolRule) -> str:
    """One sentence for the model; a rule's prompt_template ({{ tool_name }} etc.) wins."""
    values = {
        "tool_name": rule.tool_name,
        "children": ", ".join(_children_of(rule)),
        "max_count_limit": str(rule.max_count_limit or ""),
        "default_child": rule.default_child or "",
        "child_output_mapping": ", ".join(
            f'"{k}" → {v}' for k, v in rule.child_output_mapping.items()
        ),
    }
    if rule.prompt_template:
        return _PLACEHOLDER.sub(
            lambda m: values.get(m.group(1), m.group(0)), rule.prompt_template
        ).strip()
    name, children = rule.tool_name, values["children"]
    if rule.type in _GROUPABLE:
        return _render_group(rule.type, [name])
    if rule.type is ToolRuleType.CONSTRAIN_CHILD_TOOLS:
        return f"After calling {name}, your next tool call must be one of: {children}."
    if rule.type is ToolRuleType.PARENT_LAST_TOOL:
        return f"Call {children} only immediately after calling {name}."
    if rule.type is ToolRuleType.CONDITIONAL:
        cases = [f'if it returns "{k}", call {v}' for k, v in rule.child_output_mapping.items()]
        if rule.default_child:
            cases.append(f"otherwise call {rule.default_child}")
        return f"After {name}, choose the next tool by its result: {'; '.join(cases)}."
    return f"Call {name} at most {rule.max_count_limit} times per turn."


_GROUPABLE = (
    ToolRuleType.RUN_FIRST,
    ToolRuleType.EXIT_LOOP,
    ToolRuleType.CONTINUE_LOOP,
    ToolRuleType.REQUIRED_BEFORE_EXIT,
    ToolRuleType.REQUIRES_APPROVAL,
)


def _render_group(kind: ToolRuleType, names: list[str]) -> str:
    """The default sentence for one or more tools under the same simple rule."""
    if kind is ToolRuleType.RUN_FIRST:
        return f"At the start of every turn, call {_names_text(names, 'one of')} before any other tool."
    if kind is ToolRuleType.EXIT_LOOP:
        return f"Calling {_names_text(names, 'any of')} ends your turn; make it your last call."
    if kind is ToolRuleType.CONTINUE_LOOP:
        return f"After {_names_text(names, 'any of')} you always get another step, so you can keep working."
    if kind is ToolRuleType.REQUIRED_BEFORE_EXIT:
        return f"Before you end your turn, you must have called {_names_text(names, 'each of')} at least once."
    verb = "needs" if len(names) == 1 else "need"
    return (
        f"{', '.join(names)} {verb} a person's approval: calling it pauses your turn until they "
        "approve or deny the call."
    )


# --- defaults --------------------------------------------------------------------

# Base tools that end a turn; every other base tool keeps it going.
TERMINAL_BASE_TOOLS = ("send_message", "memory_finish_edits", "send_message_to_agent_async")
CONTINUE_BASE_TOOLS = (
    "conversation_search",
    "archival_memory_insert",
    "archival_memory_search",
    "core_memory_append",
    "core_memory_replace",
    "memory_replace",
    "memory_insert",
    "memory_rethink",
    "open_files",
    "grep_files",
    "semantic_search_files",
)


def default_base_tool_rules(
    agent_type: AgentType | str, tool_names: Iterable[str]
) -> list[ToolRule]:
    """Letta's default rules for the base tools an agent has attached.

    letta_v1 agents get none: a tool call always continues and plain text ends
    the turn, so the rules would only add noise to the prompt."""
    if AgentType(agent_type) is AgentType.LETTA_V1:
        return []
    rules: list[ToolRule] = []
    for name in dict.fromkeys(tool_names):
        if name in TERMINAL_BASE_TOOLS:
            rules.append(ToolRule(type=ToolRuleType.EXIT_LOOP, tool_name=name))
        elif name in CONTINUE_BASE_TOOLS:
            rules.append(ToolRule(type=ToolRuleType.CONTINUE_LOOP, tool_name=name))
    return rules
