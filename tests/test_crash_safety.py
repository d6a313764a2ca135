"""Crash safety: a process running turns is killed with SIGKILL mid-step, again
and again. After every restart no accepted user message is lost, dead runs are
marked failed, the window stays valid for the provider, memory matches its
history, and the agent still answers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from memory import models as m
from tests.engine_helpers import fake_llm  # noqa: F401
from tests.fakes.llm_server import delay, reply, tool_call

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("ADE_CRASH_KILLS", "50"))

RUNNER = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ade.settings")
django.setup()
from agents.models import Agent
from memory.engine.state import MessageEvent
from memory.services.turns import message_send

agent = Agent.objects.get(pk=sys.argv[1])
start = int(sys.argv[2])

for i in range(start, start + 1000):
    def accepted(event, i=i):
        if isinstance(event, MessageEvent) and event.message.kind.value == "user_message":
            print(f"accepted {i}", flush=True)
    message_send(agent=agent, texts=[f"msg {i}"], emit=accepted)
    print(f"done {i}", flush=True)
"""


def _db_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    return f"postgresql://{d['USER']}@/{d['NAME']}?host={d['HOST']}"


def _check_window(agent_id: str) -> None:
    from agents.models import Agent

    row = Agent.objects.get(pk=agent_id)
    assert len(row.message_ids) == len(set(row.message_ids)), "duplicate ids in the window"
    assert m.Message.objects.filter(pk__in=row.message_ids).count() == len(row.message_ids)
    first = m.Message.objects.get(pk=row.message_ids[0])
    assert first.role == "system"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_agents_survive_being_killed_mid_step(fake_llm):
    from agents.models import User
    from agents.services.lifecycle import agent_create
    from memory.services.turns import message_send

    owner = User.objects.create_user(username="crash", password="crash-pass-123")
    agent = agent_create(
        owner=owner,
        name="Survivor",
        model="openai/gpt-4o-mini",
        memory_blocks=[{"label": "human", "value": "facts:", "limit": 100_000}],
    )
    rng = random.Random(7)
    # Every turn: a memory edit after a short wait (so kills land in the LLM
    # call, the tool run or the commit), then a reply.
    fake_llm.default_turn = delay(0.02, then=reply("ok"))
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "OPENAI_BASE_URL": fake_llm.url + "/v1",
        "OPENAI_API_KEY": "k",
        "PYTHONUNBUFFERED": "1",
        "ADE_LOG_LEVEL": "ERROR",
    }
    accepted: set[int] = set()
    next_index = 0
    for kill in range(KILLS):
        for _ in range(10):
            fake_llm.script(
                delay(
                    0.03,
                    then=tool_call(
                        "memory_insert", {"label": "human", "new_string": f"fact {kill}"}
                    ),
                ),
                delay(0.02, then=reply("ok")),
            )
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, agent.id, str(next_index)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: list[str] = []
        started = threading.Event()

        def read(proc=proc, lines=lines, started=started):
            for line in proc.stdout:
                lines.append(line.strip())
                if line.startswith("accepted"):
                    started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # Wait for the first accepted message (start-up time varies with load),
        # then kill at a random moment inside the turns that follow.
        assert started.wait(60), "the runner never accepted a message"
        time.sleep(rng.random() * 0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(10)
        for line in lines:
            kind, _, index = line.partition(" ")
            if kind == "accepted":
                accepted.add(int(index))
                next_index = max(next_index, int(index) + 1)
        fake_llm.requests.clear()
        # Drain scripted turns the killed process did not use.
        while fake_llm.pending():
            fake_llm.next_turn("chat")
        _check_window(agent.id)

    assert accepted, "the runner never got a message accepted"
    stored = {
        int(json.loads(p["text"])["message"].split()[1])
        for row in m.Message.objects.filter(agent=agent, kind="user_message")
        for p in row.content
        if p.get("type") == "text"
    }
    assert accepted <= stored, f"lost accepted messages: {sorted(accepted - stored)[:10]}"

    # The agent still answers, and the request it sends is valid: every tool
    # call has its result (orphans from the kills were repaired).
    fake_llm.script(reply("still here"))
    result = message_send(agent=agent, texts=["are you ok?"])
    assert result.stop_reason.value == "end_turn"
    sent = fake_llm.last_chat().json["messages"]
    calls = {
        c["id"] for msg in sent if msg["role"] == "assistant" for c in msg.get("tool_calls") or []
    }
    answered = {msg["tool_call_id"] for msg in sent if msg["role"] == "tool"}
    assert calls <= answered
    # No run is left "running", and killed ones are marked failed.
    assert not m.Run.objects.filter(agent=agent, status__in=["running", "created"]).exists()
    assert m.Run.objects.filter(agent=agent, status="failed").count() >= 1
    # Memory equals its last recorded history entry (edits and history commit together).
    block = m.Block.objects.get(agent_links__agent=agent, label="human")
    assert block.history.order_by("-sequence").first().value == block.value
