"""The storage a turn runs on, wired for one agent: its embedding model, the
announcement of blocks its tools change, and its files."""

from __future__ import annotations

from agents.models import Agent
from memory.services.blocks import block_saved_by_agent
from memory.services.files import AgentFiles
from memory.services.providers import embedder_for
from memory.store.turn_store import DjangoTurnStore


def store_for(agent: Agent) -> DjangoTurnStore:
    return DjangoTurnStore(
        embed=embedder_for(agent.embedding),
        embedding_model=agent.embedding,
        on_block_saved=block_saved_by_agent,
        files=AgentFiles,
    )
