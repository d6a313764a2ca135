"""The built-in tools. Each docstring is exactly what the model reads.

Every tool takes the `ToolContext` first (hidden from the model) and returns
the text of its result. Mistakes raise `ToolError` with a message that tells
the model what to do instead; a failed edit leaves the block untouched.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from typing import Any, Literal

from memory.prompts import LINE_NUMBER_WARNING, format_time, zone
from memory.tools.base import ToolContext, ToolError
from memory.types import Block

DEFAULT_SEARCH_RESULTS = 5
MAX_SEARCH_RESULTS = 50
# Limit of a block created by memory_rethink (Letta's human/persona default).
DEFAULT_BLOCK_LIMIT = 20_000
SNIPPET_CONTEXT_LINES = 3

# "12→ " at a line start: the compiler's line numbers, copied by mistake.
_LINE_NUMBER_PREFIX = re.compile(r"^\s*\d+→", re.MULTILINE)
# Labels become XML-ish tags in the prompt, so keep them tag-safe.
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")

# --- helpers -------------------------------------------------------------------------


def _block(ctx: ToolContext, label: str) -> Block:
    block = ctx.blocks.get(label)
    if block is None:
        existing = ", ".join(sorted(ctx.blocks)) or "(none)"
        raise ToolError(
            f"There is no memory block labelled '{label}'. Existing blocks: {existing}."
        )
    return block


def _editable(ctx: ToolContext, label: str) -> Block:
    block = _block(ctx, label)
    if block.read_only:
        raise ToolError(
            f"The memory block '{label}' is read-only; it cannot be edited with memory tools."
        )
    return block


def _reject_line_numbers(text: str, argument: str) -> None:
    if _LINE_NUMBER_PREFIX.search(text) or LINE_NUMBER_WARNING in text:
        raise ToolError(
            f"{argument} contains line-number prefixes such as '1→ '. Those numbers are only shown "
            "to help you find lines; they are not part of the block. Send the text without them."
        )


def _commit(ctx: ToolContext, block: Block, new_value: str) -> None:
    """Store `new_value` in `block`, or raise and leave the block as it was."""
    new_value = new_value.replace("\x00", "")  # Postgres text cannot hold NUL
    if ctx.enforce_block_limits and len(new_value) > block.limit:
        raise ToolError(
            f"Edit failed: block '{block.label}' exceeds the {block.limit} character limit "
            f"(requested {len(new_value)}). The block is unchanged. Shorten the new text, or make "
            "room first by condensing or removing older content in the block."
        )
    if ctx.block_too_big is not None and len(new_value) > len(block.value):
        refusal = ctx.block_too_big(block.label, block.value, new_value)
        if refusal:
            raise ToolError(f"Edit failed: {refusal} The block is unchanged.")
    block.value = new_value
    ctx.changed_blocks.add(block.label)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _snippet(value: str, first_line: int, line_count: int) -> str:
    """The edited lines with a little context, so the model can check its edit."""
    lines = value.split("\n")
    start = max(first_line - 1 - SNIPPET_CONTEXT_LINES, 0)
    end = min(first_line - 1 + line_count + SNIPPET_CONTEXT_LINES, len(lines))
    return "\n".join(lines[start:end])


def _edited(label: str, value: str, first_line: int, line_count: int) -> str:
    return (
        f"Edited memory block '{label}'. Around the edit it now reads:\n"
        f"{_snippet(value, first_line, line_count)}\n"
        "Check it is what you intended (no duplicated or missing lines); edit again if not."
    )


def _whole(label: str, value: str) -> str:
    return f"Memory block '{label}' now reads:\n{value}"


def _parse_when(text: str, tz: str, *, end_of_day: bool, argument: str) -> datetime:
    """YYYY-MM-DD[THH:MM[:SS]] in the agent's time zone; a bare date covers the whole day."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
    except ValueError:
        raise ToolError(
            f"{argument} '{text}' is not a date. Use YYYY-MM-DD or YYYY-MM-DDTHH:MM, "
            "for example 2026-03-14 or 2026-03-14T09:30."
        ) from None
    if len(raw) <= 10 and end_of_day:
        parsed = datetime.combine(parsed.date(), time.max)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return parsed


