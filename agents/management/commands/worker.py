"""manage.py worker: execute runs queued by /v1/agents/{id}/messages/async and
background jobs (uploaded files, re-embeddings: run the web processes with
ADE_JOBS=worker to leave those to workers).

Run as many as you like, in any processes or machines sharing the database:
each queued run and job is claimed by exactly one of them, and a job whose
worker died is taken over by another (memory/services/jobs.py).
"""

import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from agents.startup import DatabaseNotReady, wait_for_database
from memory.services.worker import job_run_once, worker_loop


class Command(BaseCommand):
    help = "Work off queued background runs and jobs until interrupted."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="Seconds to wait when the queues are empty (default ADE_WORKER_POLL_SECONDS).",
        )

    def handle(self, *args, poll=None, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            wait_for_database(settings.DB_WAIT_SECONDS, say=self.stdout.write)
        except DatabaseNotReady as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            sys.exit(2)
        self.stdout.write("Worker started; waiting for queued runs and jobs.")
        self.stdout.flush()
        worker_loop(stop=stop, poll=poll, jobs=job_run_once)
        self.stdout.write("Worker stopped.")
