"""Live updates: the WebSocket consumer authorizes, joins the agent's group
and turns each published event into htmx out-of-band swaps of the same
partials the pages use. Real WebSockets through the real ASGI application."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from ade.asgi import application
from memory import models as m
from memory.services.events import group_name
from tests.engine_helpers import fast_config
from tests.fakes.llm_server import reply, tool_call
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import make_agent

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(agent_id: str, user=None, tab: str | None = None):
    """A page's socket; `tab` is the right-hand tab the page shows (panels of
    other tabs are not redrawn)."""
    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    path = f"/ws/agents/{agent_id}/" + (f"?tab={tab}" if tab else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def publish(agent_id: str, payload: dict) -> None:
    await get_channel_layer().group_send(
        group_name(agent_id), {"type": "agent.event", "payload": payload}
    )


async def frames_until(communicator, marker: str, timeout: float = 10.0) -> str:
    """Everything the page receives until a frame containing `marker`."""
    received = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await communicator.receive_from(timeout=timeout)
            received.append(frame)
            if marker in frame:
                return "\n".join(received)


def message(id_, kind, role, content, run_id="run-1", **extra):
    return {
        "type": "message",
        "message": {
            "id": id_,
            "role": role,
            "kind": kind,
            "content": content,
            "created_at": "2026-01-01T10:00:00+00:00",
            "run_id": run_id,
            "step_id": None,
            "is_err": False,
            "meta": {},
            **extra,
        },
    }


@pytest.fixture
def agent(alice):
    return make_agent(alice)


async def test_anonymous_and_stranger_sockets_are_refused_team_sockets_accepted(
    agent, bob, charlie
):
    for user, expected in ((None, 4401), (charlie, 4404)):
        communicator, connected, code = await connect(agent.id, user)
        assert not connected and code == expected
    communicator, connected, _ = await connect(agent.id, bob)
    assert connected
    await communicator.disconnect()


async def test_a_user_message_is_appended_replaces_the_pending_copy_and_shows_the_run(agent, alice):
    communicator, _, _ = await connect(agent.id, alice)
    await publish(
        agent.id,
        message(
            "message-1",
            "user_message",
            "user",
            [{"type": "text", "text": '{"type": "user_message", "message": "Hello"}'}],
        ),
    )
    html = await communicator.receive_from()
    assert (
        'hx-swap-oob="beforeend:#chat-log"' in html
        and 'id="msg-message-1"' in html
        and ">Hello<" in html
    )
    assert 'id="pending-run-1" hx-swap-oob="delete"' in html
    assert (
        'id="run-status" class="run-status" data-run="run-1" data-state="running" hx-swap-oob="true"'
        in html
        and "/runs/run-1/cancel/" in html
    )
    await communicator.disconnect()


async def test_tokens_stream_into_one_bubble_that_the_stored_message_then_replaces(agent, alice):
    communicator, _, _ = await connect(agent.id, alice)
    await publish(
        agent.id, {"type": "delta", "message_id": "message-2", "part": "reasoning", "text": "Hmm"}
    )
    first = await communicator.receive_from()
    assert 'id="msg-message-2" class="msg msg-assistant streaming"' in first
    assert '<div hx-swap-oob="beforeend:#msg-message-2-reasoning">Hmm</div>' in first
    await publish(
        agent.id, {"type": "delta", "message_id": "message-2", "part": "text", "text": "Hi <b>"}
    )
    second = await communicator.receive_from()
    assert (
        "streaming" not in second
        and '<div hx-swap-oob="beforeend:#msg-message-2-text">Hi &lt;b&gt;</div>' in second
    )
    await publish(
        agent.id,
        {
            "type": "delta",
            "message_id": "message-2",
            "part": "tool_call",
            "index": 0,
            "name": "memory_insert",
            "text": '{"label": ',
        },
    )
    call = await communicator.receive_from()
    assert 'id="msg-message-2-call-0"' in call and "memory_insert" in call
    await publish(
        agent.id,
        message("message-2", "assistant", "assistant", [{"type": "text", "text": "Hi <b>"}]),
    )
    final = await communicator.receive_from()
    assert (
        '<article id="msg-message-2" class="msg msg-assistant" data-run="run-1" hx-swap-oob="true">'
        in final
    )
    await communicator.disconnect()


async def test_a_failed_run_shows_its_error_plainly_and_goes_idle(agent, alice):
    communicator, _, _ = await connect(agent.id, alice)
    await publish(
        agent.id, {"type": "delta", "message_id": "message-3", "part": "text", "text": "par"}
    )
    await communicator.receive_from()
    await publish(
        agent.id,
        {
            "type": "run",
            "run_id": "run-9",
            "stop_reason": "llm_api_error",
            "error": "Invalid API key <x>",
            "step_count": 1,
            "usage": {},
        },
    )
    html = await frames_until(communicator, "run-end-run-9")
    assert (
        "Idle" in html
        and "Invalid API key &lt;x&gt;" in html
        and "The model provider returned an error." in html
    )
    assert "this answer was cut off" in html
    await communicator.disconnect()


async def test_a_person_editing_a_block_redraws_it_and_the_context_window_in_other_tabs(
    agent, alice, bob
):
    from memory.services.blocks import block_edit

    communicator, _, _ = await connect(agent.id, bob)
    block = await database_sync_to_async(m.Block.objects.get)(
        agent_links__agent=agent, label="human"
    )
    await database_sync_to_async(block_edit)(
        block=block,
        user=alice,
        expected_version=block.version,
        value="Name: Alice <img src=x onerror=alert(1)>",
    )
    html = await frames_until(communicator, 'id="context-panel"')
    assert f'id="block-{block.id}-view" hx-swap-oob="true"' in html and "edited by a person" in html
    assert "Name: Alice &lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert 'id="context-panel" class="context-panel" hx-swap-oob="true"' in html
    await communicator.disconnect()


async def test_a_whole_turn_streams_live_and_highlights_the_agents_memory_edit(
    agent, alice, fake_llm
):
    from memory.services.turns import message_send

    communicator, _, _ = await connect(agent.id, alice)
    fake_llm.script(
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name: unknown", "new_string": "Name: Alice"},
        ),
        reply("Nice to meet you, Alice!"),
    )
    await database_sync_to_async(message_send)(
        agent=agent, texts=["I'm Alice"], user=alice, config=fast_config()
    )
    html = await frames_until(communicator, ">Idle<")
    assert "I&#x27;m Alice" in html  # the user's message, from the stored copy
    assert "memory_replace" in html and "tool result" in html
    assert "edited by the agent" in html and "Name: Alice" in html
    assert "Nice to meet you, Alice!" in html and 'id="context-panel"' in html
    await communicator.disconnect()


async def test_what_the_page_sends_is_ignored(agent, alice):
    communicator, _, _ = await connect(agent.id, alice)
    await communicator.send_to(text_data="<div>hello</div>")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
