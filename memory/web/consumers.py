"""WebSocket consumers: authorize, join the agent's group, render what is sent.

Services publish JSON events to the group `agent.<id>` (memory/services/events.py);
each becomes the htmx out-of-band swaps of named partials (memory/web/live.py)
that the page's ws extension applies.
"""

import json
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone, translation

from agents.selectors import agent_get_for_user
from memory.services.events import group_name
from memory.web.live import LiveView


def _language(scope) -> str:
    """The language the page was drawn in, chosen as LocaleMiddleware chose it
    (the switcher's cookie, else Accept-Language): the browser sends both with
    the WebSocket handshake, so what is pushed into the page matches it."""
    headers = dict(scope.get("headers") or [])
    handshake = SimpleNamespace(
        COOKIES=scope.get("cookies") or {},
        META={"HTTP_ACCEPT_LANGUAGE": headers.get(b"accept-language", b"").decode("latin-1")},
        path_info=scope.get("path", ""),
    )
    return translation.get_language_from_request(handshake)


class AgentEventsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        agent_id = self.scope["url_route"]["kwargs"]["agent_id"]
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        agent = await database_sync_to_async(agent_get_for_user)(user=user, agent_id=agent_id)
        if agent is None:
            await self.close(code=4404)
            return
        self.group = group_name(agent_id)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.view = LiveView(
            agent_id,
            since=timezone.now(),
            send=self.send_html,
            tab=(query.get("tab") or [""])[0],
            language=_language(self.scope),
        )
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            self.view.close()
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The page says which right-hand tab it shows ({"tab": "runs"}), so only
        panels that are on the page are redrawn; anything else is ignored."""
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("tab"), str):
            self.view.show_tab(message["tab"])

    async def agent_event(self, event: dict) -> None:
        await self.view.handle(event["payload"])

    async def send_html(self, html: str) -> None:
        await self.send(text_data=html)
