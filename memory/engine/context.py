"""The context compiler: blocks, rules, attached files and memory stats → the system message.

Pure functions. The compiled text is what the model reads on every step, so
its exact shape is pinned by snapshot tests. `system_fingerprint` tells the
loop when a recompile is due: only when something the prompt depends on
changed, never for counters or the clock, so provider prompt caches stay warm.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory.engine.rules import ToolRulesSolver
from memory.engine.tokens import TokenCounter
from memory.prompts import CORE_MEMORY_PLACEHOLDER, LINE_NUMBER_WARNING, format_time
from memory.types import (
    AgentType,
    Block,
    Directory,
    MemoryStats,
    Message,
    MessageKind,
    TextPart,
    ToolDef,
    ToolRule,
)


@dataclass
class CompileInput:
    agent_id: str
    agent_type: AgentType
    system_template: str
    blocks: list[Block]
    tools: list[ToolDef]
    tool_rules: list[ToolRule]
    stats: MemoryStats
    timezone: str
    # Letta numbers value lines ("1→ ") for Anthropic models on memgpt_v2 /
    # letta_v1 agents, which edit by line; the caller knows the provider.
    line_numbers: bool = False
    # Folders attached to the agent and its view of their files.
    directories: list[Directory] = field(default_factory=list)


@dataclass
class CompiledSystem:
    text: str
    # base_instructions, core_memory, tool_usage_rules, directories, memory_metadata
    sections: dict[str, str]


# At most this many files stay open per agent; opening another closes the
# least recently used (memory/services/files.py enforces it, the prompt states it).
MAX_FILES_OPEN = 5


# --- rendering ---------------------------------------------------------------------

_BLOCKS_INTRO = (
    "These blocks are your core memory. They are always in view, and you can edit them with "
    "your memory tools. Each block's <value> holds its exact text; chars_current is its length "
    "and chars_limit the most it may hold."
)
_RULES_INTRO = "Follow these rules when you call tools:"


def _render_value(value: str, line_numbers: bool) -> str:
    if not line_numbers or not value:
        return value
    return "\n".join(f"{n}→ {line}" for n, line in enumerate(value.split("\n"), start=1))


def _render_block(block: Block, line_numbers: bool) -> str:
    # Values are the model's own text and are not escaped; the block's closing
    # tag carries its label and chars_current gives the exact length, so a
    # value that happens to contain markup still has an unambiguous extent.
    lines = [f"<{block.label}>"]
    if block.description:
        lines += ["<description>", block.description, "</description>"]
    lines.append("<metadata>")
    if block.read_only:
        lines.append("- read_only=true")
    lines += [f"- chars_current={len(block.value)}", f"- chars_limit={block.limit}", "</metadata>"]
    lines += ["<value>", _render_value(block.value, line_numbers), "</value>", f"</{block.label}>"]
    return "\n".join(lines)


def render_core_memory(blocks: list[Block], line_numbers: bool) -> str:
    intro = _BLOCKS_INTRO + (f"\n{LINE_NUMBER_WARNING}" if line_numbers else "")
    parts = [f"<memory_blocks>\n{intro}", *(_render_block(b, line_numbers) for b in blocks)]
    return "\n\n".join(parts) + "\n</memory_blocks>"


def render_tool_usage_rules(rules: list[ToolRule], tool_names: set[str]) -> str:
    # Rules about tools the agent does not have would only confuse the model.
    relevant = [r for r in rules if r.tool_name in tool_names]
    if not relevant:
        return ""
    body = ToolRulesSolver(relevant).render_usage_rules()
    return f"<tool_usage_rules>\n{_RULES_INTRO}\n{body}\n</tool_usage_rules>"


_DIRECTORIES_INTRO = (
    "These folders are attached to you. An open file shows the lines in view, numbered; closed "
    "files are listed by name. Use open_files to open a file or move its view, grep_files to find "
    "exact text and semantic_search_files to find passages by meaning."
)


def render_directories(directories: list[Directory]) -> str:
    """Letta's <directories>: each folder with its description and instructions,
    the open-file limit, and every file, open ones with the lines in view.
    Like block values, file text is the files' own and is not escaped."""
    if not directories:
        return ""
    open_count = sum(f.is_open for d in directories for f in d.files)
    lines = [
        "<directories>",
        _DIRECTORIES_INTRO,
        "<file_limits>",
        f"- current_files_open={open_count}",
        f"- max_files_open={MAX_FILES_OPEN}",
        "</file_limits>",
    ]
    for directory in directories:
        lines.append(f'<directory name="{directory.name}">')
        if directory.description:
            lines += ["<description>", directory.description, "</description>"]
        if directory.instructions:
            lines += ["<instructions>", directory.instructions, "</instructions>"]
        for file in directory.files:
            path = f"{directory.name}/{file.name}"
            if not file.is_open:
                lines.append(f'<file status="closed" name="{path}"/>')
                continue
            shown = file.visible.count("\n") + 1 if file.visible else 0
            span = f"{file.offset + 1}-{file.offset + shown}" if shown else "none (past the end)"
            lines += [
                f'<file status="open" name="{path}">',
                "<metadata>",
                "- read_only=true",
                f"- lines_in_view={span}",
                "</metadata>",
                "<value>",
                file.visible,
                "</value>",
                "</file>",
            ]
        lines.append("</directory>")
    lines.append("</directories>")
    return "\n".join(lines)


