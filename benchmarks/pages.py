"""Server time of every dashboard page on a large environment.

    .venv/bin/python benchmarks/pages.py                 # seed (first run) and measure
    .venv/bin/python benchmarks/pages.py --iterations 60 --reseed
    .venv/bin/python benchmarks/pages.py --profiles 20000 --events 100000 --responses 50000

It works in its own database (default postgres://postgres@127.0.0.1:5432/hark_bench_pages,
or BENCH_DATABASE_URL), created when missing, migrated, and seeded once with
`manage.py seed_demo` (100,000 profiles, 1,000,000 events, 200,000 responses by default; a
later run reuses the data unless --reseed). One profile gets 10,000 events for the panel, and
the daily rollup of the Project Overview and the survey results page is computed first (as its
periodic task would have).

Each page is requested in-process with django.test.Client (the whole Django stack: middleware,
sessions, the view, template rendering; no network), logged in as the demo admin, after a few
warm-up requests; it prints p50 and p95 of the server time and of the SQL time (summed over a
request's queries, measured by a connection execute wrapper), the Python CPU time of the
request (thread CPU time: what the page costs us, hardly inflated when other processes share
the cores, unlike wall time) and the query count. Settings are
production-like (DEBUG off: cached templates, no query log). Pages whose URL does not exist
are reported as missing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hark_bench_pages"
PANEL_EVENTS = 10_000


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.pop("REDIS_URL", None)  # Celery tasks run inline while seeding
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import override_settings

    # Production settings, except static files are served by name (no collectstatic needed
    # for the manifest; {% static %} costs the same dictionary lookup either way).
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


def _ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def _seed(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from demo.seed import DEMO_SLUG
    from surveys.models import Response

    call_command("migrate", verbosity=0)
    have = Response.objects.filter(environment__slug=DEMO_SLUG).count()
    if have >= args.responses and not args.reseed:
        print(f"reusing the seeded data ({have:,} responses)")
        return
    print(
        f"seeding {args.profiles:,} profiles, {args.events:,} events, "
        f"{args.responses:,} responses ..."
    )
    began = time.perf_counter()
    call_command(
        "seed_demo",
        profiles=args.profiles,
        events=args.events,
        responses=args.responses,
        verbosity=0,
    )
    print(f"seeded in {time.perf_counter() - began:.0f} s")
    from django.db import connection

    # Fresh statistics and visibility maps, as autovacuum would leave a live database.
    with connection.cursor() as cursor:
        for table in (
            "profiles_profile",
            "events_event",
            "surveys_response",
            "segments_segmentmembership",
            "profiles_monthlyactivity",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _heavy_profile(environment: Any) -> Any:
    """The profile with the most events, topped up to PANEL_EVENTS events in one statement."""
    from django.db import connection
    from django.db.models import Count

    from events.models import Event, EventDefinition
    from profiles.models import Profile

    top = (
        Event.objects.filter(environment=environment)
        .values("profile_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if top is None:
        profile = Profile.objects.filter(environment=environment).order_by("id").first()
        have = 0
    else:
        profile = Profile.objects.get(pk=top["profile_id"])
        have = top["n"]
    if have < PANEL_EVENTS:
        definition = EventDefinition.objects.filter(environment=environment).order_by("id").first()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO events_event
                    (environment_id, profile_id, definition_id, timestamp, received_at, properties)
                SELECT %s, %s, %s, now() - (i || ' minutes')::interval,
                       now() - (i || ' minutes')::interval, '{"bench": true}'::jsonb
                FROM generate_series(1, %s) AS i
                """,
                [environment.pk, profile.pk, definition.pk, PANEL_EVENTS - have],
            )
            cursor.execute("ANALYZE events_event")
    return profile


RESULTS_SURVEY = "Benchmark: 10 questions"
RESULTS_RESPONSES = 80_000


