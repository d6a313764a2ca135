"""Start the ADE the way `make run` and the container do: check the database,
migrate, make sure an admin exists, then serve ASGI with daphne."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from agents.startup import DatabaseNotReady, ensure_vector_extension


class Command(BaseCommand):
    help = "Check the database, apply migrations, create the first admin, and serve the ADE."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--check-only", action="store_true",
                            help="Prepare the database and admin, then exit without serving.")

    def handle(self, *args, host: str, port: int, check_only: bool, **options):
        try:
            ensure_vector_extension()
        except DatabaseNotReady as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            sys.exit(2)
        call_command("migrate", interactive=False, verbosity=0)
        from agents.services import admin_ensure
        from memory.services import base_tools_sync

        base_tools_sync()
        user, generated = admin_ensure()
        if generated:
            self.stdout.write(self.style.WARNING(
                f"\nCreated the admin user {user.username!r} with the password: {generated}\n"
                "It is shown only this once. Set ADE_ADMIN_PASSWORD to choose your own.\n"
            ))
        if check_only:
            self.stdout.write("Database ready.")
            return
        if settings.INPROCESS_WORKER:
            # Pick up async runs queued before this start (and any that follow).
            from memory.worker import wake_inprocess_worker

            wake_inprocess_worker()
        self.stdout.write(f"ADE serving on http://{host}:{port}/  (admin: /admin/, API: /v1/docs)")
        sys.stdout.flush()
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(["-b", host, "-p", str(port), "--proxy-headers",
                                    "ade.asgi:application"])
