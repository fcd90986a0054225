"""`manage.py seed_demo`: a demo environment full of consistent, realistic data, fast.

It creates (or refills) the environment "Demo" (slug `demo`) with an admin and an analyst login,
identified and anonymous profiles with traits of every type, events of several kinds over the
last 90 days, four surveys (NPS, CSAT, CES and a multiple-choice feature poll) with completed,
partial, dismissed and view-only responses, the trait and event definitions that describe all
of it (with the daily event counts the Events page reads), monthly activity rows for MAU, and a
manual and four dynamic segments. The same `--seed` and `--anchor` give the same data.

Why this command writes other apps' tables directly
----------------------------------------------------
Everywhere else an app changes another app's data only through that app's services. The
services are made for one call at a time (identify one profile, save one answer), each with a
few statements and after-commit hooks; seeding 100,000 profiles and 1,000,000 events through
them would take hours. A seeding tool is the one place where that trade is right: it runs from
the command line only, writes only into the demo environment it owns (wiping that environment's
previous demo data first), and inside one transaction, so it never races real traffic. It builds
the rows in memory and streams them with COPY (psycopg 3 `cursor.copy`); trait definitions and
monthly activity are then derived from the stored rows with set-based SQL, typed with
`traits.services.infer_data_type` as ingestion would type them. Everything with rules goes
through its app: logins through `environments.services`, surveys through the surveys app's
builder services (which validate each question), segments through `segments.services` (which
validate the rules and compute the members), and the counters the pages read through the apps'
own roll-ups (`events.services.event_counts_rollup`, `surveys.report_rollup`), so the periodic
roll-ups never count seeded rows twice. tests/test_seed_demo.py checks that the result is
consistent.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from environments.models import Environment, Role
from environments.services import environment_create, member_add
from events.models import Event, EventDefinition
from events.services import event_counts_rollup
from profiles.models import MonthlyActivity, Profile
from segments.models import Segment, SegmentKind
from segments.services import segment_create, segment_members_add
from surveys.models import Question, QuestionKind, Response, Survey, SurveyMode, SurveyStatus
from surveys.report_rollup import response_stats_rollup
from surveys.services import question_add, survey_create, survey_set_status
from traits.models import Scope, Trait
from traits.services import infer_data_type

DEMO_SLUG = "demo"
DEMO_NAME = "Demo"
DEMO_PASSWORD = "hark-demo-2024"
DEMO_ADMIN_EMAIL = "demo@hark.local"
DEMO_ANALYST_EMAIL = "analyst@hark.local"
DAYS = 90

# --- Vocabulary -------------------------------------------------------------------------------

FIRST_NAMES = [
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Björn", "Carla", "Chen", "Chloé", "Dario",
    "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jana", "José", "Kai",
    "Kenji", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mia", "Nadia", "Noah", "Olga",
    "Omar", "Priya", "Rafael", "Rosa", "Sara", "Sofia", "Søren", "Tariq", "Tom", "Yara", "Zoë",
]  # fmt: skip
LAST_NAMES = [
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ito",
    "Jansen", "Kowalski", "Lopez", "Martin", "Müller", "Nakamura", "Novak", "Okafor", "Olsen",
    "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Smith", "Tanaka", "Weber", "Wong", "Yilmaz",
]  # fmt: skip
COMPANIES = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Wonka", "Cyberdyne", "Soylent", "Tyrell", "Vandelay", "Pied Piper", "Aperture", "Massive",
    "Monarch", "Oscorp", "Nakatomi", "Gringotts", "Dunder Mifflin", "Prestige Worldwide",
    "Bluth", "Sterling Cooper", "Los Pollos", "Blue Sun", "Weyland", "Virtucon", "Gekko",
    "Kramerica", "Stratton", "Lunar Industries", "Black Mesa", "Zorg", "Ollivanders",
]  # fmt: skip
COUNTRIES = [
    ("United States", 30), ("Germany", 12), ("United Kingdom", 10), ("France", 8),
    ("Canada", 6), ("Brazil", 6), ("India", 6), ("Japan", 5), ("Spain", 4),
    ("Netherlands", 4), ("Australia", 4), ("Sweden", 3), ("Poland", 2),
]  # fmt: skip
PLANS = [("free", 45), ("starter", 25), ("pro", 20), ("enterprise", 10)]
SEATS = {"free": (1, 1), "starter": (1, 5), "pro": (3, 50), "enterprise": (50, 2000)}

# Event kinds: (name, weight for identified users, description, property values).
EVENT_KINDS: list[tuple[str, int, str, dict[str, list[Any]]]] = [
    ("page_viewed", 40, "A page of the app was shown.",
     {"path": ["/dashboard", "/projects", "/reports", "/settings", "/billing", "/team"]}),
    ("signed_in", 18, "The user signed in.", {"method": ["password", "google", "sso"]}),
    ("feature_used", 20, "One of the app's features was used.",
     {"feature": ["search", "export", "filters", "comments", "automations", "templates"]}),
    ("report_exported", 6, "A report was exported.", {"format": ["csv", "pdf", "xlsx"]}),
    ("project_created", 7, "A new project was created.",
     {"template": ["blank", "roadmap", "sprint", "research"]}),
    ("teammate_invited", 5, "A teammate was invited.", {"role": ["member", "admin", "viewer"]}),
    ("integration_connected", 3, "An integration was connected.",
     {"integration": ["slack", "hubspot", "salesforce", "segment", "zapier"]}),
    ("subscription_upgraded", 1, "The workspace moved to a higher plan.",
     {"to": ["starter", "pro", "enterprise"]}),
]  # fmt: skip

POLL_CHOICES = [
    "Dark mode",
    "SSO / SAML",
    "Slack integration",
    "Custom dashboards",
    "Mobile app",
    "Webhooks",
]
COMMENTS = {
    "bad": [
        "Too slow on big projects.",
        "Pricing is hard to justify for a small team.",
        "The export keeps failing for me.",
        "Hard to find settings.",
        "Support took days to answer.",
    ],
    "mid": [
        "Does the job, the reports could be clearer.",
        "Good, but I miss an integration with our CRM.",
        "Fine overall. The mobile view needs work.",
        "Onboarding was a bit long.",
    ],
    "good": [
        "Love the automations, saves me hours every week!",
        "Clean and fast. My whole team uses it.",
        "Best tool we adopted this year.",
        "Support is fantastic.",
        "The templates got us started in minutes.",
    ],
}

# The demo surveys: (code, name, status, mode, channels,
#   [(question kind, key, title, config, required), ...]).
SURVEYS: list[tuple[Any, ...]] = [
    ("nps", "Net Promoter Score", SurveyStatus.LIVE, SurveyMode.IDENTIFIED, ["web", "email"], [
        (QuestionKind.NPS, "nps_score",
         "How likely are you to recommend us to a friend or colleague?",
         {"low_label": "Not likely", "high_label": "Very likely"}, True),
        (QuestionKind.TEXT, "nps_reason", "What is the main reason for your score?",
         {"placeholder": "Tell us more"}, False),
    ]),
    ("csat", "Support satisfaction", SurveyStatus.LIVE, SurveyMode.IDENTIFIED, ["web", "email"], [
        (QuestionKind.CSAT, "csat_score", "How satisfied are you with our support?",
         {"points": 5}, True),
        (QuestionKind.TEXT, "csat_comment", "How could we have helped you better?",
         {"placeholder": ""}, False),
    ]),
    ("ces", "Ease of exporting", SurveyStatus.PAUSED, SurveyMode.IDENTIFIED, ["web"], [
        (QuestionKind.CES, "ces_score", "How easy was it to export your report?",
         {"low_label": "Very difficult", "high_label": "Very easy"}, True),
        (QuestionKind.TEXT, "ces_comment", "What would have made it easier?",
         {"placeholder": ""}, False),
    ]),
    ("poll", "Feature poll", SurveyStatus.LIVE, SurveyMode.ANONYMOUS, ["web", "link"], [
        (QuestionKind.MULTIPLE_CHOICE, "feature_poll", "Which features should we build next?",
         {"choices": POLL_CHOICES}, True),
        (QuestionKind.TEXT, "feature_poll_comment", "Anything else you would like to see?",
         {"placeholder": ""}, False),
    ]),
]  # fmt: skip

# The profile traits every identified demo user has, with their labels on the Traits page.
PROFILE_TRAITS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "plan": "Plan",
    "company": "Company",
    "seats": "Seats",
    "is_admin": "Workspace admin",
    "signed_up_at": "Signed up at",
    "country": "Country",
}


class _Weighted:
    """A weighted choice among (value, weight) pairs, with its cumulative weights computed once."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


