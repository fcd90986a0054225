"""The retention purge, on a controlled clock: months dropped whole, shorter policies deleted in
batches, responses purged with their roll-up counts kept, anonymous profiles, and ingestion
racing the purge."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from environments.models import Environment
from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventMessage
from events.partitions import (
    add_months,
    month_of,
    month_start,
    partition_create,
    partition_name,
    partitions_drop_before,
    partitions_ensure,
    partitions_list,
)
from events.services import events_track, track_item
from profiles.factories import ProfileFactory
from profiles.models import Profile
from retention.models import RetentionPolicy
from retention.services import environment_purge, retention_purge
from segments.models import DirtyProfile, SegmentMembership
from segments.services import segment_create, segment_members_add
from segments.tests.celery_fixtures import database_url_for_tests
from surveys.factories import ResponseFactory, SurveyFactory
from surveys.models import Response
from surveys.report_rollup import DAILY_TABLE, response_stats_rollup_all

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)


def _policy(environment, **days) -> RetentionPolicy:
    return RetentionPolicy.objects.create(environment=environment, **days)


def _events(environment, at: datetime, n: int, *, message: str = "") -> list[Event]:
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment)
    return [
        EventFactory(
            profile=profile,
            definition=definition,
            timestamp=at + timedelta(minutes=i),
            message_id=f"{message}{i}" if message else None,
        )
        for i in range(n)
    ]


@pytest.fixture
def months(db):
    """Partitions for January to June 2025 (the test database has only the months around the
    day it was created)."""
    for month in range(1, 7):
        partition_create(date(2025, month, 1))


def test_a_month_expired_for_every_environment_is_one_partition_drop(
    months, environment, other_environment
):
    _policy(environment, events_days=90)
    _policy(other_environment, events_days=30)
    _events(environment, datetime(2025, 1, 10, tzinfo=UTC), 5)
    _events(other_environment, datetime(2025, 2, 10, tzinfo=UTC), 5)
    kept = _events(environment, datetime(2025, 5, 1, tzinfo=UTC), 3)
    with connection.cursor() as cursor:
        # The rows above were inserted in this test's transaction: their deferred foreign-key
        # checks must run before a DROP (the hourly task's transaction has none pending).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with CaptureQueriesContext(connection) as ctx:
        result = retention_purge(now=NOW)
    # 90 days before 15 June: 17 March. January and February go, each with one DROP; nothing
    # is deleted row by row from events_event (the batched deletes find nothing left).
    assert result["partitions_dropped"] == ["events_event_y2025m01", "events_event_y2025m02"]
    drops = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DROP TABLE")]
    assert drops == ["DROP TABLE events_event_y2025m01", "DROP TABLE events_event_y2025m02"]
    assert RetentionPolicy.objects.get(pk=environment.pk).last_purge["events"] == 0
    assert RetentionPolicy.objects.get(pk=other_environment.pk).last_purge["events"] == 0
    assert {p.month for p in partitions_list()} >= {date(2025, m, 1) for m in (3, 4, 5, 6)}
    assert list(Event.objects.order_by("pk")) == kept


def test_an_environment_that_keeps_events_forever_keeps_every_month(
    months, environment, other_environment
):
    _policy(environment, events_days=30)
    old = _events(environment, datetime(2025, 1, 10, tzinfo=UTC), 4, message="a")
    forever = _events(other_environment, datetime(2025, 1, 10, tzinfo=UTC), 4, message="b")
    recent = _events(environment, datetime(2025, 6, 1, tzinfo=UTC), 2, message="c")
    EventMessage.objects.bulk_create(
        EventMessage(
            environment_id=e.environment_id, message_id=e.message_id, timestamp=e.timestamp
        )
        for e in old + forever + recent
    )

    result = retention_purge(now=NOW, batch=3)  # 4 old events: two batches

    assert result["partitions_dropped"] == []
    assert set(Event.objects.all()) == set(forever + recent)
    assert RetentionPolicy.objects.get(pk=environment.pk).last_purge["events"] == 4
    # The message ids go with their events (a retry of a purged event would be stored again,
    # and purged again by the next run).
    assert set(EventMessage.objects.values_list("message_id", flat=True)) == {
        e.message_id for e in forever + recent
    }


def test_shorter_policy_deletes_inside_a_month_by_the_cutoff(months, environment):
    _policy(environment, events_days=10)
    before = _events(environment, NOW - timedelta(days=10, minutes=10), 3)
    after = _events(environment, NOW - timedelta(days=9), 3)
    assert environment_purge(environment_id=environment.pk, now=NOW, batch=2)["events"] == 3
    assert set(Event.objects.all()) == set(after)
    assert not Event.objects.filter(pk__in=[e.pk for e in before]).exists()


def test_no_policy_purges_nothing(months, environment):
    _events(environment, datetime(2025, 1, 1, tzinfo=UTC), 2)
    ResponseFactory(
        survey=SurveyFactory(environment=environment), created_at=NOW.replace(year=2020)
    )
    assert retention_purge(now=NOW) == {"partitions_dropped": [], "environments": 0}
    assert Event.objects.count() == 2 and Response.objects.count() == 1


def _daily_rows(environment) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, survey_id, views, responses, completed FROM {DAILY_TABLE} "
            "WHERE environment_id = %s ORDER BY day, survey_id",
            [environment.pk],
        )
        return cursor.fetchall()


def test_responses_purge_keeps_the_rolled_up_counts(environment, settings):
    settings.TIME_ZONE = "UTC"
    survey = SurveyFactory(environment=environment)
    for days_ago in (200, 200, 120, 31, 29, 3):
        ResponseFactory(
            survey=survey, created_at=NOW - timedelta(days=days_ago), data={"q": 1}, completed=True
        )
    _policy(environment, responses_days=30)

    counts = environment_purge(environment_id=environment.pk, now=NOW, batch=2)

    assert counts["responses"] == 4  # created before 16 May (the day 30 days before 15 June)
    assert sorted(r.created_at for r in Response.objects.all()) == [
        NOW - timedelta(days=29),
        NOW - timedelta(days=3),
    ]
    rolled = _daily_rows(environment)
    assert [(day, views) for day, _, views, _, _ in rolled if day < date(2025, 5, 16)] == [
        ((NOW - timedelta(days=200)).date(), 2),
        ((NOW - timedelta(days=120)).date(), 1),
        ((NOW - timedelta(days=31)).date(), 1),
    ]
    # The daily full roll-up does not recompute the purged days from what is left.
    response_stats_rollup_all(full=True)
    assert [r for r in _daily_rows(environment) if r[0] < date(2025, 5, 16)] == [
        r for r in rolled if r[0] < date(2025, 5, 16)
    ]
    policy = RetentionPolicy.objects.get(pk=environment.pk)
    assert policy.responses_purged_before == date(2025, 5, 16)
    # A second run the same day has nothing to do.
    assert environment_purge(environment_id=environment.pk, now=NOW)["responses"] == 0


def test_anonymous_profiles_without_activity_are_purged_with_their_events(months, environment):
    _policy(environment, anonymous_profiles_days=30)
    old = NOW - timedelta(days=31)
    stale = ProfileFactory(environment=environment, user_id=None, email=None, last_seen_at=old)
    EventFactory(profile=stale, timestamp=old)
    identified = ProfileFactory(environment=environment, user_id="u1", last_seen_at=old)
    by_email = ProfileFactory(
        environment=environment, user_id=None, email="a@acme.test", last_seen_at=old
    )
    active = ProfileFactory(
        environment=environment, user_id=None, email=None, last_seen_at=NOW - timedelta(days=2)
    )
    respondent = ProfileFactory(environment=environment, user_id=None, email=None, last_seen_at=old)
    ResponseFactory(survey=SurveyFactory(environment=environment), profile=respondent)

    assert environment_purge(environment_id=environment.pk, now=NOW)["anonymous_profiles"] == 1

    assert set(Profile.objects.all()) == {identified, by_email, active, respondent}
    assert not Event.objects.exists()


def test_purged_anonymous_profiles_leave_their_segments_counted_and_no_queue_entry(
    months, environment
):
    """A purged anonymous member lowers its segments' member counts, like an erasure, and
    leaves nothing in the re-evaluation queue (a bare id, no foreign key)."""
    _policy(environment, anonymous_profiles_days=30)
    old = NOW - timedelta(days=31)
    stale = ProfileFactory(environment=environment, user_id=None, email=None, last_seen_at=old)
    kept = ProfileFactory(environment=environment, user_id="u1", last_seen_at=old)
    segment = segment_create(environment=environment, name="Early", kind="manual")
    segment_members_add(segment=segment, profile_ids=[stale.pk, kept.pk])
    DirtyProfile.objects.create(environment_id=environment.pk, profile_id=stale.pk)
    segment.refresh_from_db()
    assert segment.member_count == 2

    assert environment_purge(environment_id=environment.pk, now=NOW)["anonymous_profiles"] == 1

    segment.refresh_from_db()
    assert segment.member_count == 1
    assert list(SegmentMembership.objects.values_list("profile_id", flat=True)) == [kept.pk]
    assert not DirtyProfile.objects.filter(profile_id=stale.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_ingestion_keeps_working_while_the_purge_runs():
    """The daily partition task, then a purge dropping an expired month and deleting
    thousands of old events in small batches, raced by tracking in two threads: every track
    call succeeds and every event is stored."""
    environment = Environment.objects.create(name="Race", slug="race")
    _policy(environment, events_days=1)
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="Old")
    expired = add_months(month_of(timezone.now()), -2)
    partition_create(expired)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO events_event (environment_id, profile_id, definition_id, timestamp,
                   received_at, properties)
               SELECT %s, %s, %s, now() - interval '3 days' - g * interval '1 second',
                      now(), '{}'::jsonb
               FROM generate_series(1, 6000) g
               UNION ALL
               SELECT %s, %s, %s, %s + g * interval '1 minute', now(), '{}'::jsonb
               FROM generate_series(1, 3000) g""",
            [environment.pk, profile.pk, definition.pk] * 2 + [month_start(expired)],
        )
    errors: list[BaseException] = []
    stored: list[bool] = []
    purge_started = threading.Event()
    purge_done = threading.Event()
    purge_span: list[float] = []
    calls: list[tuple[float, float]] = []
    purged: dict = {}
    created: list[str] = []

    def purge() -> None:
        try:
            purge_span.append(time.monotonic())
            purge_started.set()
            # The daily task's partitions too (months ahead of a clock a year on).
            created.extend(partitions_ensure(now=timezone.now() + timedelta(days=365), ahead=2))
            purged.update(retention_purge(batch=100))
        except BaseException as exc:
            errors.append(exc)
        finally:
            purge_span.append(time.monotonic())
            purge_done.set()
            connections.close_all()

    def track(worker: int) -> None:
        try:
            purge_started.wait()
            i = 0
            # At least 40 calls each, and on until the purge is over: the calls overlap it.
            while i < 40 or not purge_done.is_set():
                items = [
                    track_item(
                        event="Live", user_id=f"w{worker}-{i % 5}", message_id=f"{worker}-{i}"
                    )
                ]
                if i % 4 == 0:  # batches too
                    items.append(track_item(event="Live", anonymous_id=f"d{worker}-{i}"))
                started = time.monotonic()
                stored.extend(
                    item.stored for item in events_track(environment=environment, items=items)
                )
                calls.append((started, time.monotonic()))
                i += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=purge)] + [
        threading.Thread(target=track, args=(w,)) for w in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(stored) >= 2 * (40 + 10) and all(stored)
    assert Event.objects.filter(definition__name="Live").count() == len(stored)
    # Track calls ran, and completed, while the purge was running.
    begun, ended = purge_span
    assert any(begun <= start and end <= ended for start, end in calls), (purge_span, calls[:3])
    assert not Event.objects.filter(definition=definition).exists()
    # (Months that other transactional tests left behind, all older, may go too.)
    assert partition_name(expired) in purged["partitions_dropped"]
    assert len(created) == 3
    # The 6,000 of the last few days in batches (the month two months back went whole).
    assert RetentionPolicy.objects.get(pk=environment.pk).last_purge["events"] == 6000


@pytest.mark.django_db(transaction=True)
def test_a_month_being_read_is_left_for_the_next_run():
    """A long query reading an expired month holds a lock the DROP waits for: the drop gives up
    after its lock timeout (no error, nothing else stops), and the next run drops it."""
    expired = add_months(month_of(timezone.now()), -3)
    partition_create(expired)
    name = partition_name(expired)
    cutoff = month_start(add_months(expired, 1))
    reader = psycopg.connect(database_url_for_tests())
    try:
        reader.execute(f"SELECT count(*) FROM {name}")  # its transaction stays open
        assert name not in partitions_drop_before(cutoff)
        assert name in {p.name for p in partitions_list()}
    finally:
        reader.rollback()
        reader.close()
    assert name in partitions_drop_before(cutoff)
    assert name not in {p.name for p in partitions_list()}
