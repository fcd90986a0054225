from django.core.management.base import BaseCommand

from environments.services import environment_create


class Command(BaseCommand):
    help = "Create an environment and print its slug and public key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug", help="URL slug (defaults to one made from the name)")

    def handle(self, *args, name: str, slug: str | None = None, **options):
        environment = environment_create(name=name, slug=slug)
        self.stdout.write(f"slug: {environment.slug}\npublic key: {environment.public_key}")