COUNTRY = _Weighted(COUNTRIES)
PLAN = _Weighted(PLANS)
STATUS = _Weighted([("completed", 55), ("partial", 12), ("dismissed", 10), ("view", 23)])


def _ascii(text: str) -> str:
    table = str.maketrans("éöüøëíáó", "eouoeiao")
    return text.lower().translate(table).replace(" ", "")


def _columns(model: type[Model], names: Iterable[str]) -> str:
    columns = {field.name: field.column for field in model._meta.concrete_fields}
    return ", ".join(connection.ops.quote_name(columns[n]) for n in names)


def _copy(model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Stream rows into the model's table with COPY, in the current transaction."""
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"COPY {table} ({_columns(model, names)}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _next_ids(model: type[Model], count: int) -> list[int]:
    """Reserve `count` primary keys from the table's sequence, so rows can reference each
    other before they are written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


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

        environment = Environment.objects.filter(slug=DEMO_SLUG).first()
        has_data = (
            environment is not None and Profile.objects.filter(environment=environment).exists()
        )
        if options["if_empty"] and has_data:
            self.stdout.write("The demo environment already has data: not seeding again.")
            self._print_login()
            return

        if environment is not None and has_data and not options["force"]:
            strangers = environment.memberships.exclude(
                user__email__in=[DEMO_ADMIN_EMAIL, DEMO_ANALYST_EMAIL]
            )
            if strangers.exists():
                raise CommandError(
                    f"the environment {DEMO_SLUG!r} has members besides the demo logins, so it "
                    "may hold real data: not replacing it (--force to replace it anyway)"
                )

        started = time.monotonic()
        timings: list[tuple[str, float]] = []

        def step(name: str, func: Any, *args: Any) -> Any:
            began = time.monotonic()
            result = func(*args)
            timings.append((name, time.monotonic() - began))
            return result

        with transaction.atomic():
            _tune_session()
            if environment is None:
                environment = environment_create(name=DEMO_NAME, slug=DEMO_SLUG)
            else:
                step("wipe previous demo data", self._wipe, environment)
            for email, role in ((DEMO_ADMIN_EMAIL, Role.ADMIN), (DEMO_ANALYST_EMAIL, Role.ANALYST)):
                member_add(environment=environment, email=email, role=role, password=DEMO_PASSWORD)
            seeder = _Seeder(environment=environment, seed=options["seed"], anchor=anchor)
            step("profiles", seeder.profiles, profiles)
            step("events", seeder.events, events)
            step("surveys", seeder.surveys)
            step("responses", seeder.responses, responses)
            step("trait definitions", seeder.definitions)
            step("event and response roll-ups", seeder.rollups)
            step("monthly activity", seeder.monthly_activity)
            segments = step("segments", seeder.segments)
            began = time.monotonic()
        # Dynamic segments compute their members after commit (inline when there is no Redis).
        timings.append(("commit and segment members", time.monotonic() - began))
        elapsed = time.monotonic() - started
        if options["verbosity"] >= 2:
            for name, seconds in timings:
                self.stdout.write(f"  {name:<30} {seconds:7.1f} s")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded the demo environment in {elapsed:.1f} s: {profiles:,} profiles, "
                f"{events:,} events, {seeder.response_count:,} responses, 4 surveys, "
                f"{segments} segments."
            )
        )
        self._print_login()

    def _print_login(self) -> None:
        self.stdout.write(
            f"Demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD} (admin); "
            f"{DEMO_ANALYST_EMAIL} / {DEMO_PASSWORD} (analyst, read-only)"
        )

    def _wipe(self, environment: Environment) -> None:
        """Remove the previous demo data (the environment and its logins stay)."""
        for model in (Segment, Survey, Profile, EventDefinition, Trait):
            _purge(model._base_manager.filter(environment=environment))


def _tune_session() -> None:
    """Settings for this transaction only, for loading in bulk.

    - More memory for the GIN indexes (traits, trigram search) to fold their pending lists:
      about a third less time writing profiles.
    - No per-row foreign key checks, when the database role may. Django's foreign keys are
      DEFERRABLE INITIALLY DEFERRED: PostgreSQL checks each inserted event's three references
      one by one at COMMIT, which was most of the time of a large seed (45 s of 100 s). The
      seed only writes ids it has just created (tests/test_seed_demo.py checks every
      reference), so for a superuser (the embedded and local servers) it sets
      `session_replication_role = replica`, which skips those triggers. Other roles keep the
      checks and the seed is merely slower.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _purge(queryset: QuerySet) -> None:
    """Delete a queryset's rows and everything that cascades from them, one DELETE per table.

    The ORM's delete() loads every row it removes (to cascade and send signals): minutes for
    a million events. This walks the same relations (including other apps' tables that point
    here) and deletes children first with `WHERE fk IN (subquery)`.
    """
    model = queryset.model
    ids = queryset.values("pk")
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        children = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": ids}
        )
        if relation.on_delete is models.CASCADE:
            _purge(children)
        elif relation.on_delete is models.SET_NULL:
            children.update(**{relation.field.name: None})
        elif relation.on_delete is not models.DO_NOTHING:
            raise CommandError(f"cannot wipe {model.__name__}: {relation} protects it")
    # QuerySet._raw_delete: one DELETE ... WHERE <the queryset's filter>, without collecting
    # (what the ORM itself uses for its fast deletes).
    queryset._raw_delete(queryset.db)


