"""WebSocket routes (the live ADE panels subscribe here)."""

from django.urls import path

from memory.web import consumers

websocket_urlpatterns = [
    path("ws/agents/<str:agent_id>/", consumers.AgentEventsConsumer.as_asgi()),
]
