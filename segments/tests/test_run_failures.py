"""A segment run that fails, or that never finishes, is shown as such and can be run again,
with or without beat. (The same with a real worker: test_worker_crash.py.)"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import OperationalError
from django.utils import timezone

from profiles.factories import ProfileFactory
from segments import selectors, services, tasks
from segments.models import RecomputeStatus, Segment, SegmentMembership
from segments.tests.celery_fixtures import database_url_for_tests
from tests.helpers import HTMX, eurl
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


@pytest.fixture
def segment(environment) -> Segment:
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
    segment.refresh_from_db()
    return segment


@pytest.fixture
def broken_compiler(monkeypatch):
    """The compiler raising what it once raised after a trait's type changed (a KeyError)."""

    def raise_key_error(segment, *, now):
        raise KeyError("equals")

    monkeypatch.setattr(services, "matching_ids_sql", raise_key_error)
    return monkeypatch


def members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
    )


def test_any_error_in_a_run_marks_it_failed_with_its_reason(
    segment, broken_compiler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = services.segment_recompute_request(segment=segment)
    segment.refresh_from_db()
    assert segment.status == RecomputeStatus.FAILED
    assert segment.version == version
    assert segment.error == "The recompute stopped with an error: KeyError: 'equals'"


def test_recompute_now_with_a_failing_run_shows_the_reason_and_offers_recompute_again(
    owner_client, environment, segment, broken_compiler, django_capture_on_commit_callbacks
):
    pro = ProfileFactory(environment=environment, traits={"plan": "pro"})
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(eurl(environment, "segments:recompute", uuid=segment.uuid))
    assert response.status_code == 302
    page = owner_client.get(eurl(environment, "segments:detail", uuid=segment.uuid))
    html = page.content.decode()
    assert "Failed" in html
    assert "KeyError: &#x27;equals&#x27;" in html
    assert page.context["run_lost"] is False
    assert 'type="submit" class="btn small" >Recompute now' in html  # enabled

    # Fixed (the compiler takes the rules again): the next run succeeds and clears the failure.
    broken_compiler.undo()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(eurl(environment, "segments:recompute", uuid=segment.uuid))
    segment.refresh_from_db()
    assert (segment.status, segment.error, members(segment)) == (
        RecomputeStatus.IDLE,
        "",
        {pro.pk},
    )


def test_a_failing_refresh_marks_the_segment_failed_and_a_good_one_clears_it(
    segment, broken_compiler
):
    tasks.recompute_segment.delay(segment.pk, None)  # a refresh (periodic, dependents)
    segment.refresh_from_db()
    assert segment.status == RecomputeStatus.FAILED and "KeyError" in segment.error
    broken_compiler.undo()
    tasks.recompute_segment.delay(segment.pk, None)
    segment.refresh_from_db()
    assert (segment.status, segment.error) == (RecomputeStatus.IDLE, "")


def test_a_database_error_on_a_worker_waits_queued_for_its_retry(segment, monkeypatch):

    def lose_connection(segment, *, now):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "matching_ids_sql", lose_connection)
    Segment.objects.filter(pk=segment.pk).update(status=RecomputeStatus.RUNNING)
    services.segment_mark_retrying(segment_id=segment.pk, version=segment.version)
    segment.refresh_from_db()
    # Queued, not running: the lost-run check leaves it to its retry.
    assert segment.status == RecomputeStatus.QUEUED
    assert selectors.segment_run_lost(segment=segment) is False


# --- Runs that never finish --------------------------------------------------------------------


def interrupted(segment, status=RecomputeStatus.RUNNING, ago=dt.timedelta(seconds=1)) -> None:
    """What a run leaves when its process dies mid-run (the web process running it inline, or a
    worker): the status it showed, and no database session holding the segment's lock."""
    Segment.objects.filter(pk=segment.pk).update(
        status=status, status_changed_at=timezone.now() - ago
    )
    segment.refresh_from_db()


@pytest.fixture
def other_session():
    """A second database session (another worker's), on the test database."""
    with psycopg.connect(database_url_for_tests(), autocommit=True) as conn:
        yield conn


