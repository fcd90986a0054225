from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment, Role
from environments.services import LastAdminError, member_add, member_invitation_send


class Command(BaseCommand):
    help = (
        "Add a team member (creating the login if needed) to an environment with a role. "
        "Without --password, a login that has no password yet is emailed a set-password link "
        "(never printed: it is the person's alone)."
    )

    def add_arguments(self, parser):
        parser.add_argument("environment", help="environment slug")
        parser.add_argument("email")
        parser.add_argument("--role", default=Role.CONTRIBUTOR, choices=Role.values)
        parser.add_argument("--password", help="set (or reset) the login's password")
        parser.add_argument(
            "--base-url",
            help="Hark's public address for the emailed link (default: HARK_BASE_URL)",
        )

    def handle(
        self,
        *args,
        environment: str,
        email: str,
        role: str,
        password: str | None,
        base_url: str | None = None,
        **options,
    ):
        env = Environment.objects.filter(slug=environment).first()
        if env is None:
            raise CommandError(f"no environment with slug {environment!r}")
        if "@" not in email:
            raise CommandError(f"{email!r} is not an email address")
        base_url = base_url or settings.HARK_BASE_URL
        if base_url and not base_url.startswith(("https://", "http://")):
            raise CommandError(f"--base-url must start with https:// or http://, got {base_url!r}")
        try:
            membership = member_add(environment=env, email=email, role=role, password=password)
        except LastAdminError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{membership.user.email} is {membership.role} in {env.slug}")
        if membership.user.has_usable_password():
            return
        if not base_url:
            self.stderr.write(
                "This login has no password yet and no invitation was sent: give --base-url "
                "(or set HARK_BASE_URL) to email them a set-password link, or use --password."
            )
            return
        if member_invitation_send(membership=membership, base_url=base_url):
            self.stdout.write(f"A set-password link was emailed to {membership.user.email}.")
        else:
            raise CommandError("the invitation email could not be sent: check the EMAIL_ settings")
