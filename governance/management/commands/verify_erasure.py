"""Confirm that a contact was erased, given one of its identifiers, without Hark keeping them:

    manage.py verify_erasure --email lee@example.com [--environment SLUG]
    manage.py verify_erasure --user-id 42
    manage.py verify_erasure --uuid 5b0c...

Prints the matching erasure log entries (when, by whom, how many rows) and exits 0, or says
none matches and exits 1. The hashes are keyed (HARK_ERASURE_SECRET, else derived from
SECRET_KEY): run it with the same key the erasure ran with.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment
from governance.erasure import erasures_matching


class Command(BaseCommand):
    help = "Confirm an erasure from an identifier (email, user id or uuid)."

    def add_arguments(self, parser: Any) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--email")
        group.add_argument("--user-id")
        group.add_argument("--uuid")
        parser.add_argument("--environment", help="slug: only erasures in this environment")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, value = next(
            (kind, options[name])
            for kind, name in (("email", "email"), ("id", "user_id"), ("uuid", "uuid"))
            if options.get(name)
        )
        environment_id = None
        if options.get("environment"):
            environment = Environment.objects.filter(slug=options["environment"]).first()
            if environment is None:
                raise CommandError(f"No environment with slug {options['environment']!r}")
            environment_id = environment.pk
        entries = list(erasures_matching(kind=kind, value=value, environment_id=environment_id))
        if not entries:
            self.stdout.write(f"No erasure matches this {kind}.")
            raise SystemExit(1)
        for entry in entries:
            self.stdout.write(
                f"Erased: erasure #{entry.pk} in environment {entry.environment_id} at "
                f"{entry.erased_at.isoformat()} by {entry.erased_by_label or 'system'} "
                f"(via {entry.via}; {sum(entry.counts.values())} rows)"
            )
