"""The client API's page views, queued in a real Redis and stored in batches (events/buffer.py).

Each test has a queue of its own (the Celery queue name keys it), on the Redis the Celery tests
use; the drain is called here as beat's task calls it. tests/test_production_topology.py checks
the same path with the Procfile's processes and no task called by hand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest
import redis
from django.db import connection

from config.celery import beat_schedule
from delivery.tests.helpers import call
from events import buffer
from events.models import Event
from events.tasks import drain_pageviews
from governance.erasure import profile_erase, profile_erasure_plan
from governance.export import contact_export_stream
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.tests import celery_fixtures

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url


@pytest.fixture
def queue(settings, redis_url):
    """Page views queued in Redis, on a queue of this test's own."""
    settings.REDIS_URL = redis_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HARK_PAGEVIEW_BUFFER_SECONDS = 2
    settings.CELERY_TASK_DEFAULT_QUEUE = f"test-buffer-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    yield client
    client.delete(buffer.queue_key())


def page(client, environment, user: str, path: str = "/pricing"):
    response = call(
        client,
        environment,
        "/page",
        {
            "anonymous_id": f"device-{user:0>12}",
            "user": {"id": user},
            "url": f"https://a.test{path}",
        },
    )
    assert response.status_code == 200, response.content
    return response


def pageviews(environment) -> list[Event]:
    return list(
        Event.objects.filter(environment=environment, definition__name="$pageview")
        .select_related("profile")
        .order_by("id")
    )


def test_a_page_call_queues_its_pageview_and_the_drain_stores_it(
    client, environment, queue, django_assert_num_queries
):
    page(client, environment, "u-1")  # the first call identifies u-1 (writes the profile)
    with django_assert_num_queries(1):  # the person's read: the page view is one RPUSH
        page(client, environment, "u-1", "/billing")
    assert pageviews(environment) == []
    assert queue.llen(buffer.queue_key()) == 2

    assert buffer.events_queue_drain() == 2
    stored = pageviews(environment)
    assert [e.properties["path"] for e in stored] == ["/pricing", "/billing"]
    assert {e.profile.user_id for e in stored} == {"u-1"}
    assert all(e.message_id.startswith("pv-") for e in stored)
    assert queue.llen(buffer.queue_key()) == 0
    assert buffer.events_queue_drain() == 0


def test_batches_of_many_users_are_stored_in_order(client, environment, queue, monkeypatch):
    monkeypatch.setattr(buffer, "BATCH", 4)
    for n in range(10):
        page(client, environment, f"u-{n % 3}", f"/p{n}")
    assert buffer.events_queue_drain() == 10
    stored = pageviews(environment)
    assert [e.properties["path"] for e in stored] == [f"/p{n}" for n in range(10)]
    assert [e.profile.user_id for e in stored] == [f"u-{n % 3}" for n in range(10)]


def test_a_drain_that_dies_after_storing_leaves_rows_that_are_not_stored_twice(
    client, environment, queue, monkeypatch
):
    for n in range(3):
        page(client, environment, "u-1", f"/p{n}")

    def killed(*args, **kwargs):
        raise ConnectionError("worker killed before the trim")

    original = queue.ltrim
    client_of_buffer = buffer._client()
    monkeypatch.setattr(client_of_buffer, "ltrim", killed)
    with pytest.raises(ConnectionError):
        buffer.events_queue_drain()
    assert len(pageviews(environment)) == 3  # committed
    assert queue.llen(buffer.queue_key()) == 3  # and still queued
    monkeypatch.setattr(client_of_buffer, "ltrim", original)

    assert buffer.events_queue_drain() == 3
    assert len(pageviews(environment)) == 3  # the message ids skipped them
    assert queue.llen(buffer.queue_key()) == 0


