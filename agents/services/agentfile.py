"""Duplicating an agent goes through the Agent File, so a copy holds exactly
what an export/import round trip carries (agentfile_export.py,
agentfile_import.py; the format in docs/agent-file.md)."""

from __future__ import annotations

from django.db import transaction

from agents.models import Agent, User
from agents.services.agentfile_export import DEFAULT_PARTS, agent_export
from agents.services.agentfile_import import agent_import
from memory.services.files import source_attach

# A copy starts a fresh conversation; its passages keep their vectors (same
# server, same model) and it shares the original's folders instead of copying them.
DUPLICATE_PARTS = (DEFAULT_PARTS - {"messages", "folders"}) | {"embeddings"}


@transaction.atomic
def agent_duplicate(*, agent: Agent, user: User) -> Agent:
    """A copy with the same configuration, tools, memory blocks, archival
    memory and folders."""
    document = agent_export(agent=agent, parts=DUPLICATE_PARTS)
    copy = agent_import(
        user=user, document=document, strip_messages=True, name=f"{agent.name} copy"[:200]
    ).agents[0]
    for source in agent.sources.all():
        source_attach(source=source, agent=copy)
    return copy
