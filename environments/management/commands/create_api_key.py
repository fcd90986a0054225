from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment
from environments.services import api_key_create


class Command(BaseCommand):
    help = "Create a secret API key for an environment (by slug) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("environment", help="environment slug")
        parser.add_argument("--name", default="", help="a label to tell keys apart")

    def handle(self, *args, environment: str, name: str, **options):
        env = Environment.objects.filter(slug=environment).first()
        if env is None:
            raise CommandError(f"no environment with slug {environment!r}")
        key, secret = api_key_create(environment=env, name=name)
        self.stdout.write(secret)
        self.stderr.write(f"Key {key.prefix}… created. It is shown once: store it now.")
