"""Memory and time of a contact's data export (governance/export.py) as its events grow.

    .venv/bin/python benchmarks/export.py                      # 10,000 and 100,000 events
    .venv/bin/python benchmarks/export.py --events 10000 100000 1000000

It works in its own database (default postgres://postgres@127.0.0.1:5432/hark_bench_export, or
BENCH_DATABASE_URL), created when missing and migrated. For each size it makes one contact with
that many events (set-based INSERT ... SELECT generate_series, with properties of about 100
bytes), plus 50 responses and a few segment memberships, then consumes the export stream as
the HTTP response would (each piece is dropped once counted), under tracemalloc. It prints the
document's size, the Python heap's peak during the export (tracemalloc: what the export
allocates, not the process RSS), and the time. Constant memory means the peak stays flat while
the events (and the document) grow tenfold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hark_bench_export"


def _ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _contact(events: int):
    from django.db import connection

    from environments.models import Environment
    from environments.services import environment_create
    from events.models import EventDefinition
    from profiles.models import Profile
    from segments.models import Segment
    from segments.services import segment_members_add
    from surveys.models import Question, Response, Survey

    Environment.objects.filter(slug__startswith="bench-export").delete()
    environment = environment_create(name="Bench export", slug="bench-export")
    profile = Profile.objects.create(
        environment=environment,
        user_id="bench-1",
        email="bench@example.com",
        traits={"plan": "pro"},
    )
    definitions = [
        EventDefinition.objects.create(environment=environment, name=f"event_{i}") for i in range(5)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_event
                (environment_id, profile_id, definition_id, timestamp, received_at, properties)
            SELECT %s, %s, (ARRAY[%s, %s, %s, %s, %s])[1 + n %% 5],
                   now() - n * interval '1 minute', now() - n * interval '1 minute',
                   jsonb_build_object('path', '/pages/' || n, 'plan', 'pro',
                                      'referrer', 'https://example.com/campaign', 'n', n)
            FROM generate_series(1, %s) AS n
            """,
            [environment.pk, profile.pk, *[d.pk for d in definitions], events],
        )
    survey = Survey.objects.create(environment=environment, name="NPS")
    Question.objects.create(survey=survey, position=1, kind="nps", key="score", title="NPS?")
    Response.objects.bulk_create(
        Response(environment=environment, survey=survey, profile=profile, data={"score": i % 11})
        for i in range(50)
    )
    for i in range(3):
        segment = Segment.objects.create(environment=environment, name=f"S{i}", kind="manual")
        segment_members_add(segment=segment, profile_ids=[profile.pk])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    return profile


def _measure(profile) -> tuple[int, int, float]:
    from django.db import connection

    from governance.export import contact_export_stream

    connection.ensure_connection()
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    size = 0
    for piece in contact_export_stream(profile=profile):
        size += len(piece)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, peak, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    _ensure_database(database_url)
    _setup_django(database_url)
    print(f"{'events':>10} {'document':>12} {'peak heap':>12} {'time':>8} {'events/s':>10}")
    for events in args.events:
        profile = _contact(events)
        size, peak, elapsed = _measure(profile)
        print(
            f"{events:>10,} {size / 1e6:>10.1f}MB {peak / 1e6:>10.2f}MB {elapsed:>7.2f}s "
            f"{events / elapsed:>10,.0f}"
        )


if __name__ == "__main__":
    main()
