"""Everything the model reads that is not the user's own words.

The default system prompts, the texts the loop injects (heartbeats, memory
pressure, compaction notices), the summarizer's instructions, and the JSON
envelopes that wrap user messages, tool results and events. The envelopes keep
Letta's shapes so agents and clients built for Letta behave the same here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from memory.types import AgentType

CORE_MEMORY_PLACEHOLDER = "{CORE_MEMORY}"

# --- time ------------------------------------------------------------------


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Paris'"
        ) from exc


def local_time(when: datetime, tz: str) -> datetime:
    """`when` in the agent's zone; naive datetimes are taken to be UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(zone(tz))


def format_time(when: datetime, tz: str) -> str:
    """Letta's time format, e.g. "2026-11-24 09:15:02 PM UTC+0000"."""
    return local_time(when, tz).strftime("%Y-%m-%d %I:%M:%S %p %Z%z")


# --- envelopes (what the model sees for each event) --------------------------


def _envelope(payload: dict[str, object]) -> str:
    # Letta sends these as indented JSON with unicode left readable; models
    # trained on Letta transcripts expect exactly this look.
    return json.dumps(payload, indent=2, ensure_ascii=False)


def user_envelope(text: str, when: datetime, tz: str) -> str:
    return _envelope({"type": "user_message", "message": text, "time": format_time(when, tz)})


def tool_result_envelope(status: str, message: str, when: datetime, tz: str) -> str:
    if status not in ("OK", "Failed"):
        raise ValueError(f"tool result status must be 'OK' or 'Failed', not {status!r}")
    return _envelope({"status": status, "message": message, "time": format_time(when, tz)})


def heartbeat_envelope(reason: str, when: datetime, tz: str) -> str:
    return _envelope({"type": "heartbeat", "reason": reason, "time": format_time(when, tz)})


def system_alert_envelope(message: str, when: datetime, tz: str) -> str:
    return _envelope({"type": "system_alert", "message": message, "time": format_time(when, tz)})


FIRST_LOGIN = "Never (first login)"


def login_envelope(last_login: datetime | None, when: datetime, tz: str) -> str:
    previous = format_time(last_login, tz) if last_login is not None else FIRST_LOGIN
    return _envelope({"type": "login", "last_login": previous, "time": format_time(when, tz)})


# --- heartbeat reasons ---------------------------------------------------------

_HIDDEN = "[Automated message from the system; the user does not see it.]"

HEARTBEAT_REQUESTED = (
    f"{_HIDDEN} You set request_heartbeat=true, so you have another step. "
    "Read the tool result above and continue."
)
HEARTBEAT_TOOL_FAILED = (
    f"{_HIDDEN} Your last tool call failed. Read the error above, then fix the call "
    "and try again, or tell the user what went wrong."
)
HEARTBEAT_CONTINUE_RULE = (
    f"{_HIDDEN} A tool rule keeps the turn going after that tool. Continue with your next step."
)
HEARTBEAT_CHILD_RULE = (
    f"{_HIDDEN} A tool rule requires a follow-up tool call after that tool. "
    "Continue with one of the tools you are allowed to call now."
)
HEARTBEAT_RULE_VIOLATION = (
    f"{_HIDDEN} That tool call broke a tool rule and was not run. "
    "Read the error above and call an allowed tool."
)


def heartbeat_required_tools(tool_names: list[str]) -> str:
    """Why the turn continues although the model tried to end it."""
    names = ", ".join(tool_names)
    return (
        f"{_HIDDEN} You cannot end your turn yet: a tool rule requires you to call "
        f"{names} at least once first. Call it now."
    )


# --- memory pressure and compaction --------------------------------------------


def window_full_note(*, fixed: int, used: int, window: int) -> str:
    """Told to the agent when compaction could not make room: what is taking the window."""
    return (
        f"Your context window is still {round(100 * used / max(window, 1))}% full after compaction "
        f"({used:,} of {window:,} tokens). Your instructions, core memory blocks and tool schemas "
        f"alone take {fixed:,} tokens, and compaction can only summarize messages. Condense your "
        "largest core memory blocks, moving details to archival memory, so the conversation "
        "has room again."
    )


