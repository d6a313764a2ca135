"""How the ADE's views find the agent a URL names: only among the agents the
user may see (their own and their team's); anyone else gets a 404, so an
agent's existence does not leak to strangers."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import Http404

from agents.models import Agent, User
from agents.selectors import agent_get_for_user


def agent_or_404(user: User, agent_id: str) -> Agent:
    agent = agent_get_for_user(user=user, agent_id=agent_id)
    if agent is None:
        raise Http404("No such agent.")
    return agent


async def aagent_or_404(user: User, agent_id: str) -> Agent:
    return await sync_to_async(agent_or_404)(user, agent_id)
