"""Segment runs on a real Celery worker (real Redis, real PostgreSQL) that fail, or whose worker
is killed (SIGKILL) mid-recompute: the run is marked failed with its reason, or finished by
another worker at once, never left "Computing…" until the stuck timeout (an hour).

To hold a run mid-recompute without any test hook in the code, the test holds, in a transaction
of its own, an uncommitted membership row for a profile the run is about to add: the run's
INSERT waits on it (a unique index conflict), with the segment shown running and its lock held.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from profiles.factories import ProfileFactory
from segments import selectors, services
from segments.models import RecomputeStatus, Segment, SegmentMembership
from traits.factories import TraitFactory

from . import celery_fixtures
from .celery_fixtures import (
    database_url_for_tests,
    new_queue,
    publishing_to,
    start_worker,
    worker_env,
)

# A real Redis and a real worker (see celery_fixtures).
redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url
celery_worker_process = celery_fixtures.celery_worker_process

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


def wait_for(predicate, logs: list[Path], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            text = "\n---\n".join(p.read_text(errors="replace")[-3000:] for p in logs)
            pytest.fail(f"timed out waiting for {what}; worker logs:\n{text}")
        time.sleep(0.2)


def members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
    )


def computed(segment) -> bool:
    s = Segment.objects.get(pk=segment.pk)
    return s.status == RecomputeStatus.IDLE and s.computed_version == s.version


def test_a_run_over_rules_that_no_longer_fit_finishes_on_a_worker_and_says_why(
    environment, celery_worker_process
):
    """Stored rules the compiler cannot take (written by an older version, or a trait whose
    type changed) used to raise in the run and leave the segment "Computing..." for good. On a
    real worker the run now finishes: the condition that does not fit matches nobody, the
    segment is computed (not stuck, Recompute offered again) and the page can say which
    condition is at fault. (A run that raises anything at all is marked failed with its
    reason: segments/tests/test_run_failures.py, with the compiler made to raise.)"""
    log = celery_worker_process
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
    wait_for(lambda: computed(segment) and members(segment), [log], "the first run")
    Segment.objects.filter(pk=segment.pk).update(
        rules={"op": "and", "conditions": [{"type": "retired-kind"}]}
    )
    before = Segment.objects.get(pk=segment.pk).computed_at
    services.segment_recompute_request(segment=Segment.objects.get(pk=segment.pk))

    def recomputed() -> bool:
        current = Segment.objects.get(pk=segment.pk)
        return current.status == RecomputeStatus.IDLE and current.computed_at != before

    wait_for(recomputed, [log], "the run to finish")
    assert members(segment) == set()
    assert "retired-kind" in log.read_text()


def held_run(environment):
    """A segment with two members, a third profile about to enter it, and a transaction (the
    "blocker") holding that profile's membership row uncommitted."""
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    pro = [ProfileFactory(environment=environment, traits={"plan": "pro"}) for _ in range(2)]
    ProfileFactory(environment=environment, traits={"plan": "free"})
    return pro


def hold(segment, profile) -> psycopg.Connection:
    blocker = psycopg.connect(database_url_for_tests())
    blocker.execute(
        "INSERT INTO segments_segmentmembership (segment_id, profile_id, since)"
        " VALUES (%s, %s, now())",
        [segment.pk, profile.pk],
    )
    return blocker


def run_waits_on_the_blocker() -> bool:
    """Some session (the run's) waits on a lock, in the test database."""
    with psycopg.connect(database_url_for_tests(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%segments_segmentmembership%%'"
        ).fetchone()
    assert row is not None  # count(*) always answers one row
    return row[0] > 0


def test_worker_killed_mid_recompute_the_run_is_finished_by_the_next_worker(
    environment, redis_url, settings
):
    queue = new_queue()
    env = worker_env(redis_url, queue)
    workers = [start_worker(env)]
    logs = [workers[0].log_path]
    blocker = None
    try:
        with publishing_to(redis_url, queue, settings):
            pro = held_run(environment)
            segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
            wait_for(lambda: computed(segment), logs, "the first run")
            assert members(segment) == {p.pk for p in pro}

            entering = ProfileFactory(environment=environment, traits={"plan": "pro"})
            blocker = hold(segment, entering)
            killed_version = services.segment_recompute_request(
                segment=Segment.objects.get(pk=segment.pk)
            )
            wait_for(run_waits_on_the_blocker, logs, "the run to reach the held row")
            assert Segment.objects.get(pk=segment.pk).status == RecomputeStatus.RUNNING
            assert selectors.segment_runs_alive(segment_ids=[segment.pk]) == {segment.pk}

            workers[0].process.send_signal(signal.SIGKILL)
            workers[0].process.wait(timeout=10)
            # PostgreSQL notices the dead client mid-statement and ends the orphaned run, which
            # frees the segment's lock: the run is seen as lost, with no timeout.
            wait_for(
                lambda: not selectors.segment_runs_alive(segment_ids=[segment.pk]),
                logs,
                "the killed worker's session to end",
            )
            assert selectors.segment_run_lost(segment=Segment.objects.get(pk=segment.pk))
            blocker.rollback()

            # The next worker to start (a restart after the crash) finishes the run, at once.
            workers.append(start_worker(env))
            logs.append(workers[1].log_path)
            wait_for(lambda: computed(segment), logs, "the run to be finished")
            segment.refresh_from_db()
            assert segment.version == killed_version + 1  # queued again by the lost-run check
            assert members(segment) == {*(p.pk for p in pro), entering.pk}
            assert segment.member_count == 3
    finally:
        if blocker is not None:
            blocker.close()
        for worker in workers:
            worker.stop()


def pool_children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_pool_process_killed_mid_recompute_the_same_run_is_handed_out_again(
    environment, redis_url, settings
):
    """acks_late + reject_on_worker_lost: the worker's main process sees its pool process die
    and puts the message back at once; the same run (same version) is done again."""
    queue = new_queue()
    worker = start_worker(worker_env(redis_url, queue), pool="prefork")
    blocker = None
    try:
        with publishing_to(redis_url, queue, settings):
            pro = held_run(environment)
            segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
            wait_for(lambda: computed(segment), [worker.log_path], "the first run")

            entering = ProfileFactory(environment=environment, traits={"plan": "pro"})
            blocker = hold(segment, entering)
            version = services.segment_recompute_request(segment=Segment.objects.get(pk=segment.pk))
            wait_for(run_waits_on_the_blocker, [worker.log_path], "the run to hold")
            (child,) = pool_children(worker.process.pid)
            os.kill(child, signal.SIGKILL)
            wait_for(
                lambda: "WorkerLostError" in worker.log(), [worker.log_path], "the loss noticed"
            )
            blocker.rollback()
            wait_for(lambda: computed(segment), [worker.log_path], "the run to be finished")
            segment.refresh_from_db()
            assert segment.version == version  # the same run, handed out again
            assert members(segment) == {*(p.pk for p in pro), entering.pk}
    finally:
        if blocker is not None:
            blocker.close()
        worker.stop()
