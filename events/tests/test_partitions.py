"""events_event partitioned by month: deduplication across months, partitions created ahead,
late events landing in DEFAULT and moved to their month, and migration 0004 on a populated
table (forward and back)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from environments.models import Environment
from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventMessage
from events.partitions import (
    DEFAULT_PARTITION,
    add_months,
    month_of,
    partition_create,
    partition_name,
    partitions_ensure,
    partitions_list,
)
from events.services import events_track, track_item
from profiles.factories import ProfileFactory
from segments.compiler import profiles_matching
from tests.helpers import partitions_read


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM events_event WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def test_events_table_is_partitioned_by_month_with_a_default(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, pg_get_partkeydef(partrelid) FROM pg_partitioned_table "
            "WHERE partrelid = 'events_event'::regclass"
        )
        assert cursor.fetchone() == ("r", 'RANGE ("timestamp")')
        cursor.execute("SELECT to_regclass(%s)", [DEFAULT_PARTITION])
        assert cursor.fetchone()[0] == DEFAULT_PARTITION


@pytest.mark.parametrize("batched", [False, True])
def test_same_message_id_in_two_months_is_stored_once(environment, batched):
    """The unique constraint cannot be on events_event (it would have to include the month):
    events_eventmessage dedupes a retry whose timestamp falls in another month."""
    partition_create(date(2025, 1, 1))
    partition_create(date(2025, 2, 1))
    january = datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC)
    february = datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC)
    first = [track_item(event="Paid", user_id="u1", message_id="m-1", timestamp=january)]
    retry = [track_item(event="Paid", user_id="u1", message_id="m-1", timestamp=february)]
    if batched:  # the batch statement (a second event keeps it a batch)
        first.append(track_item(event="Other", user_id="u1", timestamp=january))
        retry.append(track_item(event="Other", user_id="u2", timestamp=february))
    [stored, *_] = events_track(environment=environment, items=first)
    [again, *_] = events_track(environment=environment, items=retry)
    assert stored.stored and not again.stored
    event = Event.objects.get(message_id="m-1")
    assert event.timestamp == january
    assert _partition_of(event.pk) == "events_event_y2025m01"
    assert EventMessage.objects.filter(environment=environment, message_id="m-1").count() == 1


def test_message_ids_of_other_environments_do_not_collide(environment, other_environment):
    at = datetime(2025, 3, 3, tzinfo=UTC)
    for env in (environment, other_environment):
        [item] = events_track(
            environment=env,
            items=[track_item(event="Paid", user_id="u1", message_id="m", timestamp=at)],
        )
        assert item.stored
    assert Event.objects.count() == EventMessage.objects.count() == 2


def test_an_event_left_out_for_a_retry_does_not_keep_its_message_id(environment):
    """A row is retried when its profile was not visible yet; its message id must not be taken
    in the pass that left the event out, or the retry would skip it as a duplicate."""
    [item] = events_track(
        environment=environment,
        items=[track_item(event="Paid", email="a@acme.test", message_id="m-9")],
    )
    assert item.stored and Event.objects.filter(message_id="m-9").count() == 1


def test_partitions_are_created_ahead_and_only_once(db):
    now = datetime(2031, 11, 15, tzinfo=UTC)
    created = partitions_ensure(now=now, ahead=3)
    assert created == [
        "events_event_y2031m11",
        "events_event_y2031m12",
        "events_event_y2032m01",
        "events_event_y2032m02",
    ]
    assert partitions_ensure(now=now, ahead=3) == []
    months = [p.month for p in partitions_list()]
    assert date(2032, 2, 1) in months and months == sorted(months)


def test_late_event_lands_in_default_then_moves_to_its_new_partition(environment):
    """A month without a partition (a backfill, or a month retention dropped) still takes its
    events, in DEFAULT; the daily task gives the month its partition and moves them there."""
    late = datetime(2019, 3, 14, 15, 9, tzinfo=UTC)
    events_track(
        environment=environment,
        items=[track_item(event="Imported", user_id="u1", timestamp=late, message_id="old-1")],
    )
    event = Event.objects.get()
    assert _partition_of(event.pk) == DEFAULT_PARTITION

    created = partitions_ensure(now=datetime(2019, 3, 20, tzinfo=UTC), ahead=0)

    assert created == ["events_event_y2019m03"]
    assert _partition_of(event.pk) == "events_event_y2019m03"
    moved = Event.objects.get()
    assert (moved.pk, moved.timestamp, moved.message_id) == (event.pk, late, "old-1")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")
        assert cursor.fetchone()[0] == 0
        # The partitioned indexes reach the new partition (the panel's index among them).
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = %s", ["events_event_y2019m03"]
        )
        assert cursor.fetchone()[0] == 4
    # The retry of the moved event is still a duplicate; a new event of the month lands there.
    events_track(
        environment=environment,
        items=[track_item(event="Imported", user_id="u1", timestamp=late, message_id="old-1")],
    )
    [other] = events_track(
        environment=environment,
        items=[track_item(event="Imported", user_id="u2", timestamp=late)],
    )
    assert Event.objects.count() == 2
    assert _partition_of(Event.objects.get(profile_id=other.profile_id).pk) == (
        partition_name(date(2019, 3, 1))
    )


# --- Migration 0004 on a populated table ------------------------------------------------------

CHECKSUM = """
SELECT count(*), md5(string_agg(
    concat_ws('|', id, timestamp, received_at, properties::text, message_id, environment_id,
              profile_id, definition_id), ',' ORDER BY id))