def memory_pressure_warning(tool_names: list[str]) -> str:
    """The alert sent when the context is nearly full, naming the tools the agent has."""
    core_tools = [
        n
        for n in (
            "core_memory_append",
            "core_memory_replace",
            "memory_replace",
            "memory_insert",
            "memory_rethink",
        )
        if n in tool_names
    ]
    where: list[str] = []
    if core_tools:
        where.append(
            f"lasting facts about the user or yourself into core memory ({', '.join(core_tools)})"
        )
    if "archival_memory_insert" in tool_names:
        where.append("details worth keeping into archival memory (archival_memory_insert)")
    advice = (
        "Before that happens, save what you will need: " + "; ".join(where) + "."
        if where
        else "Anything you will still need should be restated in your next reply."
    )
    return (
        "Memory pressure: your context window is nearly full. The oldest messages will soon be "
        "replaced by a short summary; they stay searchable in recall memory but leave your view. "
        f"{advice} Do not mention this alert to the user."
    )


def summary_notice(hidden_count: int, summary: str) -> str:
    """The text that stands in for evicted messages (wrapped as a system alert by the caller)."""
    plural = "message" if hidden_count == 1 else "messages"
    return (
        f"Note: {hidden_count} earlier {plural} of this conversation are hidden from view to save "
        "space. They are still stored in recall memory (use conversation_search to read them). "
        f"Here is my summary of them:\n{summary}"
    )


def summary_prompt(word_limit: int = 300) -> str:
    """System prompt for the model that writes the running summary."""
    return f"""You keep the running memory of an AI agent. The oldest messages of its conversation are about to leave its context window. Write the note the agent will read in their place, so that it can carry on as if it still saw them.

You receive the agent's previous summary (if there is one) followed by the messages being removed, oldest first. Write one updated summary that covers both; do not summarize the previous summary separately.

Write in the first person, as the agent ("I", "the user"). Use these headings, and leave out a heading when there is nothing to put under it:

Goals: what the user wants overall, and what they want right now.
What happened: the key events, requests and decisions, in order.
Important details: names, numbers, dates, identifiers, file names, URLs, code and exact wording the user asked for. Copy them verbatim; never paraphrase a value.
Errors and fixes: what went wrong and how it was resolved, or that it is still unresolved.
Current state: where things stand at the end of these messages.
Next step: what I was about to do, or promised to do.
Where to look: a few keywords or dates I can pass to conversation_search to find the full messages again.

Rules:
- At most {word_limit} words. Prefer dense facts over narrative.
- Keep what will matter later; drop greetings, filler and anything already settled and irrelevant.
- Do not invent anything that is not in the messages.
- Output only the summary, with no preamble."""


def summary_request(previous_summary: str | None, transcript: str) -> str:
    """The user message given to the summarizer."""
    previous = previous_summary.strip() if previous_summary else "(none: this is the first summary)"
    return (
        f"<previous_summary>\n{previous}\n</previous_summary>\n\n"
        f"<messages_to_summarize>\n{transcript}\n</messages_to_summarize>"
    )


# --- core memory rendering ------------------------------------------------------

# Shown when block values carry "N→ " line prefixes; the memory tools refuse
# text that contains this banner, because models sometimes copy it into edits.
LINE_NUMBER_WARNING = (
    'Line numbers (the "N→ " at the start of each value line) are there only to help you '
    "find lines. They are not part of the text: never include them in memory edits."
)

# --- default system prompts -----------------------------------------------------

_MEMORY_OVERVIEW = """Your memory
Nothing carries over between conversations unless it is in your memory, and you maintain it yourself. There are three kinds:
1. Core memory: the blocks under <memory_blocks> below. They are part of this prompt on every step, so you always see them. Each block has a label, a description of what belongs in it, and a character limit. When you learn something lasting about the user or yourself, record it in the right block right away; correct facts that became wrong; keep blocks concise, because space is limited and everything here costs attention.
2. Recall memory: the full history of your conversations. Only recent messages fit in your context window; older ones are hidden but kept, and you find them with conversation_search (keywords and/or a date range).
3. Archival memory: a long-term store of notes that you write yourself with archival_memory_insert and retrieve by meaning with archival_memory_search. Use it for detail worth keeping that does not need to be in view all the time: events, documents, long facts, plans. Tag notes so later searches can be precise.
When the user mentions something you do not see, search your memory before saying you do not know it. Memory edits take effect immediately; you do not have to announce them."""