def test_one_drain_at_a_time(client, environment, queue):
    page(client, environment, "u-1")
    other = psycopg.connect(celery_fixtures.database_url_for_tests(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [buffer.LOCK_KEY])
        assert buffer.events_queue_drain() == 0  # another drain holds the lock
        assert queue.llen(buffer.queue_key()) == 1
    finally:
        other.close()  # a killed worker's connection: PostgreSQL releases its lock
    assert buffer.events_queue_drain() == 1


def test_rows_of_a_deleted_environment_and_rows_that_cannot_be_stored_are_dropped(
    client, environment, queue, caplog
):
    page(client, environment, "u-1", "/before")
    key = buffer.queue_key()
    row = {
        "env": environment.pk,
        "u": "u-1",
        "m": None,
        "e": "$pageview",
        "t": "2026-01-01T00:00:00+00:00",
        "s": 2,
    }
    queue.rpush(key, json.dumps({**row, "env": 10**12, "p": {}, "id": "pv-gone"}))
    # PostgreSQL's jsonb refuses \u0000: the batch fails, its rows are stored one by one.
    queue.rpush(key, json.dumps({**row, "p": {"x": "\u0000"}, "id": "pv-bad"}))
    queue.rpush(key, b"not json")
    page(client, environment, "u-1", "/after")

    assert buffer.events_queue_drain() == 5
    assert [e.properties["path"] for e in pageviews(environment)] == ["/before", "/after"]
    assert queue.llen(key) == 0
    assert "cannot be stored" in caplog.text
    assert "deleted environment" in caplog.text


def test_erasure_removes_the_persons_queued_pageviews_and_export_lists_them(
    client, environment, queue
):
    page(client, environment, "u-1", "/a")
    page(client, environment, "u-2", "/b")
    page(client, environment, "u-1", "/c")
    profile = Profile.objects.get(environment=environment, user_id="u-1")

    document = json.loads(b"".join(contact_export_stream(profile=profile)))
    queued = document["other_references"]["events: queued page views"]
    assert [r["p"]["path"] for r in queued] == ["/a", "/c"]
    assert profile_erasure_plan(profile=profile).counts["events: queued page views"] == 2

    entry = profile_erase(profile=profile)
    assert entry.counts["events: queued page views"] == 2
    assert buffer.events_queue_drain() == 1
    assert [(e.profile.user_id, e.properties["path"]) for e in pageviews(environment)] == [
        ("u-2", "/b")
    ]
    assert not Profile.objects.filter(environment=environment, user_id="u-1").exists()


def test_an_erasure_waits_for_a_running_drain_before_it_locks_the_profile(environment, queue):
    profile = ProfileFactory(environment=environment, user_id="u-1")
    other = psycopg.connect(celery_fixtures.database_url_for_tests(), autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s)", [buffer.LOCK_KEY])  # a drain, mid-batch
    done = threading.Event()

    def erase() -> None:
        try:
            profile_erase(profile=profile)
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=erase)
    thread.start()
    try:
        time.sleep(0.5)
        assert not done.is_set()
        # The drain stores this person's page view: the erasure must not hold the profile row
        # yet (taking the drain lock after it would deadlock the two).
        with other.transaction():
            other.execute("SET LOCAL lock_timeout = '2s'")
            other.execute(
                "SELECT 1 FROM profiles_profile WHERE id = %s FOR KEY SHARE", [profile.pk]
            )
    finally:
        other.close()
    thread.join(10)
    assert done.is_set()


def test_a_full_queue_stores_page_views_in_their_request(
    client, environment, queue, monkeypatch, caplog
):
    """No drain keeps up (no worker running): past QUEUE_MAX queued rows the request stores
    its page view itself, so none is lost and Redis does not grow without bound."""
    monkeypatch.setattr(buffer, "QUEUE_MAX", 2)
    for n in range(4):
        page(client, environment, "u-1", f"/p{n}")
    assert queue.llen(buffer.queue_key()) == 2
    assert [e.properties["path"] for e in pageviews(environment)] == ["/p2", "/p3"]
    assert "are queued and not drained" in caplog.text
    assert buffer.events_queue_drain() == 2
    assert sorted(e.properties["path"] for e in pageviews(environment)) == [
        "/p0",
        "/p1",
        "/p2",
        "/p3",
    ]


def test_without_the_buffer_the_pageview_is_stored_in_the_request(
    client, environment, queue, settings
):
    settings.HARK_PAGEVIEW_BUFFER_SECONDS = 0
    page(client, environment, "u-1")
    assert [e.properties["path"] for e in pageviews(environment)] == ["/pricing"]
    assert queue.llen(buffer.queue_key()) == 0


def test_the_beat_schedule_drains_every_interval(settings):
    settings.HARK_PAGEVIEW_BUFFER_SECONDS = 3
    entry = beat_schedule()["events-drain-pageviews"]
    assert entry == {"task": "events.tasks.drain_pageviews", "schedule": 3.0}
    settings.HARK_PAGEVIEW_BUFFER_SECONDS = 0
    assert "events-drain-pageviews" not in beat_schedule()


