"""The client API (the web client's calls) against the server as it runs in production, with 50
live web surveys and 100,000 profiles, and the server time of one decision.

Starts gunicorn with the Procfile's configuration (as benchmarks/ingest.py does, whose setup
helpers it reuses), seeds a fresh database in SQL (100,000 identified profiles, three segments
holding 30,000 members each, 20,000 earlier survey responses, 50 live web surveys whose
targeting mixes segments, page rules, sampling, recurrence and triggers), then drives each case
with concurrent HTTP clients for a fixed time, in interleaved rounds:

    trivial  GET /api/v1/                        (secret-key check: the same stack, no work)
    page     POST /api/v1/client/page            (a returning user, on their device, starts a
                                                  page: $pageview stored, 50 surveys decided)
    anon     POST /api/v1/client/page            (an anonymous visitor: decided, nothing written)
    claim    POST /api/v1/client/displays        (re-check under the person's lock and record
                                                  the view: 201, or 409 when a gate says no)

Run it with Redis (`--redis-url`, as production runs): without it, segment re-evaluation of
the profiles a page view touched runs inline in the request, and so is each `$pageview`
stored. With it, the run also starts a Celery worker and beat as the Procfile does: page views
are queued and stored in batches by the worker (events/buffer.py), whose CPU is counted (the
"bg" column) and whose work is part of the case: after each case the run queues the drain at
once and waits until the queue is empty, and that wait counts in the case's time (its
requests per second).

It prints requests per second, p50/p99 latency and the ratio to the trivial endpoint of the
same round (goal: at least 50 % for page and claim), then times one decision in process
(what `/page` runs for a random user: the person's facts, one query, and the 50 surveys'
gates from the process snapshot: goal p95 under 20 ms).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/client_api.py
    .venv/bin/python benchmarks/client_api.py --duration 10 --rounds 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    PYTHON,
    ROOT,
    _server_cpu,
    analyze,
    database_url,
    server_env,
    start_server,
    stop_server,
)

SURVEYS = 50
PAGES = ["/", "/billing", "/billing/plans", "/settings", "/reports/42", "/docs/start"]

SEED = """
import django, json, random, sys
django.setup()
from django.db import connection
from environments.services import environment_create, api_key_create
from delivery.services import targeting_update
from segments.models import Segment
from surveys.models import Survey, Question
from surveys.services import survey_create, question_add, survey_set_status

users, surveys = int(sys.argv[1]), int(sys.argv[2])
env = environment_create(name="Benchmark")
_, secret = api_key_create(environment=env, name="bench")
with connection.cursor() as c:
    c.execute(
        "INSERT INTO profiles_profile (uuid, environment_id, user_id, email, anonymous_id, "
        "traits, first_seen_at, last_seen_at) SELECT gen_random_uuid(), %s, 'user-' || i, "
        "'user-' || i || '@example.test', 'device-' || lpad(i::text, 12, '0'), "
        "jsonb_build_object('plan', 'pro'), "
        "now() - interval '30 days', now() - interval '1 day' FROM generate_series(0, %s - 1) i",
        [env.pk, users],
    )
segments = [
    Segment.objects.create(environment=env, name=f"Segment {n}", kind="manual") for n in range(3)
]
with connection.cursor() as c:
    for n, segment in enumerate(segments):
        c.execute(
            "INSERT INTO segments_segmentmembership (segment_id, profile_id, since) "
            "SELECT %s, id, now() FROM profiles_profile WHERE environment_id = %s "
            "AND id %% 10 IN (%s, %s, %s)",
            [segment.pk, env.pk, n, n + 3, n + 6],
        )
