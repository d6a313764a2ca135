"""Many clients at once, over real HTTP to a live server: 50 messages sent to one
agent together, and people editing a shared block while the agent writes to it.

One agent runs one turn at a time (a Postgres advisory lock), so concurrent
sends queue instead of failing or interleaving. The fake model answers each
turn from its own request: it saves the token the user sent into core memory
(memory_insert), then replies. Nothing may be lost: every send is answered,
every token is in the block, and the block's history has one edit per turn,
in the order the turns ran.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from memory import models as m
from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import MODEL
from tests.fakes.llm_server import reply, tool_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

SENDS = 50
TOKEN = re.compile(r"tok-\d{2}-[a-z]+")


def saving_model(fake_llm, label: str) -> None:
    """Each turn: save the token of this turn's user message into `label`, then
    reply. The request's last user message is this turn's (turns never overlap),
    and a tool result after it means the edit is done."""

    def respond(request):
        messages = request.json["messages"]
        users = [i for i, msg in enumerate(messages) if msg["role"] == "user"]
        last = users[-1]
        if any(msg["role"] == "tool" for msg in messages[last + 1 :]):
            return reply("Saved.")
        token = TOKEN.search(json.dumps(messages[last]["content"]))
        if token is None:
            return None
        return tool_call("memory_insert", {"label": label, "new_string": token.group()})

    fake_llm.responder = respond


def advisory_lock_waiters() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        return cursor.fetchone()[0]


def tokens_in(text: str) -> list[str]:
    return TOKEN.findall(text)


def new_agent(api_url: str, key: str, **overrides) -> dict:
    body = {
        "name": "Sam",
        "agent_type": "letta_v1_agent",
        "model": MODEL,
        "memory_blocks": [
            {"label": "human", "value": "Tokens:", "limit": 10_000},
            {"label": "persona", "value": "I save tokens.", "limit": 500},
        ],
    }
    body.update(overrides)
    response = httpx.post(f"{api_url}/v1/agents/", json=body, headers=_auth(key), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.slow
def test_fifty_concurrent_sends_are_each_answered_in_turn_and_lose_no_memory_edit(
    live_server, secrets, fake_llm
):
    key = secrets["alice"]
    agent = new_agent(live_server.url, key)
    saving_model(fake_llm, "human")
    tokens = [f"tok-{i:02d}-{word}" for i, word in enumerate(_words(SENDS))]
    start = threading.Barrier(SENDS)
    url = f"{live_server.url}/v1/agents/{agent['id']}/messages"

    def send(i: int) -> tuple[int, float, float, dict | str]:
        with httpx.Client(timeout=300, headers=_auth(key)) as client:
            start.wait()
            # A small stagger: some sends start after others were answered, so
            # the real-time order check below has pairs to look at.
            time.sleep(0.02 * i)
            sent = time.monotonic()
            body = {"messages": [{"role": "user", "content": f"Remember {tokens[i]}, please."}]}
            response = client.post(url, json=body)
            done = time.monotonic()
        payload = response.json() if response.status_code == 200 else response.text
        return response.status_code, sent, done, payload

    with ThreadPoolExecutor(max_workers=SENDS) as pool:
        futures = [pool.submit(send, i) for i in range(SENDS)]
        # Queued sends wait without a database connection: at most the one
        # turn about to run waits on the agent's advisory lock. (Each queued
        # send used to hold a connection there: enough of them emptied the
        # connection pool, and later requests failed with a 500.)
        waiting = 0
        while not all(f.done() for f in futures):
            waiting = max(waiting, advisory_lock_waiters())
            time.sleep(0.02)
        results = [f.result() for f in futures]
    assert waiting <= 1, waiting

    # Every send was processed, and each answer is its own turn's.
    assert [status for status, *_ in results] == [200] * SENDS, [
        payload for status, _, _, payload in results if status != 200
    ][:3]
    for i, (_, _, _, payload) in enumerate(results):
        assert payload["stop_reason"]["stop_reason"] == "end_turn"
        calls = [msg for msg in payload["messages"] if msg["message_type"] == "tool_call_message"]
        returns = [
            msg for msg in payload["messages"] if msg["message_type"] == "tool_return_message"
        ]
        assert [tokens_in(c["tool_call"]["arguments"]) for c in calls] == [[tokens[i]]]
        assert [r["status"] for r in returns] == ["success"]

    # The stored conversation: whole turns one after another, user messages in
    # the order the turns were accepted (the time each turn stamped on its
    # user message when it took the agent), and each turn started after the
    # previous one had finished.
    rows = list(
        m.Message.objects.filter(agent_id=agent["id"])
        .exclude(role="system")
        .order_by("sequence_id")
    )
    turns: list[list[m.Message]] = []
    for row in rows:
        if row.role == "user":
            turns.append([])
        assert turns, "the conversation starts with a user message"
        turns[-1].append(row)
    assert len(turns) == SENDS
    order = []
    for turn in turns:
        assert len({row.run_id for row in turn}) == 1, "turns never interleave"
        assert [row.role for row in turn] == ["user", "assistant", "tool", "assistant"]
        (token,) = set(tokens_in(json.dumps(turn[0].content)))
        order.append(token)
    assert sorted(order) == sorted(tokens)
    accepted = [turn[0].created_at for turn in turns]
    assert accepted == sorted(accepted)
    for before, after in zip(turns, turns[1:], strict=False):
        assert after[0].created_at >= before[-1].created_at
    runs = m.Run.objects.filter(agent_id=agent["id"])
    assert runs.count() == SENDS and set(runs.values_list("status", flat=True)) == {"completed"}

    # The API shows the same order.
    listed = httpx.get(url, params={"order": "asc", "limit": 1000}, headers=_auth(key)).json()
    shown = [
        tokens_in(msg["content"])[0] for msg in listed if msg["message_type"] == "user_message"
    ]
    assert shown == order

    # Real time agrees: a send answered before another was even sent came first.
    position = {token: n for n, token in enumerate(order)}
    pairs = 0
    for i, (_, _, done_i, _) in enumerate(results):
        for j, (_, sent_j, _, _) in enumerate(results):
            if done_i < sent_j:
                pairs += 1
                assert position[tokens[i]] < position[tokens[j]], (tokens[i], tokens[j])
    print(f"\n{SENDS} concurrent sends; {pairs} ordered pairs checked against real time")

    # No memory edit was lost: every token is in the block, and its history has
    # one agent edit per turn, made in the order of the turns.
    block = m.Block.objects.get(agent_links__agent_id=agent["id"], label="human")
    assert sorted(tokens_in(block.value)) == sorted(tokens)
    edits = list(block.history.filter(actor_type="agent").order_by("sequence"))
    assert len(edits) == SENDS
    added = []
    seen: set[str] = set()
    for edit in edits:
        (new,) = set(tokens_in(edit.value)) - seen
        seen.add(new)
        added.append(new)
    assert added == order
    assert tokens_in(block.value) == order  # memory_insert appends: the block reads in turn order


def _words(n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i % 26] + letters[(i * 7) % 26] + letters[(i * 11) % 26] for i in range(n)]


# --- people and the agent editing one block ------------------------------------------------


def test_a_stale_api_edit_of_a_block_the_agent_changed_is_a_409_not_an_overwrite(
    as_alice, fake_llm
):
    """The agent merges its edits into the current value (its tools lock and
    re-read the block); a person's edit based on an older read names the
    version it read and is refused, instead of silently dropping the agent's."""
    agent = as_alice.post(
        "/v1/agents/",
        {
            "name": "Sam",
            "agent_type": "letta_v1_agent",
            "model": MODEL,
            "memory_blocks": [{"label": "human", "value": "Tokens:", "limit": 1000}],
        },
    ).json()
    path = f"/v1/agents/{agent['id']}/core-memory/blocks/human"
    read = as_alice.get(path).json()
    saving_model(fake_llm, "human")
    sent = as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": "Remember tok-00-abc"})
    assert sent.status_code == 200, sent.content

    for route in (path, f"/v1/blocks/{read['id']}"):
        stale = as_alice.patch(
            route, {"value": read["value"] + "\nmine", "expected_version": read["version"]}
        )
        assert stale.status_code == 409, stale.content
        assert "changed since you read it" in stale.json()["detail"]
    assert "tok-00-abc" in as_alice.get(path).json()["value"]

    fresh = as_alice.get(path).json()
    saved = as_alice.patch(
        path, {"value": fresh["value"] + "\nmine", "expected_version": fresh["version"]}
    )
    assert saved.status_code == 200 and saved.json()["version"] == fresh["version"] + 1
    assert saved.json()["value"] == "Tokens:\ntok-00-abc\nmine"


