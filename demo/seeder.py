"""The demo rows, built with one random generator so that a seed always gives the same data:
profiles, events, surveys and responses streamed with COPY, then the rows derived from them
(trait definitions, roll-ups, monthly activity) and the segments."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from environments.models import Environment
from events.models import Event, EventDefinition
from events.services import event_counts_rollup
from profiles.models import Profile
from profiles.sql import activity_month_sql, activity_upsert_sql
from segments.models import SegmentKind
from segments.services import segment_create, segment_members_add
from surveys.models import Question, Response, Survey, SurveyStatus
from surveys.report_rollup import response_stats_rollup
from surveys.services import question_add, survey_create, survey_set_status
from traits.models import Scope, Trait
from traits.services import infer_data_type

from .bulk import copy_rows, next_ids
from .vocabulary import (
    COMMENTS,
    COMPANIES,
    COUNTRY,
    EVENT_KINDS,
    FIRST_NAMES,
    LAST_NAMES,
    PLAN,
    POLL_CHOICES,
    PROFILE_TRAITS,
    SEATS,
    STATUS,
    SURVEYS,
)

DAYS = 90  # the demo window ends at the anchor


def _ascii(text: str) -> str:
    table = str.maketrans("éöüøëíáó", "eouoeiao")
    return text.lower().translate(table).replace(" ", "")


class Seeder:
    """Builds the demo rows with one random generator, so a seed always gives the same data."""

    def __init__(self, *, environment: Environment, seed: int, anchor: datetime) -> None:
        self.env = environment
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.start = anchor - timedelta(days=DAYS)
        # Per profile, in order: (id, identified, first_seen, last_seen) as epoch seconds.
        self.profile_ids: list[int] = []
        self.identified: list[bool] = []
        self.first_seen: list[float] = []
        self.last_seen: list[float] = []
        self.plans: list[str | None] = []
        self.definition_ids: dict[str, int] = {}
        self.questions: dict[str, list[Question]] = {}
        self.survey_objects: dict[str, Survey] = {}
        self.response_count = 0
        self.nps_by_profile: dict[int, int] = {}

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _at(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(round(epoch, 3), tz=UTC)

    # --- Profiles -------------------------------------------------------------------------

    def profiles(self, count: int) -> None:
        rng = self.rng
        ids = next_ids(Profile, count)
        start, anchor = self.start.timestamp(), self.anchor.timestamp()
        span = anchor - start
        rows = []
        for n, pk in enumerate(ids, start=1):
            identified = rng.random() < 0.8
            # Older users are more common; the last visit leans to recent days.
            first = start + span * (1 - rng.random() ** 0.7)
            last = first + (anchor - first) * (1 - rng.random() ** 3)
            country = COUNTRY.pick(rng)
            if identified:
                first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                company = rng.choice(COMPANIES)
                plan = PLAN.pick(rng)
                low, high = SEATS[plan]
                email = f"{_ascii(first_name)}.{_ascii(last_name)}{n}@{_ascii(company)}.example"
                signed_up = first - rng.randint(0, 3 * 365) * 86400 - rng.randint(0, 86399)
                traits = {
                    "name": f"{first_name} {last_name}",
                    "email": email,
                    "plan": plan,
                    "company": company,
                    "seats": rng.randint(low, high),
                    "is_admin": rng.random() < 0.25,
                    "signed_up_at": self._at(signed_up).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "country": country,
                }
                user_id = f"usr_{n:06d}"
                # Some identified users were first seen anonymously on this device.
                anonymous_id = f"anon_{rng.getrandbits(64):016x}" if rng.random() < 0.3 else None
            else:
                plan, email, user_id = None, None, None
                anonymous_id = f"anon_{rng.getrandbits(64):016x}"
                traits = {"country": country}
            self.profile_ids.append(pk)
            self.identified.append(identified)
            self.first_seen.append(first)
            self.last_seen.append(last)
            self.plans.append(plan)
            rows.append(
                (
                    pk,
                    self._uuid(),
                    self.env.pk,
                    user_id,
                    email,
                    anonymous_id,
                    json.dumps(traits, ensure_ascii=False),
                    self._at(first),
                    self._at(last),
                )
            )
        copy_rows(
            Profile,
            [
                "id",
                "uuid",
                "environment",
                "user_id",
                "email",
                "anonymous_id",
                "traits",
                "first_seen_at",
                "last_seen_at",
            ],
            rows,
        )

    # --- Events ---------------------------------------------------------------------------

    def events(self, count: int) -> None:
        rng = self.rng
        for name, _, description, _ in EVENT_KINDS:
            # First/last seen are moved to the first/last event by the roll-up (LEAST/GREATEST).
            definition = EventDefinition.objects.create(
                environment=self.env,
                name=name,
                description=description,
                first_seen_at=self.anchor,
                last_seen_at=self.start,
            )
            self.definition_ids[name] = definition.pk
        if not count:
            return
        # Activity is skewed: a few power users, a long tail; anonymous visitors browse less.
        weights = [
            min(rng.paretovariate(1.3), 40.0) * (1.0 if identified else 0.3)
            for identified in self.identified
        ]
        owners = rng.choices(range(len(weights)), weights=weights, k=count)
        names = [name for name, _, _, _ in EVENT_KINDS]
        kind_weights = [weight for _, weight, _, _ in EVENT_KINDS]
        kinds = rng.choices(range(len(names)), weights=kind_weights, k=count)
        # A small pool of property payloads per kind, serialised once.
        payloads = [
            [json.dumps({key: value}) for key, values in props.items() for value in values]
            for _, _, _, props in EVENT_KINDS
        ]
        page_viewed = names.index("page_viewed")
        first, last = self.first_seen, self.last_seen
        stamps = []
        random_ = rng.random
        for i, owner in enumerate(owners):
            if not self.identified[owner]:
                kinds[i] = page_viewed
            stamps.append(first[owner] + (last[owner] - first[owner]) * random_())
        # Written in time order, as ingestion would have: ids then follow time.
        order = sorted(range(count), key=stamps.__getitem__)
        choice = rng.choice
        definition_ids = [self.definition_ids[name] for name in names]
        env_id, profile_ids = self.env.pk, self.profile_ids

        def rows() -> Iterable[tuple[Any, ...]]:
            for i in order:
                at = datetime.fromtimestamp(round(stamps[i], 3), tz=UTC)
                kind = kinds[i]
                yield (
                    env_id,
                    profile_ids[owners[i]],
                    definition_ids[kind],
                    at,
                    at,
                    choice(payloads[kind]),
                )

        copy_rows(
            Event,
            ["environment", "profile", "definition", "timestamp", "received_at", "properties"],
            rows(),
        )

    # --- Surveys --------------------------------------------------------------------------

    def surveys(self) -> None:
        """The four demo surveys, built through the surveys app's builder services (which
        validate each question's settings), then dated back to the start of the demo window."""
        for offset, (code, name, status, mode, channels, questions) in enumerate(SURVEYS):
            survey = survey_create(environment=self.env, name=name, mode=mode, channels=channels)
            self.questions[code] = [
                question_add(
                    survey=survey,
                    kind=kind,
                    key=key,
                    title=title,
                    config=config,
                    required=required,
                )
                for kind, key, title, config, required in questions
            ]
            survey_set_status(survey=survey, status=SurveyStatus.LIVE)
            survey_set_status(survey=survey, status=status)
            survey.created_at = self.start - timedelta(days=5, hours=-offset)
            survey.published_at = self.start
            survey.save(update_fields=["created_at", "published_at"])
            self.survey_objects[code] = survey

    # --- Responses ------------------------------------------------------------------------

    def _answer(self, code: str, plan: str | None) -> tuple[Any, str]:
        """The main answer of a survey and the sentiment its comment should carry."""
        rng = self.rng
        happier = plan in ("pro", "enterprise")
        if code == "nps":
            weights = [3, 2, 2, 3, 3, 4, 5, 10, 18, 22, 28] if not happier else [
                1, 1, 1, 1, 2, 3, 4, 9, 18, 26, 34
            ]  # fmt: skip
            score = rng.choices(range(11), weights=weights)[0]
            return score, "bad" if score <= 6 else "mid" if score <= 8 else "good"
        if code == "csat":
            score = rng.choices([-2, -1, 0, 1, 2], weights=[6, 10, 18, 38, 28])[0]
            return score, "bad" if score < 0 else "mid" if score == 0 else "good"
        if code == "ces":
            score = rng.choices(range(1, 8), weights=[4, 5, 8, 14, 24, 27, 18])[0]
            return score, "bad" if score <= 3 else "mid" if score <= 5 else "good"
        picks = rng.sample(POLL_CHOICES, rng.choices([1, 2, 3], weights=[50, 35, 15])[0])
        return sorted(picks, key=POLL_CHOICES.index), "mid"

    def responses(self, count: int) -> None:
        rng = self.rng
        identified = [i for i, ok in enumerate(self.identified) if ok]
        everyone = list(range(len(self.profile_ids)))
        share = [("nps", 40), ("csat", 25), ("ces", 15), ("poll", 20)]
        published = self.start.timestamp()
        anchor = self.anchor.timestamp()
        rows = []
        for code, weight in share:
            survey = self.survey_objects[code]
            questions = self.questions[code]
            pool = everyone if code == "poll" else identified
            wanted = min(round(count * weight / 100), len(pool))
            channels = ["link", "web"] if code == "poll" else ["web", "web", "web", "email"]
            for owner in sorted(rng.sample(pool, wanted)):
                # Shown while the profile was active (and the survey live).
                low = max(self.first_seen[owner], published)
                high = max(self.last_seen[owner], low)
                shown = low + (high - low) * rng.random()
                show_count = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
                last_shown = min(shown + (show_count - 1) * 86400 * rng.random(), anchor)
                status = STATUS.pick(rng)
                channel = rng.choice(channels)
                data: dict[str, Any] = {}
                first_data = last_data = completed = dismissed = None
                if status in ("completed", "partial"):
                    answer, mood = self._answer(code, self.plans[owner])
                    data[questions[0].key] = answer
                    first_data = last_data = shown + rng.uniform(3, 40)
                    if code == "nps":
                        self.nps_by_profile[self.profile_ids[owner]] = answer
                    if status == "completed":
                        if rng.random() < 0.45:
                            data[questions[1].key] = rng.choice(COMMENTS[mood])
                            last_data = first_data + rng.uniform(10, 90)
                        completed = last_data
                elif status == "dismissed":
                    dismissed = shown + rng.uniform(1, 15)
                context: dict[str, Any] = {}
                if channel == "web":
                    context = {"page": rng.choice(["/dashboard", "/reports", "/billing"])}
                elif channel == "email":
                    context = {"campaign": "quarterly-feedback"}
                elif channel == "link":
                    context = {"source": rng.choice(["newsletter", "blog", "twitter"])}
                updated = max(x for x in (shown, last_shown, last_data, dismissed) if x is not None)
                at = self._at
                rows.append(
                    (
                        self._uuid(),
                        self.env.pk,
                        survey.pk,
                        self.profile_ids[owner],
                        channel,
                        at(shown),
                        at(last_shown),
                        show_count,
                        at(first_data) if first_data else None,
                        at(last_data) if last_data else None,
                        at(completed) if completed else None,
                        at(dismissed) if dismissed else None,
                        json.dumps(data, ensure_ascii=False),
                        json.dumps(context),
                        rng.choice(["en", "en", "en", "de", "fr", "es"]),
                        at(shown),
                        at(updated),
                    )
                )
        rows.sort(key=lambda row: row[5])
        self.response_count = copy_rows(
            Response,
            [
                "uuid",
                "environment",
                "survey",
                "profile",
                "channel",
                "first_shown_at",
                "last_shown_at",
                "show_count",
                "first_data_at",
                "last_data_at",
                "completed_at",
                "dismissed_at",
                "data",
                "context",
                "locale",
                "created_at",
                "updated_at",
            ],
            rows,
        )

    # --- Derived rows ---------------------------------------------------------------------

    def definitions(self) -> None:
        """Trait definitions of every key stored on profiles and responses."""
        env_id = self.env.pk
        q = connection.ops.quote_name
        now = timezone.now()
        labels = dict(PROFILE_TRAITS)
        for questions in self.questions.values():
            labels.update((question.key, question.title[:200]) for question in questions)
        traits = []
        # Every key found on a profile (or in a response's data), seen over its rows, typed the
        # way ingestion types a key on first sight (traits.services.infer_data_type).
        for scope, table, column, first_col, last_col in (
            (Scope.PROFILE, Profile, "traits", "first_seen_at", "last_seen_at"),
            (Scope.RESPONSE, Response, "data", "first_data_at", "last_data_at"),
        ):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""SELECT item.key, min({first_col}), max({last_col}), count(*),
                               (array_agg(item.value))[1]
                        FROM {q(table._meta.db_table)}, jsonb_each({column}) AS item
                        WHERE environment_id = %s GROUP BY item.key ORDER BY item.key""",
                    [env_id],
                )
                found = cursor.fetchall()
            for key, first, last, count, sample in found:
                if isinstance(sample, str):  # Django's psycopg setup leaves jsonb as text
                    sample = json.loads(sample)
                traits.append(
                    Trait(
                        environment=self.env,
                        key=key,
                        label=labels.get(key, ""),
                        data_type=infer_data_type(key, sample),
                        scope=scope,
                        first_seen_at=first,
                        last_seen_at=last,
                        profile_count=count if scope == Scope.PROFILE else None,
                        profile_count_at=now if scope == Scope.PROFILE else None,
                    )
                )
        Trait.objects.bulk_create(traits)

    def rollups(self) -> None:
        """The counters the pages read, through the apps' own roll-ups: daily event counts and
        definition totals (events.services), daily response figures (the Overview's)."""
        while event_counts_rollup():
            pass
        response_stats_rollup(environment_id=self.env.pk)

    def monthly_activity(self) -> None:
        """A profile is active in a month when it was seen, tracked or shown a survey. MAU
        flags as ingestion writes them: identified profiles through the API, anonymous ones
        counted (surveyed) in the months a survey was shown to them, through its channel."""
        q = connection.ops.quote_name
        profiles = q(Profile._meta.db_table)
        month = activity_month_sql
        # profiles' own MAU insert (profiles.sql), over every month each profile was active in.
        rows = f"""SELECT active.profile_id, active.month,
                bool_or(p.user_id IS NOT NULL OR p.email IS NOT NULL) AS identified,
                bool_or(active.surveyed) AS surveyed, bit_or(active.source) AS sources
            FROM (
                SELECT id AS profile_id, {month("last_seen_at")} AS month, false AS surveyed,
                       1 AS source
                FROM {profiles} WHERE environment_id = %(env)s
                UNION
                SELECT profile_id, {month("timestamp")}, false, 1
                FROM {q(Event._meta.db_table)} WHERE environment_id = %(env)s
                UNION
                SELECT profile_id, {month("first_shown_at")}, true,
                       CASE channel WHEN 'web' THEN 2 WHEN 'link' THEN 4
                           WHEN 'email' THEN 8 ELSE 1 END
                FROM {q(Response._meta.db_table)} WHERE environment_id = %(env)s
            ) AS active
            JOIN {profiles} p ON p.id = active.profile_id
            GROUP BY active.profile_id, active.month"""
        with connection.cursor() as cursor:
            cursor.execute(
                activity_upsert_sql(rows),
                {"env": self.env.pk, "tz": settings.TIME_ZONE},
            )

    # --- Segments -------------------------------------------------------------------------

    def segments(self) -> int:
        """A manual segment and a few dynamic ones, through the segments app: it validates the
        rules and computes the members (after commit: inline without Redis, else on a worker)."""
        identified = [pk for pk, ok in zip(self.profile_ids, self.identified, strict=True) if ok]
        beta = segment_create(
            environment=self.env,
            name="Beta testers",
            kind=SegmentKind.MANUAL,
            description="Customers who joined the beta programme (a list kept by hand).",
        )
        segment_members_add(
            segment=beta, profile_ids=self.rng.sample(identified, min(40, len(identified)))
        )
        nps = str(self.survey_objects["nps"].uuid)
        specs = [
            (
                "Enterprise customers",
                "Everyone on the enterprise plan.",
                [{"type": "trait", "key": "plan", "operator": "equals", "value": "enterprise"}],
            ),
            (
                "Power users",
                "Used a feature at least 10 times in the last 30 days.",
                [
                    {
                        "type": "event",
                        "event": "feature_used",
                        "operator": "at_least",
                        "count": 10,
                        "within_days": 30,
                    }
                ],
            ),
            (
                "NPS detractors",
                "Answered 0 to 6 to the NPS survey.",
                [
                    {
                        "type": "answer",
                        "survey": nps,
                        "question": "nps_score",
                        "operator": "lte",
                        "value": 6,
                    }
                ],
            ),
            (
                "Active admins",
                "Workspace admins seen in the last 7 days.",
                [
                    {"type": "trait", "key": "is_admin", "operator": "is_true"},
                    {
                        "type": "profile",
                        "field": "last_seen_at",
                        "operator": "within_last_days",
                        "value": 7,
                    },
                ],
            ),
        ]
        for name, description, conditions in specs:
            segment_create(
                environment=self.env,
                name=name,
                kind=SegmentKind.DYNAMIC,
                rules={"op": "and", "conditions": conditions},
                description=description,
            )
        return 1 + len(specs)