rng = random.Random(7)
made = []
for n in range(surveys):
    survey = survey_create(environment=env, name=f"Survey {n}", channels=["web", "link"])
    for kind in ("nps", "text", "single_choice"):
        question_add(survey=survey, kind=kind)
    survey_set_status(survey=survey, status="live")
    values = {
        "trigger": rng.choice(["page", "delay", "event", "exit_intent", "scroll"]),
        "trigger_seconds": 5, "trigger_event": "clicked", "trigger_percent": 50,
        "recurrence": rng.choice(["once", "every", "until_responded"]), "recurrence_days": 30,
        "sample_percent": rng.choice([10, 25, 50, 100]),
        "priority": rng.randrange(5),
        "audience": rng.choice(["everyone", "identified"]),
    }
    if n % 3 == 0:
        values["segments_include"] = [segments[n % 3].pk]
    if n % 4 == 0:
        values["segments_exclude"] = [segments[(n + 1) % 3].pk]
    if n % 2 == 0:
        values["page_rules"] = [
            {"kind": "include", "field": "path", "op": rng.choice(["starts_with", "contains"]),
             "value": rng.choice(["/billing", "/settings", "/reports", "/"])}
        ]
    targeting_update(survey=survey, values=values)
    made.append(survey)
with connection.cursor() as c:
    c.execute(
        "INSERT INTO surveys_response (uuid, environment_id, survey_id, profile_id, channel, "
        "first_shown_at, last_shown_at, show_count, data, context, locale, created_at, "
        "updated_at) SELECT gen_random_uuid(), %s, (%s::bigint[])[1 + (p.id %% %s)], p.id, 'web', "
        "now() - interval '20 days', now() - interval '20 days', 1, '{}', '{}', '', "
        "now() - interval '20 days', now() FROM profiles_profile p "
        "WHERE p.environment_id = %s AND p.id %% 5 = 0",
        [env.pk, [s.pk for s in made], len(made), env.pk],
    )
print(json.dumps({"secret": secret, "public": env.public_key, "env": env.pk,
                  "surveys": [str(s.uuid) for s in made]}))