class _Seeder:
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
        ids = _next_ids(Profile, count)
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
        _copy(
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

        _copy(
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
        self.response_count = _copy(
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
        table = q(MonthlyActivity._meta.db_table)
        profiles = q(Profile._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {table}
                        (environment_id, profile_id, month, identified, surveyed, sources)
                    SELECT %(env)s, active.profile_id, active.month,
                        bool_or(p.user_id IS NOT NULL OR p.email IS NOT NULL),
                        bool_or(active.surveyed), bit_or(active.source)::smallint
                    FROM (
                        SELECT id AS profile_id,
                               date_trunc('month', last_seen_at AT TIME ZONE %(tz)s)::date
                                   AS month, false AS surveyed, 1 AS source
                        FROM {profiles} WHERE environment_id = %(env)s
                        UNION
                        SELECT profile_id, date_trunc('month', timestamp AT TIME ZONE %(tz)s)::date,
                               false, 1
                        FROM {q(Event._meta.db_table)} WHERE environment_id = %(env)s
                        UNION
                        SELECT profile_id,
                               date_trunc('month', first_shown_at AT TIME ZONE %(tz)s)::date, true,
                               CASE channel WHEN 'web' THEN 2 WHEN 'link' THEN 4
                                   WHEN 'email' THEN 8 ELSE 1 END
                        FROM {q(Response._meta.db_table)} WHERE environment_id = %(env)s
                    ) AS active
                    JOIN {profiles} p ON p.id = active.profile_id
                    GROUP BY active.profile_id, active.month
                    ON CONFLICT DO NOTHING""",
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