def _date_range(
    ctx: ToolContext, start: str | None, end: str | None, names: tuple[str, str]
) -> tuple[datetime | None, datetime | None]:
    first = _parse_when(start, ctx.timezone, end_of_day=False, argument=names[0]) if start else None
    last = _parse_when(end, ctx.timezone, end_of_day=True, argument=names[1]) if end else None
    if first and last and first > last:
        raise ToolError(f"{names[0]} is after {names[1]}; swap them or widen the range.")
    return first, last


def _count(value: int | None, argument: str) -> int:
    if value is None:
        return DEFAULT_SEARCH_RESULTS
    if value < 1:
        raise ToolError(f"{argument} must be at least 1.")
    return min(value, MAX_SEARCH_RESULTS)


def _time_ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def _stamp(ctx: ToolContext, when: Any) -> dict[str, str]:
    if not isinstance(when, datetime):
        return {}
    if when.tzinfo is None:  # stored times are UTC; never compare naive with aware
        when = when.replace(tzinfo=UTC)
    return {"timestamp": format_time(when, ctx.timezone), "time_ago": _time_ago(when, ctx.now)}


def _results(message: str, results: list[dict[str, Any]]) -> str:
    return json.dumps({"message": message, "results": results}, indent=2, ensure_ascii=False)


def _tags(tags: list[str] | None) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags or [] if t.strip()))


# --- talking --------------------------------------------------------------------------


def send_message(ctx: ToolContext, message: str) -> str:
    """Send a message to the user. This is the only way the user sees what you say.

    Calling it ends your turn, so send it after any memory work. Write as your
    persona, in plain text; the user does not see your thoughts or tool calls.

    Args:
        message: The complete message to show the user.
    """
    if not message.strip():
        raise ToolError("message is empty. Write the text you want the user to read.")
    return "Sent message successfully."


# --- recall memory ------------------------------------------------------------------


