"""`make run`: migrate, seed the demo environment on first run, print the demo login, serve the
dashboard, and beside it (on the next port, another origin) the "Acme" demo product with the
web client installed and a survey targeted at it."""

import signal
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from demo.product import DemoProduct
from demo.services import demo_product_surveys_ensure
from environments.models import Environment


class Command(BaseCommand):
    help = "Migrate, seed demo data on first run, and serve the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--profiles", type=int, default=2000)
        parser.add_argument(
            "--demo-port", type=int, default=None, help="the Acme demo product (default: port+1)"
        )

    def handle(self, *args, host: str, port: str, profiles: int, demo_port=None, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        call_command("seed_demo", if_empty=True, profiles=profiles, events=profiles * 10)
        product = self._demo_product(host, int(port), demo_port)
        self.stdout.write(self.style.SUCCESS(f"\nHark is starting on http://{host}:{port}/"))
        if product is not None:
            self.stdout.write(
                self.style.SUCCESS(f"Acme demo product (in-product surveys): {product.url}")
            )
        # One process, no autoreloader: Ctrl-C (even when started in the background, where the
        # shell ignores SIGINT), SIGTERM and a closed terminal (SIGHUP) end it through a normal
        # exit, so the embedded database is stopped by its exit handler instead of being left
        # running.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        signal.signal(signal.SIGHUP, lambda signum, frame: sys.exit(0))
        call_command("runserver", f"{host}:{port}", use_reloader=False)

    def _demo_product(self, host: str, port: int, demo_port: int | None):
        environment = Environment.objects.filter(slug="demo").first()
        if environment is None:
            return None
        demo_product_surveys_ensure(environment=environment)
        browser_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        try:
            return DemoProduct(
                hark_url=f"http://{browser_host}:{port}",
                public_key=environment.public_key,
                host=host,
                port=demo_port if demo_port is not None else port + 1,
            ).start()
        except OSError as error:  # the port is taken: the dashboard still starts
            self.stderr.write(f"The Acme demo product could not start: {error}")
            return None
