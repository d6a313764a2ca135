"""What the loop works on and what it asks of storage.

`AgentState` is an engine-side snapshot of one agent, loaded by the store at
the start of a turn. `TurnStore` is the persistence protocol the loop calls;
`memory/store/turn_store.py` implements it with the ORM, tests can implement it
in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from memory.tools.base import MemoryBackend
from memory.types import (
    AgentType,
    Block,
    Directory,
    LLMSettings,
    MemoryStats,
    Message,
    StopReason,
    StreamEvent,
    ToolDef,
    ToolRule,
    Usage,
)


@dataclass
class AgentState:
    id: str
    name: str
    agent_type: AgentType
    system_template: str
    provider: str  # registry name, e.g. "openai"
    model: str  # provider's model name
    handle: str  # "provider/model"
    settings: LLMSettings
    context_window: int
    timezone: str
    tools: list[ToolDef]
    tool_rules: list[ToolRule]
    blocks: list[Block]
    # The in-context window; [0] is the compiled system message.
    messages: list[Message]
    fingerprint: str
    stats: MemoryStats
    tool_env: dict[str, str] = field(default_factory=dict)
    enforce_block_limits: bool = True
    compaction: dict[str, Any] = field(default_factory=dict)
    # Attached folders and the agent's view of their files (<directories>).
    directories: list[Directory] = field(default_factory=list)

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]

    def tool(self, name: str) -> ToolDef | None:
        return next((t for t in self.tools if t.name == name), None)


@dataclass
class StepRecord:
    """One LLM call, as it will be stored on its Step row."""

    id: str
    run_id: str
    provider: str
    model: str
    handle: str
    context_window: int
    usage: Usage = field(default_factory=Usage)
    status: str = "success"
    stop_reason: str = ""
    error_type: str = ""
    error_data: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    llm_ns: int = 0
    tool_ns: int = 0
    step_ns: int = 0


class TurnInputError(Exception):
    """The request cannot start a turn (e.g. an approval is pending); nothing was changed."""


@dataclass
class ApprovalDecision:
    tool_call_id: str
    approve: bool
    reason: str = ""


# --- events the loop emits while it runs (the API streams them, the UI shows them)


@dataclass
class MessageEvent:
    message: Message


@dataclass
class DeltaEvent:
    """A token-level piece of the assistant message `message_id` still being written."""

    message_id: str
    step_id: str
    event: StreamEvent


@dataclass
class StepEvent:
    step: StepRecord


@dataclass
class CompactionEvent:
    summary: Message
    stats: dict[str, Any]


LoopEvent = MessageEvent | DeltaEvent | StepEvent | CompactionEvent
Emit = Callable[[LoopEvent], None]


@dataclass
class TurnResult:
    run_id: str
    messages: list[Message]  # every message the turn added, inputs included
    stop_reason: StopReason
    usage: Usage
    step_count: int
    error: str | None = None
    error_type: str | None = None


class TurnStore(Protocol):
    backend: MemoryBackend

    def atomic(self) -> AbstractContextManager[Any]:
        """A transaction: everything inside commits together or not at all."""

    def new_message_id(self) -> str: ...

    def new_step_id(self) -> str: ...

    def save_messages(self, agent: AgentState, messages: list[Message]) -> None:
        """Persist messages (assigning created_at/sequence ids) and set the window
        to `agent.messages`."""

    def commit_step(
        self,
        agent: AgentState,
        step: StepRecord | None,
        messages: list[Message],
        changed_blocks: list[Block],
    ) -> None:
        """Atomically: insert `messages`, write changed blocks (with history,
        actor = the agent), save `agent.messages` as the window and the step row."""

    def record_failed_step(self, agent: AgentState, step: StepRecord) -> None: ...

    def lock_blocks(self, agent: AgentState) -> None:
        """Inside atomic(): lock the agent's block rows until commit and refresh
        `agent.blocks` with their current values (and attachments)."""

    def is_cancelled(self, run_id: str) -> bool: ...

    def refresh_stats(self, agent: AgentState) -> MemoryStats: ...

    def save_system(self, agent: AgentState, system: Message, fingerprint: str) -> None:
        """Persist a recompiled system message and make it window[0]."""