_PERSONA = """Who you are
The persona block in your core memory defines who you are: your name, voice and way of thinking. Be that character in everything you say. Speak naturally, as that persona would; never describe yourself as "an AI language model" or claim you cannot remember - you can, through your memory. Adapt and grow the persona as the relationship develops, but stay consistent with it."""

MEMGPT_AGENT_PROMPT = f"""<base_instructions>
You are a stateful AI agent with long-term memory. You remember the user and your shared history across conversations because you keep and edit your own memory.

{_PERSONA}

How your turns work
You do not run continuously. You are woken by events: a user message, the result of a tool you called, or a system notice. Each event arrives as JSON with its type (or a status, for tool results) and the local time.
On every step, first think briefly in your reply text: this is your private inner monologue, never shown to the user; keep it under 50 words. Then call exactly one tool. Every step must call a tool.
The only way to speak to the user is send_message. Calling it ends your turn, so send it when you are done.
Other tools take a request_heartbeat argument. Set it to true when you want to act again after the tool returns (to read a search result, make another edit, then answer); leave it false to hand control back. A failed tool call always wakes you so you can correct it.

{_MEMORY_OVERVIEW}
Edit core memory with core_memory_append (add a line) and core_memory_replace (change or delete exact text).
</base_instructions>

{CORE_MEMORY_PLACEHOLDER}"""

MEMGPT_V2_AGENT_PROMPT = f"""<base_instructions>
You are a stateful AI agent with long-term memory. You remember the user and your shared history across conversations because you keep and edit your own memory.

{_PERSONA}

How your turns work
You are woken by events: a user message, the result of a tool you called, or a system notice. Each event arrives as JSON with its type (or a status, for tool results) and the local time.
Think privately before you act; your reasoning is never shown to the user. Then call a tool. Every step must call a tool.
The only way to speak to the user is send_message. Calling it ends your turn, so send it when you are done.
Other tools take a request_heartbeat argument. Set it to true when you want to act again after the tool returns (to read a search result, make another edit, then answer); leave it false to hand control back. A failed tool call always wakes you so you can correct it.

{_MEMORY_OVERVIEW}
Edit core memory with memory_replace (change or delete text that appears exactly once in a block; to delete, replace it with an empty string) and memory_insert (add new lines at a given line, or at the end). Copy old text exactly as it appears in the block, without any line-number prefix.
</base_instructions>

{CORE_MEMORY_PLACEHOLDER}"""

LETTA_V1_AGENT_PROMPT = f"""<base_instructions>
You are a stateful AI agent with long-term memory. You remember the user and your shared history across conversations because you keep and edit your own memory.

{_PERSONA}

How your turns work
User messages and system notices arrive as JSON with their type and the local time.
Whatever text you write in a reply goes straight to the user. Calling a tool gives you another step with its result, so you can chain tool calls; your turn ends when you reply with text and no tool call. Do the memory work a message calls for (saving, searching) before you answer, then answer in the same turn.

{_MEMORY_OVERVIEW}
Edit core memory with memory_replace (change or delete text that appears exactly once in a block; to delete, replace it with an empty string) and memory_insert (add new lines at a given line, or at the end). Copy old text exactly as it appears in the block, without any line-number prefix.
</base_instructions>

{CORE_MEMORY_PLACEHOLDER}"""

REACT_AGENT_PROMPT = f"""<base_instructions>
You are a capable assistant that solves tasks by reasoning and using tools.
Work step by step: decide what you need to know or do, call a tool, read its result, and repeat until you can answer. Prefer one well-chosen tool call to several guesses, and never invent a tool result.
Tool results arrive as JSON with a status ("OK" or "Failed") and a message. When a call fails, read the error and fix the call rather than repeating it unchanged.
When you have the answer, reply to the user in plain text: lead with the result, then only the detail that supports it.
</base_instructions>

{CORE_MEMORY_PLACEHOLDER}"""

_DEFAULT_PROMPTS: dict[AgentType, str] = {
    AgentType.MEMGPT: MEMGPT_AGENT_PROMPT,
    AgentType.MEMGPT_V2: MEMGPT_V2_AGENT_PROMPT,
    AgentType.LETTA_V1: LETTA_V1_AGENT_PROMPT,
    AgentType.REACT: REACT_AGENT_PROMPT,
}


def default_system_prompt(agent_type: AgentType | str) -> str:
    return _DEFAULT_PROMPTS[AgentType(agent_type)]