def render_memory_metadata(agent_id: str, stats: MemoryStats, timezone: str) -> str:
    recompiled = stats.last_recompiled or datetime.now(UTC)
    lines = [
        "<memory_metadata>",
        f"- AGENT_ID: {agent_id}",
        f"- System prompt last recompiled: {format_time(recompiled, timezone)}",
        f"- {stats.recall_count} earlier messages between you and the user are stored in recall "
        "memory (out of view; search them when you need them)",
    ]
    if stats.archival_count > 0:
        lines.append(
            f"- {stats.archival_count} notes are stored in archival memory "
            "(out of view; search them when you need them)"
        )
    if stats.archival_tags:
        lines.append(f"- Archival memory tags in use: {', '.join(stats.archival_tags)}")
    lines.append("</memory_metadata>")
    return "\n".join(lines)


def compile_system(inp: CompileInput) -> CompiledSystem:
    """The full system message and its named sections."""
    show_blocks = AgentType(inp.agent_type) is not AgentType.REACT
    core = render_core_memory(inp.blocks, inp.line_numbers) if show_blocks else ""
    rules = render_tool_usage_rules(inp.tool_rules, {t.name for t in inp.tools})
    directories = render_directories(inp.directories)
    metadata = render_memory_metadata(inp.agent_id, inp.stats, inp.timezone)
    memory = "\n\n".join(s for s in (core, rules, directories, metadata) if s)

    template = inp.system_template
    if CORE_MEMORY_PLACEHOLDER in template:
        # Plain replace, not str.format: user templates may contain other braces.
        text = template.replace(CORE_MEMORY_PLACEHOLDER, memory)
        base = template.replace(CORE_MEMORY_PLACEHOLDER, "").strip()
    else:
        base = template.strip()
        text = f"{base}\n\n{memory}" if base else memory
    sections = {
        "base_instructions": base,
        "core_memory": core,
        "tool_usage_rules": rules,
        "directories": directories,
        "memory_metadata": metadata,
    }
    return CompiledSystem(text=text, sections=sections)


def system_fingerprint(inp: CompileInput) -> str:
    """Hash of everything whose change should rebuild the system message.

    Deliberately excludes `stats` (message counts, archival counts, the
    recompile time): those drift every turn, and recompiling for them would
    invalidate the provider's prompt cache on every request. Files count by
    what the prompt shows of them (attached, open, the lines in view), never
    by when they were last used."""
    payload = {
        "agent_id": inp.agent_id,
        "agent_type": AgentType(inp.agent_type).value,
        "template": inp.system_template,
        "timezone": inp.timezone,
        "line_numbers": inp.line_numbers,
        "blocks": [[b.label, b.value, b.limit, b.description, b.read_only] for b in inp.blocks],
        "tools": [[t.name, t.schema] for t in inp.tools],
        "rules": [_jsonable(dataclasses.asdict(r)) for r in inp.tool_rules],
    }
    if inp.directories:
        # Only when there are some: agents without folders keep the fingerprint
        # they had before files existed, so they are not all recompiled at once.
        payload["directories"] = [
            [
                d.name,
                d.description,
                d.instructions,
                [[f.name, f.is_open, f.visible if f.is_open else "", f.offset] for f in d.files],
            ]
            for d in inp.directories
        ]
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


# --- the context window overview --------------------------------------------------


@dataclass
class ContextOverview:
    """Letta's ContextWindowOverview, field for field, plus `sections` for our visualizer."""

    context_window_size_max: int
    context_window_size_current: int
    num_messages: int
    num_archival_memory: int
    num_recall_memory: int
    num_tokens_external_memory_summary: int
    external_memory_summary: str
    num_tokens_system: int
    system_prompt: str
    num_tokens_core_memory: int
    core_memory: str
    num_tokens_memory_filesystem: int
    memory_filesystem: str | None
    num_tokens_tool_usage_rules: int
    tool_usage_rules: str | None
    num_tokens_directories: int
    directories: str | None
    num_tokens_summary_memory: int
    summary_memory: str | None
    num_tokens_functions_definitions: int
    functions_definitions: list[dict[str, Any]]
    num_tokens_messages: int
    messages: list[Message]
    # (name, tokens) in prompt order; sums to context_window_size_current.
    sections: list[tuple[str, int]] = field(default_factory=list)
    # Why the window is (or stays) full, for people: see window_warnings.
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "messages"
        }
        data["messages"] = [_jsonable(m) for m in self.messages]
        data["sections"] = [[name, tokens] for name, tokens in self.sections]
        return data


