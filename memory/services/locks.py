"""The turn lock: one turn per agent at a time, across threads and processes.

A Postgres advisory lock keyed by the agent id serializes turns, so a second
message waits its turn instead of failing with a 409 (Letta) or interleaving
writes (Letta without Redis). Session locks nest: a worker that claimed a run
under the lock can call message_send, which takes it again at once. Work that
must not wait (a prompt refresh, the worker looking for an idle agent, the
reaper) only takes it when it is free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_LOCK_SQL = "SELECT pg_advisory_lock(hashtextextended(%s, 0))"
_TRY_SQL = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"

_local_turn_locks: dict[str, threading.Lock] = {}
_local_turn_locks_guard = threading.Lock()


@contextmanager
def agent_turn_lock(agent_id: str) -> Iterator[None]:
    """Wait for the agent's lock and hold it for the block.

    Threads of this process queue on a local lock first, with their database
    connection handed back: each waiting on the advisory lock held one, so 30
    messages queued for one agent took the whole pool (tests/test_concurrent_sends.py),
    later requests failed after the pool timeout and every other request waited."""
    with _local_turn_locks_guard:
        local = _local_turn_locks.setdefault(agent_id, threading.Lock())
    if not local.acquire(blocking=False):
        if not connection.in_atomic_block:
            connection.close()  # back to the pool while we wait; reconnects after
        local.acquire()
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL, [agent_id])
        try:
            yield
        finally:
            agent_unlock(agent_id)
    finally:
        local.release()


def agent_try_lock(agent_id: str) -> bool:
    """Take the agent's lock if it is free; the caller must agent_unlock it."""
    with connection.cursor() as cursor:
        cursor.execute(_TRY_SQL, [agent_id])
        return bool(cursor.fetchone()[0])


def agent_unlock(agent_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_UNLOCK_SQL, [agent_id])


@contextmanager
def agent_lock_if_free(agent_id: str) -> Iterator[bool]:
    """Hold the agent's lock for the block if it is free; yields whether it was."""
    locked = agent_try_lock(agent_id)
    try:
        yield locked
    finally:
        if locked:
            agent_unlock(agent_id)
