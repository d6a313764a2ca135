"""The connection pool (on by default) must not keep a session's advisory
locks alive once the connection is handed back: a request that died holding
an agent's turn lock would otherwise lock that agent out for good."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn):
    out: list = []

    def run():
        try:
            out.append(fn())
        finally:
            connection.close()  # hands the connection back to the pool

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out[0]


def _take_lock_and_leave():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(4242)")
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _try_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(4242)")
        got = cursor.fetchone()[0]
        if got:
            cursor.execute("SELECT pg_advisory_unlock(4242)")
        return got


def test_the_pool_is_on_by_default():
    assert connection.settings_dict["OPTIONS"].get("pool"), "ADE_DB_POOL should default to on"
    assert connection.pool is not None


def test_a_connection_handed_back_holds_no_advisory_lock():
    _in_thread(_take_lock_and_leave)
    # Whichever pooled session answers now (the same one or another), the lock is free.
    assert _in_thread(_try_lock) is True
    assert _try_lock() is True
