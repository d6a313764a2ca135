"""When the context fills up: evict the oldest messages into a running summary.

Sliding window: evict from 40 % of the in-context messages upward (10 % more
each try) until what stays fits in `keep_ratio` of the window, cutting only
where no tool result would lose its call. Evicted messages stay in recall
memory. The summary is written by a model from the previous summary plus the
evicted messages; a transcript too long for one summarizer call is folded in
chunks (recursive summary), and if the summarizer itself fails the agent gets
a mechanical digest instead — overflow must never brick an agent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from memory import prompts
from memory.engine.state import AgentState, CompactionEvent, Emit, TurnStore
from memory.engine.tokens import TokenCounter
from memory.llm.base import Provider
from memory.llm.errors import ProviderError
from memory.types import LLMRequest, LLMSettings, Message, MessageKind, TextPart

log = logging.getLogger(__name__)

SUMMARY_MAX_CHARS = 20_000
PER_MESSAGE_CHARS = 2_000
# Room left for the summary itself when deciding what must be evicted.
SUMMARY_BUDGET_TOKENS = 700


class Compactor:
    def __init__(
        self,
        *,
        agent: AgentState,
        store: TurnStore,
        provider: Provider,
        model: str,
        counter: TokenCounter,
        emit: Emit,
        now: Callable[[], datetime],
        keep_ratio: float = 0.7,
    ) -> None:
        self.agent = agent
        self.store = store
        self.provider = provider
        self.model = model
        self.counter = counter
        self.emit = emit
        self.now = now
        self.keep_ratio = float(agent.compaction.get("keep_ratio", keep_ratio))
        self.after: Callable[[], None] = lambda: None

    def compact(self, *, trigger: str, force: bool = False) -> bool:
        """Evict and summarize. Returns False when there was nothing to evict."""
        messages = self.agent.messages
        system, body = messages[0], messages[1:]
        previous = body[0] if body and body[0].kind == MessageKind.SUMMARY else None
        if previous is not None:
            body = body[1:]
        if len(body) < 2:
            return False
        before_tokens = self._tokens(messages)
        cut = self._choose_cut(system, body, force)
        if cut <= 0:
            return False
        evicted, kept = body[:cut], body[cut:]
        previous_text = previous.meta.get("summary") if previous is not None else None
        summary, usage = self._summarize(previous_text, evicted)
        hidden = (previous.meta.get("hidden_count", 0) if previous is not None else 0) + len(
            evicted
        )
        notice = prompts.summary_notice(hidden, summary)
        stats: dict[str, Any] = {
            "trigger": trigger,
            "context_window": self.agent.context_window,
            "context_tokens_before": before_tokens,
            "messages_count_before": len(messages),
            "evicted": len(evicted),
            "summarizer_usage": usage,
        }
        summary_message = Message(
            role="user",
            kind=MessageKind.SUMMARY,
            content=[
                TextPart(prompts.system_alert_envelope(notice, self.now(), self.agent.timezone))
            ],
            id=self.store.new_message_id(),
            created_at=self.now(),
            meta={"summary": summary, "hidden_count": hidden, "compaction_stats": stats},
        )
        self.agent.messages = [system, summary_message, *kept]
        stats["messages_count_after"] = len(self.agent.messages)
        stats["context_tokens_after"] = self._tokens(self.agent.messages)
        self.store.save_messages(self.agent, [summary_message])
        self.emit(CompactionEvent(summary=summary_message, stats=stats))
        self.after()
        return True

    def _tokens(self, messages: list[Message]) -> int:
        tools = [t.schema for t in self.agent.tools]
        return self.counter.count_messages(messages) + self.counter.count_tools(tools)

    def _choose_cut(self, system: Message, body: list[Message], force: bool) -> int:
        target = int(self.agent.context_window * self.keep_ratio)
        base = self._tokens([system]) + SUMMARY_BUDGET_TOKENS
        n = len(body)
        # Cut points: never right before a tool result (its call would be evicted
        # without it) and never past the last message (the model needs an input).
        cuts = [i for i in range(1, n) if body[i].role != "tool"]
        if not cuts:
            return 0
        for fraction in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            wanted = max(1, int(n * fraction))
            cut = next((c for c in cuts if c >= wanted), cuts[-1])
            if base + self.counter.count_messages(body[cut:]) <= target:
                return cut
        # Nothing fits the target: keep as little as possible. When not forced
        # this still relieves pressure; when forced (the provider overflowed) it
        # is the best we can do.
        return cuts[-1]

    # --- writing the summary ---------------------------------------------------------------

    def _summarize(
        self, previous: str | None, evicted: list[Message]
    ) -> tuple[str, dict[str, int]]:
        lines = [self._render(m) for m in evicted]
        lines = [line for line in lines if line]
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        # Each summarizer call must fit the window with room for its answer.
        budget = max(1000, int(self.agent.context_window * 0.6))
        summary = previous
        chunk: list[str] = []
        size = 0
        try:
            for line in lines:
                tokens = self.counter.count_text(line)
                if chunk and size + tokens > budget:
                    summary = self._call(summary, chunk, usage)
                    chunk, size = [], 0
                chunk.append(line[: budget * 3])
                size += tokens
            if chunk:
                summary = self._call(summary, chunk, usage)
        except ProviderError as exc:
            log.warning("summarizer failed (%s); using a mechanical digest", exc.message)
            summary = self._digest(previous, lines)
        return (summary or "")[:SUMMARY_MAX_CHARS], usage

    def _call(self, previous: str | None, lines: list[str], usage: dict[str, int]) -> str:
        request = LLMRequest(
            model=self.model,
            messages=[
                Message(
                    role="system",
                    kind=MessageKind.SYSTEM,
                    content=[TextPart(prompts.summary_prompt())],
                ),
                Message(
                    role="user",
                    kind=MessageKind.USER,
                    content=[TextPart(prompts.summary_request(previous, "\n".join(lines)))],
                ),
            ],
            tools=[],
            tool_choice="none",
            settings=LLMSettings(max_tokens=1024),
        )
        response = self.provider.complete(request)
        usage["prompt_tokens"] += response.usage.prompt_tokens
        usage["completion_tokens"] += response.usage.completion_tokens
        text = response.message.text.strip()
        if not text:
            raise ProviderError(
                "The summarizer returned no text.", retryable=False, kind="empty_response"
            )
        return text

    @staticmethod
    def _digest(previous: str | None, lines: list[str]) -> str:
        head = f"{previous}\n" if previous else ""
        body = "\n".join(line[:300] for line in lines)
        return (head + "Earlier messages (shortened):\n" + body)[-SUMMARY_MAX_CHARS:]

    def _render(self, message: Message) -> str:
        when = message.created_at.strftime("%Y-%m-%d %H:%M") if message.created_at else ""
        if message.role == "tool":
            parts = [
                f"{p.name} returned: {unwrap_envelope(p.content)}" for p in message.tool_returns
            ]
            return f"[{when}] tool: " + " | ".join(parts)[:PER_MESSAGE_CHARS]
        if message.role == "assistant":
            pieces = [f"(thinking) {r.text}" for r in message.reasoning if r.text]
            if message.text:
                pieces.append(message.text)
            pieces += [f"called {c.name}({c.arguments})" for c in message.tool_calls]
            return f"[{when}] assistant: " + " ".join(pieces)[:PER_MESSAGE_CHARS]
        if message.kind == MessageKind.SUMMARY:
            return ""
        who = {"user_message": "user", "heartbeat": "system", "system_alert": "system"}.get(
            message.kind.value, message.role
        )
        return f"[{when}] {who}: " + unwrap_envelope(message.text)[:PER_MESSAGE_CHARS]


def unwrap_envelope(text: str) -> str:
    """The human-readable part of a JSON envelope ({"message": ...})."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    if isinstance(data, dict):
        for key in ("message", "reason"):
            if isinstance(data.get(key), str):
                return data[key]
    return text
