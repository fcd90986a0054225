"""The demo environment (`manage.py seed_demo`): full of consistent, realistic data, fast.

It creates (or refills) the environment "Demo" (slug `demo`) with an admin and an analyst login,
identified and anonymous profiles with traits of every type, events of several kinds over the
last 90 days, four surveys (NPS, CSAT, CES and a multiple-choice feature poll) with completed,
partial, dismissed and view-only responses, the trait and event definitions that describe all
of it (with the daily event counts the Events page reads), monthly activity rows for MAU, and a
manual and four dynamic segments. The same `--seed` and `--anchor` give the same data.

Why the seed writes other apps' tables directly
-----------------------------------------------
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

The pieces: demo.vocabulary (what the data is made of), demo.seeder (the rows), demo.bulk
(COPY and the cascading wipe), and this module, which runs them in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from environments.models import Environment, Role
from environments.services import environment_create, member_add
from events.models import EventDefinition
from profiles.models import Profile
from segments.models import Segment
from surveys.models import Survey
from traits.models import Trait

from .bulk import purge, tune_session
from .seeder import Seeder

DEMO_SLUG = "demo"
DEMO_NAME = "Demo"
DEMO_PASSWORD = "hark-demo-2024"
DEMO_ADMIN_EMAIL = "demo@hark.local"
DEMO_ANALYST_EMAIL = "analyst@hark.local"


@dataclass
class SeedReport:
    """What a seed wrote, and how long each step took (seconds)."""

    profiles: int
    events: int
    responses: int
    segments: int
    elapsed: float
    timings: list[tuple[str, float]] = field(default_factory=list)


def demo_environment() -> Environment | None:
    return Environment.objects.filter(slug=DEMO_SLUG).first()


def demo_environment_has_data(environment: Environment | None) -> bool:
    return environment is not None and Profile.objects.filter(environment=environment).exists()


def demo_environment_has_strangers(environment: Environment | None) -> bool:
    """People besides the demo logins are members: the environment may hold real data."""
    if environment is None:
        return False
    demo_logins = [DEMO_ADMIN_EMAIL, DEMO_ANALYST_EMAIL]
    return environment.memberships.exclude(user__email__in=demo_logins).exists()


def demo_data_wipe(environment: Environment) -> None:
    """Remove the previous demo data (the environment and its logins stay)."""
    for model in (Segment, Survey, Profile, EventDefinition, Trait):
        purge(model._base_manager.filter(environment=environment))


def demo_seed(
    *,
    environment: Environment | None,
    profiles: int,
    events: int,
    responses: int,
    seed: int,
    anchor: datetime,
) -> SeedReport:
    """Create (or refill) the demo environment and its logins, in one transaction."""
    started = time.monotonic()
    timings: list[tuple[str, float]] = []

    def step(name: str, func: Callable[..., Any], *args: Any) -> Any:
        began = time.monotonic()
        result = func(*args)
        timings.append((name, time.monotonic() - began))
        return result

    with transaction.atomic():
        tune_session()
        if environment is None:
            environment = environment_create(name=DEMO_NAME, slug=DEMO_SLUG)
        else:
            step("wipe previous demo data", demo_data_wipe, environment)
        for email, role in ((DEMO_ADMIN_EMAIL, Role.ADMIN), (DEMO_ANALYST_EMAIL, Role.ANALYST)):
            member_add(environment=environment, email=email, role=role, password=DEMO_PASSWORD)
        seeder = Seeder(environment=environment, seed=seed, anchor=anchor)
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
    return SeedReport(
        profiles=profiles,
        events=events,
        responses=seeder.response_count,
        segments=segments,
        elapsed=time.monotonic() - started,
        timings=timings,
    )