@pytest.mark.slow
def test_people_and_two_agents_writing_one_shared_block_at_once_lose_nothing(
    live_server, secrets, fake_llm, alice, request
):
    from django.test import Client
    from django.urls import reverse

    from tests.ui_helpers import htmx

    key = secrets["alice"]
    api = httpx.Client(base_url=live_server.url, headers=_auth(key), timeout=300)
    request.addfinalizer(api.close)
    team = api.post("/v1/blocks/", json={"label": "team", "value": "Team:", "limit": 10_000})
    team = team.json()
    agents = [new_agent(live_server.url, key, name=f"Agent {n}")["id"] for n in "AB"]
    for agent_id in agents:
        assert api.patch(f"/v1/agents/{agent_id}/core-memory/blocks/attach/{team['id']}").is_success
    saving_model(fake_llm, "team")
    turns = 10  # per agent; the two agents' turns run in parallel
    ui = Client()
    ui.force_login(alice)
    conflicts = {"api": 0, "ui": 0}
    start = threading.Barrier(2 * turns + 3)

    def agent_turn(n: int) -> int:
        agent_id = agents[n % 2]
        with httpx.Client(base_url=live_server.url, headers=_auth(key), timeout=300) as client:
            start.wait()
            body = {"input": f"Remember tok-{n:02d}-{'ab'[n % 2]}"}
            return client.post(f"/v1/agents/{agent_id}/messages", json=body).status_code

    def append_line(read, write, line: str, kind: str) -> None:
        """Read, append, write with the version read; on a 409, read again."""
        for _ in range(200):
            current = read()
            status = write(current, current["value"] + "\n" + line)
            if status == 200:
                return
            assert status == 409, status
            conflicts[kind] += 1
        raise AssertionError(f"{line} was never saved")

    def api_person(name: str) -> None:
        with httpx.Client(base_url=live_server.url, headers=_auth(key), timeout=300) as client:
            start.wait()
            for i in range(10):
                append_line(
                    lambda: client.get(f"/v1/blocks/{team['id']}").json(),
                    lambda cur, value: (
                        client.patch(
                            f"/v1/blocks/{team['id']}",
                            json={"value": value, "expected_version": cur["version"]},
                        ).status_code
                    ),
                    f"note-{name}-{i}",
                    "api",
                )

    def ui_person() -> None:
        from django.db import connection

        url = reverse("block-edit", args=[agents[0], team["id"]])
        start.wait()
        try:
            for i in range(5):
                append_line(
                    lambda: api.get(f"/v1/blocks/{team['id']}").json(),
                    lambda cur, value: (
                        htmx(
                            ui,
                            "post",
                            url,
                            {
                                "label": "team",
                                "description": cur["description"] or "",
                                "value": value,
                                "limit": cur["limit"],
                                "version": cur["version"],
                            },
                        ).status_code
                    ),
                    f"note-ui-{i}",
                    "ui",
                )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2 * turns + 3) as pool:
        sends = [pool.submit(agent_turn, n) for n in range(2 * turns)]
        people = [
            pool.submit(api_person, "x"),
            pool.submit(api_person, "y"),
            pool.submit(ui_person),
        ]
        assert [f.result() for f in sends] == [200] * (2 * turns)
        for f in people:
            f.result()

    block = m.Block.objects.get(pk=team["id"])
    lines = block.value.split("\n")
    expected = {f"tok-{n:02d}-{'ab'[n % 2]}" for n in range(2 * turns)}
    expected |= {f"note-{who}-{i}" for who in "xy" for i in range(10)}
    expected |= {f"note-ui-{i}" for i in range(5)}
    assert set(lines[1:]) == expected and len(lines) == 1 + len(expected)
    history = list(block.history.order_by("sequence"))
    assert [h.sequence for h in history] == list(range(1, len(history) + 1))
    by = [h.actor_type for h in history[1:]]
    assert by.count("agent") == 2 * turns and by.count("user") == 25
    assert block.version == len(history)
    print(f"\nshared block: {len(history) - 1} edits, stale writes refused: {conflicts}")