def _results_survey(environment: Any) -> Any:
    """A survey of 10 questions (every kind, a logic jump) with RESULTS_RESPONSES responses over
    the last 90 days (about 70% answering, half of those completing), made once in SQL."""
    from django.db import connection

    from profiles.models import Profile
    from surveys.models import Question, Survey

    survey, created = Survey.objects.get_or_create(
        environment=environment, name=RESULTS_SURVEY, defaults={"status": "live"}
    )
    if created:
        kinds = [
            ("nps", "nps", {}, [{"operator": "lte", "value": 6, "goto": "why_bad"}]),
            ("csat", "csat", {"points": 5}, []),
            ("ces", "ces", {}, []),
            ("stars", "rating", {"scale": 5}, []),
            ("plan", "single_choice", {"choices": ["Free", "Pro", "Team", "Enterprise"]}, []),
            ("use", "multiple_choice", {"choices": ["Reports", "Export", "Alerts", "API"]}, []),
            ("why_good", "text", {}, [{"operator": "answered", "goto": "contact"}]),
            ("why_bad", "text", {}, []),
            ("contact", "email", {}, []),
            ("book", "cta", {}, []),
        ]
        for position, (key, kind, config, logic) in enumerate(kinds, start=1):
            Question.objects.create(
                survey=survey,
                position=position,
                key=key,
                kind=kind,
                title=f"Question {position} ({kind})",
                required=False,
                config=config,
                logic=logic,
            )
    if survey.responses.count() >= RESULTS_RESPONSES:
        return survey
    first = Profile.objects.filter(environment=environment).order_by("id").first()
    last = Profile.objects.filter(environment=environment).order_by("-id").first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO surveys_response (uuid, environment_id, survey_id, profile_id, channel,
                created_at, updated_at, first_shown_at, last_shown_at, show_count,
                completed_at, dismissed_at, data, context, locale)
            SELECT gen_random_uuid(), %(env)s, %(survey)s,
                   %(first)s + (random() * (%(last)s - %(first)s))::int, 'web', t, t, t, t, 1,
                   CASE WHEN a AND random() < 0.5 THEN t END,
                   CASE WHEN NOT a AND random() < 0.3 THEN t END,
                   CASE WHEN a THEN jsonb_strip_nulls(jsonb_build_object(
                       'nps', n, 'csat', (floor(random() * 5) - 2)::int,
                       'ces', 1 + floor(random() * 7)::int, 'stars', 1 + floor(random() * 5)::int,
                       'plan', (ARRAY['Free', 'Pro', 'Team', 'Enterprise'])
                           [1 + floor(random() * 4)::int],
                       'use', jsonb_build_array('Reports', 'API'),
                       'why_good', CASE WHEN n > 6 THEN 'Fast and simple ' || i END,
                       'why_bad', CASE WHEN n <= 6 THEN 'Too slow ' || i END,
                       'contact', CASE WHEN random() < 0.2 THEN 'u' || i || '@example.com' END,
                       'book', CASE WHEN random() < 0.1 THEN true END))
                   ELSE '{}'::jsonb END,
                   '{}'::jsonb, ''
            FROM (SELECT i, now() - random() * interval '90 days' AS t, random() < 0.7 AS a,
                         floor(random() * 11)::int AS n
                  FROM generate_series(1, %(n)s) AS i) AS g
            """,
            {
                "env": environment.pk,
                "survey": survey.pk,
                "first": first.pk,
                "last": last.pk,
                "n": RESULTS_RESPONSES - survey.responses.count(),
            },
        )
        cursor.execute("ANALYZE surveys_response")
    return survey


@dataclass
class Page:
    label: str
    url_name: str
    goal_ms: float | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    htmx: bool = False
    stream: bool = False


@dataclass
class Result:
    page: Page
    missing: bool = False
    status: int = 0
    times: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    queries: int = 0

    def pct(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class SqlTimer:
    """Sums the time of every query run while installed (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total += time.perf_counter() - began
            self.count += 1


def _pages(environment: Any, heavy: Any, results: Any) -> list[Page]:
    from segments.models import Segment
    from surveys.models import Question, Survey

    nps = Question.objects.filter(survey__environment=environment, kind="nps").first()
    nps_survey = nps.survey if nps else Survey.objects.filter(environment=environment).first()
    segment = Segment.objects.filter(environment=environment).order_by("-member_count").first()
    detractors = {"answer": nps.key, "op": "detractors"} if nps else {}
    pages = [
        Page("Overview (last 30 days)", "surveys:overview", 100),
        Page(
            "Overview (90 days, one survey)",
            "surveys:overview",
            100,
            params={"period": "90d", **({"survey": str(nps_survey.uuid)} if nps_survey else {})},
        ),
        Page(
            f"Overview (30 days, segment of {segment.member_count if segment else 0:,}, live)",
            "surveys:overview",
            100,
            params={"segment": str(segment.uuid) if segment else ""},
        ),
        Page("Overview (htmx fragment)", "surveys:overview", 100, htmx=True),
        Page("Response List", "surveys:responses", 50),
        Page(
            "Response List (htmx fragment, 100 rows)",
            "surveys:responses",
            50,
            params={"size": "100"},
            htmx=True,
        ),
        Page(
            "Response List: survey + completed + NPS detractors",
            "surveys:responses",
            50,
            params={
                "survey": str(nps_survey.uuid) if nps_survey else "",
                "status": "completed",
                **detractors,
            },
        ),
        Page(
            "Response List: segment + 30 days",
            "surveys:responses",
            50,
            params={"segment": str(segment.uuid) if segment else "", "period": "30d"},
        ),
        Page(
            "Response List: trait plan = enterprise",
            "surveys:responses",
            50,
            params={"trait": "plan", "trait_value": "enterprise"},
        ),
        Page("Response List: search", "surveys:responses", 50, params={"q": "slow"}),
        # The bounded count (up to 10,000 rows) the list loads after it shows (htmx).
        Page(
            "Response List: search, its count (after the list)",
            "surveys:responses_count",
            100,
            params={"q": "slow"},
            htmx=True,
        ),
        Page(
            "Response List: deep page (after cursor)",
            "surveys:responses",
            50,
            params={"after": "__deep__"},
        ),
        Page("Users", "profiles:list", 50),
        Page("Users: search", "profiles:list", 50, params={"q": "lopez"}),
        Page(
            "User panel (10,000 events)",
            "profiles:detail",
            50,
            kwargs={"uuid": heavy.uuid},
            htmx=True,
        ),
        Page(
            "User page (10,000 events, full page)",
            "profiles:detail",
            50,
            kwargs={"uuid": heavy.uuid},
        ),
        Page("Traits", "traits:list", 50),
        Page("Events", "events:list", 50),
        Page("Segments", "segments:list", 50),
        Page("Surveys", "surveys:list", 50),
        Page(
            f"Survey results (30 days; survey of {RESULTS_RESPONSES:,}, 10 questions)",
            "surveys:results",
            100,
            kwargs={"uuid": results.uuid},
        ),
        Page(
            f"Survey results (all {RESULTS_RESPONSES:,} responses)",
            "surveys:results",
            100,
            kwargs={"uuid": results.uuid},
            params={"period": "all"},
        ),
        Page(
            "Survey results (30 days, compare 2 segments, htmx)",
            "surveys:results",
            100,
            kwargs={"uuid": results.uuid},
            params={"compare": str(segment.uuid) if segment else ""},
            htmx=True,
        ),
        Page("Settings", "environments:settings", 50),
    ]
    return pages


def _deep_cursor(environment: Any) -> str:
    """The cursor 100,000 responses deep (page 4,000 at 25 a page)."""
    from core.pagination import encode_cursor
    from surveys.models import Response

    qs = Response.objects.filter(environment=environment).order_by("-created_at", "-id")
    total = qs.count()
    row = qs.only("created_at")[min(100_000, max(total - 1, 0))]
    return encode_cursor(row.created_at, row.pk)


def measure(client: Any, environment: Any, page: Page, iterations: int, warmup: int) -> Result:
    from django.db import connection
    from django.urls import NoReverseMatch, reverse

    result = Result(page)
    try:
        path = reverse(page.url_name, kwargs={"env": environment.slug, **page.kwargs})
    except NoReverseMatch:
        result.missing = True
        return result
    headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}
    for i in range(warmup + iterations):
        timer = SqlTimer()
        began = time.perf_counter()
        cpu_began = time.thread_time()
        with connection.execute_wrapper(timer):
            # secure: production redirects plain HTTP (SECURE_SSL_REDIRECT).
            response = client.get(path, page.params, secure=True, **headers)
            if response.streaming:
                for _ in response.streaming_content:
                    pass
        elapsed = time.perf_counter() - began
        cpu = time.thread_time() - cpu_began
        result.status = response.status_code
        if i >= warmup:
            result.times.append(elapsed * 1000)
            result.sql.append(timer.total * 1000)
            result.cpu.append(cpu * 1000)
            result.queries = timer.count
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--reseed", action="store_true", help="seed again even if data exists")
    parser.add_argument("--only", help="measure only pages whose label contains this text")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    _ensure_database(database_url)
    _setup_django(database_url)
    _seed(args)

    from django.test import Client

    from demo.seed import DEMO_ADMIN_EMAIL, DEMO_SLUG
    from environments.models import Environment, Membership

    environment = Environment.objects.get(slug=DEMO_SLUG)
    heavy = _heavy_profile(environment)
    results = _results_survey(environment)
    # What the periodic task keeps current in production: the daily rollup of the Overview and
    # of the survey results page (one run writes both).
    from surveys.report_rollup import response_stats_rollup

    began = time.perf_counter()
    response_stats_rollup(environment_id=environment.pk)
    print(f"Overview and results rollup of every complete day: {time.perf_counter() - began:.1f} s")
    membership = Membership.objects.select_related("user").get(
        environment=environment, user__email=DEMO_ADMIN_EMAIL
    )
    client = Client()
    client.force_login(membership.user)

    counts = _counts(environment)
    print(
        f"\nData: {counts['profiles']:,} profiles, {counts['events']:,} events, "
        f"{counts['responses']:,} responses; panel user has {counts['heavy']:,} events."
        f"\n{args.iterations} requests per page after {args.warmup} warm-up; times in ms.\n"
    )
    deep = None
    rows = []
    for page in _pages(environment, heavy, results):
        if args.only and args.only.lower() not in page.label.lower():
            continue
        if page.params.get("after") == "__deep__":
            deep = deep or _deep_cursor(environment)
            page.params["after"] = deep
        rows.append(measure(client, environment, page, args.iterations, args.warmup))
    _print_table(rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(load average during the run: {load}; {os.cpu_count()} CPUs)")


def _counts(environment: Any) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT count(*) FROM profiles_profile WHERE environment_id = %s),
                      (SELECT count(*) FROM events_event WHERE environment_id = %s),
                      (SELECT count(*) FROM surveys_response WHERE environment_id = %s),
                      (SELECT max(n) FROM (SELECT count(*) AS n FROM events_event
                       WHERE environment_id = %s GROUP BY profile_id) t)""",
            [environment.pk] * 4,
        )
        profiles, events, responses, heavy = cursor.fetchone()
    return {"profiles": profiles, "events": events, "responses": responses, "heavy": heavy or 0}


def _print_table(rows: list[Result]) -> None:
    header = (
        "| Page | Goal p95 | p50 | p95 | SQL p50 | SQL p95 | Python CPU p50 | Queries | Status |"
    )
    print(header)
    print("|" + "---|" * 9)
    for r in rows:
        goal = f"< {r.page.goal_ms:.0f}" if r.page.goal_ms else "—"
        if r.missing:
            print(f"| {r.page.label} | {goal} | — | — | — | — | — | — | missing (no URL) |")
            continue
        p50, p95 = r.pct(r.times, 0.5), r.pct(r.times, 0.95)
        s50, s95 = r.pct(r.sql, 0.5), r.pct(r.sql, 0.95)
        if r.status != 200:
            verdict = f"HTTP {r.status}"
        elif r.page.goal_ms is None:
            verdict = "—"
        else:
            verdict = "ok" if p95 < r.page.goal_ms else "SLOW"
        print(
            f"| {r.page.label} | {goal} | {p50:.1f} | {p95:.1f} | {s50:.1f} | {s95:.1f} "
            f"| {r.pct(r.cpu, 0.5):.1f} | {r.queries} | {verdict} |"
        )
    print(
        f"\n(median over all pages: {statistics.median(t for r in rows for t in r.times):.1f} ms)"
        if any(r.times for r in rows)
        else ""
    )


if __name__ == "__main__":
    main()
