"""What each live agent event looks like in an open ADE tab.

The consumer hands every event it receives to its connection's `LiveView`,
which renders named partials as htmx out-of-band swaps. A LiveView remembers
what it already drew in its tab — the assistant messages being streamed, the
last agent memory edit it highlighted — so a token becomes an append to its
bubble, and the finished message replaces that bubble.

Chat events render at once, from the event alone. Redraws that read the
database (the context window, blocks, runs) are queued and coalesced on a
task of their own, so tokens keep flowing while they are computed and a burst
of steps costs one redraw, not one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from agents.models import Agent
from memory.files.selectors import agent_folder_for, agent_folders, folder_files
from memory.services.reembed import reembed_latest
from memory.web.files import ACCEPT
from memory.web.selectors import (
    block_for,
    blocks_changed_by_agent,
    blocks_for,
    context_view,
    runs_for,
    usage_chart,
    with_sharing,
)
from memory.web.transcript import chat_entry
from memory.web.views import TABS

CHAT = "memory/chat.html"
# Stop reasons after which a turn ended as it should; others are shown as errors.
CLEAN_STOPS = {"end_turn", "requires_approval", "tool_rule", "cancelled", "max_steps"}

Send = Callable[[str], Awaitable[None]]


def _render(partial: str, ctx: dict[str, Any]) -> str:
    return render_to_string(partial, ctx)


# Redraws of a panel in the right-hand tabs; the others (chat, context bar,
# settings) are always on the page. An out-of-band swap without its target on
# the page is an htmx error in the console, so those wait for their tab.
TAB_OF_JOB = {
    "agent_edits": "memory",
    "block": "memory",
    "blocks": "memory",
    "folder": "files",
    "all_folder_files": "files",
    "folders": "files",
    "runs": "runs",
}


class LiveView:
    def __init__(
        self,
        agent_id: str,
        since: datetime,
        send: Send,
        tab: str = "memory",
        language: str = settings.LANGUAGE_CODE,
    ) -> None:
        self.agent_id = agent_id
        # The tab's language: partials pushed into it are drawn in it too.
        self.language = language
        self.tab = tab if tab in TABS else "memory"
        # What the chat partials need of the agent (its id, for URLs), without a query.
        self.agent = {"id": agent_id}
        self.send = send
        # message id -> tool-call indexes already drawn, for bubbles being streamed
        self.streaming: dict[str, set[int]] = {}
        self.memory_seen = since
        # Redraws waiting to be done, in order (a dict as an ordered set).
        self.pending: dict[tuple[str, ...], None] = {}
        # Runs whose end this tab has drawn: a late "stopping" must not bring back the spinner.
        self.ended: set[str] = set()
        self.worker: asyncio.Task[None] | None = None

    async def handle(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event.get('type')}", None)
        with translation.override(self.language):
            html = handler(event) if handler else ""
        if html.strip():
            await self.send(html)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    # --- the chat: rendered from the event itself ------------------------------------------

    def on_message(self, event: dict[str, Any]) -> str:
        message = event["message"]
        streamed = self.streaming.pop(message.get("id"), None) is not None
        entry = chat_entry(message)
        run = (
            {"id": message["run_id"]}
            if entry and entry["kind"] == "user" and message.get("run_id")
            else None
        )
        ctx = {
            "agent": self.agent,
            "entry": entry,
            "streamed": streamed,
            "run": run,
            "message_id": message.get("id"),
        }
        return _render(f"{CHAT}#live-entry", ctx) if entry or streamed else ""

    def on_delta(self, event: dict[str, Any]) -> str:
        message_id = event["message_id"]
        fresh = message_id not in self.streaming
        calls = self.streaming.setdefault(message_id, set())
        index = event.get("index") or 0
        new_call = event["part"] == "tool_call" and index not in calls
        if new_call:
            calls.add(index)
        ctx = {
            "id": message_id,
            "part": event["part"],
            "text": event.get("text") or "",
            "index": index,
            "name": event.get("name") or "",
            "fresh": fresh,
            "new_call": new_call,
        }
        return _render(f"{CHAT}#live-delta", ctx)

    def on_compaction(self, event: dict[str, Any]) -> str:
        self.later(("context",))
        entry = chat_entry(event["summary"])
        return _render(
            f"{CHAT}#live-entry", {"agent": self.agent, "entry": entry, "streamed": False}
        )

    def on_run(self, event: dict[str, Any]) -> str:
        interrupted, self.streaming = list(self.streaming), {}
        self.ended.add(event.get("run_id"))
        self.later(("context",), ("runs",))
        ctx = {
            "agent": self.agent,
            "event": event,
            "interrupted": interrupted,
            "failed": event.get("stop_reason") not in CLEAN_STOPS,
        }
        return _render(f"{CHAT}#live-run-end", ctx)

    def on_run_stopping(self, event: dict[str, Any]) -> str:
        """Stop was pressed (here, in another tab or through the API)."""
        if event["run_id"] in self.ended:
            return ""
        ctx = {"agent": self.agent, "run": {"id": event["run_id"]}, "stopping": True}
        return _render(f"{CHAT}#live-run-status", ctx)

    # --- memory and the context window: redrawn from the database ---------------------------

    def on_step(self, event: dict[str, Any]) -> str:
        self.later(("agent_edits",), ("context",))
        return ""

    def on_block(self, event: dict[str, Any]) -> str:
        """A block changed ("updated": redraw it) or the set of blocks did
        (attached, detached, deleted: redraw the list)."""
        block_id = (event.get("block") or {}).get("id")
        if event.get("event", "updated") == "updated" and block_id:
            self.later(("block", block_id, event.get("actor", "user")), ("context",))
        else:
            self.later(("blocks",), ("context",))
        return ""

    def on_context(self, event: dict[str, Any]) -> str:
        self.later(("context",))
        return ""

    # --- background jobs and files -----------------------------------------------------------

    def on_job(self, event: dict[str, Any]) -> str:
        """Progress of a file being processed (its folder's file list is
        redrawn) or of the agent's archive being re-embedded."""
        job = event.get("job") or {}
        if job.get("kind") == "reembed":
            self.later(("reembed",))
        elif job.get("source_id"):
            self.later(("folder", job["source_id"]))
        return ""

    def on_files(self, event: dict[str, Any]) -> str:
        """What the agent's <directories> shows changed: attached folders, or
        a file completed, opened, closed or deleted."""
        self.later(("folders",) if event.get("folders") else ("all_folder_files",), ("context",))
        return ""

    def show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.tab = tab

    def later(self, *jobs: tuple[str, ...]) -> None:
        jobs = tuple(j for j in jobs if TAB_OF_JOB.get(j[0], self.tab) == self.tab)
        if not jobs:
            return
        for job in jobs:
            self.pending.pop(job, None)
            self.pending[job] = None
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.pending:
            jobs, self.pending = list(self.pending), {}
            html = await self._redraw(jobs)
            if html.strip():
                await self.send(html)

    @database_sync_to_async
    def _redraw(self, jobs: list[tuple[str, ...]]) -> str:
        agent = Agent.objects.filter(pk=self.agent_id).first()
        if agent is None:
            return ""
        with translation.override(self.language):
            return "".join(getattr(self, f"_draw_{job[0]}")(agent, *job[1:]) for job in jobs)

    def _draw_context(self, agent: Any) -> str:
        return _render(
            "memory/context.html#live-context", {"agent": agent, "context": context_view(agent)}
        )

    def _draw_agent_edits(self, agent: Any) -> str:
        """Blocks the agent wrote since this tab last looked, highlighted."""
        blocks, self.memory_seen = blocks_changed_by_agent(self.agent_id, after=self.memory_seen)
        if not blocks:
            return ""
        ctx = {"agent": agent, "changed": with_sharing(blocks, agent), "actor": "agent"}
        return _render("memory/memory.html#live-blocks", ctx)

    def _draw_block(self, agent: Any, block_id: str, actor: str) -> str:
        block = block_for(agent, block_id)
        ctx = {
            "agent": agent,
            "changed": with_sharing([block] if block else [], agent),
            "actor": actor,
        }
        return _render("memory/memory.html#live-blocks", ctx)

    def _draw_blocks(self, agent: Any) -> str:
        return _render(
            "memory/memory.html#live-blocks", {"agent": agent, "blocks": blocks_for(agent)}
        )

    def _draw_folder(self, agent: Any, source_id: str) -> str:
        source = agent_folder_for(agent=agent, source_id=source_id)
        if source is None:
            return ""
        folder = {"source": source, "files": folder_files(agent=agent, source=source)}
        return _render("memory/files.html#live-folder-files", {"agent": agent, "folder": folder})

    def _draw_all_folder_files(self, agent: Any) -> str:
        return "".join(
            _render("memory/files.html#live-folder-files", {"agent": agent, "folder": folder})
            for folder in agent_folders(agent=agent)
        )

    def _draw_folders(self, agent: Any) -> str:
        return _render(
            "memory/files.html#live-folders",
            {"agent": agent, "folders": agent_folders(agent=agent), "accept": ACCEPT},
        )

    def _draw_reembed(self, agent: Any) -> str:
        return _render(
            "agents/settings.html#live-reembed",
            {"agent": agent, "reembed_job": reembed_latest(agent)},
        )

    def _draw_runs(self, agent: Any) -> str:
        return _render(
            "memory/runs.html#live-runs",
            {"agent": agent, "runs": runs_for(agent), "chart": usage_chart(agent)},
        )
