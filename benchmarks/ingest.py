"""Ingestion throughput and latency, against the server as it runs in production.

Starts gunicorn with the Procfile's configuration (config/gunicorn_conf.py: sync workers, two
per core, DEBUG off, a SECRET_KEY, DATABASE_URL, REDIS_URL when given) on a loopback port,
creates an environment and an API key, then drives each case with concurrent HTTP clients
(processes x threads, stdlib http.client) for a fixed time, and prints requests per second and
p50/p99 latency per case:

    trivial   GET /api/v1/                 (key check: the same stack, no ingestion work)
    identify  POST /api/v1/identify-user   (id, email, 5 traits; users drawn from a pool)
    track     POST /api/v1/track-event     (3 properties, a message_id, 20 event names)
    batch     POST /segment/v1/batch       (N track messages per request; events/s reported)

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hark_bench .venv/bin/python benchmarks/ingest.py
    .venv/bin/python benchmarks/ingest.py --duration 10 --rounds 1 --cases trivial,identify

Each case runs at full speed (every client sends its next request when the last is answered),
in --rounds interleaved rounds (trivial, identify, track, then again): each ratio compares runs
made minutes apart, and the goal summary at the end takes the median over rounds. Identify and
track then run again paced at a fixed rate, by default half the trivial endpoint's median
throughput: latency at that load, counted from when each request was due (a slow answer delays
the following requests, and their latency shows it).

With --fresh-db NAME (the default: hark_bench) the database is dropped, created and migrated
first, on the server of DATABASE_URL (or postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
EVENT_NAMES = [f"Feature {i} Used" for i in range(20)]
PLANS = ["free", "starter", "pro", "enterprise"]


# --- Setup ---------------------------------------------------------------------------------------


def database_url(args: argparse.Namespace) -> str:
    base = (
        args.database_url
        or os.environ.get("DATABASE_URL")
        or ("postgres://postgres@127.0.0.1:5432/postgres")
    )
    if not args.fresh_db:
        return base
    parsed = urlparse(base)
    admin = urlunparse(parsed._replace(path="/postgres"))
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.fresh_db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.fresh_db}"')
    return urlunparse(parsed._replace(path="/" + args.fresh_db))


def server_env(args: argparse.Namespace, db_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "HARK_API_RATE_LIMIT": str(10**9),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def prepare(env: dict[str, str], known_users: int) -> str:
    """Migrate, then create an environment and an API key, and the first `known_users` users of
    the pool (a product's users are mostly known: identify then updates, track finds the
    profile; the rest are created on first sight). Returns the key."""
    import psycopg

    subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    code = (
        "import django; django.setup()\n"
        "from environments.services import environment_create, api_key_create\n"
        "env = environment_create(name='Benchmark')\n"
        "print(env.pk, api_key_create(environment=env, name='bench')[1])\n"
    )
    out = subprocess.run(
        [str(PYTHON), "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    environment_id, key = out.stdout.strip().splitlines()[-1].split()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO profiles_profile (uuid, environment_id, user_id, email, traits, "
            "first_seen_at, last_seen_at) "
            "SELECT gen_random_uuid(), %s, 'user-' || i, 'user-' || i || '@example.test', "
            "jsonb_build_object('plan', 'free', 'seats', i %% 50), "
            "now() - interval '1 day', now() - interval '1 day' "
            "FROM generate_series(0, %s - 1) i",
            [int(environment_id), known_users],
        )
        conn.execute("ANALYZE")
    return key


def start_server(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    """gunicorn as the Procfile runs it (config/gunicorn_conf.py: sync workers, two per core,
    an access log line per request), on a loopback port; --workers, --worker-class and
    --threads override the configuration. The access log goes to /dev/null (written, as in
    production, but not shown)."""
    cmd = [
        str(GUNICORN),
        "config.wsgi:application",
        "--config",
        str(ROOT / "config" / "gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
    ]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.worker_class:
        cmd += ["--worker-class", args.worker_class, "--keep-alive", "30"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited at start") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start listening")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- Requests ------------------------------------------------------------------------------------


def build_request(
    case: str, rng: random.Random, batch_size: int, users: int
) -> tuple[str, str, bytes | None]:
    user = f"user-{rng.randrange(users)}"
    if case == "trivial":
        return "GET", "/api/v1/", None
    if case == "identify":
        body = {
            "id": user,
            "email": f"{user}@example.test",
            "plan": rng.choice(PLANS),
            "seats": rng.randrange(1, 50),
            "beta": rng.random() < 0.3,
            "company": f"Company {rng.randrange(5000)}",
            "signed_up_at": "2024-05-01T10:00:00Z",
        }
        return "POST", "/api/v1/identify-user", json.dumps(body).encode()
    if case == "track":
        body = {
            "event": rng.choice(EVENT_NAMES),
            "id": user,
            "properties": {"path": "/app", "count": rng.randrange(100), "ok": True},
            "message_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        return "POST", "/api/v1/track-event", json.dumps(body).encode()
    if case == "batch":
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        batch = [
            {
                "type": "track",
                "userId": f"user-{rng.randrange(users)}",
                "event": rng.choice(EVENT_NAMES),
                "properties": {"path": "/app", "count": i},
                "timestamp": now,
                "messageId": uuid.UUID(int=rng.getrandbits(128)).hex,
                "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
            }
            for i in range(batch_size)
        ]
        body = {"batch": batch, "sentAt": now}
        return "POST", "/segment/v1/batch", json.dumps(body).encode()
    raise ValueError(case)


def _client_thread(
    port: int,
    key: str,
    case: str,
    stop_at: float,
    batch_size: int,
    users: int,
    seed: int,
    interval: float,
    out: list,
    prebuilt: list | None = None,
) -> None:
    """Send requests one after the other until stop_at: as fast as the server answers, or with
    `interval` > 0 one every `interval` seconds (paced). A paced request's latency counts from
    when it was due, not from when it was sent, so a slow answer that delays the following
    requests shows in their latency too (no coordinated omission). `prebuilt`: requests made
    before the clock started, sent first."""
    rng = random.Random(seed)
    basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    headers = {"Authorization": basic, "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    due = time.perf_counter() + (rng.random() * interval)  # threads start spread out
    while time.perf_counter() < stop_at:
        if prebuilt:
            method, path, body = prebuilt.pop()
        else:
            method, path, body = build_request(case, rng, batch_size, users)
        if interval:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            start = due
            due += interval
        else:
            start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = 200 <= response.status < 300
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors += 1
    conn.close()
    out.append((latencies, errors))


# Batches built ahead per client thread and second of the run: building one (1,000 messages,
# a message id each, JSON-encoded) costs the client about 9 ms of CPU, a tenth of what the
# server spends storing it, taken from the same two cores. Other requests are built as sent
# (about 10 us each).
PREBUILT_BATCHES_PER_SECOND = 6


def _client_process(args: tuple) -> tuple[list[float], int, float, float]:
    """One client process: its threads' latencies and errors, and when its run started and
    ended (wall clock, so the runs of all processes can be put together)."""
    port, key, case, duration, threads, batch_size, users, seed, interval, start_at = args
    out: list = []
    prebuilt: list[list | None] = [None] * threads
    if case == "batch":
        count = int(duration * PREBUILT_BATCHES_PER_SECOND)
        for t in range(threads):
            rng = random.Random(seed * 1000 + t + 500)
            prebuilt[t] = [build_request(case, rng, batch_size, users) for _ in range(count)]
    time.sleep(max(0.0, start_at - time.time()))  # every process starts together
    started = time.time()
    stop_at = time.perf_counter() + duration
    workers = [
        threading.Thread(
            target=_client_thread,
            args=(
                port,
                key,
                case,
                stop_at,
                batch_size,
                users,
                seed * 1000 + t,
                interval,
                out,
                prebuilt[t],
            ),
        )
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    latencies = [x for lat, _ in out for x in lat]
    return latencies, sum(e for _, e in out), started, time.time()


def analyze(db_url: str) -> None:
    """Statistics for the tables the warm-up filled. A fresh database has none, and autovacuum
    looks only once a minute: until it does, the plans PostgreSQL caches for the prepared
    ingestion statements assume empty tables (a production database has its statistics)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def _drive(args: argparse.Namespace, key: str, case: str, duration: float, rate: float, seed: int):
    """Run the clients for `duration` seconds; `rate` > 0 paces them to that many requests per
    second in all. Returns (latencies, errors, elapsed)."""
    if rate:
        threads = args.paced_client_threads
        interval = args.clients * threads / rate
    else:
        threads = args.batch_client_threads if case == "batch" else args.client_threads
        interval = 0.0
    # Time for batches to be built ahead (generously: the clients share the cores).
    ahead = threads * duration * PREBUILT_BATCHES_PER_SECOND * 0.02 if case == "batch" else 0
    start_at = time.time() + ahead + 0.5
    with mp.Pool(args.clients) as pool:
        results = pool.map(
            _client_process,
            [
                (
                    args.port,
                    key,
                    case,
                    duration,
                    threads,
                    args.batch_size,
                    args.users,
                    seed + i,
                    interval,
                    start_at,
                )
                for i in range(args.clients)
            ],
        )
    # From the first client's start to the last one's end (any batches built ahead excluded).
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    latencies = sorted(x for r in results for x in r[0])
    return latencies, sum(r[1] for r in results), elapsed


