"""`make run`: migrate, seed the demo environment on first run, print the demo login, serve."""

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
        # One process, no autoreloader: Ctrl-C stops the server and then the embedded database.
        call_command("runserver", f"{host}:{port}", use_reloader=False)
