"""The step machine: one user turn of a MemGPT-style agent.

Named steps, a step limit, every step recorded (failed ones too). Each step:
refresh the system message if memory changed → relieve memory pressure →
call the model (bounded retries; compaction on overflow) → run the tool calls
under the tool rules → commit messages, block edits and usage together →
decide whether the turn goes on.

Agent types differ only in how a step ends:
- memgpt_agent / memgpt_v2_agent: every step must call a tool; the turn goes on
  while the model asks for a heartbeat (or a rule says so); send_message speaks.
- letta_v1_agent / react_agent: a tool call continues the turn; plain text is
  the reply and ends it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from memory import prompts
from memory.engine.budget import block_fit
from memory.engine.compaction import Compactor
from memory.engine.context import CompileInput, compile_system, system_fingerprint
from memory.engine.execute import run_tool
from memory.engine.rules import ToolRulesSolver, default_base_tool_rules
from memory.engine.state import (
    AgentState,
    ApprovalDecision,
    DeltaEvent,
    Emit,
    MessageEvent,
    StepEvent,
    StepRecord,
    TurnInputError,
    TurnResult,
    TurnStore,
)
from memory.engine.tokens import counter_for
from memory.llm.base import Provider
from memory.llm.cancel import POLL_SECONDS
from memory.llm.errors import CallCancelled, ContextWindowExceeded, ProviderError
from memory.tools.base import ToolContext, ToolError, parse_arguments, with_request_heartbeat
from memory.types import (
    AgentType,
    LLMRequest,
    LLMResponse,
    Message,
    MessageKind,
    StopReason,
    StreamEvent,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    ToolRule,
    Usage,
)

log = logging.getLogger(__name__)

HEARTBEAT_TYPES = (AgentType.MEMGPT, AgentType.MEMGPT_V2)
INTERRUPTED = (
    "This tool call was interrupted before it returned (the server stopped mid-step). "
    "It may not have taken effect; check before relying on it."
)

CANCELLED_MID_STEP = (
    "The run was cancelled while the model was answering; nothing it asked for was done."
)


@dataclass
class LoopConfig:
    max_steps: int = 50
    max_retries: int = 3
    retry_base_delay: float = 1.0
    retry_max_delay: float = 20.0
    max_compaction_retries: int = 3
    memory_warning_threshold: float = 0.75
    compaction_trigger: float = 0.9
    tool_timeout: float = 60.0
    # Identical (tool, arguments) calls in one turn before the loop guard answers
    # instead of running the tool, and before it stops the turn.
    repeat_warn_after: int = 3
    repeat_stop_after: int = 5
    token_streaming: bool = True
    # "refuse": a block edit that cannot fit the window is a tool error; "warn": allowed.
    block_window_policy: str = "refuse"


@dataclass
class _StepOutcome:
    messages: list[Message] = field(default_factory=list)
    go_on: bool = False
    stop: StopReason | None = None
    error: str | None = None
    error_type: str | None = None


class AgentLoop:
    def __init__(
        self,
        *,
        agent: AgentState,
        store: TurnStore,
        provider: Provider,
        run_id: str,
        config: LoopConfig | None = None,
        emit: Emit | None = None,
        summarizer: Provider | None = None,
        summarizer_model: str | None = None,
        now: Any = None,
    ) -> None:
        self.agent = agent
        self.store = store
        self.provider = provider
        self.run_id = run_id
        self.config = config or LoopConfig()
        self.emit: Emit = emit or (lambda event: None)
        self.counter = counter_for(agent.model)
        self.now = now or (lambda: datetime.now(UTC))
        self.rules = ToolRulesSolver(self._effective_rules())
        self.compactor = Compactor(
            agent=agent,
            store=store,
            provider=summarizer or provider,
            model=summarizer_model or agent.model,
            counter=self.counter,
            emit=self.emit,
            now=self.now,
        )
        self.compactor.after = lambda: self._refresh_system(force=True)
        self.usage = Usage()
        # Our tokenizer is exact for OpenAI models; for providers with a count
        # API (Anthropic, Gemini) one call per turn calibrates it, so pressure
        # and compaction decisions use their real token counts.
        self.token_scale = 1.0
        self._calibrated = False
        self.steps = 0
        self.added: list[Message] = []
        self._call_counts: dict[tuple[str, str], int] = {}
        self._told_window_full = False

    # --- public entry -----------------------------------------------------------

    def run(
        self, inputs: list[Message], approvals: list[ApprovalDecision] | None = None
    ) -> TurnResult:
        pending = self.pending_approval()
        if pending and not approvals:
            names = ", ".join(c.name for c in pending[1])
            raise TurnInputError(
                f"The agent is waiting for approval of {names}; send an approval "
                "(approve or deny) before a new message."
            )
        if approvals:
            if not pending:
                raise TurnInputError("No tool call is waiting for approval.")
            waiting = {c.id for c in pending[1]}
            given = {d.tool_call_id for d in approvals}
            if given != waiting:
                raise TurnInputError(
                    f"Approvals must answer exactly the waiting tool call ids: "
                    f"{', '.join(sorted(waiting))}."
                )
        self._repair_orphans(pending_ok=bool(approvals))
        if inputs:
            for message in inputs:
                message.run_id = self.run_id
            self._persist(inputs)
        if approvals:
            outcome = self._resolve_approvals(approvals)
            if not outcome.go_on:
                return self._result(outcome.stop or StopReason.END_TURN, outcome.error)
        return self._loop()

    # --- the loop -------------------------------------------------------------------

    def _loop(self) -> TurnResult:
        for index in range(self.config.max_steps):
            if self.store.is_cancelled(self.run_id):
                return self._result(StopReason.CANCELLED, "The run was cancelled.")
            self._refresh_system()
            overflow = self._system_overflow()
            if overflow:
                return self._result(
                    StopReason.CONTEXT_WINDOW_OVERFLOW_IN_SYSTEM_PROMPT,
                    overflow,
                    error_type="system_prompt_overflow",
                )
            if index == 0:
                self._calibrate(self._build_request(False))
            self._relieve_pressure()
            last_step = index == self.config.max_steps - 1
            outcome = self._step(last_step)
            if outcome.stop is not None:
                return self._result(outcome.stop, outcome.error, error_type=outcome.error_type)
            if not outcome.go_on:
                return self._result(StopReason.END_TURN)
        return self._result(
            StopReason.MAX_STEPS, f"The turn reached its limit of {self.config.max_steps} steps."
        )

    def _step(self, last_step: bool) -> _StepOutcome:
        started = time.monotonic_ns()
        step = StepRecord(
            id=self.store.new_step_id(),
            run_id=self.run_id,
            provider=self.agent.provider,
            model=self.agent.model,
            handle=self.agent.handle,
            context_window=self.agent.context_window,
        )
        blocked = self.rules.blocked_reason()
        if blocked:
            return _StepOutcome(
                stop=StopReason.TOOL_RULE, error=f"No tool may be called: {blocked}."
            )
        request = self._build_request(last_step)
        assistant_id = self.store.new_message_id()

        try:
            response = self._call_model(request, step, assistant_id)
            # Checked once more before any tool runs: a Stop that landed after
            # the last poll of the stream still wins, and the answer is dropped.
            if response.message.tool_calls and self._cancel_requested():
                raise CallCancelled("The run was cancelled before the model's tool calls ran.")
        except CallCancelled as exc:
            return self._cancelled_step(step, started, str(exc))
        except ProviderError as exc:
            step.status, step.error_type = "failed", exc.kind
            step.error_data = {
                "message": exc.message,
                "status": exc.status,
                "provider": exc.provider,
            }
            step.step_ns = time.monotonic_ns() - started
            self.store.record_failed_step(self.agent, step)
            self.emit(StepEvent(step))
            stop = (
                StopReason.INVALID_LLM_RESPONSE
                if exc.kind in ("invalid_response", "empty_response")
                else StopReason.LLM_API_ERROR
            )
            return _StepOutcome(stop=stop, error=exc.message, error_type=exc.kind)

        self.steps += 1
        assistant = response.message
        assistant.id = assistant_id
        assistant.kind = MessageKind.ASSISTANT
        assistant.model = self.agent.model
        assistant.step_id = step.id
        assistant.run_id = self.run_id
        outcome = _StepOutcome(messages=[assistant])

        tool_started = time.monotonic_ns()
        with self.store.atomic():
            if assistant.tool_calls:
                # Lock this agent's blocks and read their current values, so a person
                # editing a shared block meanwhile is neither overwritten nor lost.
                # A plain reply touches no block and needs no lock.
                self.store.lock_blocks(self.agent)
            ctx = self._tool_context()
            if self.agent.agent_type in HEARTBEAT_TYPES:
                self._memgpt_step(assistant, response, ctx, outcome, last_step)
            else:
                self._v1_step(assistant, response, ctx, outcome, last_step)
            step.tool_ns = time.monotonic_ns() - tool_started
            step.step_ns = time.monotonic_ns() - started
            step.stop_reason = (
                outcome.stop.value
                if outcome.stop
                else ("" if outcome.go_on else StopReason.END_TURN.value)
            )
            self._commit(step, outcome, ctx)
        self.emit(StepEvent(step))
        return outcome

    def _cancelled_step(self, step: StepRecord, started: int, why: str) -> _StepOutcome:
        """A step stopped by a cancel mid-call: recorded, and nothing the model
        asked for is done."""
        step.status, step.error_type = "failed", "cancelled"
        step.error_data = {"message": why}
        step.step_ns = time.monotonic_ns() - started
        self.store.record_failed_step(self.agent, step)
        self.emit(StepEvent(step))
        return _StepOutcome(stop=StopReason.CANCELLED, error=CANCELLED_MID_STEP)

    def _cancel_requested(self) -> bool:
        return self.store.is_cancelled(self.run_id)

    def _wait_before_retry(self, delay: float) -> None:
        """Sleep before a retry, but give up at once if the run is cancelled."""
        deadline = time.monotonic() + max(0.0, delay)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, POLL_SECONDS))
            if self._cancel_requested():
                raise CallCancelled("The run was cancelled while waiting to retry the model.")

    # --- calling the model ---------------------------------------------------

    def _build_request(self, last_step: bool) -> LLMRequest:
        available = self.agent.tool_names
        allowed = self.rules.allowed_tools(available)
        heartbeat = self.agent.agent_type in HEARTBEAT_TYPES
        schemas = []
        for name in allowed:
            tool = self.agent.tool(name)
            if tool is None:
                continue
            schema = tool.schema
            if heartbeat and not self.rules.is_terminal(name):
                schema = with_request_heartbeat(schema)
            schemas.append(schema)
        forced = self.rules.should_force(allowed)
        if forced:
            choice = forced
        elif not schemas:
            choice = "none"
        elif heartbeat:
            choice = "required"  # memgpt agents act only through tools
        else:
            choice = "auto"
        settings = self.agent.settings
        if heartbeat or self.agent.tool_rules:
            # Rules and heartbeats reason about one call at a time.
            settings = replace(settings, parallel_tool_calls=False)
        return LLMRequest(
            model=self.agent.model,
            messages=list(self.agent.messages),
            tools=schemas,
            tool_choice=choice,
            settings=settings,
        )

    def _call_model(self, request: LLMRequest, step: StepRecord, assistant_id: str) -> LLMResponse:
        retries = 0
        compactions = 0
        while True:

            def forward(event: StreamEvent) -> None:
                if self.config.token_streaming:
                    self.emit(DeltaEvent(message_id=assistant_id, step_id=step.id, event=event))

            t0 = time.monotonic_ns()
            try:
                response = self.provider.complete(
                    request, on_event=forward, cancelled=self._cancel_requested
                )
            except ContextWindowExceeded:
                step.llm_ns += time.monotonic_ns() - t0
                if compactions >= self.config.max_compaction_retries:
                    raise
                compactions += 1
                if not self.compactor.compact(trigger="context_overflow", force=True):
                    raise
                request.messages = list(self.agent.messages)
                continue
            except ProviderError as exc:
                step.llm_ns += time.monotonic_ns() - t0
                step.request = (
                    self.provider.build_payload(request) if step.request is None else step.request
                )
                if not exc.retryable or retries >= self.config.max_retries:
                    raise
                retries += 1
                delay = min(
                    self.config.retry_max_delay,
                    exc.retry_after
                    if exc.retry_after is not None
                    else self.config.retry_base_delay * (2 ** (retries - 1)),
                )
                log.warning(
                    "%s failed (%s), retry %d in %.1fs", self.agent.handle, exc.kind, retries, delay
                )
                self._wait_before_retry(delay)
                continue
            step.llm_ns += time.monotonic_ns() - t0
            step.request = response.raw_request
            step.response = response.raw_response
            step.usage = response.usage
            self.usage.add(response.usage)
            return response

    # --- handling the answer -------------------------------------------------------

    def _memgpt_step(
        self,
        assistant: Message,
        response: LLMResponse,
        ctx: ToolContext,
        outcome: _StepOutcome,
        last_step: bool,
    ) -> None:
        calls = assistant.tool_calls
        if not calls:
            # A memgpt agent must act through a tool. Tell it once; if it keeps
            # answering in plain text the turn ends with no_tool_call.
            already_told = any(
                m.kind == MessageKind.HEARTBEAT and m.meta.get("no_tool_call") for m in self.added
            )
            if already_told or last_step:
                outcome.stop = StopReason.NO_TOOL_CALL
                outcome.error = "The model answered without calling a tool."
                return
            outcome.messages.append(
                self._heartbeat(
                    "[This is an automated system message hidden from the user] You replied without calling "
                    "a tool. Your text is private; to talk to the user call send_message.",
                    meta={"no_tool_call": True},
                )
            )
            outcome.go_on = True
            return
        # One call per step for heartbeat agents; extra parallel calls are dropped
        # from the stored message so history never holds calls without results.
        call = calls[0]
        assistant.content = [
            p for p in assistant.content if not isinstance(p, ToolCallPart) or p is call
        ]
        result = self._execute_call(call, ctx, assistant, outcome)
        if result is None:  # paused for approval
            return
        ok, requested_heartbeat, name = result
        decision, reason = self._decide_heartbeat(name, ok, requested_heartbeat, last_step)
        if decision == "stop_max":
            outcome.stop = StopReason.MAX_STEPS
            outcome.error = f"The turn reached its limit of {self.config.max_steps} steps."
        elif decision == "continue":
            outcome.messages.append(self._heartbeat(reason))
            outcome.go_on = True
        else:
            outcome.go_on = False
            if requested_heartbeat and self.rules.is_terminal(name):
                outcome.stop = StopReason.TOOL_RULE

    def _decide_heartbeat(
        self, name: str, ok: bool, requested: bool, last_step: bool
    ) -> tuple[str, str]:
        reason = prompts.HEARTBEAT_REQUESTED
        go_on = requested
        if not ok:
            go_on, reason = True, prompts.HEARTBEAT_TOOL_FAILED
        elif self.rules.is_terminal(name):
            go_on = False
        elif self.rules.has_child_rules(name):
            go_on, reason = True, prompts.HEARTBEAT_CHILD_RULE
        elif self.rules.is_continue(name):
            go_on, reason = True, prompts.HEARTBEAT_CONTINUE_RULE
        if not go_on:
            missing = self.rules.uncalled_required_tools()
            if missing:
                go_on, reason = True, prompts.heartbeat_required_tools(missing)
        if go_on and last_step:
            return "stop_max", ""
        return ("continue" if go_on else "stop"), reason

    def _v1_step(
        self,
        assistant: Message,
        response: LLMResponse,
        ctx: ToolContext,
        outcome: _StepOutcome,
        last_step: bool,
    ) -> None:
        calls = assistant.tool_calls
        if not calls:
            missing = self.rules.uncalled_required_tools()
            if missing and not last_step:
                outcome.messages.append(self._heartbeat(prompts.heartbeat_required_tools(missing)))
                outcome.go_on = True
                return
            if response.finish_reason == "length":
                outcome.stop = StopReason.MAX_TOKENS_EXCEEDED
                outcome.error = "The model hit its output token limit before finishing."
            outcome.go_on = False
            return
        any_terminal = False
        for call in calls:
            result = self._execute_call(call, ctx, assistant, outcome)
            if result is None:  # paused for approval; later calls wait too
                skipped = calls[calls.index(call) + 1 :]
                for later in skipped:
                    outcome.messages.append(
                        self._tool_message(
                            later,
                            False,
                            "Not run: an earlier tool call in this step is waiting for approval.",
                        )
                    )
                return
            any_terminal = any_terminal or self.rules.is_terminal(result[2])
        if any_terminal:
            outcome.go_on = False
            return
        if last_step:
            outcome.stop = StopReason.MAX_STEPS
            outcome.error = f"The turn reached its limit of {self.config.max_steps} steps."
            return
        outcome.go_on = True

    def _execute_call(
        self, call: ToolCallPart, ctx: ToolContext, assistant: Message, outcome: _StepOutcome
    ) -> tuple[bool, bool, str] | None:
        """Run one call. Returns (ok, requested_heartbeat, name), or None when the
        call now waits for a human's approval (the turn stops)."""
        name = call.name
        try:
            args = parse_arguments(call.arguments)
        except ToolError as exc:
            self.rules.register_call(name, None)
            outcome.messages.append(self._tool_message(call, False, str(exc)))
            return False, True, name
        requested = _pop_heartbeat(args)
        prefilled = self.rules.init_args(name)
        if prefilled:
            args.update(prefilled)

        tool = self.agent.tool(name)
        allowed = self.rules.allowed_tools(self.agent.tool_names)
        if tool is None:
            error = (
                f"[ToolConstraintError] There is no tool named {name!r}. "
                f"Available tools: {', '.join(allowed) or '(none)'}."
            )
            self.rules.register_call(name, None)
            outcome.messages.append(self._tool_message(call, False, error))
            return False, True, name
        if name not in allowed:
            error = (
                f"[ToolConstraintError] {name} may not be called now because of the tool rules. "
                f"Allowed now: {', '.join(allowed)}."
            )
            outcome.messages.append(self._tool_message(call, False, error))
            return False, True, name

        key = (name, json.dumps(args, sort_keys=True, default=str))
        repeats = self._call_counts.get(key, 0) + 1
        self._call_counts[key] = repeats
        if repeats >= self.config.repeat_stop_after:
            outcome.messages.append(
                self._tool_message(call, False, "Stopped: identical call repeated.")
            )
            outcome.stop = StopReason.INVALID_TOOL_CALL
            outcome.error = (
                f"Loop guard: {name} was called {repeats} times in one turn with identical "
                "arguments; the turn was stopped."
            )
            return None
        if repeats >= self.config.repeat_warn_after:
            self.rules.register_call(name, None)
            outcome.messages.append(
                self._tool_message(
                    call,
                    False,
                    (
                        f"You already called {name} with exactly these arguments {repeats - 1} times in this turn "
                        "and got the result above. Do not repeat it: use the result, change the arguments, "
                        "or reply to the user."
                    ),
                )
            )
            return False, True, name

        if self.rules.requires_approval(name) and not assistant.meta.get("approved"):
            assistant.meta["approval_pending"] = [call.id]
            outcome.stop = StopReason.REQUIRES_APPROVAL
            return None

        result = run_tool(tool, args, ctx, self.agent, self.config.tool_timeout)
        self.rules.register_call(name, result.output if result.ok else None)
        outcome.messages.append(
            self._tool_message(call, result.ok, result.output, result.stdout, result.stderr)
        )
        return result.ok, requested, name

    # --- approvals ---------------------------------------------------------------------

    def pending_approval(self) -> tuple[Message, list[ToolCallPart]] | None:
        """The assistant message whose tool call(s) wait for a human, if any."""
        answered = {p.tool_call_id for m in self.agent.messages for p in m.tool_returns}
        for message in reversed(self.agent.messages):
            pending = message.meta.get("approval_pending") if message.role == "assistant" else None
            if pending:
                calls = [c for c in message.tool_calls if c.id in pending and c.id not in answered]
                return (message, calls) if calls else None
        return None

    def _resolve_approvals(self, decisions: list[ApprovalDecision]) -> _StepOutcome:
        found = self.pending_approval()
        assert found is not None  # checked in run()
        assistant, calls = found
        by_id = {d.tool_call_id: d for d in decisions}
        outcome = _StepOutcome()
        last: tuple[bool, bool, str] | None = None
        with self.store.atomic():
            self.store.lock_blocks(self.agent)
            ctx = self._tool_context()
            assistant.meta["approved"] = True
            for call in calls:
                decision = by_id[call.id]
                if decision.approve:
                    last = self._execute_call(call, ctx, assistant, outcome)
                else:
                    reason = decision.reason or "no reason given"
                    outcome.messages.append(
                        self._tool_message(
                            call, False, f"The user denied this tool call. Their reason: {reason}"
                        )
                    )
                    self.rules.register_call(call.name, None)
                    last = (False, True, call.name)
            assistant.meta.pop("approved", None)
            self._commit(None, outcome, ctx)
        if outcome.stop is not None:
            return outcome
        if self.agent.agent_type in HEARTBEAT_TYPES and last is not None:
            decision_kind, reason = self._decide_heartbeat(last[2], last[0], last[1], False)
            if decision_kind != "continue":
                return outcome
            self._persist([self._heartbeat(reason)])
        outcome.go_on = True
        return outcome

    # --- memory housekeeping -----------------------------------------------------------

    def _effective_rules(self) -> list[ToolRule]:
        return effective_rules(self.agent)

    def _refresh_system(self, force: bool = False) -> None:
        refresh_system(self.agent, self.store, self.now(), run_id=self.run_id, force=force)

    def _base_tokens(self) -> int:
        system = self.agent.messages[0] if self.agent.messages else None
        tools = [t.schema for t in self.agent.tools]
        return (self.counter.count_message(system) if system else 0) + self.counter.count_tools(
            tools
        )

    def _system_overflow(self) -> str | None:
        base = self._base_tokens()
        if base >= self.agent.context_window:
            return (
                f"The system prompt, core memory and tool schemas alone take {base} tokens, more than "
                f"the {self.agent.context_window}-token context window. Shorten memory blocks, detach "
                "tools or raise the context window limit."
            )
        return None

    def context_tokens(self) -> int:
        estimate = self._base_tokens() + self.counter.count_messages(self.agent.messages[1:])
        return int(estimate * self.token_scale)

    def _calibrate(self, request: LLMRequest) -> None:
        if self._calibrated:
            return
        self._calibrated = True
        exact = self.provider.count_tokens(request)
        estimate = self._base_tokens() + self.counter.count_messages(self.agent.messages[1:])
        if exact and estimate:
            # Bounded: a wildly different count means the API counted something else.
            self.token_scale = min(2.0, max(0.5, exact / estimate))

    def _relieve_pressure(self) -> None:
        window = self.agent.context_window
        used = self.context_tokens()
        if used > self.config.compaction_trigger * window:
            self.compactor.compact(trigger="threshold")
            self._tell_if_still_full()
            return
        if (
            used > self.config.memory_warning_threshold * window
            and not self._warned_since_summary()
        ):
            alert = Message(
                role="user",
                kind=MessageKind.SYSTEM_ALERT,
                content=[
                    TextPart(
                        prompts.system_alert_envelope(
                            prompts.memory_pressure_warning(self.agent.tool_names),
                            self.now(),
                            self.agent.timezone,
                        )
                    )
                ],
                id=self.store.new_message_id(),
                created_at=self.now(),
                run_id=self.run_id,
                meta={"memory_pressure": True, "context_tokens": used, "context_window": window},
            )
            self._persist([alert])

    def _tell_if_still_full(self) -> None:
        """Compaction only summarizes messages: when the fixed part of the prompt
        (instructions, blocks, tools) keeps the window over the compaction mark,
        say so, once a turn, to the agent and — through the chat — to the user."""
        window = self.agent.context_window
        used = self.context_tokens()
        if self._told_window_full or used <= self.config.compaction_trigger * window:
            return
        self._told_window_full = True
        fixed = int(self._base_tokens() * self.token_scale)
        note = prompts.window_full_note(fixed=fixed, used=used, window=window)
        alert = Message(
            role="user",
            kind=MessageKind.SYSTEM_ALERT,
            content=[
                TextPart(prompts.system_alert_envelope(note, self.now(), self.agent.timezone))
            ],
            id=self.store.new_message_id(),
            created_at=self.now(),
            run_id=self.run_id,
            meta={
                "window_full": True,
                "context_tokens": used,
                "fixed_tokens": fixed,
                "context_window": window,
            },
        )
        self._persist([alert])

    def _block_too_big(self, label: str, old_value: str, new_value: str) -> str | None:
        fit = block_fit(
            label=label,
            old_value=old_value,
            new_value=new_value,
            prompt_tokens=self._base_tokens(),
            window=self.agent.context_window,
            counter=self.counter,
        )
        return None if fit.fits else fit.refusal()

    def _warned_since_summary(self) -> bool:
        return any(
            m.kind == MessageKind.SYSTEM_ALERT and m.meta.get("memory_pressure")
            for m in self.agent.messages
        )

    def _repair_orphans(self, pending_ok: bool) -> None:
        """A turn that died between a tool call and its result leaves a call with
        no answer in the window, which providers reject forever after (Letta
        #3250). Answer such calls with an 'interrupted' result before going on."""
        window = self.agent.messages
        answered = {p.tool_call_id for m in window for p in m.tool_returns}
        repaired: list[Message] = []
        rebuilt: list[Message] = []
        for message in window:
            rebuilt.append(message)
            if message.role != "assistant" or not message.tool_calls:
                continue
            pending = set(message.meta.get("approval_pending") or [])
            for call in message.tool_calls:
                if call.id in answered or (pending_ok and call.id in pending):
                    continue
                fix = self._tool_message(call, False, INTERRUPTED)
                fix.run_id = self.run_id
                repaired.append(fix)
                rebuilt.append(fix)
        if repaired:
            self.agent.messages = rebuilt
            self.store.save_messages(self.agent, repaired)
            self.added.extend(repaired)

    # --- building and persisting messages -----------------------------------------------

    def _tool_context(self) -> ToolContext:
        return ToolContext(
            agent_id=self.agent.id,
            blocks={b.label: b for b in self.agent.blocks},
            backend=self.store.backend,
            timezone=self.agent.timezone,
            enforce_block_limits=self.agent.enforce_block_limits,
            block_too_big=(
                self._block_too_big if self.config.block_window_policy == "refuse" else None
            ),
            now=self.now(),
        )

    def _tool_message(
        self,
        call: ToolCallPart,
        ok: bool,
        text: str,
        stdout: list[str] | None = None,
        stderr: list[str] | None = None,
    ) -> Message:
        envelope = prompts.tool_result_envelope(
            "OK" if ok else "Failed", text, self.now(), self.agent.timezone
        )
        part = ToolReturnPart(
            tool_call_id=call.id,
            name=call.name,
            content=envelope,
            status="success" if ok else "error",
            stdout=stdout,
            stderr=stderr,
        )
        return Message(
            role="tool",
            kind=MessageKind.TOOL,
            content=[part],
            id=self.store.new_message_id(),
            name=call.name,
            created_at=self.now(),
            run_id=self.run_id,
            is_err=not ok,
            meta={"raw": text[:2000]} if not ok else {},
        )

    def _heartbeat(self, reason: str, meta: dict[str, Any] | None = None) -> Message:
        return Message(
            role="user",
            kind=MessageKind.HEARTBEAT,
            content=[TextPart(prompts.heartbeat_envelope(reason, self.now(), self.agent.timezone))],
            id=self.store.new_message_id(),
            created_at=self.now(),
            run_id=self.run_id,
            meta=meta or {},
        )

    def _persist(self, messages: list[Message]) -> None:
        for message in messages:
            message.id = message.id or self.store.new_message_id()
            message.created_at = message.created_at or self.now()
        self.agent.messages.extend(messages)
        self.store.save_messages(self.agent, messages)
        self.added.extend(messages)
        for message in messages:
            self.emit(MessageEvent(message))

    def _commit(self, step: StepRecord | None, outcome: _StepOutcome, ctx: ToolContext) -> None:
        for message in outcome.messages:
            message.step_id = step.id if step else message.step_id
            message.run_id = self.run_id
            message.created_at = message.created_at or self.now()
        # Blocks edited (or created by memory_rethink) during this step.
        labels = set(ctx.changed_blocks)
        known = {b.label for b in self.agent.blocks}
        for label, block in ctx.blocks.items():
            if label not in known:
                self.agent.blocks.append(block)
                labels.add(label)
        changed = [b for b in self.agent.blocks if b.label in labels]
        self.agent.messages.extend(outcome.messages)
        self.store.commit_step(self.agent, step, outcome.messages, changed)
        self.added.extend(outcome.messages)
        for message in outcome.messages:
            self.emit(MessageEvent(message))

    def _result(
        self, stop: StopReason, error: str | None = None, *, error_type: str | None = None
    ) -> TurnResult:
        return TurnResult(
            run_id=self.run_id,
            messages=list(self.added),
            stop_reason=stop,
            usage=self.usage,
            step_count=self.steps,
            error=error,
            error_type=error_type,
        )