def _server_cpu(args: argparse.Namespace) -> dict[tuple[str, int], float]:
    """CPU seconds used so far by each process serving the benchmark: gunicorn's (its process
    group) and the PostgreSQL backends of the benchmark's database. Read from /proc (Linux)."""
    import psycopg

    with psycopg.connect(args.db_url, autocommit=True) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    used = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, ... utime and stime are fields 14 and 15.
        # Other process groups of the run (a Celery worker and beat), by name.
        groups = {args.server_pid: "app", **getattr(args, "process_groups", {})}
        kind = "db" if pid in pids else groups.get(int(fields[2]))
        if kind is not None:
            seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            used[(kind, pid)] = seconds
    return used


def run_case(args: argparse.Namespace, key: str, case: str, rate: float = 0.0) -> dict:
    """One case: a warm-up, fresh statistics, then the measured run (at full speed, or paced at
    `rate` requests per second)."""
    if args.warmup:
        _drive(args, key, case, args.warmup, rate, seed=99)
        analyze(args.db_url)
    # Sampled every half second, not only at both ends: database connections are replaced
    # during a run (CONN_MAX_AGE), and a process that exits takes its CPU time with it.
    before = _server_cpu(args)
    last = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            last.update(_server_cpu(args))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    latencies, errors, elapsed = _drive(args, key, case, args.duration, rate, seed=0)
    done.set()
    sampler.join()
    last.update(_server_cpu(args))
    cpu = {"app": 0.0, "db": 0.0}
    for (kind, pid), seconds in last.items():
        cpu[kind] += seconds - before.get((kind, pid), 0.0)
    n = len(latencies)
    per_request = args.batch_size if case == "batch" else 1
    return {
        "case": case,
        "rate": rate,
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "events_per_s": n * per_request / elapsed if case == "batch" else None,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "app_ms": cpu["app"] / n * 1000 if n else float("nan"),
        "db_ms": cpu["db"] / n * 1000 if n else float("nan"),
    }


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    trivial_by_round = {r["round"]: r["rps"] for r in rows if r["case"] == "trivial"}
    full_speed = [r["rps"] for r in rows if r["case"] == "trivial"]
    median_trivial = statistics.median(full_speed) if full_speed else None
    print()
    print(
        f"gunicorn (config/gunicorn_conf.py): {args.workers or 2 * (os.cpu_count() or 1)} "
        f"{args.worker_class or 'sync'} workers"
        + (f" x {args.threads} threads" if args.threads else "")
        + ", "
        f"clients {args.clients} processes x {args.client_threads} threads "
        f"({args.batch_client_threads} for batch, {args.paced_client_threads} paced), "
        f"{args.duration:g} s per case, batch of {args.batch_size}, {args.users:,} users, "
        f"{os.cpu_count()} CPUs, redis={'on' if args.redis_url else 'off'}"
    )
    header = f"{'case':<10}{'round':>6}{'load':>14}{'requests':>10}{'errors':>8}{'req/s':>10}"
    header += f"{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'vs trivial':>12}{'CPU ms app+db':>15}"
    print(header)
    print("-" * len(header))
    for r in rows:
        # A full-speed run against the trivial run of its round; a paced one against the median.
        base = trivial_by_round.get(r["round"]) if r["round"] else median_trivial
        ratio = f"{r['rps'] / base:.0%}" if base and r["case"] != "batch" else ""
        events = f"{r['events_per_s']:,.0f}" if r["events_per_s"] else ""
        load = f"paced {r['rate']:,.0f}/s" if r["rate"] else "max"
        cpu = f"{r['app_ms']:.2f}+{r['db_ms']:.2f}"
        print(
            f"{r['case']:<10}{r['round'] or '':>6}{load:>14}{r['requests']:>10,}{r['errors']:>8}"
            f"{r['rps']:>10,.0f}{events:>11}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{ratio:>12}"
            f"{cpu:>15}"
        )
    print(
        "CPU ms app+db: CPU time per request of gunicorn's processes and of the database's "
        "backends (less sensitive than req/s to whatever else the machine runs)."
    )
    print()
    print(goal_summary(rows, trivial_by_round))