"""


def prepare(env: dict[str, str], users: int) -> dict:
    subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [str(PYTHON), "-c", SEED, str(users), str(SURVEYS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def build(case: str, rng: random.Random, seed: dict, users: int) -> tuple[str, str, bytes | None]:
    user = rng.randrange(users)
    # A user keeps their device; anonymous visitors are new devices.
    device = f"device-{user:012d}"
    url = f"https://app.acme.test{rng.choice(PAGES)}"
    if case == "trivial":
        return "GET", "/api/v1/", None
    key = f"?key={seed['public']}"
    if case == "page":
        body = {
            "anonymous_id": device,
            "user": {"id": f"user-{user}"},
            "url": url,
            "locale": "de",
            "title": "Acme",
        }
        return "POST", f"/api/v1/client/page{key}", json.dumps(body).encode()
    if case == "anon":
        body = {"anonymous_id": f"anon-{rng.randrange(10**9):012d}", "url": url, "locale": "en"}
        return "POST", f"/api/v1/client/page{key}", json.dumps(body).encode()
    if case == "claim":
        body = {
            "anonymous_id": device,
            "user": {"id": f"user-{user}"},
            "survey_id": rng.choice(seed["surveys"]),
            "url": url,
        }
        return "POST", f"/api/v1/client/displays{key}", json.dumps(body).encode()
    raise ValueError(case)


def _thread(port, seed, case, stop_at, users, rng_seed, out) -> None:
    rng = random.Random(rng_seed)
    headers = {
        "Authorization": f"Bearer {seed['secret']}",
        "Content-Type": "text/plain;charset=UTF-8",
        "Origin": "https://app.acme.test",
    }
    latencies, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < stop_at:
        method, path, body = build(case, rng, seed, users)
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            # A refused claim (409: a gate says no) is a full answer too.
            ok = 200 <= response.status < 300 or (case == "claim" and response.status == 409)
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - start)
        errors += not ok
    conn.close()
    out.append((latencies, errors))


def _process(args: tuple) -> tuple[list[float], int, float, float]:
    port, seed, case, duration, threads, users, rng_seed, start_at = args
    out: list = []
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    stop_at = time.perf_counter() + duration
    workers = [
        threading.Thread(
            target=_thread, args=(port, seed, case, stop_at, users, rng_seed * 100 + t, out)
        )
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return [x for lat, _ in out for x in lat], sum(e for _, e in out), started, time.time()


def drive(args: argparse.Namespace, seed: dict, case: str, duration: float, rng_seed: int):
    before = _server_cpu(args)
    start_at = time.time() + 0.5
    with mp.Pool(args.clients) as pool:
        results = pool.map(
            _process,
            [
                (
                    args.port,
                    seed,
                    case,
                    duration,
                    args.client_threads,
                    args.users,
                    rng_seed + i,
                    start_at,
                )
                for i in range(args.clients)
            ],
        )
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    # The queued page views of the case are its work too: the drain is queued at once (rather
    # than at beat's next tick, up to HARK_PAGEVIEW_BUFFER_SECONDS of idle waiting) and the
    # time until the queue is empty counts in the case's time.
    if getattr(args, "queue", None) is not None:
        tail = time.time()
        if args.queue.llen(args.queue_key):
            args.celery.send_task("events.tasks.drain_pageviews", queue=args.celery_queue)
        while args.queue.llen(args.queue_key):
            time.sleep(0.01)
        elapsed += time.time() - max(tail, max(r[3] for r in results))
    latencies = sorted(x for r in results for x in r[0])
    n = len(latencies)
    after = _server_cpu(args)
    cpu = {"app": 0.0, "db": 0.0, "bg": 0.0}
    for (kind, pid), seconds in after.items():
        cpu[kind] += seconds - before.get((kind, pid), 0.0)
    return {
        "app_ms": cpu["app"] / n * 1000 if n else float("nan"),
        "db_ms": cpu["db"] / n * 1000 if n else float("nan"),
        "bg_ms": cpu["bg"] / n * 1000 if n else float("nan"),
        "case": case,
        "requests": n,
        "errors": sum(r[1] for r in results),
        "rps": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
    }


DECISION = """
import django, json, random, sys, time
django.setup()
from delivery import selectors
env_id, users, samples = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(3)
settings = selectors.delivery_settings(env_id)  # the client API keeps it with the key
pages = PAGES_JSON
times, cpus = [], []
for n in range(samples + 20):
    user = f"user-{rng.randrange(users)}"
    url = "https://app.acme.test" + rng.choice(pages)
    start = time.perf_counter()
    cpu = time.process_time()
    facts = selectors.facts_for(environment_id=env_id, user_id=user)
    evaluation = selectors.evaluate_all(
        environment_id=env_id, facts=facts, url=url, cached=True, settings=settings
    )
    assert len(evaluation.decisions) == SURVEYS_COUNT
    took = time.perf_counter() - start
    if n >= 20:  # warm-up
        times.append(took)
        cpus.append(time.process_time() - cpu)
