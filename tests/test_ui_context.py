"""The context window visualizer: one segment per section with token counts
and % of the limit, core memory per block, each section expanding to the
exact text the model reads, compaction shown."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from memory import models as m
from memory.services.context import context_overview
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx

pytestmark = pytest.mark.django_db


def test_the_panel_shows_every_section_with_tokens_that_add_up(agent, as_alice):
    html = htmx(as_alice, "get", reverse("context", args=[agent.id])).text
    overview = context_overview(agent=agent)
    assert (
        f"<strong>{overview.context_window_size_current}</strong> / {overview.context_window_size_max}"
        in html
    )
    for label in (
        "System instructions",
        "Core memory",
        "Memory metadata",
        "Tool schemas",
        "Messages",
    ):
        assert label in html
    numbers = [int(n) for n in re.findall(r'<summary>.*?<span class="num">(\d+)</span>', html)]
    assert sum(numbers) == overview.context_window_size_current
    bar = html[html.index('class="ctx-bar') : html.index('class="ctx-caption"')]
    widths = [float(w) for w in re.findall(r'class="seg[^"]*" style="width: ([\d.]+)%"', bar)]
    assert (
        widths
        and abs(
            sum(widths)
            - 100 * overview.context_window_size_current / overview.context_window_size_max
        )
        < 0.5
    )
    mix = html[html.index('class="ctx-mix"') :]
    shares = [
        float(w)
        for w in re.findall(
            r'class="seg[^"]*" style="width: ([\d.]+)%"', mix[: mix.index("</div>")]
        )
    ]
    assert abs(sum(shares) - 100) < 0.5


def test_core_memory_is_broken_down_per_block(agent, as_alice):
    html = htmx(as_alice, "get", reverse("context", args=[agent.id])).text
    block_rows = re.findall(
        r'<li><span class="swatch seg-block[^"]*"></span><span class="name">([^<]+)</span>'
        r'<span class="num">(\d+)</span>',
        html,
    )
    labels = [label for label, _ in block_rows]
    assert "human" in labels and "persona" in labels
    assert all(int(tokens) > 0 for label, tokens in block_rows if label in ("human", "persona"))


def test_each_section_expands_to_the_exact_text_the_model_reads(agent, as_alice):
    system = m.Message.objects.get(pk=agent.message_ids[0])
    sections = system.meta["sections"]
    core = htmx(as_alice, "get", reverse("context-section", args=[agent.id, "core_memory"])).text
    assert "&lt;memory_blocks&gt;" in core and "Name: unknown" in core
    assert escape(sections["core_memory"]) in core
    tools = htmx(
        as_alice, "get", reverse("context-section", args=[agent.id, "functions_definitions"])
    ).text
    assert "memory_replace" in tools and "&quot;parameters&quot;" in tools
    messages = htmx(as_alice, "get", reverse("context-section", args=[agent.id, "messages"])).text
    assert "No messages in context yet." in messages
    assert (
        htmx(as_alice, "get", reverse("context-section", args=[agent.id, "secrets"])).status_code
        == 404
    )


def test_a_compaction_is_shown_with_what_it_did(agent, as_alice):
    from datetime import UTC, datetime

    summary = m.Message.objects.create(
        agent=agent,
        role="user",
        kind="summary",
        created_at=datetime.now(UTC),
        content=[{"type": "text", "text": "summary notice"}],
        meta={
            "summary": "They talked about tea.",
            "hidden_count": 12,
            "compaction_stats": {
                "evicted": 12,
                "trigger": "context_overflow",
                "context_tokens_before": 9000,
                "context_tokens_after": 2100,
            },
        },
    )
    agent.message_ids = [agent.message_ids[0], summary.id]
    agent.save(update_fields=["message_ids"])
    html = htmx(as_alice, "get", reverse("context", args=[agent.id])).text
    assert "1× so far" in html and "12 messages summarized" in html and "9000 → 2100 tokens" in html
    chat = as_alice.get(reverse("agent", args=[agent.id])).text
    assert (
        "Context compacted: 12 messages are now summarized" in chat
        and "They talked about tea." in chat
    )


def test_strangers_cannot_see_the_context_window(agent, as_charlie):
    assert htmx(as_charlie, "get", reverse("context", args=[agent.id])).status_code == 404
    assert (
        htmx(as_charlie, "get", reverse("context-section", args=[agent.id, "system"])).status_code
        == 404
    )
