"""Stop stops the step in flight: a cancel (API, ADE, any process) abandons the
model call while the model is still answering, no tool call of that step runs,
the run ends `cancelled` and every open tab hears it at once."""

import threading
import time

import pytest
import requests
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from memory import models as m
from memory.services.events import group_name
from memory.services.runs import run_cancel
from memory.services.turns import message_send
from memory.types import StopReason
from tests.api_helpers import secrets  # noqa: F401 - fixture
from tests.engine_helpers import fast_config
from tests.fakes.llm_server import delay, reply, tool_call
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, logged_in, make_agent, wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)

# The model "thinks" far longer than any test waits: only a real cancellation ends the turn.
SLOW = 30
APPEND = tool_call("core_memory_append", {"label": "human", "content": "Written after Stop"})


def human(agent):
    return m.Block.objects.get(agent_links__agent=agent, label="human").value


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class Listener:
    """An open tab's view of the agent's live events, on the channel layer."""

    def __init__(self, agent_id):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group_name(agent_id), self.channel)

    def until(self, wanted, timeout=10.0):
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = async_to_sync(self.layer.receive)(self.channel)
            seen.append(message["payload"])
            if wanted(message["payload"]):
                return seen
        raise AssertionError(f"no such event among {seen}")


def start_turn(agent, user, run):
    outcome = {}

    def turn():
        try:
            outcome["result"] = message_send(
                agent=agent, texts=["remember this"], user=user, config=fast_config(), run=run
            )
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=turn)
    thread.start()
    return thread, outcome


def test_stop_during_a_slow_model_answer_runs_none_of_its_tool_calls(alice, fake_llm):
    agent = make_agent(alice, agent_type="memgpt_agent")
    before = human(agent)
    fake_llm.script(delay(SLOW, then=APPEND), reply("never asked"))
    listener = Listener(agent.id)
    run = m.Run.objects.create(agent=agent, status="created")
    thread, outcome = start_turn(agent, alice, run)
    wait_until(lambda: len(fake_llm.chat_requests()) == 1)  # the model is answering

    run_cancel(run=m.Run.objects.get(pk=run.pk))
    thread.join(timeout=10)
    assert not thread.is_alive(), "the turn kept waiting for the model"

    result = outcome["result"]
    assert result.stop_reason == StopReason.CANCELLED
    assert human(agent) == before and len(fake_llm.chat_requests()) == 1
    done = m.Run.objects.get(pk=run.pk)
    assert (done.status, done.stop_reason) == ("cancelled", "cancelled")
    step = m.Step.objects.get(run=done)
    assert (step.status, step.error_type) == ("failed", "cancelled")
    # No half-step in the conversation: the user's message, nothing after it.
    assert [msg.kind.value for msg in result.messages] == ["user_message"]
    events = listener.until(lambda e: e["type"] == "run")
    assert {"type": "run_stopping", "run_id": run.id} in events
    assert events[-1]["stop_reason"] == "cancelled"


def test_a_stop_that_lands_while_the_answer_streams_still_prevents_its_tool_call(alice, fake_llm):
    from memory.engine.state import DeltaEvent

    agent = make_agent(alice, agent_type="memgpt_agent")
    before = human(agent)
    fake_llm.script(APPEND, reply("never asked"))
    run = m.Run.objects.create(agent=agent, status="created")

    def on_event(event):
        if isinstance(event, DeltaEvent) and not m.Run.objects.get(pk=run.pk).cancel_requested:
            run_cancel(run=m.Run.objects.get(pk=run.pk))

    result = message_send(
        agent=agent, texts=["hi"], user=alice, config=fast_config(), emit=on_event, run=run
    )
    assert result.stop_reason == StopReason.CANCELLED and human(agent) == before
    assert m.Run.objects.get(pk=run.pk).status == "cancelled"


def test_the_api_cancel_stops_a_slow_json_send(alice, secrets, fake_llm, live_server):  # noqa: F811
    headers = {"Authorization": f"Bearer {secrets['alice']}"}
    agent = make_agent(alice, agent_type="memgpt_agent")
    before = human(agent)
    fake_llm.script(delay(SLOW, then=APPEND))
    answer = {}

    def send():
        answer["response"] = requests.post(
            f"{live_server.url}/v1/agents/{agent.id}/messages",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
            timeout=20,
        )

    thread = threading.Thread(target=send)
    thread.start()
    wait_until(lambda: len(fake_llm.chat_requests()) == 1)
    cancelled = requests.post(
        f"{live_server.url}/v1/agents/{agent.id}/messages/cancel", headers=headers, timeout=10
    )
    assert cancelled.status_code == 200 and list(cancelled.json().values()) == ["cancelled"]
    thread.join(timeout=15)
    assert not thread.is_alive()
    body = answer["response"].json()
    assert body["stop_reason"]["stop_reason"] == "cancelled" and human(agent) == before


def test_the_ade_stop_button_stops_the_model_call_in_flight(alice, fake_llm, turns_settle):
    agent = make_agent(alice, agent_type="memgpt_agent")
    before = human(agent)
    fake_llm.script(delay(SLOW, then=APPEND))
    client = logged_in(alice)
    htmx(client, "post", reverse("message-send", args=[agent.id]), {"text": "remember this"})
    run = m.Run.objects.get(agent=agent)
    wait_until(lambda: len(fake_llm.chat_requests()) == 1)
    listener = Listener(agent.id)
    stopped = htmx(client, "post", reverse("run-cancel", args=[agent.id, run.id]))
    assert stopped.status_code == 200 and "Stopping" in stopped.text
    done = wait_until_ended(run.id)
    assert (done.status, done.stop_reason) == ("cancelled", "cancelled")
    assert human(agent) == before
    events = listener.until(lambda e: e["type"] == "run")
    assert events[-1]["stop_reason"] == "cancelled"


def wait_until_ended(run_id):
    return wait_for_run(run_id, timeout=10)
