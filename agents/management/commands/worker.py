"""manage.py worker: execute runs queued by /v1/agents/{id}/messages/async.

Run as many as you like, in any processes or machines sharing the database:
each queued run is claimed by exactly one of them.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from memory.worker import worker_loop


class Command(BaseCommand):
    help = "Work off queued background runs until interrupted."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="Seconds to wait when the queue is empty (default ADE_WORKER_POLL_SECONDS).",
        )

    def handle(self, *args, poll=None, **options):
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("Worker started; waiting for queued runs.")
        worker_loop(stop=stop, poll=poll)
        self.stdout.write("Worker stopped.")
