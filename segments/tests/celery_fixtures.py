"""A real Redis and a real Celery worker for wiring tests.

Redis: the server on 127.0.0.1:6379 if one answers; otherwise a `redis-server` binary is started
on a free port for the session; with neither, the test fails with a message saying what to
install (never a skip). A dedicated database number (HARK_TEST_REDIS_DB, default 11) is flushed
first. The worker is `celery -A config worker` as a subprocess whose DATABASE_URL points at the
test database, so tests using it must use `django_db(transaction=True)` (it sees only committed
rows).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def _answers_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server():
    """(host, port) of a running Redis: the local one, or one started from redis-server."""
    if _answers_ping("127.0.0.1", 6379):
        yield "127.0.0.1", 6379
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "The Celery wiring test needs Redis: nothing answers on 127.0.0.1:6379 and no "
            "redis-server binary is installed (apt-get install redis-server)."
        )
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="hark-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers_ping("127.0.0.1", port):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"redis-server ({binary}) did not start on port {port}")
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server) -> str:
    # Not flushed: other test runs (other checkouts, CI jobs) may share this database; each run
    # uses its own queue (see celery_worker_process).
    host, port = redis_server
    return f"redis://{host}:{port}/{int(os.environ.get('HARK_TEST_REDIS_DB', '11'))}"


def database_url_for_tests() -> str:
    """A URL for the database pytest-django created (test_<name>), for another process."""

    s = connection.settings_dict
    host = s.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        host = quote(host, safe="")
    auth = quote(s.get("USER") or "postgres", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def _reset_pools(app) -> None:
    app._pool = None
    app.amqp._producer_pool = None
    app.amqp._rtable = None
    for cached in ("default_queue", "queues", "router"):
        app.amqp.__dict__.pop(cached, None)


def worker_env(redis_url: str, queue: str, **extra: str) -> dict[str, str]:
    """The environment of a Hark process (worker, beat, gunicorn) started by a test: the test
    database, `redis_url`, and a queue of its own (a concurrent test run's worker on the same
    Redis must not take, and run against its own database, the tasks of this one)."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url_for_tests(),
        "HARK_TESTING": "1",
        "HARK_CELERY_QUEUE": queue,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-only-secret"),
        "HARK_SEGMENT_DEBOUNCE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class HarkProcess:
    """A subprocess writing to a log file, started from the checkout."""

    def __init__(self, args: list[str], env: dict[str, str], name: str, cwd: Path = ROOT) -> None:
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (written while we read)
            prefix=f"hark-{name}-", suffix=".log", delete=False
        )
        self.log_path = Path(self.log_file.name)
        self.name = name
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log_file, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name}: no {text!r} in its log:\n{self.log()[-6000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log_file.close()


def celery_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("celery")), "-A", "config", *args]


def start_worker(env: dict[str, str], *, pool: str = "solo") -> HarkProcess:
    """`celery -A config worker` on the queue of `env`, once it is ready."""
    worker = HarkProcess(
        celery_command(
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--queues",
            env["HARK_CELERY_QUEUE"],
        ),
        env,
        "worker",
    )
    worker.wait_for_log("ready.")
    return worker


@contextlib.contextmanager
def publishing_to(redis_url: str, queue: str, settings):
    """This process's Celery app switched from eager mode to the broker and queue (the workers'
    ones) for the test."""

    # Keys carry the CELERY_ namespace: the app reads its config from Django settings. What
    # the app had set over them is put back, and nothing more: a value read here and set again
    # afterwards would stay set, over the settings of every later test (a test that made the
    # settings non-eager before this one ran left Celery non-eager for the rest of the run).
    keys = ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_DEFAULT_QUEUE")
    previous = {key: app.conf.changes[key] for key in keys if key in app.conf.changes}
    settings.REDIS_URL = redis_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(
        CELERY_BROKER_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_TASK_DEFAULT_QUEUE=queue,
    )
    _reset_pools(app)
    try:
        yield
    finally:
        for key in keys:
            app.conf.changes.pop(key, None)
        app.conf.update(**previous)
        _reset_pools(app)
        forget_queue(redis_url, queue)


def forget_queue(redis_url: str, queue: str) -> None:
    """Delete a test's queue, and the messages of it a killed worker left unacknowledged (kombu
    keeps them in the `unacked` hash, to hand them out again after the visibility timeout)."""

    client = redis.Redis.from_url(redis_url)
    client.delete(queue)
    for tag, raw in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def new_queue() -> str:
    return f"hark-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def celery_worker_process(redis_url, transactional_db, settings):
    """A `celery -A config worker` subprocess on `redis_url`, and this process's Celery app
    switched from eager mode to that broker for the test. Yields the worker's log path."""
    queue = new_queue()
    worker = start_worker(worker_env(redis_url, queue))
    try:
        with publishing_to(redis_url, queue, settings):
            yield worker.log_path
    finally:
        worker.stop()