def effective_rules(agent: AgentState) -> list[ToolRule]:
    """The agent's own rules plus Letta's defaults for base tools it did not rule on."""
    rules = list(agent.tool_rules)
    ruled = {r.tool_name for r in rules}
    for default in default_base_tool_rules(agent.agent_type, agent.tool_names):
        if default.tool_name not in ruled:
            rules.append(default)
    return rules


def build_compile_input(agent: AgentState) -> CompileInput:
    # Anthropic models on the line-editing agent types get numbered value lines.
    line_numbers = agent.provider == "anthropic" and agent.agent_type in (
        AgentType.MEMGPT_V2,
        AgentType.LETTA_V1,
    )
    return CompileInput(
        agent_id=agent.id,
        agent_type=agent.agent_type,
        system_template=agent.system_template,
        blocks=agent.blocks,
        tools=agent.tools,
        tool_rules=effective_rules(agent),
        stats=agent.stats,
        timezone=agent.timezone,
        line_numbers=line_numbers,
        directories=agent.directories,
    )


def refresh_system(
    agent: AgentState,
    store: TurnStore,
    now: datetime,
    *,
    run_id: str | None = None,
    force: bool = False,
) -> bool:
    """Rebuild the system message only when what it shows changed, so the
    provider's prompt cache stays warm across steps and turns. Returns whether
    it was rebuilt. The compiled sections ride along in the message's meta for
    the context-window overview."""
    fingerprint = system_fingerprint(build_compile_input(agent))
    if not force and fingerprint == agent.fingerprint and agent.messages:
        return False
    agent.stats = store.refresh_stats(agent)
    agent.stats.last_recompiled = now
    compiled = compile_system(build_compile_input(agent))
    system = Message(
        role="system",
        kind=MessageKind.SYSTEM,
        content=[TextPart(compiled.text)],
        id=store.new_message_id(),
        created_at=now,
        run_id=run_id,
        meta={"sections": compiled.sections},
    )
    store.save_system(agent, system, fingerprint)
    return True


def _pop_heartbeat(args: dict[str, Any]) -> bool:
    value = args.pop("request_heartbeat", False)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
