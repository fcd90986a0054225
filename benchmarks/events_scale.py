"""Events at scale: 20,000,000 events, the partitioned table against a plain one, same data.

    .venv/bin/python benchmarks/events_scale.py                      # both layouts, 20M events
    .venv/bin/python benchmarks/events_scale.py --events 2000000 --layouts partitioned
    .venv/bin/python benchmarks/events_scale.py --reseed             # load the data again

Each layout has its own database (BENCH_DATABASE_URL's name, default hark_scale, for the
partitioned table as migration 0004 makes it; the same name with `_flat` for a plain table
with the same columns, primary key (id), the same three indexes and foreign keys: the layout
before 0004, with deduplication in events_eventmessage as now, so only the partitioning
differs). Each is created when missing, migrated and loaded once (a later run reuses it):

- 200,000 profiles, 40 event definitions, and --events events over the last 365 days in time
  order (as they arrive), half of them one popular event ("Event 0"), the rest spread over
  the other 39; one profile gets 10,000 more for the panel. The rows come from one
  INSERT ... SELECT over generate_series (deterministic: both layouts hold the same rows),
  loaded without indexes, which are built afterwards, then VACUUM ANALYZE (as autovacuum
  would have: index-only scans need the visibility map). The Events page's daily counts are
  rolled up set-wise, as the periodic task would have.

Then, in-process (DEBUG off, the whole Django stack for pages, no network), it measures:
- track throughput: events_track one event per call, and 100 events per call, sequentially,
  for known users with message ids (calls/s, events/s, p50/p95 ms), with no segment in the
  environment (without Redis their re-evaluation would run inside the call);
- the segment "performed <event> in the last 30 days" (the SELECT of a recompute, median of
  runs, and how many partitions its plan reads), for a rare and the popular event, and one
  profile re-evaluated against both (the worker's incremental path after a track);
- the Events page, and the User Detail Panel (htmx) of typical profiles (~100 events) and of
  the one with 10,000 events: p50/p95 server time.
Last, the tracking statement alone (prepared, as ingestion runs it) on both tables in turn, call
after call from one process, so the load of a shared machine falls on both alike (separate runs
differ by 2x on a busy machine). It runs each layout in a child process (one Django
configuration per database) and prints the tables; the raw figures are written to
benchmarks/results/events_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hark_scale"
SLUG = "scale"
ADMIN = "scale-admin@hark.test"
PROFILES = 200_000
DEFINITIONS = 40
HEAVY_EVENTS = 10_000
DAYS = 365


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def layout_url(base: str, layout: str) -> str:
    parts = urlsplit(base)
    name = parts.path.lstrip("/") + ("_flat" if layout == "flat" else "")
    return parts._replace(path=f"/{name}").geturl()


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import override_settings

    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


def _migration():
    import importlib

    return importlib.import_module("events.migrations.0004_partition_events_by_month")


def _run(cursor: Any, sql: str, params: Any = None) -> float:
    began = time.perf_counter()
    cursor.execute(sql, params)
    return time.perf_counter() - began


# --- Load -----------------------------------------------------------------------------------------


def seed(layout: str, events: int, reseed: bool) -> Any:
    from django.core.management import call_command
    from django.db import connection

    from environments.models import Environment, Role
    from environments.services import environment_create, member_add
    from events.partitions import add_months, month_of, partition_create

    call_command("migrate", verbosity=0)
    environment = Environment.objects.filter(slug=SLUG).first()
    if environment is not None and not reseed:
        log(f"{layout}: reusing the loaded data")
        return environment
    if environment is not None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE events_event, events_eventmessage")
        environment.delete()
    environment = environment_create(name="Scale", slug=SLUG)
    member_add(environment=environment, email=ADMIN, role=Role.ADMIN, password="scale-pw-123")
    m = _migration()
    env = environment.pk
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        if layout == "flat":
            # The plain table: 0004's backward table, without its unique message-id index
            # (deduplication stays in events_eventmessage, as the code now does it).
            for sql in [
                "DROP TABLE events_event",
                m.TABLE.format(name="events_event", partitioning=""),
            ]:
                cursor.execute(sql)
        else:
            now = time.time()
            from datetime import UTC, datetime

            current = month_of(datetime.fromtimestamp(now, UTC))
            for k in range(-13, 4):
                partition_create(add_months(current, k))
            for name in ("event_def_time_profile", "event_profile_def_time", "event_profile_time"):
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
            cursor.execute("ALTER TABLE events_event DROP CONSTRAINT IF EXISTS events_event_pkey")
            for fk in m.FOREIGN_KEYS:
                name = fk.split("ADD CONSTRAINT ")[1].split()[0]
                cursor.execute(f"ALTER TABLE events_event DROP CONSTRAINT IF EXISTS {name}")
        log(f"{layout}: {PROFILES:,} profiles")
        cursor.execute(
            """INSERT INTO profiles_profile
                   (uuid, environment_id, user_id, traits, first_seen_at, last_seen_at)
               SELECT gen_random_uuid(), %s, 'u' || g,
                      jsonb_build_object('plan', (ARRAY['free', 'pro', 'enterprise'])[1 + g %% 3]),
                      now() - interval '400 days', now() - (g %% 30) * interval '1 day'
               FROM generate_series(1, %s) g""",
            [env, PROFILES],
        )
        cursor.execute(
            """INSERT INTO events_eventdefinition
                   (environment_id, name, description, first_seen_at, last_seen_at, total_count,
                    deleting)
               SELECT %s, 'Event ' || g, '', now(), now(), 0, false
               FROM generate_series(0, %s - 1) g""",
            [env, DEFINITIONS],
        )
        cursor.execute("SELECT min(id) FROM profiles_profile WHERE environment_id = %s", [env])
        (pmin,) = cursor.fetchone()
        cursor.execute(
            "SELECT id FROM events_eventdefinition WHERE environment_id = %s AND name = 'Event 0'",
            [env],
        )
        (dmin,) = cursor.fetchone()
        log(f"{layout}: {events:,} events (INSERT ... SELECT generate_series, no indexes)")
        took = _run(
            cursor,
            """INSERT INTO events_event (environment_id, profile_id, definition_id, timestamp,
                   received_at, properties)
               SELECT %(env)s,
                      %(pmin)s + (g * 2654435761) %% %(profiles)s,
                      %(dmin)s + CASE WHEN g %% 2 = 0 THEN 0
                                      ELSE 1 + (g * 7919) %% (%(definitions)s - 1) END,
                      ts, ts,
                      jsonb_build_object('plan',
                                         (ARRAY['free', 'pro', 'enterprise'])[(1 + g %% 3)::int],
                                         'n', g %% 1000)
               FROM generate_series(1::bigint, %(events)s) g,
                    LATERAL (SELECT date_trunc('day', now()) - %(span)s::interval
                             + (g::float8 / %(events)s) * %(span)s::interval AS ts) t""",
            {
                "env": env,
                "pmin": pmin,
                "dmin": dmin,
                "profiles": PROFILES,
                "definitions": DEFINITIONS,
                "events": events,
                "span": f"{DAYS} days",
            },
        )
        log(f"{layout}: loaded in {took:.0f} s; the panel's profile gets {HEAVY_EVENTS:,} more")
        cursor.execute(
            """INSERT INTO events_event (environment_id, profile_id, definition_id, timestamp,
                   received_at, properties)
               SELECT %s, %s, %s + g %% 5, now() - g * interval '47 minutes',
                      now() - g * interval '47 minutes', '{}'::jsonb
               FROM generate_series(1, %s) g""",
            [env, pmin, dmin, HEAVY_EVENTS],
        )
        key = "id" if layout == "flat" else 'id, "timestamp"'
        steps = [f"ALTER TABLE events_event ADD CONSTRAINT events_event_pkey PRIMARY KEY ({key})"]
        steps += m.INDEXES + m.FOREIGN_KEYS
        for sql in steps:
            log(f"{layout}: {sql[:70]} ...")
            took = _run(cursor, sql)
            log(f"{layout}:   {took:.0f} s")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('events_event', 'id'), max(id)) FROM events_event"
        )
        log(f"{layout}: daily counts (the rollup's result), VACUUM ANALYZE")
        cursor.execute(
            """INSERT INTO events_eventdailycount (definition_id, day, count)
               SELECT definition_id, (timestamp AT TIME ZONE 'UTC')::date, count(*)
               FROM events_event GROUP BY 1, 2"""
        )
        cursor.execute(
            """UPDATE events_eventdefinition d SET total_count = s.n
               FROM (SELECT definition_id, sum(count) AS n FROM events_eventdailycount
                     GROUP BY 1) s WHERE s.definition_id = d.id"""
        )
        cursor.execute(
            """INSERT INTO events_rollupwatermark (name, last_event_id, updated_at)
               SELECT 'events', max(id), now() FROM events_event
               ON CONFLICT (name) DO UPDATE SET last_event_id = EXCLUDED.last_event_id"""
        )
        took = _run(cursor, "VACUUM ANALYZE events_event")
        cursor.execute("VACUUM ANALYZE profiles_profile")
        log(f"{layout}: vacuumed in {took:.0f} s")
    return environment


# --- Measure -----------------------------------------------------------------------------------


def measure_track(environment: Any, calls: int, batch: int) -> dict[str, float]:
    import random

    from events.services import events_track, track_item

    rng = random.Random(batch)
    # Message ids new on every run (a reused id would measure the duplicate path instead).
    ids = random.Random()
    times = []
    began = time.perf_counter()
    for _ in range(calls):
        items = [
            track_item(
                event=f"Event {rng.randrange(DEFINITIONS)}",
                user_id=f"u{rng.randint(1, PROFILES)}",
                properties={"plan": "pro", "n": rng.randrange(1000)},
                message_id=uuid.UUID(int=ids.getrandbits(128)).hex,
            )
            for _ in range(batch)
        ]
        t0 = time.perf_counter()
        events_track(environment=environment, items=items)
        times.append((time.perf_counter() - t0) * 1000)
    wall = time.perf_counter() - began
    return {
        "calls_per_s": calls / wall,
        "events_per_s": calls * batch / wall,
        "p50_ms": pct(times, 0.5),
        "p95_ms": pct(times, 0.95),
    }


def measure_segment(environment: Any, event: str, runs: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from segments import services
    from segments.models import Segment

    rules = {
        "op": "and",
        "conditions": [
            {
                "type": "event",
                "event": event,
                "operator": "at_least",
                "count": 1,
                "within_days": 30,
            }
        ],
    }
    services.segment_validate_rules(environment_id=environment.pk, rules=rules)
    segment, _ = Segment.objects.update_or_create(
        environment=environment, name=f"Performed {event} (30 days)", defaults={"rules": rules}
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        sql, params = services.matching_ids_sql(segment, now=now)
        cursor.execute("EXPLAIN " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    scanned = {
        name
        for line in plan
        for name in re.findall(r" on (events_event(?:_y\d{4}m\d{2}|_default)?) ", line + " ")
    }
    times, matched = [], 0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            services._set_local(cursor)
            cursor.execute(sql, params)
            matched = len(cursor.fetchall())
        if i:  # the first run warms the cache
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": statistics.median(times),
        "matched": matched,
        "partitions_read": len(scanned),
        "plan": plan,
    }


def measure_profile_evaluation(environment: Any, iterations: int) -> dict[str, float]:
    """One profile against the two segments above (the incremental path a worker runs for
    the profiles a track changed): prepared statements, pruned when they start."""
    import random

    from profiles.models import Profile
    from segments import services

    rng = random.Random(11)
    low = (
        Profile.objects.filter(environment=environment)
        .order_by("pk")
        .values_list("pk", flat=True)[0]
    )
    ids = [low + rng.randrange(PROFILES) for _ in range(iterations + 3)]
    times = []
    for i, pid in enumerate(ids):
        t0 = time.perf_counter()
        services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[pid])
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95)}


def measure_pages(environment: Any, iterations: int) -> dict[str, dict[str, float]]:
    import random

    from django.test import Client
    from django.urls import reverse

    from environments.models import Membership
    from profiles.models import Profile

    membership = Membership.objects.select_related("user").get(
        environment=environment, user__email=ADMIN
    )
    client = Client()
    client.force_login(membership.user)
    rng = random.Random(7)
    ids = list(
        Profile.objects.filter(environment=environment)
        .order_by("pk")
        .values_list("uuid", flat=True)[:PROFILES]
    )
    heavy = ids[0]
    typical = [ids[rng.randrange(1, len(ids))] for _ in range(iterations)]

    def timed(paths: list[str], htmx: bool) -> dict[str, float]:
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        for path in paths[:3]:
            client.get(path, secure=True, **headers)
        times = []
        for path in paths:
            t0 = time.perf_counter()
            response = client.get(path, secure=True, **headers)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        return {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95)}

    def panel(u: Any) -> str:
        return reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": u})

    events_page = reverse("events:list", kwargs={"env": environment.slug})
    return {
        "events_page": timed([events_page] * iterations, htmx=False),
        "panel_typical": timed([panel(u) for u in typical], htmx=True),
        "panel_heavy": timed([panel(heavy)] * iterations, htmx=True),
    }


def interleaved(args: argparse.Namespace) -> dict[str, Any]:
    """The tracking statement alone (prepared, as ingestion runs it), on both tables in turn,
    call after call, from one process: the machine's load (2 cores shared with other work)
    falls on both alike, which separate runs cannot promise."""
    import random
    from datetime import UTC, datetime

    import psycopg

    from core import fastjson
    from events.services import TRACK, TRACK_ONE_USER
    from profiles.services import mau_zone

    conns = {}
    for layout in ("partitioned", "flat"):
        conn = psycopg.connect(
            layout_url(args.database_url, layout),
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        )
        conn.execute(TRACK.prepare_sql)
        conn.execute(TRACK_ONE_USER.prepare_sql)
        (env,) = conn.execute(
            "SELECT id FROM environments_environment WHERE slug = %s", [SLUG]
        ).fetchone()
        conns[layout] = (conn, env)
    rng = random.Random()
    times: dict[tuple[str, int], list[float]] = {(n, k): [] for n in conns for k in (1, 100)}
    for turn in range(args.interleaved + 5):
        for size in (1, 100):
            order = list(conns) if turn % 2 else list(conns)[::-1]
            for layout in order:
                conn, env = conns[layout]
                now = datetime.now(UTC)
                rows = [
                    {
                        "n": i,
                        "u": f"u{rng.randint(1, PROFILES)}",
                        "a": None,
                        "pid": None,
                        "e": f"Event {rng.randrange(DEFINITIONS)}",
                        "t": now.isoformat(),
                        "props": {"plan": "pro", "n": rng.randrange(1000)},
                        "m": uuid.uuid4().hex,
                        "dup": False,
                    }
                    for i in range(size)
                ]
                params = {"env": env, "received": now, "synchronous_commit": "off"}
                params.update(resolution=300, tz=mau_zone(), source=1)  # the API's
                if size == 1:
                    statement = TRACK_ONE_USER
                    params.update(rows[0], props=fastjson.dumps(rows[0]["props"]))
                else:
                    statement = TRACK
                    params["rows"] = fastjson.dumps(rows)
                t0 = time.perf_counter()
                conn.execute(statement.execute_sql, statement.args(params)).fetchall()
                if turn >= 5:
                    times[(layout, size)].append((time.perf_counter() - t0) * 1000)
    return {
        f"{layout}_{size}": {"p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95)}
        for (layout, size), v in times.items()
    }


def child(args: argparse.Namespace) -> None:
    url = layout_url(args.database_url, args.layout)
    ensure_database(url)
    setup_django(url)
    began = time.perf_counter()
    environment = seed(args.layout, args.events, args.reseed)
    load_s = time.perf_counter() - began
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM events_event WHERE environment_id = %s", [environment.pk]
        )
        (count,) = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.oid = 'events_event'::regclass OR c.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events_event'::regclass)"
        )
        (size,) = cursor.fetchone()
    log(f"{args.layout}: {count:,} events, {size / 2**30:.1f} GiB with indexes")
    result: dict[str, Any] = {"layout": args.layout, "events": count, "bytes": int(size)}
    result["load_s"] = load_s
    from segments.models import Segment

    # Tracking first, with no segment in the environment: without Redis, the re-evaluation of
    # the changed profiles (a worker's job in production) would run inside the call.
    Segment.objects.filter(environment=environment).delete()
    log(f"{args.layout}: track")
    result["track_single"] = measure_track(environment, args.track_calls, 1)
    result["track_batch"] = measure_track(environment, max(1, args.track_calls // 20), 100)
    log(f"{args.layout}: segments")
    result["segment_rare"] = measure_segment(environment, "Event 1", args.runs)
    result["segment_popular"] = measure_segment(environment, "Event 0", args.runs)
    result["segment_one_profile"] = measure_profile_evaluation(environment, args.iterations)
    log(f"{args.layout}: pages")
    result["pages"] = measure_pages(environment, args.iterations)
    print("RESULT " + json.dumps(result, default=str), flush=True)


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("events in the table", lambda r: f"{r['events']:,}"),
        ("size with indexes", lambda r: f"{r['bytes'] / 2**30:.1f} GiB"),
        (
            "track, 1 event per call",
            lambda r: (
                f"{r['track_single']['calls_per_s']:.0f}/s "
                f"(p50 {r['track_single']['p50_ms']:.1f}, p95 {r['track_single']['p95_ms']:.1f} ms)"
            ),
        ),
        (
            "track, 100 events per call",
            lambda r: (
                f"{r['track_batch']['events_per_s']:,.0f} events/s "
                f"(p50 {r['track_batch']['p50_ms']:.0f}, p95 {r['track_batch']['p95_ms']:.0f} ms)"
            ),
        ),
    ]
    for key, label in (("segment_rare", "rare"), ("segment_popular", "popular")):
        rows.append(
            (
                f"segment: performed a {label} event in 30 days",
                lambda r, key=key: (
                    f"{r[key]['median_ms']:.0f} ms, {r[key]['matched']:,} "
                    f"profiles, {r[key]['partitions_read']} table(s) read"
                ),
            )
        )
    rows.append(
        (
            "segments: one profile re-evaluated p50 / p95",
            lambda r: (
                f"{r['segment_one_profile']['p50_ms']:.1f} / "
                f"{r['segment_one_profile']['p95_ms']:.1f} ms"
            ),
        )
    )
    for key, label in (
        ("events_page", "Events page"),
        ("panel_typical", "User panel (~100 events)"),
        ("panel_heavy", f"User panel ({HEAVY_EVENTS:,} events)"),
    ):
        rows.append(
            (
                f"{label} p50 / p95",
                lambda r, key=key: (
                    f"{r['pages'][key]['p50_ms']:.1f} / {r['pages'][key]['p95_ms']:.1f} ms"
                ),
            )
        )
    head = "| | " + " | ".join(r["layout"] for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for label, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt(r) for r in results) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--layouts", default="partitioned,flat")
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="segment SELECTs per event")
    parser.add_argument("--iterations", type=int, default=40, help="requests per page")
    parser.add_argument("--track-calls", type=int, default=2000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument(
        "--interleaved", type=int, default=400, help="calls per size in the A/B comparison"
    )
    args = parser.parse_args()
    if args.layout == "interleaved":
        setup_django(layout_url(args.database_url, "partitioned"))
        print("RESULT " + json.dumps({"layout": "interleaved", **interleaved(args)}), flush=True)
        return
    if args.layout:
        child(args)
        return
    results = []
    layouts = args.layouts.split(",")
    if {"partitioned", "flat"} <= set(layouts) and args.interleaved:
        layouts.append("interleaved")
    for layout in layouts:
        command = [sys.executable, __file__, "--layout", layout, *sys.argv[1:]]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("RESULT "):
                results.append(json.loads(line[len("RESULT ") :]))
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0:
            raise SystemExit(f"{layout} failed")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "events_scale.json").write_text(json.dumps(results, indent=2))
    ab = next((r for r in results if r["layout"] == "interleaved"), None)
    results = [r for r in results if r["layout"] != "interleaved"]
    print()
    print(table(results))
    if ab:
        print(f"\nThe tracking statement alone, interleaved A/B, {args.interleaved} calls each:")
        print("| | partitioned | flat |\n|---|---|---|")
        for size in (1, 100):
            print(
                f"| {size} event(s) per call, p50 / p95 | "
                + " | ".join(
                    "{p50_ms:.2f} / {p95_ms:.2f} ms".format(**ab[f"{layout}_{size}"])
                    for layout in ("partitioned", "flat")
                )
                + " |"
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n(load average at the end: {load}; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
