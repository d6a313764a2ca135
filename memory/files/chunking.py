"""Text -> overlapping chunks of about `size` tokens, split at paragraph, then
line, then sentence, then word boundaries (a token is ~0.75 words here; exact
counts are not needed for retrieval)."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str, limit: int) -> list[str]:
    """Split into pieces of at most `limit` words, at the coarsest boundary that works."""
    if _words(text) <= limit:
        return [text]
    for splitter in (lambda t: re.split(r"\n\s*\n", t), lambda t: t.split("\n"), _SENTENCE.split):
        parts = [p for p in splitter(text) if p.strip()]
        if len(parts) > 1:
            return [piece for part in parts for piece in _pieces(part, limit)]
    words = text.split()
    return [" ".join(words[i : i + limit]) for i in range(0, len(words), limit)]


def chunk_text(text: str, size: int = 300, overlap: float = 0.15) -> list[str]:
    limit = max(int(size * 0.75), 20)
    back = int(limit * overlap)
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for piece in _pieces(text.strip(), limit):
        n = _words(piece)
        if current and count + n > limit:
            chunks.append("\n".join(current))
            # Carry the tail of this chunk into the next one.
            tail = " ".join(" ".join(current).split()[-back:]) if back else ""
            current, count = ([tail], _words(tail)) if tail else ([], 0)
        current.append(piece)
        count += n
    if current and (not chunks or count > back):
        chunks.append("\n".join(current))
    return [c.strip() for c in chunks if c.strip()]
