"""Start the ADE the way `make run` and the container do: wait for the
database, create pgvector when allowed, migrate, make sure an admin exists,
collect static files, start the background worker thread, then serve ASGI
with uvicorn."""

from __future__ import annotations

import fcntl
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from agents.services.accounts import AdminStart, admin_ensure
from agents.startup import DatabaseNotReady, ensure_vector_extension, wait_for_database
from memory.llm.registry import configured_provider_names
from memory.services.base_tools import base_tools_sync
from memory.services.jobs import jobs_mode, kick
from memory.services.providers import provider_config
from memory.services.worker import wake_inprocess_worker


class Command(BaseCommand):
    help = "Prepare the database, create the first admin, and serve the ADE."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--check-only",
            action="store_true",
            help="Prepare the database and admin, then exit without serving.",
        )

    def handle(self, *args, host: str, port: int, check_only: bool, **options):
        try:
            wait_for_database(settings.DB_WAIT_SECONDS, say=self.stdout.write)
            admin = self._prepare_database()
        except DatabaseNotReady as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            sys.exit(2)
        self._say_admin(admin)
        self._say_providers()
        if check_only:
            self.stdout.write("Database ready.")
            return
        self._collect_static()
        self._start_background_work()
        self.stdout.write(f"ADE serving on http://{host}:{port}/  (admin: /admin/, API: /v1/docs)")
        sys.stdout.flush()
        self._serve(host, port)

    def _serve(self, host: str, port: int) -> None:
        """uvicorn with uvloop and httptools: per request it costs a fraction of
        the CPU daphne/Twisted did (measured in bench/server_overhead.py), which
        on two cores is the difference between the server and the model being
        the bottleneck. Forwarded headers are trusted from FORWARDED_ALLOW_IPS
        (default: any peer, as behind a reverse proxy or a container network)."""
        # Imported here: only serving needs the server (manage.py's other commands do not).
        import uvicorn

        uvicorn.run(
            "ade.asgi:application",
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "*"),
            log_level=os.environ.get("ADE_LOG_LEVEL", "INFO").lower(),
            access_log=os.environ.get("ADE_ACCESS_LOG", "1").lower()
            not in ("0", "false", "no", "off"),
            timeout_graceful_shutdown=10,
        )

    def _prepare_database(self):
        """One transaction under a transaction-scoped advisory lock: replicas
        starting together migrate one after the other (the rest find nothing
        to do), and the lock cannot outlive the transaction behind a pooler."""
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('ade.serve.prepare', 0))"
                )
            ensure_vector_extension()
            call_command("migrate", interactive=False, verbosity=0)
            base_tools_sync()
            return admin_ensure()

    def _say_admin(self, admin: AdminStart) -> None:
        name = admin.user.username
        if admin.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"\nCreated the admin user {name!r} with the password: "
                    f"{admin.generated_password}\nIt is shown only this once. Lost it? Start again "
                    "with ADE_ADMIN_PASSWORD=<new password>, or run "
                    f"`python manage.py changepassword {name}`.\n"
                )
            )
        elif admin.password_reset:
            self.stdout.write(
                self.style.WARNING(
                    f"The password of the admin {name!r} was set from ADE_ADMIN_PASSWORD."
                )
            )

    def _say_providers(self) -> None:
        """A server with no model provider serves, but no agent can answer: say
        so where the person who started it is looking."""
        configured = configured_provider_names(provider_config())
        if configured:
            self.stdout.write(f"Model providers: {', '.join(configured)}.")
            return
        self.stdout.write(
            self.style.WARNING(
                "\nNo model provider is configured, so agents cannot answer yet. Either start with "
                "one of OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OLLAMA_BASE_URL or "
                "VLLM_API_BASE set, or add a provider with your own key in the ADE: "
                "Providers, at /providers/.\n"
            )
        )

    def _collect_static(self) -> None:
        """Copy static files to STATIC_ROOT for a proxy or CDN to serve. The app
        serves them from the source folders anyway (whitenoise finders), so a
        read-only data directory only earns a warning."""
        try:
            settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
            # Processes sharing a data directory would copy over each other.
            with open(settings.STATIC_ROOT.parent / ".collectstatic.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                call_command("collectstatic", interactive=False, verbosity=0)
        except OSError as exc:
            self.stderr.write(
                self.style.WARNING(f"Static files not collected ({exc}); serving them anyway.")
            )

    def _start_background_work(self) -> None:
        """Work queued before this start (or left by a process that died) is
        picked up now: the worker thread for runs, which also starts the jobs
        thread whenever jobs wait (ADE_JOBS=thread). With ADE_INPROCESS_WORKER
        off and ADE_JOBS=worker, `manage.py worker` processes do both."""
        if settings.INPROCESS_WORKER:
            wake_inprocess_worker()
        elif jobs_mode() == "thread":
            kick()