def goal_summary(rows: list[dict], trivial_by_round: dict) -> str:
    """The goals against the full-speed runs: identify and track at 50% or more of the
    trivial endpoint's throughput (the median over rounds of each round's ratio) with p99 under
    50 ms and no errors; batches at 20,000 events/s or more."""
    lines = []
    for case in ("identify", "track"):
        runs = [r for r in rows if r["case"] == case and r["round"]]
        ratios = [
            r["rps"] / trivial_by_round[r["round"]] for r in runs if r["round"] in trivial_by_round
        ]
        if not ratios:
            continue
        ratio = statistics.median(ratios)
        p99 = max(r["p99_ms"] for r in runs)
        errors = sum(r["errors"] for r in runs)
        met = ratio >= 0.5 and p99 < 50 and errors == 0
        lines.append(
            f"{case}: {ratio:.0%} of trivial (median of {len(ratios)} rounds: "
            f"{', '.join(f'{x:.0%}' for x in ratios)}), worst p99 {p99:.1f} ms, "
            f"{errors} errors: goal {'met' if met else 'NOT met'}"
        )
    batch = [r for r in rows if r["case"] == "batch" and r["round"]]
    if batch:
        rate = batch[-1]["events_per_s"]
        errors = batch[-1]["errors"]
        met = rate >= 20_000 and errors == 0
        lines.append(
            f"batch: {rate:,.0f} events/s, {errors} errors: goal {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each case")
    parser.add_argument("--cases", default="trivial,identify,track,batch")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="full-speed runs of each case, interleaved; ratios are taken within a round",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn worker processes (default: the config's)"
    )
    parser.add_argument(
        "--worker-class",
        default="",
        help="gunicorn worker class (default: the config's, sync; gthread keeps client "
        "connections alive)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per gthread worker (default: the config's)"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--client-threads", type=int, default=8, help="threads per client")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--batch-client-threads",
        type=int,
        default=2,
        help="threads per client for batches (libraries send a few batches at a time)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=20_000,
        help="size of the user pool calls are drawn from (first sight creates the profile)",
    )
    parser.add_argument(
        "--paced",
        type=float,
        default=0.5,
        help="after its full-speed run, run identify and track again paced at this fraction of "
        "the trivial endpoint's throughput, for latency at that load (0: skip)",
    )
    parser.add_argument(
        "--paced-client-threads",
        type=int,
        default=16,
        help="threads per client for paced runs (each has one request in flight)",
    )
    parser.add_argument(
        "--new-users",
        dest="known_users",
        action="store_false",
        help="start with no users (every first call for a user creates its profile); by "
        "default the pool exists before the run",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database-url", default=None, help="default: $DATABASE_URL")
    parser.add_argument(
        "--fresh-db",
        default="hark_bench",
        help="drop, create and migrate this database first ('' to use DATABASE_URL as is)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        help="REDIS_URL for the server (cache, rate limit, segment queue); '' for none",
    )
    args = parser.parse_args()

    db_url = args.db_url = database_url(args)
    env = server_env(args, db_url)
    key = prepare(env, args.users if args.known_users else 0)
    server = start_server(args, env)
    args.server_pid = server.pid
    rows: list[dict] = []
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    try:
        # Full-speed runs, round after round: the ratios compare runs minutes apart, not a
        # trivial run at the start with a track run much later (this machine's speed drifts).
        for round_ in range(1, args.rounds + 1):
            for case in cases:
                if case == "batch" and round_ < args.rounds:
                    continue  # batches once, in the last round
                print(
                    f"round {round_}: {case} for {args.duration:g} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                rows.append({**run_case(args, key, case), "round": round_})
        trivial = statistics.median([r["rps"] for r in rows if r["case"] == "trivial"] or [0])
        for case in cases:
            if case in ("identify", "track") and args.paced and trivial:
                rate = trivial * args.paced
                print(f"{case} paced at {rate:,.0f}/s ...", file=sys.stderr, flush=True)
                rows.append({**run_case(args, key, case, rate=rate), "round": None})
    finally:
        stop_server(server)
    print_table(rows, args)


if __name__ == "__main__":
    main()
