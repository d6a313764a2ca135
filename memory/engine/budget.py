"""Whether a core-memory block can fit the model's context window.

Core memory is in the system prompt on every step, and compaction can only
summarize messages: a block that leaves no room beside the rest of the prompt
(the instructions, the other blocks, the tool schemas) makes every turn fail or
sit at a full window. Every writer asks this before a block grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from memory.engine.tokens import TokenCounter


@dataclass(frozen=True)
class BlockFit:
    label: str
    block_tokens: int
    rest_tokens: int  # the prompt without this block: system text, other blocks, tools
    window: int

    @property
    def fits(self) -> bool:
        return self.block_tokens + self.rest_tokens <= self.window

    def refusal(self, agent: str = "") -> str:
        whose = f" of agent {agent}" if agent else ""
        return (
            f"Block {self.label!r} would take {self.block_tokens:,} tokens; the rest of the prompt"
            f"{whose} (instructions, other blocks, tool schemas) takes {self.rest_tokens:,}, "
            f"and together that is over the model's {self.window:,}-token context window. "
            "Shorten the value, or keep long text in archival memory or a file."
        )


def block_fit(
    *,
    label: str,
    old_value: str,
    new_value: str,
    prompt_tokens: int,
    window: int,
    counter: TokenCounter,
) -> BlockFit:
    """`prompt_tokens` is the system message and tool schemas as they are now,
    with `old_value` (empty if the block is not in the prompt yet) in them."""
    old = counter.count_text(old_value) if old_value else 0
    return BlockFit(
        label=label,
        block_tokens=counter.count_text(new_value),
        rest_tokens=max(prompt_tokens - old, 0),
        window=window,
    )
