"""The Postgres implementation of what the loop asks of storage (TurnStore):
messages, steps, the window and block writes of a turn, each step in one
transaction. What happens around a write (announcing a shared block's change,
the agent's files) is handed in by the service that builds the store
(memory/services/stores.py), so this layer never imports upwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from agents import ids
from agents.models import Agent as AgentRow
from memory import models as m
from memory.engine.state import AgentState, StepRecord
from memory.llm.embeddings import Embed
from memory.store.blocks import block_attach, block_create, block_update
from memory.store.rows import block_from_row, message_to_row, searchable_before, searchable_text
from memory.store.search import PostgresMemoryBackend, index_messages, message_vector_expression
from memory.types import Block, MemoryStats, Message

# Called after the store saved a block an agent's tool changed (or created):
# (block row, id of the agent whose tool wrote it).
BlockSaved = Callable[[m.Block, str], None]


class DjangoTurnStore:
    def __init__(
        self,
        *,
        embed: Embed | None = None,
        embedding_model: str = "",
        on_block_saved: BlockSaved | None = None,
        files: Callable[..., Any] | None = None,
    ) -> None:
        self.backend = PostgresMemoryBackend(
            embed=embed, embedding_model=embedding_model, files=files
        )
        self.on_block_saved = on_block_saved
        self._locked_rows: dict[str, m.Block] = {}

    def atomic(self) -> Any:
        return transaction.atomic()

    def new_message_id(self) -> str:
        return ids.message_id()

    def new_step_id(self) -> str:
        return ids.step_id()

    def _insert(
        self, agent_id: str, messages: list[Message], window: list[Message] | None = None
    ) -> None:
        rows = [message_to_row(msg, agent_id) for msg in messages]
        items = [(row.id, searchable_text(msg)) for row, msg in zip(rows, messages, strict=True)]
        previous = searchable_before(window, messages)
        if previous is not None:
            # The neighbours are at hand: each search vector goes in with its row.
            for row, (_, text) in zip(rows, items, strict=True):
                if text:
                    row.search_vector = message_vector_expression(text, row.created_at, previous)
                    previous = [*previous, text][-2:]
        m.Message.objects.bulk_create(rows)
        if previous is None:
            index_messages(agent_id, items)
        self.backend.embed_messages_later(agent_id, items)

    def _save_window(self, agent: AgentState) -> None:
        AgentRow.objects.filter(pk=agent.id).update(
            message_ids=[msg.id for msg in agent.messages], system_fingerprint=agent.fingerprint
        )

    # No savepoints: when these run inside the loop's step transaction a failure
    # fails the whole step anyway, and each savepoint costs two round trips.
    @transaction.atomic(savepoint=False)
    def save_messages(self, agent: AgentState, messages: list[Message]) -> None:
        self._insert(agent.id, messages, agent.messages)
        self._save_window(agent)

    @transaction.atomic(savepoint=False)
    def save_system(self, agent: AgentState, system: Message, fingerprint: str) -> None:
        self._insert(agent.id, [system])
        if agent.messages and agent.messages[0].role == "system":
            agent.messages[0] = system
        else:
            agent.messages.insert(0, system)
        agent.fingerprint = fingerprint
        self._save_window(agent)

    def _step_row(self, agent: AgentState, step: StepRecord) -> m.Step:
        usage = step.usage
        return m.Step(
            id=step.id,
            run_id=step.run_id,
            agent_id=agent.id,
            status=step.status,
            provider=step.provider,
            model=step.model,
            model_handle=step.handle,
            context_window_limit=step.context_window,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            stop_reason=step.stop_reason,
            error_type=step.error_type,
            error_data=step.error_data,
            request_json=step.request,
            response_json=step.response,
            llm_ns=step.llm_ns,
            tool_ns=step.tool_ns,
            step_ns=step.step_ns,
        )

    @transaction.atomic(savepoint=False)
    def commit_step(
        self,
        agent: AgentState,
        step: StepRecord | None,
        messages: list[Message],
        changed_blocks: list[Block],
    ) -> None:
        if step is not None:
            self._step_row(agent, step).save(force_insert=True)
        self._insert(agent.id, messages, agent.messages)
        for block in changed_blocks:
            self._write_block(agent, block)
        self._save_window(agent)

    def lock_blocks(self, agent: AgentState) -> None:
        links = list(m.AgentBlock.objects.filter(agent_id=agent.id).order_by("position", "id"))
        rows = {
            r.id: r
            for r in m.Block.objects.select_for_update()
            .filter(pk__in=[link.block_id for link in links])
            .order_by("id")
        }
        self._locked_rows = rows  # what _write_block compares against, this step
        agent.blocks = [
            block_from_row(rows[link.block_id], link.label)
            for link in links
            if link.block_id in rows
        ]

    def _write_block(self, agent: AgentState, block: Block) -> None:
        if block.id is None:
            row = block_create(
                label=block.label,
                value=block.value,
                limit=block.limit,
                description=block.description,
                read_only=block.read_only,
                owner=AgentRow.objects.get(pk=agent.id).owner,
                actor_type="agent",
                actor_id=agent.id,
            )
            block_attach(agent=AgentRow.objects.get(pk=agent.id), block=row, check_window=False)
            block.id, block.version = row.id, row.version
            if self.on_block_saved is not None:
                self.on_block_saved(row, agent.id)
            return
        row = self._locked_rows.get(block.id) or m.Block.objects.get(pk=block.id)
        if (row.value, row.limit, row.description) == (block.value, block.limit, block.description):
            return
        # Rows are locked since lock_blocks(); the version check is a second guard.
        saved = block_update(
            block=row,
            actor_type="agent",
            actor_id=agent.id,
            reason="memory tool",
            value=block.value,
            expected_version=block.version,
            check_window=False,
        )
        block.version = saved.version
        if self.on_block_saved is not None:
            self.on_block_saved(saved, agent.id)

    def record_failed_step(self, agent: AgentState, step: StepRecord) -> None:
        self._step_row(agent, step).save(force_insert=True)

    def is_cancelled(self, run_id: str) -> bool:
        return m.Run.objects.filter(pk=run_id, cancel_requested=True).exists()

    def refresh_stats(self, agent: AgentState) -> MemoryStats:
        recall = m.Message.objects.filter(agent_id=agent.id).exclude(role="system").count()
        passages = m.Passage.objects.filter(archive__agents__id=agent.id)
        archival = passages.count()
        tags: list[str] = []
        if archival:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT DISTINCT unnest(p.tags) FROM memory_passage p "
                    "JOIN memory_archive_agents aa ON aa.archive_id = p.archive_id "
                    "WHERE aa.agent_id = %s ORDER BY 1 LIMIT 100",
                    [agent.id],
                )
                tags = [r[0] for r in cursor.fetchall()]
        return MemoryStats(recall_count=recall, archival_count=archival, archival_tags=tags)
