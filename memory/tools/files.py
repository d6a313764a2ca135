"""The file tools (Letta's letta_files_core): open_files, grep_files and
semantic_search_files. Each docstring is exactly what the model reads.

Plain functions of the ToolContext, like memory/tools/core.py: they reach the
files through `ctx.backend.files(agent_id)` (PostgresMemoryBackend implements
it with memory.services.files.AgentFiles), so this module imports no Django.
"""

from __future__ import annotations

import json
from typing import Any

from agents.errors import InvalidInput
from memory.tools.base import ToolContext, ToolError

FILES_CORE = "letta_files_core"
MAX_FILE_RESULTS = 20


def _files(ctx: ToolContext) -> Any:
    get = getattr(ctx.backend, "files", None)
    files = get(ctx.agent_id) if get is not None else None
    if files is None:
        raise ToolError("Files are not available to this agent.")
    return files


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        raise ToolError(exc.message) from None


def open_files(ctx: ToolContext, file_requests: list[dict], close_all_others: bool = False) -> str:
    """Open files from your attached folders so their lines stay in view, or move the window of an open file.

    Each request names a file ("folder/file.txt" or just "file.txt") and
    optionally which lines to show. At most 5 files stay open; opening more
    closes the ones you used least recently.

    Args:
        file_requests: The files to open, each {"file_name": str, "offset": int (first line, 0-based, optional), "length": int (number of lines, optional)}.
        close_all_others: Close every other open file first.
    """
    if not file_requests:
        raise ToolError("file_requests is empty. Name at least one file to open.")
    for request in file_requests:
        if not isinstance(request, dict) or not str(request.get("file_name", "")).strip():
            raise ToolError('Each request needs a "file_name", e.g. {"file_name": "notes.txt"}.')
    return _call(_files(ctx).open, file_requests, close_all_others)


def grep_files(
    ctx: ToolContext,
    pattern: str,
    include: str | None = None,
    context_lines: int = 1,
    offset: int = 0,
) -> str:
    """Search the lines of your attached files with a regular expression (case-insensitive).

    Returns matching lines with line numbers and a little context, 20 matches
    per page. Use it to find exact names, numbers or phrases; use
    semantic_search_files to find passages by meaning.

    Args:
        pattern: A regular expression, e.g. "invoice\\s+#\\d+" or just a word.
        include: Only search files whose name matches this glob, e.g. "*.md".
        context_lines: Lines of context to show around each match (0-10).
        offset: Skip this many matches (for the next page).
    """
    if not pattern:
        raise ToolError("pattern is empty. Give a word or regular expression to look for.")
    return _call(_files(ctx).grep, pattern, include, context_lines, max(offset, 0))


def semantic_search_files(ctx: ToolContext, query: str, limit: int = 5) -> str:
    """Search the contents of your attached files by meaning and keywords; returns the best passages.

    Args:
        query: What you are looking for, in a few words.
        limit: Maximum number of passages (default 5, at most 20).
    """
    if not query.strip():
        raise ToolError("query is empty. Describe what you are looking for.")
    hits = _call(_files(ctx).search, query.strip(), max(1, min(limit, MAX_FILE_RESULTS)))
    if not hits:
        return json.dumps({"message": "No matching passages in your files.", "results": []})
    results = [
        {
            "file": f"{h['folder']}/{h['file_name']}",
            "content": h["content"],
            "relevance": round(float(h["relevance"]), 3),
        }
        for h in hits
    ]
    return json.dumps(
        {"message": f"Showing {len(results)} results:", "results": results},
        indent=2,
        ensure_ascii=False,
    )


FILE_TOOLS = (open_files, grep_files, semantic_search_files)
