"""Reads for the web ADE's panels. Callers pass an agent they already got
through `agents.selectors.agent_get_for_user`, so everything here is scoped
to an agent the user may see; lookups by id are always within that agent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy, pgettext_lazy

from agents.models import Agent, Tool, User
from agents.selectors import agents_visible_to, tools_visible_to
from memory import models as m
from memory.engine.context import render_core_memory
from memory.engine.loop import build_compile_input
from memory.engine.tokens import counter_for
from memory.services.context import context_overview
from memory.services.stores import store_for
from memory.store.rows import load_agent
from memory.web.transcript import chat_entry, row_to_payload

CHAT_PAGE = 60
PASSAGE_PAGE = 20
RUNS_SHOWN = 40

# The status and role words the panels show as badges: the templates translate
# them with {% translate run.status context "status" %}; these lazy strings are
# never used, they are here for makemessages.
BADGE_WORDS = (
    pgettext_lazy("status", "created"),
    pgettext_lazy("status", "queued"),
    pgettext_lazy("status", "pending"),
    pgettext_lazy("status", "running"),
    pgettext_lazy("status", "parsing"),
    pgettext_lazy("status", "embedding"),
    pgettext_lazy("status", "completed"),
    pgettext_lazy("status", "success"),
    pgettext_lazy("status", "failed"),
    pgettext_lazy("status", "error"),
    pgettext_lazy("status", "cancelled"),
    pgettext_lazy("role", "system"),
    pgettext_lazy("role", "user"),
    pgettext_lazy("role", "assistant"),
    pgettext_lazy("role", "tool"),
    pgettext_lazy("role", "agent"),
)

SECTION_LABELS = {
    "system": gettext_lazy("System instructions"),
    "core_memory": gettext_lazy("Core memory"),
    "tool_usage_rules": gettext_lazy("Tool rules"),
    "directories": gettext_lazy("Files"),
    "external_memory_summary": gettext_lazy("Memory metadata"),
    "summary_memory": gettext_lazy("Summary"),
    "functions_definitions": gettext_lazy("Tool schemas"),
    "messages": gettext_lazy("Messages"),
}


# --- the agent list -----------------------------------------------------------------------


def agent_rows(user: User, *, query: str = "", tag: str = "", limit: int = 200) -> QuerySet[Agent]:
    """The user's agents (own and team's), newest activity first, each with
    `last_activity` (latest message) and `tokens_used` (all runs)."""
    latest = (
        m.Message.objects.filter(agent=OuterRef("pk"))
        .order_by("-sequence_id")
        .values("created_at")[:1]
    )
    tokens = (
        m.Run.objects.filter(agent=OuterRef("pk"))
        .values("agent")
        .annotate(total=Sum("prompt_tokens") + Sum("completion_tokens"))
        .values("total")[:1]
    )
    rows = agents_visible_to(user=user).select_related("owner")
    if query:
        rows = rows.filter(
            Q(name__icontains=query)
            | Q(description__icontains=query)
            | Q(id=query)
            | Q(model__icontains=query)
        )
    if tag:
        rows = rows.filter(tags__contains=[tag])
    rows = rows.annotate(
        last_activity=Coalesce(Subquery(latest), "updated_at"),
        tokens_used=Coalesce(Subquery(tokens, output_field=IntegerField()), 0),
    )
    return rows.order_by("-last_activity")[:limit]


def tags_in_use(user: User) -> list[str]:
    tags = set()
    for row in agents_visible_to(user=user).values_list("tags", flat=True)[:1000]:
        tags.update(row or [])
    return sorted(tags)


# --- chat ---------------------------------------------------------------------------------


def chat_history(
    agent: Agent, *, before: int | None = None, limit: int = CHAT_PAGE
) -> dict[str, Any]:
    """The latest messages (all of recall, not only the window), oldest first.
    Messages evicted from the context window are marked so the chat can dim them."""
    rows = m.Message.objects.filter(agent=agent).exclude(role="system")
    if before is not None:
        rows = rows.filter(sequence_id__lt=before)
    page = list(rows.order_by("-sequence_id")[: limit + 1])
    has_more = len(page) > limit
    page = list(reversed(page[:limit]))
    answered = set(
        m.Message.objects.filter(agent=agent, role="tool", tool_call_id__gt="").values_list(
            "tool_call_id", flat=True
        )[:5000]
    )
    in_window = set(agent.message_ids or [])
    entries = []
    for row in page:
        entry = chat_entry(row_to_payload(row), answered)
        if entry is not None:
            entry["evicted"] = row.id not in in_window
            entries.append(entry)
    return {
        "entries": entries,
        "has_more": has_more,
        "oldest": page[0].sequence_id if page else None,
    }


def active_run(agent: Agent) -> m.Run | None:
    return agent.runs.filter(status__in=["created", "running"]).order_by("-created_at").first()


def run_for(agent: Agent, run_id: str) -> m.Run | None:
    return agent.runs.filter(pk=run_id).first()


# --- context window -----------------------------------------------------------------------


@dataclass
class Segment:
    key: str
    label: str
    tokens: int
    percent: float = 0.0  # of the window's limit
    share: float = 0.0  # of the tokens in use
    kind: str = ""
    children: list[Segment] = field(default_factory=list)


def _block_tokens(agent: Agent) -> list[tuple[str, int]]:
    """Tokens of each block as rendered into the prompt (its tags, metadata and value)."""
    state = load_agent(agent.id)
    numbered = build_compile_input(state).line_numbers
    counter = counter_for(state.model)
    empty = counter.count_text(render_core_memory([], numbered))
    return [
        (b.label, max(counter.count_text(render_core_memory([b], numbered)) - empty, 0))
        for b in state.blocks
    ]


def _last_compaction(agent: Agent) -> dict[str, Any] | None:
    summary = agent.messages.filter(kind="summary").order_by("-sequence_id").first()
    if summary is None:
        return None
    stats = (summary.meta or {}).get("compaction_stats") or {}
    return {
        "at": summary.created_at,
        "evicted": stats.get("evicted"),
        "trigger": stats.get("trigger"),
        "before": stats.get("context_tokens_before"),
        "after": stats.get("context_tokens_after"),
        "count": agent.messages.filter(kind="summary").count(),
    }


def context_view(agent: Agent) -> dict[str, Any]:
    """The context window as the visualizer draws it: one segment per section in
    prompt order (core memory split per block), with tokens and % of the limit."""
    view = context_overview(agent=agent)
    limit = view.context_window_size_max or 1
    scale = max(limit, view.context_window_size_current)
    segments = []
    for key, tokens in view.sections:
        segment = Segment(key=key, label=SECTION_LABELS.get(key, key), tokens=tokens, kind=key)
        if key == "core_memory":
            per_block = _block_tokens(agent)
            segment.children = [
                Segment(key=f"block:{label}", label=label, tokens=t, kind="block")
                for label, t in per_block
            ]
            framing = tokens - sum(t for _, t in per_block)
            if framing > 0:
                segment.children.append(
                    Segment(
                        key="core_framing",
                        label=gettext_lazy("(framing)"),
                        tokens=framing,
                        kind="block-framing",
                    )
                )
        segments.append(segment)
    used = view.context_window_size_current
    for segment in segments:
        segment.percent = round(100 * segment.tokens / scale, 2)
        segment.share = round(100 * segment.tokens / max(used, 1), 2)
        for child in segment.children:
            child.percent = round(100 * child.tokens / scale, 2)
            child.share = round(100 * child.tokens / max(used, 1), 2)
    return {
        "overview": view,
        "segments": segments,
        "used": used,
        "limit": limit,
        "used_percent": round(100 * used / limit, 1),
        "free": max(limit - used, 0),
        "warning_at": round(100 * settings.MEMORY_WARNING_THRESHOLD * limit / scale, 2),
        "compact_at": round(100 * settings.COMPACTION_TRIGGER * limit / scale, 2),
        "compaction": _last_compaction(agent),
    }


def context_section(agent: Agent, section: str) -> dict[str, Any] | None:
    """The exact text of one section of the window, as the model reads it."""
    if section not in SECTION_LABELS:
        return None
    view = context_overview(agent=agent)
    texts = {
        "system": view.system_prompt,
        "core_memory": view.core_memory,
        "tool_usage_rules": view.tool_usage_rules or "",
        "directories": view.directories or "",
        "external_memory_summary": view.external_memory_summary,
        "summary_memory": view.summary_memory or "",
        "functions_definitions": json.dumps(
            view.functions_definitions, indent=2, ensure_ascii=False
        ),
    }
    messages = []
    if section == "messages":
        for message in view.messages:
            parts = []
            for part in message.content:
                data = {k: v for k, v in vars(part).items() if v is not None and k != "signature"}
                parts.append(json.dumps(data, indent=2, ensure_ascii=False))
            messages.append({"role": message.role, "kind": message.kind.value, "parts": parts})
    return {
        "key": section,
        "label": SECTION_LABELS[section],
        "text": texts.get(section, ""),
        "messages": messages,
    }


# --- core memory ----------------------------------------------------------------------------


def blocks_for(agent: Agent) -> list[m.Block]:
    """Attached blocks in prompt order, each with `shared_with` (other agents using it)."""
    links = (
        m.AgentBlock.objects.filter(agent=agent)
        .select_related("block")
        .annotate(users=Count("block__agent_links"))
        .order_by("position", "id")
    )
    blocks = []
    for link in links:
        block = link.block
        block.shared_with = link.users - 1
        blocks.append(block)
    return blocks


def with_sharing(blocks: list[m.Block], agent: Agent) -> list[m.Block]:
    """Set `shared_with` (how many other agents use each block) for display."""
    for block in blocks:
        block.shared_with = block.agent_links.exclude(agent=agent).count()
    return blocks


def block_for(agent: Agent, block_id: str) -> m.Block | None:
    return m.Block.objects.filter(pk=block_id, agent_links__agent=agent).first()


def blocks_attachable(agent: Agent, user: User) -> QuerySet[m.Block]:
    """Blocks the user may share into this agent: their own and their team's,
    not already attached, and not clashing with a label the agent has."""
    scope = Q(owner=user)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    taken = m.AgentBlock.objects.filter(agent=agent)
    return (
        m.Block.objects.filter(scope)
        .exclude(pk__in=taken.values("block"))
        .exclude(label__in=taken.values("label"))
        .order_by("label", "-updated_at")
    )


def block_history(block: m.Block, limit: int = 30) -> list[m.BlockHistory]:
    return list(block.history.order_by("-sequence")[:limit])


def blocks_changed_by_agent(agent_id: str, *, after: datetime) -> tuple[list[m.Block], datetime]:
    """Blocks the agent itself wrote after `after`, and the time of the newest such write."""
    rows = list(
        m.BlockHistory.objects.filter(
            block__agent_links__agent_id=agent_id,
            actor_type="agent",
            actor_id=agent_id,
            created_at__gt=after,
        )
        .select_related("block")
        .order_by("created_at")
    )
    blocks = {row.block_id: row.block for row in rows}
    newest = rows[-1].created_at if rows else after
    return list(blocks.values()), newest


# --- archival and recall --------------------------------------------------------------------


def passages_page(agent: Agent, *, page: int = 1, tags: list[str] | None = None) -> Page:
    rows = m.Passage.objects.filter(archive__agents=agent).order_by("-created_at", "-id")
    if tags:
        rows = rows.filter(tags__overlap=tags)
    return Paginator(rows.only("id", "text", "tags", "created_at"), PASSAGE_PAGE).get_page(page)


def passage_for(agent: Agent, passage_id: str) -> m.Passage | None:
    return m.Passage.objects.filter(pk=passage_id, archive__agents=agent).first()


def archival_search(
    agent: Agent,
    *,
    query: str,
    tags: list[str] | None,
    match_all: bool,
    start: datetime | None,
    end: datetime | None,
    top_k: int = 50,
) -> list[dict[str, Any]]:
    """The very search the agent's archival_memory_search tool runs."""
    return store_for(agent).backend.archival_search(
        agent.id,
        query,
        tags=tags or None,
        tag_match_mode="all" if match_all else "any",
        top_k=top_k,
        start=start,
        end=end,
    )


