"""Team alerts: the cost of one sweep (alerts/services.py) over a large response table.

Seeds its own database (default hark_bench_alerts, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432) with set-based SQL: N profiles (traits plan, seats), one NPS
survey, R completed responses spread over the last 90 days, a manual segment holding one
profile in ten, and S immediate subscriptions (score ranges, the segment, trait conditions, a
survey filter) of members of the environment. Then measures, each a median of --runs:

  sweep, nothing new     the sweep when the window holds no new responses (every 15 s in
                         production, most of the time)
  sweep, K new           K responses completed in the last minute: matched against every
                         subscription and queued (one INSERT ... SELECT), then the rows removed
                         so the next run queues them again
  delivery batch         claiming, building and sending 50 queued alerts (email to the
                         locmem backend, no Slack: the post itself is the receiver's time);
                         each alert's status update is its own commit

Goal: a sweep far below its 15 s interval (well under a second) whatever the table's size.

Usage:
    .venv/bin/python benchmarks/alerts.py                      # 200,000 responses
    .venv/bin/python benchmarks/alerts.py --responses 1000000 --new 5000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--new", type=int, default=1_000, help="responses in the window")
    parser.add_argument("--database", default="hark_bench_alerts")
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


def setup_database(args: argparse.Namespace) -> str:
    import psycopg

    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    admin = urlunparse(parsed._replace(path="/postgres"))
    target = urlunparse(parsed._replace(path=f"/{args.database}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    os.environ["DATABASE_URL"] = target
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)
    return target


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def seed(args: argparse.Namespace):
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from alerts import services
    from alerts.models import AlertSubscription
    from environments.services import environment_create, member_add
    from segments.models import Segment
    from surveys.models import Question, Survey
    from traits.models import Trait

    environment = environment_create(name="Alerts benchmark")
    env = environment.pk
    owner = member_add(environment=environment, email="owner@bench.test", role="admin")
    for key, data_type in (("plan", "string"), ("seats", "number")):
        Trait.objects.create(environment=environment, key=key, data_type=data_type)
    survey = Survey.objects.create(environment=environment, name="NPS", status="live")
    Question.objects.create(survey=survey, position=1, kind="nps", key="nps", title="Recommend?")
    Question.objects.create(survey=survey, position=2, kind="text", key="why", title="Why?")
    segment = Segment.objects.create(environment=environment, name="VIP", kind="manual")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_profile (uuid, environment_id, user_id, email, traits,
                                          first_seen_at, last_seen_at)
            SELECT gen_random_uuid(), %(env)s, 'u' || i, 'u' || i || '@bench.test',
                   jsonb_build_object(
                       'plan', (ARRAY['free', 'starter', 'pro', 'enterprise'])[1 + i %% 4],
                       'seats', i %% 200),
                   %(now)s, %(now)s
            FROM generate_series(1, %(n)s) AS i
            """,
            {"env": env, "now": now, "n": args.profiles},
        )
        cursor.execute(
            """
            INSERT INTO segments_segmentmembership (segment_id, profile_id, since)
            SELECT %s, id, %s FROM profiles_profile WHERE environment_id = %s AND id %% 10 = 0
            """,
            [segment.pk, now, env],
        )
        log(f"seeding {args.responses:,} responses")
        cursor.execute(
            """
            INSERT INTO surveys_response (uuid, environment_id, survey_id, profile_id, channel,
                show_count, data, context, locale, created_at, updated_at, completed_at,
                first_data_at, last_data_at)
            SELECT gen_random_uuid(), %(env)s, %(survey)s, p.id, 'link', 1,
                   jsonb_build_object('nps', i %% 11, 'why', 'because ' || i), '{}', '',
                   t, t, t, t, t
            FROM generate_series(1, %(n)s) AS i,
                 LATERAL (SELECT %(now)s - interval '90 days' * random() - interval '1 hour')
                     AS w(t),
                 (SELECT min(id) AS first FROM profiles_profile
                  WHERE environment_id = %(env)s) AS p0,
                 LATERAL (SELECT p0.first + i %% %(profiles)s AS id) AS p
            """,
            {
                "env": env,
                "survey": survey.pk,
                "n": args.responses,
                "now": now,
                "profiles": args.profiles,
            },
        )
        cursor.execute("ANALYZE")
    in_vip = {"type": "segment", "segment": str(segment.uuid), "operator": "in"}
    kinds = [
        {"question_key": "nps", "score_min": 0, "score_max": 6},
        {"rules": {"op": "and", "conditions": [in_vip]}},
        {"trait": ("plan", "in", "pro, enterprise")},
        {"trait": ("seats", "gte", "100"), "question_key": "nps", "score_min": 9},
        {"survey": survey},
    ]
    for i in range(args.subscriptions):
        fields = dict(kinds[i % len(kinds)])
        trait = fields.pop("trait", None)
        if trait:
            fields["rules"] = services.subscription_rules(
                environment_id=env,
                trigger="response",
                trait_key=trait[0],
                trait_operator=trait[1],
                trait_value=trait[2],
            )
        AlertSubscription.objects.create(
            environment=environment,
            user=owner.user,
            name=f"Alert {i}",
            created_at=now - dt.timedelta(days=365),
            **fields,
        )
    return environment, survey


def main() -> None:
    import datetime as dt

    args = parse_args()
    url = setup_database(args)
    log(f"database {urlparse(url).path[1:]}")
    from django.db import connection
    from django.urls import reverse
    from django.utils import timezone

    from alerts import services
    from alerts.models import AlertSent

    _, survey = seed(args)
    now = timezone.now()
    services.alerts_sweep(now=now)  # cursors in place; nothing in the window yet

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) * 1000

    quiet = [timed(lambda: services.alerts_sweep(now=timezone.now())) for _ in range(args.runs)]

    # K responses completed in the last minute (moved into the window), matched every run.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE surveys_response SET completed_at = %s
            WHERE id IN (SELECT id FROM surveys_response WHERE survey_id = %s
                         ORDER BY id LIMIT %s)
            """,
            [timezone.now() - dt.timedelta(seconds=30), survey.pk, args.new],
        )
    busy, queued = [], 0
    for _ in range(args.runs):
        AlertSent.objects.all().delete()
        started = time.perf_counter()
        queued = services.alerts_sweep(now=timezone.now())
        busy.append((time.perf_counter() - started) * 1000)
    AlertSent.objects.exclude(pk__in=AlertSent.objects.order_by("pk")[:50]).delete()
    AlertSent.objects.update(slack_done=True)
    reverse("environments:login")  # the URLconf's one-time import is not the batch's cost
    deliver = timed(lambda: services.alerts_deliver(now=timezone.now() + dt.timedelta(seconds=1)))

    print()
    sizes = f"{args.responses:,} responses, {args.subscriptions} subscriptions"
    print(f"{sizes}, {args.profiles:,} profiles")
    print(f"{'measure':<34}{'median ms':>12}{'max ms':>10}")
    print(f"{'sweep, nothing new':<34}{statistics.median(quiet):>12.1f}{max(quiet):>10.1f}")
    label = f"sweep, {args.new:,} new ({queued:,} alerts)"
    print(f"{label:<34}{statistics.median(busy):>12.1f}{max(busy):>10.1f}")
    print(f"{'delivery batch (50 emails)':<34}{deliver:>12.1f}{deliver:>10.1f}")


if __name__ == "__main__":
    main()