def overview(
    compiled: CompiledSystem,
    messages: list[Message],
    tools: list[ToolDef],
    stats: MemoryStats,
    window: int,
    counter: TokenCounter,
) -> ContextOverview:
    """Token accounting of the whole context window, section by section.

    `messages` are the in-context messages after the system message. The
    system message is counted whole; the instructions' share is the rest of
    it once the memory sections are taken out, so the framing and joins are
    attributed somewhere and the sections add up to exactly what is sent."""
    sections = compiled.sections
    core_tokens = counter.count_text(sections["core_memory"])
    rules_tokens = counter.count_text(sections["tool_usage_rules"])
    # System messages compiled before files existed have no such section.
    directories = sections.get("directories", "")
    directories_tokens = counter.count_text(directories)
    metadata_tokens = counter.count_text(sections["memory_metadata"])
    system_message = Message(
        role="system", content=[TextPart(compiled.text)], kind=MessageKind.SYSTEM
    )
    system_total = counter.count_message(system_message)
    base_tokens = max(
        system_total - core_tokens - rules_tokens - directories_tokens - metadata_tokens, 0
    )

    summary: Message | None = None
    rest = messages
    if messages and messages[0].kind is MessageKind.SUMMARY:
        summary, rest = messages[0], messages[1:]
    summary_tokens = counter.count_message(summary) if summary is not None else 0
    message_tokens = counter.count_messages(rest)

    definitions = [{"type": "function", "function": t.schema} for t in tools]
    function_tokens = counter.count_tools(definitions)

    parts = [
        ("system", base_tokens),
        ("core_memory", core_tokens),
        ("tool_usage_rules", rules_tokens),
        ("directories", directories_tokens),
        ("external_memory_summary", metadata_tokens),
        ("summary_memory", summary_tokens),
        ("functions_definitions", function_tokens),
        ("messages", message_tokens),
    ]
    return ContextOverview(
        context_window_size_max=window,
        context_window_size_current=sum(tokens for _, tokens in parts),
        num_messages=len(messages) + 1,
        num_archival_memory=stats.archival_count,
        num_recall_memory=stats.recall_count,
        num_tokens_external_memory_summary=metadata_tokens,
        external_memory_summary=sections["memory_metadata"],
        num_tokens_system=base_tokens,
        system_prompt=sections["base_instructions"],
        num_tokens_core_memory=core_tokens,
        core_memory=sections["core_memory"],
        num_tokens_memory_filesystem=0,
        memory_filesystem=None,
        num_tokens_tool_usage_rules=rules_tokens,
        tool_usage_rules=sections["tool_usage_rules"] or None,
        num_tokens_directories=directories_tokens,
        directories=directories or None,
        num_tokens_summary_memory=summary_tokens,
        summary_memory=summary.text if summary is not None else None,
        num_tokens_functions_definitions=function_tokens,
        functions_definitions=definitions,
        num_tokens_messages=message_tokens,
        messages=list(rest),
        sections=parts,
    )


def window_warnings(view: ContextOverview, *, compaction_trigger: float) -> list[str]:
    """What keeps the window full when compaction cannot help: it only
    summarizes messages, so instructions, core memory and tool schemas over the
    compaction mark leave every turn at a full window."""
    window = max(view.context_window_size_max, 1)
    current = view.context_window_size_current
    fixed = current - view.num_tokens_messages - view.num_tokens_summary_memory
    if fixed > compaction_trigger * window:
        return [
            f"Instructions, core memory and tool schemas take {fixed:,} of the {window:,}-token "
            f"window ({round(100 * fixed / window)}%). Compaction only summarizes messages, so it "
            f"cannot bring the window under the {round(100 * compaction_trigger)}% compaction mark: "
            "shorten the largest memory blocks or detach tools."
        ]
    if current > window:
        return [
            f"The prompt is over the window ({current:,} of {window:,} tokens); the next step "
            "compacts the conversation."
        ]
    return []


def _jsonable(value: Any) -> Any:
    """Dataclasses (as asdict() would give them) → plain JSON types: enums by
    value, datetimes as ISO. One pass: asdict's deep copies followed by a
    second walk cost a third of the overview's time for a long window."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value
