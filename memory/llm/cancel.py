"""Abandoning a model call whose run was cancelled.

The provider's stream is read on a thread of its own; the caller's thread takes
the events from a queue and, about every `poll` seconds (whether events are
flowing or the provider is still silent), asks `cancelled()` whether to stop.
`cancelled` is the caller's (the loop reads the run's flag in Postgres, where a
cancel from any web process lands), and it is only called from the caller's
thread, so a database connection is never shared across threads.

On cancellation the caller returns at once. The reader closes the stream (and
its HTTP connection) as soon as its blocking read returns — at the next chunk,
or when the request times out if the provider is silent — and drops the rest.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from memory.llm.errors import CallCancelled

POLL_SECONDS = 0.25

_END = object()


def cancellable(
    events: Iterator[Any], cancelled: Callable[[], bool], *, poll: float = POLL_SECONDS
) -> Iterator[Any]:
    """Yield what `events` yields; raise CallCancelled once `cancelled()` says so."""
    inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
    abandon = threading.Event()

    def read() -> None:
        try:
            for event in events:
                if abandon.is_set():
                    break
                inbox.put(("event", event))
            inbox.put(("end", _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            inbox.put(("error", exc))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    threading.Thread(target=read, name="llm-call", daemon=True).start()
    checked = time.monotonic()
    try:
        while True:
            wait = max(0.0, checked + poll - time.monotonic())
            try:
                kind, item = inbox.get(timeout=wait)
            except queue.Empty:
                kind, item = "idle", None
            if time.monotonic() - checked >= poll:
                if cancelled():
                    raise CallCancelled("The run was cancelled while the model was answering.")
                checked = time.monotonic()
            if kind == "event":
                yield item
            elif kind == "end":
                return
            elif kind == "error":
                raise item
    finally:
        # Returned, raised, cancelled or closed by the consumer: the reader stops.
        abandon.set()