def conversation_search(
    ctx: ToolContext,
    query: str | None = None,
    roles: list[Literal["assistant", "user", "tool"]] | None = None,
    limit: int | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> str:
    """Search your full conversation history (recall memory), including messages no longer in view.

    Finds past messages that match your keywords, best matches first. Give a
    date range to look at a period, with or without keywords; without keywords
    the newest messages in the range come first. Use it whenever the user
    refers to something said earlier that you cannot see.

    Args:
        query: Keywords to look for. Leave it out to list messages in the date range.
        roles: Only return messages from these speakers: "user", "assistant" and/or "tool".
        limit: Maximum number of results (default 5, at most 50).
        start_date: Earliest date to include, YYYY-MM-DD or YYYY-MM-DDTHH:MM, in your local time.
        end_date: Latest date to include (inclusive), same format as start_date.
    """
    text = query.strip() if query else None
    first, last = _date_range(ctx, start_date, end_date, ("start_date", "end_date"))
    if not text and first is None and last is None:
        raise ToolError("Give a query, a date range, or both.")
    hits = ctx.backend.conversation_search(
        ctx.agent_id,
        text,
        roles=list(roles) if roles else None,
        limit=_count(limit, "limit"),
        start=first,
        end=last,
    )
    if not hits:
        return _results(
            "No results found. Try other keywords, fewer words, or a wider date range.", []
        )
    rows = []
    for hit in hits:
        row: dict[str, Any] = {
            **_stamp(ctx, hit.get("timestamp")),
            "role": hit.get("role"),
            "content": hit.get("content"),
        }
        if hit.get("relevance"):  # 0 means "not ranked" (e.g. a date-only listing)
            row["relevance"] = round(float(hit["relevance"]), 3)
        rows.append(row)
    return _results(f"Showing {len(rows)} results:", rows)


# --- archival memory ----------------------------------------------------------------


def archival_memory_insert(ctx: ToolContext, content: str, tags: list[str] | None = None) -> str:
    """Save a note to archival memory, your unlimited long-term store.

    Use it for anything worth remembering that does not need to stay in view:
    facts, events, documents, plans. Write each note so it makes sense on its
    own later (who, what, when), one topic per note.

    Args:
        content: The note to save, self-contained.
        tags: Optional short labels (e.g. "work", "travel") that let you filter searches later.
    """
    if not content.strip():
        raise ToolError("content is empty. Write the note you want to save.")
    clean = _tags(tags)
    passage_id = ctx.backend.archival_insert(ctx.agent_id, content, clean)
    ctx.archival_changed = True
    tagged = f" with tags {', '.join(clean)}" if clean else ""
    return f"Saved to archival memory{tagged} (id {passage_id})."


def archival_memory_search(
    ctx: ToolContext,
    query: str,
    tags: list[str] | None = None,
    tag_match_mode: Literal["any", "all"] = "any",
    top_k: int | None = None,
    start_datetime: str | None = None,
    end_datetime: str | None = None,
) -> str:
    """Search archival memory by meaning and return the closest notes.

    Phrase the query as the thing you want to find ("the user's sister's
    name", "plans for the Lisbon trip"); exact wording is not needed.

    Args:
        query: What you are looking for.
        tags: Only return notes with these tags.
        tag_match_mode: "any" returns notes with at least one of the tags, "all" only notes with every tag.
        top_k: Maximum number of results (default 5, at most 50).
        start_datetime: Only notes saved at or after this time, YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time.
        end_datetime: Only notes saved at or before this time, same format.
    """
    if not query.strip():
        raise ToolError("query is empty. Describe what you are looking for.")
    first, last = _date_range(ctx, start_datetime, end_datetime, ("start_datetime", "end_datetime"))
    hits = ctx.backend.archival_search(
        ctx.agent_id,
        query.strip(),
        tags=_tags(tags) or None,
        tag_match_mode=tag_match_mode,
        top_k=_count(top_k, "top_k"),
        start=first,
        end=last,
    )
    # Without an embedding model the search matches words, not meaning: say so,
    # so the agent rephrases with the words a note would contain.
    mode = (
        ""
        if getattr(ctx.backend, "semantic", True)
        else (
            " (keyword search: no embedding model is configured, so use words the note would contain)"
        )
    )
    if not hits:
        return _results("No matching notes in archival memory." + mode, [])
    rows = []
    for hit in hits:
        row: dict[str, Any] = {**_stamp(ctx, hit.get("timestamp")), "content": hit.get("content")}
        if hit.get("tags"):
            row["tags"] = list(hit["tags"])
        if hit.get("relevance"):  # 0 means "not ranked" (e.g. a date-only listing)
            row["relevance"] = round(float(hit["relevance"]), 3)
        rows.append(row)
    return _results(f"Showing {len(rows)} results{mode}:", rows)


# --- core memory, memgpt style --------------------------------------------------------


def core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    """Add text to the end of a core memory block, on a new line.

    Args:
        label: The block to add to, e.g. "human" or "persona".
        content: The text to add. Keep it short and factual.
    """
    block = _editable(ctx, label)
    _reject_line_numbers(content, "content")
    if not content.strip():
        raise ToolError("content is empty. Write the text to add.")
    _commit(ctx, block, f"{block.value}\n{content}" if block.value else content)
    return _whole(label, block.value)


def core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    """Replace text in a core memory block. Every occurrence of old_content is replaced.

    To delete text, pass an empty new_content.

    Args:
        label: The block to edit, e.g. "human" or "persona".
        old_content: The exact text to replace, copied from the block.
        new_content: The text to put in its place; empty to delete.
    """
    block = _editable(ctx, label)
    _reject_line_numbers(old_content, "old_content")
    _reject_line_numbers(new_content, "new_content")
    if not old_content:
        raise ToolError(
            "old_content is empty. Copy the exact text you want to replace from the block."
        )
    if old_content not in block.value:
        raise ToolError(
            f"old_content was not found in memory block '{label}'. Copy it exactly from the block, "
            "including spacing and punctuation."
        )
    _commit(ctx, block, block.value.replace(old_content, new_content))
    return _whole(label, block.value)


# --- core memory, line-aware ------------------------------------------------------------


def memory_replace(ctx: ToolContext, label: str, old_string: str, new_string: str) -> str:
    """Replace one exact piece of text in a memory block.

    old_string must appear exactly once in the block: include enough surrounding
    text to make it unique. Copy it exactly, without the line numbers shown in
    your prompt. To delete text, pass an empty new_string.

    Args:
        label: The block to edit.
        old_string: The exact text to replace; it must occur exactly once.
        new_string: The replacement text; empty to delete old_string.
    """
    block = _editable(ctx, label)
    _reject_line_numbers(old_string, "old_string")
    _reject_line_numbers(new_string, "new_string")
    # Tabs are shown as spaces to the model; compare like for like.
    old, new, value = old_string.expandtabs(), new_string.expandtabs(), block.value.expandtabs()
    if not old:
        raise ToolError(
            "old_string is empty. Copy the exact text you want to replace from the block."
        )
    starts = [m.start() for m in re.finditer(re.escape(old), value)]
    if not starts:
        raise ToolError(
            f"No replacement made: old_string does not appear verbatim in memory block '{label}'. "
            "Copy it exactly from the block, including spacing and punctuation."
        )
    if len(starts) > 1:
        lines = ", ".join(str(_line_of(value, s)) for s in starts)
        raise ToolError(
            f"No replacement made: old_string appears {len(starts)} times in memory block '{label}' "
            f"(lines {lines}). Include more surrounding text so it matches exactly once."
        )
    at = starts[0]
    _commit(ctx, block, value[:at] + new + value[at + len(old) :])
    return _edited(label, block.value, _line_of(value, at), new.count("\n") + 1)


def memory_insert(ctx: ToolContext, label: str, new_string: str, insert_line: int = -1) -> str:
    """Insert new lines into a memory block without changing the existing text.

    Lines are counted from 1. The new text goes after line insert_line: 0 puts
    it at the top, -1 at the end (the default, like appending).

    Args:
        label: The block to edit.
        new_string: The text to insert; it may span several lines.
        insert_line: The line after which to insert; 0 for the top, -1 for the end.
    """
    block = _editable(ctx, label)
    _reject_line_numbers(new_string, "new_string")
    if not new_string:
        raise ToolError("new_string is empty. Write the text to insert.")
    value = block.value.expandtabs()
    lines = value.split("\n") if value else []
    if insert_line == -1:
        insert_line = len(lines)
    if not 0 <= insert_line <= len(lines):
        raise ToolError(
            f"insert_line {insert_line} is out of range: block '{label}' has {len(lines)} lines. "
            f"Use 0 for the top, a number up to {len(lines)}, or -1 for the end."
        )
    added = new_string.expandtabs().split("\n")
    _commit(ctx, block, "\n".join(lines[:insert_line] + added + lines[insert_line:]))
    return _edited(label, block.value, insert_line + 1, len(added))


def memory_rethink(ctx: ToolContext, label: str, new_memory: str) -> str:
    """Rewrite a memory block completely, replacing its whole content.

    Use it to reorganise or condense a block, or to create a new block when
    the label does not exist yet. Write the complete new content: anything
    you leave out is gone from the block.

    Args:
        label: The block to rewrite (created if it does not exist).
        new_memory: The complete new content of the block.
    """
    _reject_line_numbers(new_memory, "new_memory")
    block = ctx.blocks.get(label)
    if block is None:
        if not _LABEL.match(label):
            raise ToolError(
                f"'{label}' cannot be a block label: use letters, digits, '_', '-' or '.', starting with "
                "a letter or '_'."
            )
        block = Block(label=label, value="", limit=DEFAULT_BLOCK_LIMIT)
        _commit(ctx, block, new_memory)  # raises before the block is added
        ctx.blocks[label] = block
        return f"Created memory block '{label}' ({len(block.value)} characters)."
    _editable(ctx, label)
    _commit(ctx, block, new_memory)
    return f"Rewrote memory block '{label}' ({len(block.value)} characters)."


def memory_finish_edits(ctx: ToolContext) -> str:
    """Call this when you have finished editing memory. It ends your turn."""
    return "Memory edits finished."


__all__ = [
    "archival_memory_insert",
    "archival_memory_search",
    "conversation_search",
    "core_memory_append",
    "core_memory_replace",
    "memory_finish_edits",
    "memory_insert",
    "memory_rethink",
    "memory_replace",
    "send_message",
]
