"""`manage.py seed_demo`: fill the demo environment (see demo.seed for what and why)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from demo.seed import (
    DEMO_ADMIN_EMAIL,
    DEMO_ANALYST_EMAIL,
    DEMO_PASSWORD,
    DEMO_SLUG,
    demo_environment,
    demo_environment_has_data,
    demo_environment_has_strangers,
    demo_seed,
)


class Command(BaseCommand):
    help = "Fill the demo environment (slug 'demo') with profiles, events, surveys and responses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--profiles", type=int, default=2000, help="profiles (default 2000)")
        parser.add_argument("--events", type=int, help="events (default: 10 per profile)")
        parser.add_argument(
            "--responses", type=int, help="survey responses (default: one per two profiles)"
        )
        parser.add_argument(
            "--anchor",
            help="the moment the demo data ends, ISO 8601 (default: now); fix it for "
            "byte-identical data across runs",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the demo environment's data even if people other than the demo "
            "logins are members of it",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the demo environment already has profiles",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        profiles: int = options["profiles"]
        events: int = options["events"] if options["events"] is not None else profiles * 10
        responses: int = (
            options["responses"] if options["responses"] is not None else max(profiles // 2, 1)
        )
        if profiles < 1 or events < 0 or responses < 0:
            raise CommandError("--profiles must be at least 1; --events and --responses >= 0")
        anchor = timezone.now().replace(second=0, microsecond=0)
        if options["anchor"]:
            parsed = parse_datetime(options["anchor"])
            if parsed is None:
                raise CommandError(f"--anchor is not an ISO 8601 date-time: {options['anchor']!r}")
            anchor = parsed.replace(tzinfo=UTC) if timezone.is_naive(parsed) else parsed

        environment = demo_environment()
        has_data = demo_environment_has_data(environment)
        if options["if_empty"] and has_data:
            self.stdout.write("The demo environment already has data: not seeding again.")
            self._print_login()
            return
        if has_data and not options["force"] and demo_environment_has_strangers(environment):
            raise CommandError(
                f"the environment {DEMO_SLUG!r} has members besides the demo logins, so it "
                "may hold real data: not replacing it (--force to replace it anyway)"
            )

        report = demo_seed(
            environment=environment,
            profiles=profiles,
            events=events,
            responses=responses,
            seed=options["seed"],
            anchor=anchor,
        )
        if options["verbosity"] >= 2:
            for name, seconds in report.timings:
                self.stdout.write(f"  {name:<30} {seconds:7.1f} s")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded the demo environment in {report.elapsed:.1f} s: {report.profiles:,} "
                f"profiles, {report.events:,} events, {report.responses:,} responses, 4 surveys, "
                f"{report.segments} segments."
            )
        )
        self._print_login()

    def _print_login(self) -> None:
        self.stdout.write(
            f"Demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD} (admin); "
            f"{DEMO_ANALYST_EMAIL} / {DEMO_PASSWORD} (analyst, read-only)"
        )
