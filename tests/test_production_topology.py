"""The production topology, as the Procfile starts it: gunicorn, a Celery worker and Celery
beat on a real Redis, against the test database. Nothing here calls a task: what happens is
what the processes do by themselves.

Each process runs the Procfile's command line as it stands (only the binaries are the
virtualenv's), with production settings (DEBUG off, no test mode), a queue of its own
(HARK_CELERY_QUEUE) so a concurrent test run on the same Redis cannot take its tasks, and the
test database (so the tests use transactional databases: the processes see committed rows).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from config.celery import app
from environments.services import api_key_create
from events.models import Event
from profiles.models import Profile
from segments import services
from segments.models import RecomputeStatus, Segment, SegmentMembership
from segments.tests import celery_fixtures
from segments.tests.celery_fixtures import HarkProcess, _free_port, new_queue, worker_env
from traits.factories import TraitFactory

pytestmark = [
    pytest.mark.production,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

# A real Redis (see celery_fixtures).
redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}
SCHEDULED = {
    "segments-evaluate-changed-profiles": "segments.tasks.evaluate_dirty_profiles",
    "segments-refresh-time-windows": "segments.tasks.refresh_time_window_segments",
    "segments-reset-stuck-runs": "segments.tasks.reset_stuck_runs",
    "events-drain-pageviews": "events.tasks.drain_pageviews",
    "events-rollup": "events.tasks.rollup_event_counts",
    "events-resume-deletions": "events.tasks.resume_event_definition_deletes",
    "traits-count-profiles": "traits.tasks.count_trait_profiles",
    "surveys-rollup-recent-days": "surveys.tasks.rollup_response_stats",
    "surveys-rollup-all-days": "surveys.tasks.rollup_response_stats",
    "alerts-sweep": "alerts.tasks.sweep_and_deliver",
    "alerts-digests": "alerts.tasks.send_digests",
    "webhooks-drain": "webhooks.tasks.webhooks_drain",
    "events-partitions": "events.tasks.ensure_event_partitions",
    "retention-purge": "retention.tasks.purge",
    "governance-purge-audit-log": "governance.tasks.purge_audit_log",
}


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    processes = dict(line.split(":", 1) for line in lines if line.strip())
    return {name: command.split() for name, command in processes.items()}


def production_env(broker: str, queue: str, **extra: str) -> dict[str, str]:
    env = worker_env(
        broker,
        queue,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        **extra,
    )
    for name in ("HARK_TESTING", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    return env


def start(name: str, env: dict[str, str], cwd: Path = ROOT, *extra: str) -> HarkProcess:
    """The Procfile's `name` process, with the virtualenv's binary."""
    command = procfile()[name]
    return HarkProcess([str(BIN / command[0]), *command[1:], *extra], env, name, cwd=cwd)


def loaded_schedule(beat: HarkProcess) -> dict[str, str]:
    """Entry name -> task, from the schedule beat logs as it starts (at DEBUG level)."""
    beat.wait_for_log("beat: Ticking")
    return dict(re.findall(r"<ScheduleEntry: (\S+) (\S+)\(", beat.log()))


def wait_for(predicate, processes: list[HarkProcess], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in processes)
            pytest.fail(f"timed out waiting for {what}:\n{logs}")
        time.sleep(0.25)


def test_beat_started_as_the_procfile_says_loads_the_whole_schedule(redis_url, tmp_path):
    queue = new_queue()
    # --loglevel=DEBUG after the Procfile's own: beat then logs the schedule it loaded.
    beat = start("beat", production_env(redis_url, queue), tmp_path, "--loglevel=DEBUG")
    try:
        schedule = loaded_schedule(beat)
    finally:
        beat.stop()
        redis.Redis.from_url(redis_url).delete(queue)
    assert {name: schedule.get(name) for name in SCHEDULED} == SCHEDULED, beat.log()[-4000:]
    # And each scheduled task is one a worker knows (a typo would be scheduled, then dropped).
    app.loader.import_default_modules()
    assert set(SCHEDULED.values()) <= set(app.tasks)


def api_post(base: str, key: str, path: str, body: dict) -> int:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_identify_through_the_api_changes_dynamic_segment_membership(
    environment, redis_url, tmp_path
):
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    # Created before the processes start (its first recompute runs inline here: no members).
    segment = services.segment_create(
        environment=environment, name="Pro", kind="dynamic", rules=PRO
    )
    assert Segment.objects.get(pk=segment.pk).status == RecomputeStatus.IDLE
    _, key = api_key_create(environment=environment, name="topology")

    with procfile_processes(redis_url, tmp_path, key) as (base, processes):

        def member(user_id: str) -> bool:
            return SegmentMembership.objects.filter(
                segment=segment, profile__user_id=user_id
            ).exists()

        assert api_post(base, key, "/api/v1/identify-user", {"id": "u-1", "plan": "pro"}) == 201
        wait_for(lambda: member("u-1"), processes, "u-1 to enter the segment")
        assert Segment.objects.get(pk=segment.pk).member_count == 1

        # And out again when the trait changes.
        assert api_post(base, key, "/api/v1/identify-user", {"id": "u-1", "plan": "free"}) == 200
        wait_for(lambda: not member("u-1"), processes, "u-1 to leave the segment")
        assert Segment.objects.get(pk=segment.pk).member_count == 0
        assert Profile.objects.get(environment=environment, user_id="u-1").traits["plan"] == "free"


@contextlib.contextmanager
def procfile_processes(redis_url: str, tmp_path: Path, key: str):
    """web, worker and beat as the Procfile starts them, on a queue of their own, once gunicorn
    answers: yields (base URL, processes)."""
    queue = new_queue()
    port = _free_port()
    env = production_env(redis_url, queue, PORT=str(port), WEB_CONCURRENCY="1")
    processes: list[HarkProcess] = []
    try:
        processes.append(start("web", env))
        processes.append(start("worker", env))
        processes.append(start("beat", env, tmp_path))
        for process in processes:
            process.wait_for_log(
                {"web": "Booting worker", "worker": "ready.", "beat": "beat: Starting"}[
                    process.name
                ]
            )
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return api_post(base, key, "/api/v1/identify-user", {"id": "probe"}) == 201
            except OSError:
                return False

        wait_for(answers, processes, "gunicorn to answer")
        yield base, processes
    finally:
        for process in reversed(processes):
            process.stop()
        redis.Redis.from_url(redis_url).delete(queue, f"hark:{queue}:pageviews")


def test_page_views_of_the_web_client_are_queued_and_stored_by_the_worker(
    environment, redis_url, tmp_path
):
    """The client API queues an identified user's page view in Redis (events/buffer.py); beat's
    drain, run by the worker, stores it."""
    _, key = api_key_create(environment=environment, name="topology")
    with procfile_processes(redis_url, tmp_path, key) as (base, processes):
        for page in ("/pricing", "/billing"):
            body = {
                "anonymous_id": "device-000000000001",
                "user": {"id": "u-1"},
                "url": f"https://app.test{page}",
            }
            path = f"/api/v1/client/page?key={environment.public_key}"
            assert api_post(base, "", path, body) == 200
        views = Event.objects.filter(environment=environment, definition__name="$pageview")
        wait_for(lambda: views.count() == 2, processes, "the page views to be stored")
        assert sorted(e.properties["path"] for e in views) == ["/billing", "/pricing"]
        assert {e.profile.user_id for e in views.select_related("profile")} == {"u-1"}
