"""`make run`: migrate, seed the demo environment on first run, print the demo login, serve."""

import signal
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, seed demo data on first run, and serve the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--profiles", type=int, default=2000)

    def handle(self, *args, host: str, port: str, profiles: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        call_command("seed_demo", if_empty=True, profiles=profiles, events=profiles * 10)
        self.stdout.write(self.style.SUCCESS(f"\nHark is starting on http://{host}:{port}/"))
        # One process, no autoreloader: Ctrl-C (even when started in the background, where the
        # shell ignores SIGINT) and SIGTERM end it through a normal exit, so the embedded
        # database is stopped by its exit handler instead of being left running.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        call_command("runserver", f"{host}:{port}", use_reloader=False)