times.sort()
cpus.sort()
print(json.dumps({"cpu_p50": cpus[len(cpus) // 2], "cpu_p95": cpus[int(len(cpus) * 0.95)],
                  "p50": times[len(times) // 2], "p95": times[int(len(times) * 0.95)],
                  "p99": times[int(len(times) * 0.99)], "n": len(times)}))
""".replace("PAGES_JSON", json.dumps(PAGES)).replace("SURVEYS_COUNT", str(SURVEYS))


def decision_time(env: dict[str, str], seed: dict, users: int, samples: int) -> dict:
    out = subprocess.run(
        [str(PYTHON), "-c", DECISION, str(seed["env"]), str(users), str(samples)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_background(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen]:
    """A Celery worker and beat as the Procfile starts them, on an emptied queue; their CPU is
    the "bg" column (the worker stores the queued page views)."""
    import redis

    queue = env["HARK_CELERY_QUEUE"]
    from celery import Celery

    args.queue = redis.Redis.from_url(args.redis_url)
    args.celery, args.celery_queue = Celery(broker=args.redis_url), queue
    args.queue_key = f"hark:{queue}:pageviews"
    args.queue.delete(args.queue_key, queue)
    celery = [str(PYTHON), "-m", "celery", "-A", "config"]
    procs = [
        subprocess.Popen(
            [*celery, "worker", "--loglevel=WARNING", "-Q", queue],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*celery, "beat", "--loglevel=WARNING", "--schedule", f"/tmp/{queue}-beat"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        ),
    ]
    args.process_groups = {proc.pid: "bg" for proc in procs}
    time.sleep(5)  # the worker's pool and beat's first tick
    return procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="trivial,page,anon,claim")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--client-threads", type=int, default=8)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=1000, help="timed decisions")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--worker-class", default="")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--fresh-db", default="hark_bench_client")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()

    db_url = args.db_url = database_url(args)
    env = server_env(args, db_url)
    if args.redis_url:  # a queue of its own (and so a page-view queue: events/buffer.py)
        env["HARK_CELERY_QUEUE"] = f"bench-client-{os.getpid()}"
    env["HARK_CLIENT_RATE_LIMIT_IP"] = env["HARK_CLIENT_RATE_LIMIT_KEY"] = str(10**9)
    print("seeding ...", file=sys.stderr, flush=True)
    seed = prepare(env, args.users)
    analyze(db_url)
    server = start_server(args, env)
    args.server_pid = server.pid
    background = start_background(args, env) if args.redis_url else []
    rows = []
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    try:
        for round_ in range(1, args.rounds + 1):
            for case in cases:
                print(f"round {round_}: {case} ...", file=sys.stderr, flush=True)
                if args.warmup:
                    drive(args, seed, case, args.warmup, rng_seed=90 + round_)
                rows.append(
                    {**drive(args, seed, case, args.duration, round_ * 10), "round": round_}
                )
    finally:
        for proc in [server, *background]:
            stop_server(proc)
    print("timing decisions ...", file=sys.stderr, flush=True)
    decision = decision_time(env, seed, args.users, args.decisions)

    trivial = {r["round"]: r["rps"] for r in rows if r["case"] == "trivial"}
    print(
        f"\nClient API: {SURVEYS} live web surveys, {args.users:,} profiles; gunicorn "
        f"(config/gunicorn_conf.py); {args.clients} client processes x {args.client_threads} "
        f"threads; {args.duration:g} s per case, {args.rounds} rounds\n"
    )
    print(
        f"{'round':>5} {'case':<8}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'vs trivial':>12}{'CPU ms app+db+bg':>18}"
    )
    for r in rows:
        ratio = r["rps"] / trivial[r["round"]] if trivial.get(r["round"]) else float("nan")
        print(
            f"{r['round']:>5} {r['case']:<8}{r['requests']:>10}{r['errors']:>8}"
            f"{r['rps']:>10.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{ratio:>12.0%}"
            f"{r['app_ms']:>8.1f}+{r['db_ms']:.1f}+{r['bg_ms']:.2f}"
        )
    print()
    for case in cases:
        if case == "trivial":
            continue
        ratios = [
            r["rps"] / trivial[r["round"]]
            for r in rows
            if r["case"] == case and trivial.get(r["round"])
        ]
        if ratios:
            median = statistics.median(ratios)
            verdict = "meets" if median >= 0.5 else "misses"
            print(
                f"{case}: {median:.0%} of trivial (median of {len(ratios)} rounds) — "
                f"{verdict} the 50% goal"
            )
    print(
        f"one decision (50 surveys, in process): p50 {decision['p50'] * 1000:.1f} ms, "
        f"p95 {decision['p95'] * 1000:.1f} ms, p99 {decision['p99'] * 1000:.1f} ms over "
        f"{decision['n']} — {'meets' if decision['p95'] < 0.020 else 'misses'} the 20 ms goal; "
        f"CPU of the deciding process p50 {decision['cpu_p50'] * 1000:.1f} ms, "
        f"p95 {decision['cpu_p95'] * 1000:.1f} ms"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