def test_a_drain_killed_between_commit_and_trim_stores_nothing_twice(
    client, environment, queue, settings
):
    """A real process killed (SIGKILL) after its statement committed and before its LTRIM:
    Redis is paused for writes (CLIENT PAUSE ... WRITE, at most 8 s: reads still answer, and
    other clients of this Redis only wait), so the drain reads the queue, stores it, and blocks
    on the trim; it is killed there. The next drain skips what was stored."""
    for n in range(5):
        page(client, environment, f"u-{n}", f"/p{n}")
    env = {
        **os.environ,
        "DATABASE_URL": celery_fixtures.database_url_for_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "HARK_CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "HARK_TESTING": "1",
        "SECRET_KEY": "test-only-secret",
    }
    code = "import django; django.setup(); from events.buffer import events_queue_drain as d; d()"
    queue.execute_command("CLIENT", "PAUSE", "8000", "WRITE")
    drain = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 30
        while len(pageviews(environment)) < 5:
            assert drain.poll() is None, "the drain ended: was Redis not paused?"
            assert time.monotonic() < deadline, "the drain did not store the page views"
            time.sleep(0.05)
        drain.send_signal(signal.SIGKILL)
        drain.wait(10)
    finally:
        queue.execute_command("CLIENT", "UNPAUSE")
    assert queue.llen(buffer.queue_key()) == 5  # never trimmed

    assert buffer.events_queue_drain() == 5  # the lock died with the killed process
    assert len(pageviews(environment)) == 5
    assert queue.llen(buffer.queue_key()) == 0


def _drain_waits_on_a_lock(blocker_pid: int) -> bool:
    with psycopg.connect(celery_fixtures.database_url_for_tests(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> %s",
            [blocker_pid],
        ).fetchone()
    assert row is not None
    return row[0] > 0


def _drain_lock_free() -> bool:
    with psycopg.connect(celery_fixtures.database_url_for_tests(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", [buffer.LOCK_KEY]).fetchone()
        return bool(row and row[0])  # released as this connection closes


def test_a_celery_worker_killed_mid_drain_loses_no_page_view_and_stores_none_twice(
    client, environment, queue, settings, redis_url
):
    """The drain task on a real Celery worker, killed (SIGKILL) while its statement waits on a
    profile row that another transaction holds. Once that transaction ends, the killed worker's
    orphaned statement commits (a single statement in autocommit needs nothing more from the
    client) or is rolled back; either way the rows are still queued, and the next drain (a
    restarted worker, at beat's next tick) stores each page view exactly once."""
    for n in range(5):
        page(client, environment, f"u-{n}", f"/p{n}")
    held = Profile.objects.get(environment=environment, user_id="u-2")
    blocker = psycopg.connect(celery_fixtures.database_url_for_tests())
    blocker.execute("SELECT 1 FROM profiles_profile WHERE id = %s FOR UPDATE", [held.pk])
    name = settings.CELERY_TASK_DEFAULT_QUEUE
    env = celery_fixtures.worker_env(redis_url, name)
    workers = [celery_fixtures.start_worker(env)]
    try:
        with celery_fixtures.publishing_to(redis_url, name, settings):
            drain_pageviews.delay()
            deadline = time.monotonic() + 60
            while not _drain_waits_on_a_lock(blocker.info.backend_pid):
                assert time.monotonic() < deadline, workers[0].log()[-3000:]
                time.sleep(0.1)
            workers[0].process.send_signal(signal.SIGKILL)
            workers[0].process.wait(timeout=10)
            assert queue.llen(buffer.queue_key()) == 5
            blocker.rollback()
            deadline = time.monotonic() + 60
            while not _drain_lock_free():  # the orphaned session ends: its lock goes with it
                assert time.monotonic() < deadline, "the killed worker's session did not end"
                time.sleep(0.1)
            assert len(pageviews(environment)) in (0, 5)  # its batch committed whole or not
            assert queue.llen(buffer.queue_key()) == 5

            # The worker restarted after the crash; beat queues a drain every few seconds.
            workers.append(celery_fixtures.start_worker(env))
            deadline = time.monotonic() + 60
            while queue.llen(buffer.queue_key()):
                assert time.monotonic() < deadline, workers[1].log()[-3000:]
                drain_pageviews.delay()
                time.sleep(0.5)
    finally:
        blocker.close()
        for worker in workers:
            worker.stop()
    stored = pageviews(environment)
    assert sorted(e.properties["path"] for e in stored) == [f"/p{n}" for n in range(5)]
    assert len({e.message_id for e in stored}) == 5
