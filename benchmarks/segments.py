"""Segment evaluation at scale: full recompute next to the bare SELECT, and one profile against
50 segments.

Seeds its own database (default hark_bench_segments, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432) with COPY: N profiles (traits plan/age/country/signup_date),
M events over 20 event names and 180 days, and survey responses (an NPS survey; about one
profile in five answered). Event indexes are dropped during the load and rebuilt after it, then
everything is ANALYZEd. Then it measures:

  bare SELECT   the compiled query of the benchmark segment, ids fetched by the client
                (trait plan in pro/enterprise AND performed "Feature 0 Used" at least twice in
                the last 90 days AND completed the NPS survey)
  recompute     services.segment_recompute: first run (every member inserted), a run with
                nothing changed, and a run after 1% of the profiles changed plan
  1 vs 50       services.segment_profiles_evaluate for one random profile against 50 dynamic
                segments (traits, events, surveys, answers, time windows), median and p95

Goal: recompute within 2x the bare SELECT and under 10 s; one profile vs 50 segments < 20 ms.

Usage:
    .venv/bin/python benchmarks/segments.py                       # 1,000,000 / 10,000,000
    .venv/bin/python benchmarks/segments.py --profiles 100000 --events 1000000   # quick
    .venv/bin/python benchmarks/segments.py --reuse               # skip seeding if sizes match
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENT_NAMES = [f"Feature {i} Used" for i in range(20)]
PLANS = ["free", "starter", "pro", "enterprise"]
COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"]
CHUNK = 200_000
NULL = "\\N"  # COPY text format


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--database", default="hark_bench_segments")
    parser.add_argument("--reuse", action="store_true", help="keep the data if sizes match")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each timing")
    parser.add_argument("--single", type=int, default=50, help="profiles for the 1-vs-50 case")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def setup_database(args: argparse.Namespace) -> str:
    import psycopg

    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parsed = urlparse(base)
    admin = urlunparse(parsed._replace(path="/postgres"))
    target = urlunparse(parsed._replace(path=f"/{args.database}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
        ).fetchone()
        if exists and not args.reuse:
            conn.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{args.database}"')
    os.environ["DATABASE_URL"] = target
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.pop("REDIS_URL", None)  # inline tasks: the benchmark calls services directly
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return target


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Seeding ---------------------------------------------------------------------------------


def seeded(environment_name: str, args: argparse.Namespace) -> bool:
    from environments.models import Environment

    return Environment.objects.filter(
        name=environment_name, slug=f"bench-{args.profiles}-{args.events}"
    ).exists()


def seed(args: argparse.Namespace):
    from django.db import connection
    from django.utils import timezone

    from environments.models import Environment
    from environments.services import environment_create
    from events.models import EventDefinition
    from surveys.models import Question, Survey
    from traits.models import Trait

    slug = f"bench-{args.profiles}-{args.events}"
    existing = Environment.objects.filter(slug=slug).first()
    if existing is not None and args.reuse:
        log(f"reusing seeded environment {slug}")
        return existing
    rng = random.Random(args.seed)
    environment = environment_create(name="Segments benchmark", slug=slug)
    env_id = environment.pk
    now = timezone.now()
    for key, data_type in [
        ("plan", "string"),
        ("age", "number"),
        ("country", "string"),
        ("signup_date", "date"),
        ("beta", "boolean"),
    ]:
        Trait.objects.create(environment=environment, key=key, data_type=data_type)
    Trait.objects.create(environment=environment, key="nps", data_type="number", scope="response")
    definitions = [
        EventDefinition.objects.create(environment=environment, name=name).pk
        for name in EVENT_NAMES
    ]
    survey = Survey.objects.create(environment=environment, name="NPS", status="live")
    Question.objects.create(survey=survey, kind="nps", key="nps", title="How likely…")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('profiles_profile_id_seq')")
        first_id = cursor.fetchone()[0] + 1
        raw = cursor.connection
        with (
            raw.cursor() as pg,
            pg.copy(
                "COPY profiles_profile (id, uuid, environment_id, user_id, email, anonymous_id, "
                "traits, first_seen_at, last_seen_at) FROM STDIN"
            ) as copy,
        ):
            buffer = io.StringIO()
            for i in range(args.profiles):
                pid = first_id + i
                first = now.timestamp() - rng.random() * 365 * 86400
                last = first + rng.random() * (now.timestamp() - first)
                identified = rng.random() < 0.8
                traits = (
                    f'{{"plan": "{rng.choice(PLANS)}", "age": {rng.randint(18, 80)}, '
                    f'"country": "{rng.choice(COUNTRIES)}", '
                    f'"signup_date": "{time.strftime("%Y-%m-%d", time.gmtime(first))}", '
                    f'"beta": {"true" if rng.random() < 0.1 else "false"}}}'
                )
                user_id = f"u{pid}" if identified else NULL
                email = f"u{pid}@example.com" if identified and rng.random() < 0.9 else NULL
                buffer.write(
                    f"{pid}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{env_id}\t"
                    f"{user_id}\t{email}\ta{pid}\t{traits}\t{_ts(first)}\t{_ts(last)}\n"
                )
                if buffer.tell() > 8_000_000:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute("SELECT setval('profiles_profile_id_seq', %s)", [first_id + args.profiles])
    log(f"profiles: {args.profiles:,} in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events_event' "
            "AND indexname NOT LIKE '%%pkey'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        raw = cursor.connection
        weights = [1 / (i + 1) for i in range(len(definitions))]
        now_ts = now.timestamp()
        with (
            raw.cursor() as pg,
            pg.copy(
                "COPY events_event (environment_id, profile_id, definition_id, timestamp, "
                "received_at, properties) FROM STDIN"
            ) as copy,
        ):
            done = 0
            while done < args.events:
                n = min(CHUNK, args.events - done)
                defs = rng.choices(definitions, weights=weights, k=n)
                lines = []
                for k in range(n):
                    # Active users do more: a skewed profile choice.
                    pid = first_id + int(args.profiles * (rng.random() ** 2))
                    stamp = _ts(now_ts - rng.random() * 180 * 86400)
                    lines.append(f"{env_id}\t{pid}\t{defs[k]}\t{stamp}\t{stamp}\t{{}}\n")
                copy.write("".join(lines))
                done += n
        log(f"events: {args.events:,} copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        for _, definition in indexes:
            cursor.execute(definition)
        log(f"events: indexes rebuilt in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.connection
        with (
            raw.cursor() as pg,
            pg.copy(
                "COPY surveys_response (uuid, environment_id, survey_id, profile_id, channel, "
                "first_shown_at, last_shown_at, show_count, first_data_at, last_data_at, "
                "completed_at, data, context, locale, created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            buffer = io.StringIO()
            count = 0
            for i in range(0, args.profiles, 5):
                pid = first_id + i + rng.randrange(5)
                shown = now.timestamp() - rng.random() * 180 * 86400
                completed = rng.random() < 0.6
                answered = completed or rng.random() < 0.3
                data = f'{{"nps": {rng.randint(0, 10)}}}' if answered else "{}"
                data_at = _ts(shown + 30) if answered else "\\N"
                buffer.write(
                    f"{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{env_id}\t{survey.pk}\t"
                    f"{pid}\tweb\t{_ts(shown)}\t{_ts(shown)}\t1\t{data_at}\t{data_at}\t"
                    f"{_ts(shown + 60) if completed else chr(92) + 'N'}\t{data}\t{{}}\t\t"
                    f"{_ts(shown)}\t{_ts(shown)}\n"
                )
                count += 1
            copy.write(buffer.getvalue())
    log(f"responses: {count:,} in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("profiles_profile", "events_event", "surveys_response", "traits_trait"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    log(f"vacuum analyze in {time.perf_counter() - started:.1f}s")
    return environment


def _ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


# --- Segments --------------------------------------------------------------------------------


def benchmark_rules(survey_uuid: str) -> dict:
    return {
        "op": "and",
        "conditions": [
            {"type": "trait", "key": "plan", "operator": "in", "value": ["pro", "enterprise"]},
            {
                "type": "event",
                "event": "Feature 0 Used",
                "operator": "at_least",
                "count": 2,
                "within_days": 90,
            },
            {
                "type": "survey",
                "survey": survey_uuid,
                "operator": "has",
                "action": "completed",
                "within_days": None,
            },
        ],
    }


def fifty_rules(survey_uuid: str, rng: random.Random) -> list[dict]:
    """50 varied segments, as a product team would have them."""
    out = []
    for i in range(50):
        pick = i % 10
        event = EVENT_NAMES[i % len(EVENT_NAMES)]
        if pick == 0:
            c = [{"type": "trait", "key": "plan", "operator": "equals", "value": PLANS[i % 4]}]
        elif pick == 1:
            c = [{"type": "trait", "key": "age", "operator": "between", "value": [20 + i % 20, 50]}]
        elif pick == 2:
            c = [
                {
                    "type": "event",
                    "event": event,
                    "operator": "at_least",
                    "count": 1 + i % 5,
                    "within_days": 7 + i,
                }
            ]
        elif pick == 3:
            c = [{"type": "event", "event": event, "operator": "not_performed", "within_days": 30}]
        elif pick == 4:
            c = [
                {
                    "type": "survey",
                    "survey": survey_uuid,
                    "operator": "has",
                    "action": "completed",
                    "within_days": None,
                }
            ]
        elif pick == 5:
            c = [
                {
                    "type": "answer",
                    "survey": survey_uuid,
                    "question": "nps",
                    "operator": "lte",
                    "value": 6,
                }
            ]
        elif pick == 6:
            c = [
                {
                    "type": "profile",
                    "field": "last_seen_at",
                    "operator": "within_last_days",
                    "value": 30,
                },
                {
                    "type": "trait",
                    "key": "country",
                    "operator": "in",
                    "value": COUNTRIES[: 1 + i % 4],
                },
            ]
        elif pick == 7:
            c = [
                {
                    "type": "trait",
                    "key": "signup_date",
                    "operator": "more_than_days_ago",
                    "value": 90,
                },
                {
                    "type": "event",
                    "event": event,
                    "operator": "at_most",
                    "count": 2,
                    "within_days": None,
                },
            ]
        elif pick == 8:
            c = [
                {
                    "op": "or",
                    "conditions": [
                        {"type": "trait", "key": "beta", "operator": "is_true"},
                        {
                            "type": "event",
                            "event": event,
                            "operator": "exactly",
                            "count": 1,
                            "within_days": 14,
                        },
                    ],
                }
            ]
        else:
            c = benchmark_rules(survey_uuid)["conditions"]
        out.append({"op": "and", "conditions": c})
    rng.shuffle(out)
    return out


def timed(fn, runs: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    args = parse_args()
    url = setup_database(args)
    log(f"database {urlparse(url).path[1:]}: {args.profiles:,} profiles, {args.events:,} events")
    from django.db import connection, transaction

    from segments import services
    from segments.models import Segment, SegmentMembership
    from surveys.models import Survey

    environment = seed(args)
    survey = Survey.objects.get(environment=environment, name="NPS")
    rng = random.Random(args.seed + 1)
    Segment.objects.filter(environment=environment).delete()
    rules = benchmark_rules(str(survey.uuid))
    services.segment_validate_rules(environment_id=environment.pk, rules=rules)
    segment = Segment.objects.create(environment=environment, name="Benchmark", rules=rules)

    def bare_select() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            services._set_local(cursor)  # the same work_mem as the recompute
            sql, params = services.matching_ids_sql(segment, now=now)
            cursor.execute(sql, params)
            return len(cursor.fetchall())

    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        sql, params = services.matching_ids_sql(segment, now=now)
        cursor.execute("SET work_mem = '64MB'")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET work_mem")
    log("plan of the benchmark segment:\n" + plan)

    bare_select()  # warm the cache
    bare_time, matches = timed(bare_select, args.runs)
    log(f"bare SELECT: {matches:,} ids in {bare_time * 1000:.0f} ms (median of {args.runs})")

    started = time.perf_counter()
    first = services.segment_recompute(segment_id=segment.pk, now=now)
    first_time = time.perf_counter() - started
    log(f"first recompute: +{first.entered:,} in {first_time:.2f}s {first.timings}")

    steady_time, steady = timed(
        lambda: services.segment_recompute(segment_id=segment.pk, now=now), args.runs
    )
    log(f"unchanged recompute: {steady_time:.2f}s wrote={steady.wrote} {steady.timings}")

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_profile SET traits = jsonb_set(traits, '{plan}', "
            "to_jsonb(CASE WHEN traits->>'plan' = 'pro' THEN 'free' ELSE 'pro' END)) "
            "WHERE environment_id = %s AND id %% 100 = 0",
            [environment.pk],
        )
    started = time.perf_counter()
    churn = services.segment_recompute(segment_id=segment.pk, now=now)
    churn_time = time.perf_counter() - started
    log(f"recompute after 1% churn: +{churn.entered:,} -{churn.left:,} in {churn_time:.2f}s")
    assert SegmentMembership.objects.filter(segment=segment).count() == churn.member_count

    # One profile against 50 segments.
    Segment.objects.filter(environment=environment).delete()
    for i, r in enumerate(fifty_rules(str(survey.uuid), rng)):
        services.segment_validate_rules(environment_id=environment.pk, rules=r)
        Segment.objects.create(environment=environment, name=f"S{i:02d}", rules=r)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM profiles_profile WHERE environment_id = %s",
            [environment.pk],
        )
        low, high = cursor.fetchone()
    profile_ids = [rng.randint(low, high) for _ in range(args.single)]
    for pid in profile_ids[:3]:  # warm
        services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[pid])
    first_eval, again = [], []
    for pid in profile_ids:
        started = time.perf_counter()
        services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[pid])
        first_eval.append(time.perf_counter() - started)
        # The same profile again (a burst): nothing changed, nothing written.
        started = time.perf_counter()
        services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[pid])
        again.append(time.perf_counter() - started)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * q) - 1)] * 1000

    print()
    print(
        f"Segments benchmark: {args.profiles:,} profiles, {args.events:,} events, "
        f"{os.cpu_count()} CPUs"
    )
    print("| case | time | goal |")
    print("|---|---|---|")
    print(f"| bare SELECT of matching ids ({matches:,}) | {bare_time:.2f} s | |")
    ratio = steady_time / bare_time if bare_time else 0
    print(f"| full recompute, first run (+{first.entered:,}) | {first_time:.2f} s | < 10 s |")
    goal = "≤ 2x bare, < 10 s"
    print(f"| full recompute, nothing changed | {steady_time:.2f} s ({ratio:.2f}x bare) | {goal} |")
    churn_ratio = churn_time / bare_time if bare_time else 0
    print(
        f"| full recompute, 1% churn (+{churn.entered:,} / -{churn.left:,}) "
        f"| {churn_time:.2f} s ({churn_ratio:.2f}x bare) | {goal} |"
    )
    print(
        f"| 1 profile vs 50 segments, first evaluation (writes entries), median / p95 "
        f"| {pct(first_eval, 0.5):.1f} / {pct(first_eval, 0.95):.1f} ms | < 20 ms |"
    )
    print(
        f"| 1 profile vs 50 segments, re-evaluation (no change), median / p95 "
        f"| {pct(again, 0.5):.1f} / {pct(again, 0.95):.1f} ms | < 20 ms |"
    )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
