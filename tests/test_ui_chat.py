"""The chat simulator: sending a message answers at once and the turn runs in
the background (fake LLM over real HTTP); the history shows every kind of
message distinctly; stop, approvals, errors; strangers get 404."""

import pytest
from django.urls import reverse

from memory import models as m
from tests.fakes.llm_server import error, reply, tool_call
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, make_agent, wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turns_settle")]


def send(client, agent, text):
    return htmx(client, "post", reverse("message-send", args=[agent.id]), {"text": text})


def test_sending_answers_at_once_with_the_message_and_a_running_status(agent, as_alice, fake_llm):
    fake_llm.script(reply("Hello Alice!"))
    response = send(as_alice, agent, "Hi there")
    assert response.status_code == 200
    run = m.Run.objects.get(agent=agent)
    assert f'id="pending-{run.id}"' in response.text and "Hi there" in response.text
    assert 'data-state="running" hx-swap-oob="true"' in response.text and "Stop" in response.text
    finished = wait_for_run(run.id)
    assert (finished.status, finished.stop_reason) == ("completed", "end_turn")
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert "Hi there" in page and "Hello Alice!" in page


def test_the_history_shows_tool_calls_results_and_reasoning_distinctly(agent, as_alice, fake_llm):
    fake_llm.script(
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name: unknown", "new_string": "Name: Alice"},
            reasoning="The user told me their name.",
        ),
        reply("Nice to meet you, Alice!"),
    )
    wait_for_run(m.Run.objects.get(pk=_run_id(send(as_alice, agent, "I'm Alice"))).id)
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert (
        'class="msg msg-user' in page
        and 'class="msg msg-assistant' in page
        and 'class="msg msg-tool' in page
    )
    assert "The user told me their name." in page and "memory_replace" in page
    assert "&quot;new_string&quot;: &quot;Name: Alice&quot;" in page
    assert "Name: Alice" in m.Block.objects.get(agent_links__agent=agent, label="human").value


def test_memgpt_agents_speak_through_send_message_and_show_heartbeats(alice, as_alice, fake_llm):
    agent = make_agent(alice, agent_type="memgpt_v2_agent")
    fake_llm.script(
        tool_call(
            "memory_insert",
            {"label": "human", "new_string": "Likes tea", "request_heartbeat": True},
        ),
        tool_call("send_message", {"message": "Tea it is."}),
    )
    wait_for_run(_run_id(send(as_alice, agent, "I like tea")))
    chat = chat_log(as_alice.get(reverse("agent", args=[agent.id])).text)
    assert "Tea it is." in chat and 'class="msg msg-heartbeat' in chat
    assert "send_message</code>" not in chat  # shown as the agent's words, not as plumbing


def test_a_provider_error_ends_the_run_with_its_message(agent, as_alice, fake_llm):
    fake_llm.script(error(401, "Invalid API key provided"))
    run = wait_for_run(_run_id(send(as_alice, agent, "hello")))
    assert run.status == "failed" and "Invalid API key" in run.error
    runs = htmx(as_alice, "get", reverse("panel", args=[agent.id, "runs"])).text
    assert "Invalid API key" in runs


def test_an_empty_message_or_an_agent_without_a_model_is_refused_plainly(alice, agent, as_alice):
    response = send(as_alice, agent, "   ")
    assert response.status_code == 422 and response["HX-Retarget"] == "#composer-error"
    no_model = make_agent(alice, name="Nomodel", model="")
    response = send(as_alice, no_model, "hello")
    assert response.status_code == 422 and "no model" in response.text
    assert not m.Run.objects.exists()


def test_strangers_cannot_send_cancel_or_read_history(agent, as_charlie):
    assert send(as_charlie, agent, "hi").status_code == 404
    run = m.Run.objects.create(agent=agent, status="running")
    assert as_charlie.post(reverse("run-cancel", args=[agent.id, run.id])).status_code == 404
    assert as_charlie.get(reverse("chat-older", args=[agent.id])).status_code == 404
    assert not m.Run.objects.get(pk=run.pk).cancel_requested


def test_the_team_can_send_and_stop_a_run(agent, as_bob):
    run = m.Run.objects.create(agent=agent, status="running")
    response = htmx(as_bob, "post", reverse("run-cancel", args=[agent.id, run.id]))
    assert response.status_code == 200 and "Stopping" in response.text
    assert m.Run.objects.get(pk=run.pk).cancel_requested


def test_stopping_a_run_that_already_ended_shows_idle(agent, as_alice):
    run = m.Run.objects.create(agent=agent, status="completed")
    response = htmx(as_alice, "post", reverse("run-cancel", args=[agent.id, run.id]))
    assert "Idle" in response.text


def test_a_tool_call_waiting_for_approval_can_be_approved_from_the_chat(alice, as_alice, fake_llm):
    agent = make_agent(
        alice, tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(tool_call("archival_memory_insert", {"content": "Alice likes tea"}))
    run = wait_for_run(_run_id(send(as_alice, agent, "Remember I like tea")))
    assert run.stop_reason == "requires_approval"
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert 'name="approve" value="1"' in page
    call_id = m.Message.objects.get(agent=agent, role="assistant").content[-1]["id"]
    fake_llm.script(reply("Saved."))
    response = htmx(
        as_alice,
        "post",
        reverse("approval-send", args=[agent.id]),
        {"tool_call_id": call_id, "approve": "1"},
    )
    assert "Approved" in response.text
    resumed = wait_for_run(m.Run.objects.exclude(pk=run.pk).get(agent=agent).id)
    assert (
        resumed.stop_reason == "end_turn"
        and m.Passage.objects.filter(text="Alice likes tea").exists()
    )
    assert 'name="approve" value="1"' not in as_alice.get(reverse("agent", args=[agent.id])).text


def test_older_messages_load_on_demand(agent, as_alice):
    from datetime import UTC, datetime

    for i in range(70):
        m.Message.objects.create(
            agent=agent,
            role="user",
            kind="user_message",
            created_at=datetime.now(UTC),
            content=[
                {"type": "text", "text": f'{{"type": "user_message", "message": "note {i}"}}'}
            ],
        )
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert "note 69" in page and "note 5<" not in page and "Load earlier messages" in page
    oldest = (
        m.Message.objects.filter(agent=agent, role="user").order_by("sequence_id")[10].sequence_id
    )
    older = htmx(as_alice, "get", reverse("chat-older", args=[agent.id]), {"before": oldest}).text
    assert "note 9<" in older and "note 10<" not in older


def test_model_output_and_messages_are_escaped(agent, as_alice, fake_llm):
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    fake_llm.script(reply(payload))
    response = send(as_alice, agent, payload)
    assert "<script>alert(1)" not in response.text and "&lt;script&gt;" in response.text
    wait_for_run(m.Run.objects.get(agent=agent).id)
    page = as_alice.get(reverse("agent", args=[agent.id])).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page


def chat_log(page: str) -> str:
    return page[page.index('id="chat-log"') : page.index('id="composer"')]


def _run_id(response):
    assert response.status_code == 200, response.text
    return m.Run.objects.order_by("-created_at").first().id
