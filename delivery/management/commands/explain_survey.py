"""`manage.py explain_survey SURVEY USER [--url URL]`: every gate of a survey's web targeting
for one person, in words (the decision the client API takes, explained)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from delivery import selectors
from delivery.services import Refused, url_clean
from profiles.models import Profile
from surveys.models import Survey


class Command(BaseCommand):
    help = "Explain whether a user would be shown a survey now, gate by gate."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("survey", help="The survey's uuid or public link id")
        parser.add_argument("user", help="The user's id, email, anonymous id or contact uuid")
        parser.add_argument("--url", help="The page the user is on (absolute URL)")

    def handle(self, *args: Any, **options: Any) -> None:
        survey = self._survey(options["survey"])
        profile = self._profile(survey, options["user"])
        url = None
        if options.get("url"):
            try:
                url = url_clean(options["url"])
            except Refused as exc:
                raise CommandError(f"--url: {exc.detail}") from None
        decision = selectors.explain(
            survey=survey, facts=selectors.facts_for_profile(profile), url=url
        )
        verdict = "WOULD SHOW" if decision.eligible else "WOULD NOT SHOW"
        self.stdout.write(f"{survey.name} → {profile.display_name}: {verdict}")
        if url:
            self.stdout.write(f"on {url}")
        for gate in decision.gates:
            mark = {"pass": "✓", "fail": "✗", "unknown": "?"}[gate.verdict]
            line = f"  {mark} {gate.name:<11} {gate.reason}"
            if gate.eligible_at and not gate.passed:
                line += f" (eligible from {gate.eligible_at:%Y-%m-%d %H:%M} UTC)"
            self.stdout.write(line)
        if decision.eligible_at:
            self.stdout.write(f"Eligible from {decision.eligible_at:%Y-%m-%d %H:%M} UTC")

    def _survey(self, value: str) -> Survey:
        query = Q(public_id=value)
        with contextlib.suppress(ValueError):
            query |= Q(uuid=uuid.UUID(value))
        survey = Survey.objects.filter(query).first()
        if survey is None:
            raise CommandError(f"No survey {value!r} (give its uuid or link id)")
        return survey

    def _profile(self, survey: Survey, value: str) -> Profile:
        query = Q(user_id=value) | Q(email=value.lower()) | Q(anonymous_id=value)
        with contextlib.suppress(ValueError):
            query |= Q(uuid=uuid.UUID(value))
        profile = (
            Profile.objects.filter(query, environment_id=survey.environment_id)
            .order_by("user_id")
            .first()
        )
        if profile is None:
            raise CommandError(f"No user {value!r} in the survey's environment")
        return profile
