"""WebSocket consumers: authorize, join the agent's group, forward what is sent.

Services publish events to the group `agent.<id>` (see memory/events.py); the
consumer renders nothing itself beyond passing them on.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.selectors import agent_get_for_user
from memory.events import group_name


class AgentEventsConsumer(AsyncJsonWebsocketConsumer):
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
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def agent_event(self, event: dict) -> None:
        await self.send_json(event["payload"])
