"""Start-up checks that must fail with a clear message rather than a traceback."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection
from django.db.utils import DatabaseError, OperationalError


class DatabaseNotReady(Exception):
    pass


def wait_for_database(seconds: float, *, say: Callable[[str], object] = print) -> None:
    """Retry connecting for up to `seconds`: containers started together (ADE
    and its Postgres) come up in any order. DatabaseNotReady past the deadline."""
    deadline = time.monotonic() + seconds
    told = False
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            connection.close()
            if time.monotonic() >= deadline:
                raise _unreachable(exc) from None
            if not told:
                reason = (str(exc).strip().splitlines() or ["no answer"])[0]
                say(f"Waiting up to {seconds:g}s for the database ({reason})…")
                told = True
            time.sleep(1.0)


def ensure_vector_extension() -> None:
    """Create pgvector if it is missing; if that is not allowed, explain the fix
    (managed databases such as Supabase need it enabled by an owner)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            if cursor.fetchone():
                return
            try:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except DatabaseError as exc:
                db = connection.settings_dict.get("NAME")
                raise DatabaseNotReady(
                    f"The database {db!r} does not have the pgvector extension, and this user may not "
                    f"create it ({str(exc).strip().splitlines()[0]}).\n"
                    "Connect as the database owner or a superuser and run:\n\n"
                    "    create extension vector;\n\n"
                    "(on Supabase: Database → Extensions → enable 'vector'), then start ADE again."
                ) from None
    except OperationalError as exc:
        raise _unreachable(exc) from None


def _unreachable(exc: Exception) -> DatabaseNotReady:
    return DatabaseNotReady(
        f"Cannot connect to the database: {str(exc).strip()}\n"
        "Check DATABASE_URL (or LETTA_PG_URI), or unset both to use the embedded PostgreSQL."
    )
