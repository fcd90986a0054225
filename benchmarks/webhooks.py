"""Webhooks at scale: a 100,000-profile segment recompute with and without a webhook subscribed
to segment events, and deliveries per second to a fast local receiver with 4 worker processes.

Seeds its own database (default hark_bench_webhooks, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432) with COPY: N profiles, half of them with plan "pro". Then:

  recompute     services.segment_recompute of "plan is pro" from empty (N/2 profiles enter),
                then with everyone moved to "pro" and back (N/2 enter, then N/2 leave), first
                with no endpoint, then with one subscribed to segment.entered/left (the outbox
                rows are written by the recompute's own statements). Median of --runs.
  fan-out       the drain's set-based fan-out of those events to deliveries (off the
                recompute's path).
  deliveries/s  `celery worker --concurrency 4` (prefork: 4 processes) on Redis draining
                --deliveries events to a local receiver (a threaded http.server in its own
                process, answering 200 at once); timed from the kick to the last success.

Usage:
    .venv/bin/python benchmarks/webhooks.py                    # 100,000 profiles, 5,000 sends
    .venv/bin/python benchmarks/webhooks.py --profiles 20000 --deliveries 2000   # quick
Needs Redis on REDIS_URL or redis://127.0.0.1:6379 (database 14 by default) for the worker.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="hark_bench_webhooks")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    return parser.parse_args()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


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
    os.environ.pop("REDIS_URL", None)  # this process calls services directly
    os.environ["HARK_WEBHOOKS_ALLOW_PRIVATE"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Without Redis, Celery runs tasks inline: the drain a recompute kicks after commit would
    # run inside the timing. Here the drain is measured apart (fan-out, the worker run).
    import webhooks.outbox

    webhooks.outbox._kick = lambda: None
    return target


def seed(n: int):
    from django.db import connection
    from django.utils import timezone

    from environments.services import environment_create

    environment = environment_create(name="Webhooks benchmark")
    now = timezone.now().isoformat()
    with connection.cursor() as cursor:
        raw = cursor.connection
        with (
            raw.cursor() as pg,
            pg.copy(
                "COPY profiles_profile (uuid, environment_id, user_id, email, traits, "
                "first_seen_at, last_seen_at) FROM STDIN"
            ) as copy,
        ):
            buffer = io.StringIO()
            for i in range(n):
                plan = "pro" if i % 2 else "free"
                buffer.write(
                    f"{uuid.uuid4()}\t{environment.pk}\tu{i}\tu{i}@example.com\t"
                    f'{{"plan": "{plan}"}}\t{now}\t{now}\n'
                )
            copy.write(buffer.getvalue())
        cursor.execute("ANALYZE profiles_profile")
    return environment


def reset_segment(segment) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM segments_segmentmembership WHERE segment_id = %s", [segment.pk])
        cursor.execute(
            "DELETE FROM segments_segmentmembershipchange WHERE segment_id = %s", [segment.pk]
        )
        cursor.execute("TRUNCATE webhooks_outboxevent CASCADE")
        cursor.execute("VACUUM ANALYZE segments_segmentmembership")


def time_recompute(segment, runs: int) -> tuple[float, float, int]:
    """(median seconds of a from-empty recompute, median of a move-everyone-out, outbox rows)."""
    from django.db import connection

    from segments.services import segment_recompute
    from webhooks.models import OutboxEvent

    enter_times, leave_times = [], []
    rows = 0
    for _ in range(runs):
        reset_segment(segment)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE profiles_profile SET traits = jsonb_build_object('plan', "
                "CASE WHEN id %% 2 = 1 THEN 'pro' ELSE 'free' END) "
                "WHERE environment_id = %s",
                [segment.environment_id],
            )
        started = time.perf_counter()
        result = segment_recompute(segment_id=segment.pk)
        enter_times.append(time.perf_counter() - started)
        entered = result.entered
        with connection.cursor() as cursor:
            cursor.execute(
                'UPDATE profiles_profile SET traits = \'{"plan": "free"}\' '
                "WHERE environment_id = %s",
                [segment.environment_id],
            )
        started = time.perf_counter()
        result = segment_recompute(segment_id=segment.pk)
        leave_times.append(time.perf_counter() - started)
        rows = OutboxEvent.objects.count()
        log(f"  run: {entered:,} entered, {result.left:,} left, {rows:,} outbox rows")
    return statistics.median(enter_times), statistics.median(leave_times), rows


def receiver_process(port_queue) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def deliveries_per_second(environment, args: argparse.Namespace, target_db: str) -> float:
    from django.db import connection

    from webhooks.models import Delivery, WebhookEndpoint

    WebhookEndpoint.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE webhooks_outboxevent CASCADE")
    ports: multiprocessing.Queue = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=receiver_process, args=(ports,), daemon=True)
    receiver.start()
    port = ports.get(timeout=10)
    from webhooks.services import endpoint_create, fan_out

    endpoint_create(
        environment=environment,
        url=f"http://127.0.0.1:{port}/hook",
        event_types=["contact.identified"],
    )
    # One event per contact (distinct contacts: per-contact order does not serialise them).
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_outboxevent (environment_id, event_type, profile_id,
                                              contact_key, data)
            SELECT environment_id, 'contact.identified', id, id, '{"created": true}'::jsonb
            FROM profiles_profile WHERE environment_id = %s ORDER BY id LIMIT %s
            """,
            [environment.pk, args.deliveries],
        )
    while fan_out() >= 5000:
        pass
    queue = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": target_db,
        "REDIS_URL": args.redis,
        "HARK_CELERY_QUEUE": queue,
        "HARK_WEBHOOKS_ALLOW_PRIVATE": "1",
        "LOG_LEVEL": "WARNING",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    worker_log = open("/tmp/hark-bench-webhooks-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            celery,
            "-A",
            "config",
            "worker",
            "--concurrency=4",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(6)  # the worker boots (4 processes)
        from celery import Celery

        app = Celery("bench", broker=args.redis)  # a plain sender on the workers' broker
        started = time.perf_counter()
        for _ in range(8):  # more tasks than processes: each drains until nothing is due
            app.send_task("webhooks.tasks.webhooks_drain", queue=queue)
        deadline = time.monotonic() + 300
        while Delivery.objects.filter(status="succeeded").count() < args.deliveries:
            if time.monotonic() > deadline:
                raise SystemExit("deliveries did not finish in 5 minutes (see the worker log)")
            # Tasks end when a batch comes back empty; keep one queued, as beat would.
            app.send_task("webhooks.tasks.webhooks_drain", queue=queue)
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        receiver.terminate()
    return args.deliveries / elapsed


def main() -> None:
    args = parse_args()
    target = setup_database(args)
    log(f"seeding {args.profiles:,} profiles")
    environment = seed(args.profiles)
    from segments.models import Segment
    from webhooks.services import endpoint_create, fan_out

    segment = Segment.objects.create(
        environment=environment,
        name="Pro",
        rules={
            "op": "and",
            "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
        },
    )
    log("recompute without webhooks")
    plain_enter, plain_leave, rows = time_recompute(segment, args.runs)
    assert rows == 0
    endpoint_create(
        environment=environment,
        url="https://93.184.215.14/hook",
        event_types=["segment.entered", "segment.left"],
        enabled=True,
    )
    log("recompute with a webhook subscribed to segment.entered/left")
    hook_enter, hook_leave, rows = time_recompute(segment, args.runs)
    started = time.perf_counter()
    while fan_out() >= 5000:
        pass
    fanout = time.perf_counter() - started
    log(f"deliveries per second ({args.deliveries:,} events, 4 worker processes)")
    rate = deliveries_per_second(environment, args, target)
    half = args.profiles // 2
    print()
    print(f"| measure ({args.profiles:,} profiles) | without webhooks | with a webhook |")
    print("| --- | --- | --- |")
    print(f"| recompute, {half:,} enter | {plain_enter:.2f} s | {hook_enter:.2f} s |")
    print(f"| recompute, {half:,} leave | {plain_leave:.2f} s | {hook_leave:.2f} s |")
    print(f"| fan-out of {rows:,} events to deliveries (drain) | | {fanout:.2f} s |")
    print(f"| deliveries per second (4 worker processes) | | {rate:,.0f} /s |")


if __name__ == "__main__":
    main()