def recall_search(
    agent: Agent, *, query: str, roles: list[str] | None, limit: int = 50
) -> list[dict[str, Any]]:
    """The very search the agent's conversation_search tool runs."""
    return store_for(agent).backend.conversation_search(
        agent.id, query or None, roles=roles or None, limit=limit
    )


# --- runs and steps -------------------------------------------------------------------------


def runs_for(agent: Agent, limit: int = RUNS_SHOWN) -> list[m.Run]:
    return list(agent.runs.order_by("-created_at")[:limit])


def run_steps(run: m.Run) -> list[m.Step]:
    return list(run.steps.defer("request_json", "response_json").order_by("created_at", "id"))


def step_for(agent: Agent, step_id: str) -> m.Step | None:
    return agent.steps.filter(pk=step_id).first()


def usage_chart(
    agent: Agent, *, width: int = 380, height: int = 120, limit: int = 60
) -> dict[str, Any]:
    """Token use per step over the conversation, as bar geometry for an inline SVG."""
    steps = list(
        agent.steps.order_by("-created_at").values(
            "id", "prompt_tokens", "completion_tokens", "created_at", "status"
        )[:limit]
    )
    steps.reverse()
    top = max((s["prompt_tokens"] + s["completion_tokens"] for s in steps), default=0) or 1
    # At least 12 slots, so a few steps do not become a wall of colour.
    slot = width / max(len(steps), 12)
    bars = []
    for index, step in enumerate(steps):
        prompt_h = height * step["prompt_tokens"] / top
        completion_h = height * step["completion_tokens"] / top
        bars.append(
            {
                "x": round(index * slot + slot * 0.1, 2),
                "w": round(max(slot * 0.8, 1), 2),
                "prompt_y": round(height - prompt_h, 2),
                "prompt_h": round(prompt_h, 2),
                "completion_y": round(height - prompt_h - completion_h, 2),
                "completion_h": round(completion_h, 2),
                "prompt": step["prompt_tokens"],
                "completion": step["completion_tokens"],
                "failed": step["status"] == "failed",
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "top": top,
        "total": sum(s["prompt_tokens"] + s["completion_tokens"] for s in steps),
    }


def pretty(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) if data is not None else ""


# --- tools ----------------------------------------------------------------------------------


def tools_attachable(agent: Agent, user: User) -> QuerySet[Tool]:
    return tools_visible_to(user=user).exclude(pk__in=agent.tools.values("pk")).order_by("name")


def tool_editable(user: User, tool_id: str) -> Tool | None:
    """A custom tool of the user's team (built-ins are not editable)."""
    if not user.organization_id:
        return None
    return Tool.objects.filter(pk=tool_id, organization_id=user.organization_id).first()