def test_a_running_run_is_alive_while_a_session_holds_its_lock(segment, other_session):
    interrupted(segment)
    other_session.execute(
        "SELECT pg_advisory_lock(%s, %s)", [services.ADVISORY_LOCK_CLASS, segment.pk]
    )
    assert selectors.segment_run_lost(segment=segment) is False
    assert services.segments_reset_stuck() == []
    other_session.execute(
        "SELECT pg_advisory_unlock(%s, %s)", [services.ADVISORY_LOCK_CLASS, segment.pk]
    )
    # The session (the run) is gone: the run is lost at once, no timeout.
    assert selectors.segment_run_lost(segment=segment) is True


def test_a_lost_run_is_queued_again_under_a_new_version(
    environment, segment, django_capture_on_commit_callbacks
):
    pro = ProfileFactory(environment=environment, traits={"plan": "pro"})
    interrupted(segment)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.segments_reset_stuck() == [segment.pk]
    segment.refresh_from_db()
    assert segment.status == RecomputeStatus.IDLE
    assert segment.computed_version == segment.version
    assert members(segment) == {pro.pk}
    assert services.segments_reset_stuck() == []


def test_a_run_queued_past_the_stuck_limit_is_queued_again(segment, settings):
    interrupted(segment, RecomputeStatus.QUEUED, ago=dt.timedelta(seconds=59))
    settings.HARK_SEGMENT_STUCK_SECONDS = 60
    # Queued (its message waits for a worker): left alone until the limit.
    assert services.segments_reset_stuck() == []
    interrupted(segment, RecomputeStatus.QUEUED, ago=dt.timedelta(seconds=61))
    assert services.segments_reset_stuck() == [segment.pk]


def test_without_beat_the_page_shows_a_lost_run_and_offers_recompute(
    owner_client, environment, segment, django_capture_on_commit_callbacks, settings
):
    """`make run` runs no beat: a run that died with its web process shows as interrupted, and
    Recompute (disabled while a run is alive) runs it again."""
    assert settings.REDIS_URL is None  # tasks run inline, as under `make run`
    pro = ProfileFactory(environment=environment, traits={"plan": "pro"})
    interrupted(segment)
    status = owner_client.get(eurl(environment, "segments:status", uuid=segment.uuid), headers=HTMX)
    html = status.content.decode()
    assert "Interrupted" in html and 'id="run-lost"' in html
    assert "disabled" not in html
    page = owner_client.get(eurl(environment, "segments:detail", uuid=segment.uuid))
    assert page.context["run_lost"] is True

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(eurl(environment, "segments:recompute", uuid=segment.uuid))
    segment.refresh_from_db()
    assert segment.status == RecomputeStatus.IDLE and members(segment) == {pro.pk}
    page = owner_client.get(eurl(environment, "segments:detail", uuid=segment.uuid))
    assert page.context["run_lost"] is False and "Interrupted" not in page.content.decode()


def test_an_alive_run_keeps_recompute_disabled(owner_client, environment, segment, other_session):
    interrupted(segment)
    other_session.execute(
        "SELECT pg_advisory_lock(%s, %s)", [services.ADVISORY_LOCK_CLASS, segment.pk]
    )
    html = owner_client.get(
        eurl(environment, "segments:detail", uuid=segment.uuid)
    ).content.decode()
    assert "Computing…" in html and "Interrupted" not in html
    assert "disabled>Recompute now" in html


def test_the_lost_run_check_costs_two_queries(segment, django_assert_num_queries):
    interrupted(segment)
    with django_assert_num_queries(2):
        assert [s.pk for s in selectors.segments_lost_runs()] == [segment.pk]


def test_the_list_shows_failed_and_interrupted_runs_in_constant_queries(
    owner_client, environment, segment, django_assert_max_num_queries
):
    def add(name: str, status: str, error: str = "") -> Segment:
        other = services.segment_create(environment=environment, name=name, rules=PRO)
        Segment.objects.filter(pk=other.pk).update(status=status, error=error)
        return other

    interrupted(segment)
    owner_client.get(eurl(environment, "segments:list"))  # warm the session
    with django_assert_max_num_queries(9) as queries:
        page = owner_client.get(eurl(environment, "segments:list"))
    html = page.content.decode()
    assert html.count("Interrupted") == 1
    fewer = len(queries)

    for i in range(3):
        add(f"Failed {i}", RecomputeStatus.FAILED, error=f"reason {i}")
        add(f"Lost {i}", RecomputeStatus.RUNNING)
    with django_assert_max_num_queries(fewer):
        page = owner_client.get(eurl(environment, "segments:list"))
    html = page.content.decode()
    assert html.count("Interrupted") == 4
    assert 'title="reason 2">Failed' in html
