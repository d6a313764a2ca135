"""The engine's vocabulary: plain dataclasses shared by the loop, the context
compiler, the tools and the provider adapters.

Nothing here imports Django. `memory/store/rows.py` is the one place that
translates between these types and ORM rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


# --- message content parts -------------------------------------------------


@dataclass
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass
class ReasoningPart:
    """Model reasoning. `signature` (Anthropic) / thought signatures (Gemini) are
    opaque provider data that must be sent back verbatim on later requests.
    `redacted` holds Anthropic's redacted_thinking payload when the text is hidden."""

    text: str
    signature: str | None = None
    provider: str | None = None
    redacted: str | None = None
    type: Literal["reasoning"] = "reasoning"


@dataclass
class ToolCallPart:
    id: str
    name: str
    arguments: str  # raw JSON text exactly as the model produced it
    # Gemini attaches a thought signature to function-call parts; kept opaque.
    signature: str | None = None
    type: Literal["tool_call"] = "tool_call"


@dataclass
class ToolReturnPart:
    tool_call_id: str
    name: str
    content: str  # what the model sees (the packaged JSON envelope)
    status: Literal["success", "error"] = "success"
    stdout: list[str] | None = None
    stderr: list[str] | None = None
    type: Literal["tool_return"] = "tool_return"


Part = TextPart | ReasoningPart | ToolCallPart | ToolReturnPart


class MessageKind(str, enum.Enum):
    """What a message *is* for the UI and the API, beyond its wire role."""

    SYSTEM = "system"  # compiled system prompt (index 0 of the window)
    USER = "user_message"
    ASSISTANT = "assistant"  # model output: text, reasoning and/or tool calls
    TOOL = "tool_return"
    HEARTBEAT = "heartbeat"
    SYSTEM_ALERT = "system_alert"  # memory-pressure warning etc. (user role)
    SUMMARY = "summary"  # running summary of evicted messages (user role)
    LOGIN = "login"
    APPROVAL_RESPONSE = "approval_response"


@dataclass
class Message:
    role: Role
    content: list[Part]
    kind: MessageKind = MessageKind.ASSISTANT
    id: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    model: str | None = None
    step_id: str | None = None
    run_id: str | None = None
    otid: str | None = None
    sequence_id: int | None = None
    is_err: bool = False
    # Token count of this message as sent (cached; None = not counted yet).
    token_count: int | None = None
    # Free-form extra data, e.g. compaction stats on a summary message.
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.content if isinstance(p, ToolCallPart)]

    @property
    def tool_returns(self) -> list[ToolReturnPart]:
        return [p for p in self.content if isinstance(p, ToolReturnPart)]

    @property
    def reasoning(self) -> list[ReasoningPart]:
        return [p for p in self.content if isinstance(p, ReasoningPart)]


# --- memory --------------------------------------------------------------


@dataclass
class Block:
    label: str
    value: str
    limit: int
    description: str = ""
    read_only: bool = False
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int | None = None  # the stored row's version when loaded


@dataclass
class DirectoryFile:
    """A file of an attached folder as the agent sees it: closed, or open with
    the lines in view (numbered "N: text", as open_files shows them)."""

    name: str
    is_open: bool = False
    visible: str = ""
    offset: int = 0  # first line in view, 0-based


@dataclass
class Directory:
    """A folder attached to the agent, rendered under <directories>."""

    name: str
    description: str = ""
    instructions: str = ""
    files: list[DirectoryFile] = field(default_factory=list)


@dataclass
class MemoryStats:
    """The numbers rendered in the <memory_metadata> section."""

    recall_count: int = 0
    archival_count: int = 0
    archival_tags: list[str] = field(default_factory=list)
    last_recompiled: datetime | None = None


# --- tools and rules -----------------------------------------------------


@dataclass
class ToolDef:
    """A tool as the engine sees it. `schema` is an OpenAI-style function
    object: {"name", "description", "parameters": JSON schema}."""

    name: str
    schema: dict[str, Any]
    tool_type: str = "custom"  # letta_core | letta_memory_core | custom | ...
    source_code: str | None = None
    return_char_limit: int = 50_000
    id: str | None = None
    # Custom tools run without network unless an admin allows it per tool.
    allow_network: bool = False


class ToolRuleType(str, enum.Enum):
    RUN_FIRST = "run_first"
    EXIT_LOOP = "exit_loop"
    CONTINUE_LOOP = "continue_loop"
    CONSTRAIN_CHILD_TOOLS = "constrain_child_tools"
    PARENT_LAST_TOOL = "parent_last_tool"
    CONDITIONAL = "conditional"
    MAX_COUNT_PER_STEP = "max_count_per_step"
    REQUIRED_BEFORE_EXIT = "required_before_exit"
    REQUIRES_APPROVAL = "requires_approval"


@dataclass
class ToolRule:
    """One rule in Letta's JSON shape: {"type", "tool_name", ...}."""

    type: ToolRuleType
    tool_name: str
    children: list[str] = field(default_factory=list)
    args: dict[str, Any] | None = None  # run_first prefilled args
    max_count_limit: int | None = None
    default_child: str | None = None
    child_output_mapping: dict[str, str] = field(default_factory=dict)
    require_output_mapping: bool = False
    prompt_template: str | None = None


# --- provider request / response ----------------------------------------


@dataclass
class LLMSettings:
    temperature: float | None = None
    max_tokens: int | None = None
    parallel_tool_calls: bool = False
    reasoning: bool = False
    reasoning_effort: str | None = None
    max_reasoning_tokens: int | None = None


@dataclass
class LLMRequest:
    model: str  # the provider's model name (no "provider/" prefix)
    messages: list[Message]  # messages[0] is the system message
    tools: list[dict[str, Any]] = field(default_factory=list)  # OpenAI function objects
    # "auto" | "required" | "none" | a tool name to force
    tool_choice: str = "auto"
    settings: LLMSettings = field(default_factory=LLMSettings)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens


# Stream events every provider adapter yields; shared code assembles them.


@dataclass
class TextDelta:
    text: str


@dataclass
class ReasoningDelta:
    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    signature: str | None = None


@dataclass
class UsageEvent:
    usage: Usage


@dataclass
class FinishEvent:
    reason: str  # "stop" | "tool_calls" | "length" | provider-specific


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | UsageEvent | FinishEvent


@dataclass
class LLMResponse:
    message: Message  # role="assistant"
    usage: Usage
    finish_reason: str
    raw_request: dict[str, Any] = field(default_factory=dict)
    raw_response: dict[str, Any] = field(default_factory=dict)


class StopReason(str, enum.Enum):
    END_TURN = "end_turn"
    ERROR = "error"
    LLM_API_ERROR = "llm_api_error"
    INVALID_LLM_RESPONSE = "invalid_llm_response"
    INVALID_TOOL_CALL = "invalid_tool_call"
    MAX_STEPS = "max_steps"
    MAX_TOKENS_EXCEEDED = "max_tokens_exceeded"
    NO_TOOL_CALL = "no_tool_call"
    TOOL_RULE = "tool_rule"
    CANCELLED = "cancelled"
    REQUIRES_APPROVAL = "requires_approval"
    CONTEXT_WINDOW_OVERFLOW_IN_SYSTEM_PROMPT = "context_window_overflow_in_system_prompt"


class AgentType(str, enum.Enum):
    MEMGPT = "memgpt_agent"
    MEMGPT_V2 = "memgpt_v2_agent"
    LETTA_V1 = "letta_v1_agent"
    REACT = "react_agent"
