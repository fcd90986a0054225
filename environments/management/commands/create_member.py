from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment, Role
from environments.services import member_add


class Command(BaseCommand):
    help = "Add a team member (creating the login if needed) to an environment with a role."

    def add_arguments(self, parser):
        parser.add_argument("environment", help="environment slug")
        parser.add_argument("email")
        parser.add_argument("--role", default=Role.CONTRIBUTOR, choices=Role.values)
        parser.add_argument("--password", help="set (or reset) the login's password")

    def handle(
        self, *args, environment: str, email: str, role: str, password: str | None, **options
    ):
        env = Environment.objects.filter(slug=environment).first()
        if env is None:
            raise CommandError(f"no environment with slug {environment!r}")
        if "@" not in email:
            raise CommandError(f"{email!r} is not an email address")
        membership = member_add(environment=env, email=email, role=role, password=password)
        self.stdout.write(f"{membership.user.email} is {membership.role} in {env.slug}")
