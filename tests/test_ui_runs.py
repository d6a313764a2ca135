"""Runs and steps: per step tokens, latency, stop reason and the raw provider
request and response; a token-usage chart over the conversation."""

import pytest
from django.urls import reverse

from memory import models as m
from tests.engine_helpers import fast_config
from tests.fakes.llm_server import reply, tool_call
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(agent, alice, fake_llm):
    from memory.services.turns import message_send

    fake_llm.script(tool_call("conversation_search", {"query": "tea"}), reply("No tea talk yet."))
    result = message_send(
        agent=agent, texts=["Did we talk about tea?"], user=alice, config=fast_config()
    )
    return m.Run.objects.get(pk=result.run_id)


def test_the_runs_panel_lists_runs_with_a_token_chart(agent, run, as_alice):
    html = htmx(as_alice, "get", reverse("panel", args=[agent.id, "runs"])).text
    assert "completed" in html and "end_turn" in html and "2 steps" in html
    assert html.count('<g class="bar">') == 2 and "prompt + " in html
    assert f"{run.total_tokens} tok" in html


def test_a_run_expands_to_its_steps_and_a_step_to_its_raw_request(agent, run, as_alice):
    steps = htmx(as_alice, "get", reverse("run-steps", args=[agent.id, run.id])).text
    step = run.steps.order_by("created_at").first()
    assert (
        f"{step.prompt_tokens} / {step.completion_tokens} tok" in steps
        and "LLM " in steps
        and " ms" in steps
    )
    raw = htmx(as_alice, "get", reverse("step-raw", args=[agent.id, step.id])).text
    assert "&quot;messages&quot;" in raw and "&quot;tools&quot;" in raw and "response" in raw


def test_strangers_cannot_see_runs_or_steps(agent, run, as_charlie):
    step = run.steps.first()
    assert htmx(as_charlie, "get", reverse("panel", args=[agent.id, "runs"])).status_code == 404
    assert htmx(as_charlie, "get", reverse("run-steps", args=[agent.id, run.id])).status_code == 404
    assert htmx(as_charlie, "get", reverse("step-raw", args=[agent.id, step.id])).status_code == 404