FROM events_event
"""


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_migration_partitions_a_populated_table_and_back():
    environment = Environment.objects.create(name="Acme", slug="acme-migration")
    profiles = [ProfileFactory(environment=environment) for _ in range(3)]
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("events")[0]
    try:
        _migrate(("events", "0003_definition_deleting"))
        with connection.cursor() as cursor:
            # 600 events over 15 months (into 2027: beyond the months created ahead), a third of
            # them with message ids, and a gap at the end of the ids (deleted newest events).
            cursor.execute(
                """INSERT INTO events_event (environment_id, profile_id, definition_id, timestamp,
                       received_at, properties, message_id)
                   SELECT %s, (ARRAY[%s, %s, %s])[1 + g %% 3], %s,
                          timestamptz '2026-01-01' + g * interval '18 hours',
                          timestamptz '2026-01-01' + g * interval '18 hours',
                          jsonb_build_object('n', g),
                          CASE WHEN g %% 3 = 0 THEN 'msg-' || g END
                   FROM generate_series(1, 600) g""",
                [environment.pk, *[p.pk for p in profiles], definition.pk],
            )
            cursor.execute(
                "DELETE FROM events_event WHERE id IN (SELECT max(id) FROM events_event)"
            )
            cursor.execute(CHECKSUM)
            before = cursor.fetchone()
            cursor.execute("SELECT max(id) FROM events_event")
            top = cursor.fetchone()[0]

        _migrate(latest)

        with connection.cursor() as cursor:
            cursor.execute(CHECKSUM)
            assert cursor.fetchone() == before
            cursor.execute("SELECT count(*) FROM events_event_default")
            assert cursor.fetchone()[0] == 0  # every month with events got its partition
        assert {p.month for p in partitions_list()} >= {date(2026, m, 1) for m in range(1, 13)} | {
            date(2027, 1, 1),
            date(2027, 2, 1),
        }
        assert EventMessage.objects.count() == 199
        # Ids continue after the old sequence (the deleted newest id is not handed out again);
        # a retried message id of the old table is still a duplicate.
        items = events_track(
            environment=environment,
            items=[
                track_item(event="Clicked", user_id="u-new"),
                track_item(event="Clicked", user_id="u-new", message_id="msg-3"),
            ],
        )
        assert [i.stored for i in items] == [True, False]
        assert Event.objects.filter(profile_id=items[0].profile_id).get().pk > top + 1

        _migrate(("events", "0003_definition_deleting"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events_event")
            assert cursor.fetchone()[0] == before[0] + 1
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'events_event'")
            assert cursor.fetchone()[0] == "r"
    finally:
        _migrate(latest)


def test_a_segment_of_the_last_30_days_reads_only_recent_partitions(environment):
    """ "Performed X in the last 30 days" as the segment compiler writes it: PostgreSQL prunes
    the months before the window (at run time: the bound is a parameter), so the statement
    reads this month's and last month's partitions, not a year of them."""
    now = timezone.now()
    for n in range(1, 13):
        partition_create(add_months(month_of(now), -n))
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="exported")
    for n in range(13):
        EventFactory(profile=profile, definition=definition, timestamp=now - timedelta(days=31 * n))
    rules = {
        "op": "and",
        "conditions": [
            {
                "type": "event",
                "event": "exported",
                "operator": "at_least",
                "count": 1,
                "within_days": 30,
            }
        ],
    }
    qs = profiles_matching(rules, environment_id=environment.pk, now=now)
    read, plan = partitions_read(*qs.values("id").query.sql_with_params())
    assert list(qs.values_list("id", flat=True)) == [profile.pk]
    older = {
        f"events_event_y{m.year:04d}m{m.month:02d}"
        for m in (add_months(month_of(now), -n) for n in range(2, 13))
    }
    assert read and not read & older, plan
