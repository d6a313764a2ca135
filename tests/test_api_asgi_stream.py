"""Under ASGI (uvicorn in `make run`) the SSE stream must flow event by event:
Django buffers a synchronous iterator there, so the API hands it an async one."""

import json

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import MODEL
from tests.fakes.llm_server import delay, reply

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_an_sse_stream_flows_under_asgi(alice, secrets, fake_llm, settings):
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    from agents.services.lifecycle import agent_create

    settings.SSE_PING_SECONDS = 0.05
    agent = await sync_to_async(agent_create)(owner=alice, name="Async", model=MODEL)
    fake_llm.script(delay(0.3, then=reply("Hello from ASGI.")))
    response = await AsyncClient().post(
        f"/v1/agents/{agent.id}/messages",
        data=json.dumps({"input": "hi", "streaming": True}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secrets['alice']}"},
    )
    assert response.status_code == 200 and response.is_async
    frames = [chunk.decode() async for chunk in response.streaming_content]
    # One frame per event, not one buffered blob: pings arrived on their own.
    assert len(frames) > 4 and frames[-1] == "data: [DONE]\n\n"
    events = [json.loads(f.split("data: ", 1)[1]) for f in frames[:-1]]
    kinds = [e["message_type"] for e in events]
    assert "ping" in kinds and kinds[-3:] == [
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ]
    assert events[-3]["content"] == "Hello from ASGI."
