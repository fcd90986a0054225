from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from events import services
from events.factories import EventDefinitionFactory, EventFactory
from events.models import EventDailyCount, EventDefinition, RollupWatermark
from events.services import event_counts_rollup
from events.tasks import rollup_event_counts
from profiles.factories import ProfileFactory


def _events(environment, definition, *days, received=None):
    profile = ProfileFactory(environment=environment)
    received = received or timezone.now() - timedelta(minutes=5)
    for day in days:
        EventFactory(
            profile=profile,
            definition=definition,
            timestamp=datetime(2024, 5, day, 12, tzinfo=UTC),
            received_at=received,
        )


def test_rollup_counts_per_definition_and_day(environment):
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    signup = EventDefinitionFactory(
        environment=environment, name="Signed Up", first_seen_at=at, last_seen_at=at
    )
    paid = EventDefinitionFactory(environment=environment, name="Paid")
    _events(environment, signup, 1, 1, 2)
    _events(environment, paid, 2)

    assert event_counts_rollup() == 4

    counts = {(c.definition.name, c.day): c.count for c in EventDailyCount.objects.select_related()}
    assert counts == {
        ("Signed Up", date(2024, 5, 1)): 2,
        ("Signed Up", date(2024, 5, 2)): 1,
        ("Paid", date(2024, 5, 2)): 1,
    }
    signup.refresh_from_db()
    assert signup.total_count == 3
    assert signup.last_seen_at == datetime(2024, 5, 2, 12, tzinfo=UTC)
    assert signup.first_seen_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_rollup_is_idempotent_and_incremental(environment):
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    _events(environment, definition, 1, 1)
    event_counts_rollup()
    assert event_counts_rollup() == 0  # nothing new: nothing counted twice
    _events(environment, definition, 1)
    assert rollup_event_counts.delay().get() == 1
    assert EventDailyCount.objects.get().count == 3
    assert EventDefinition.objects.get(pk=definition.pk).total_count == 3


def test_rollup_leaves_recent_events_for_next_run(environment):
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    _events(environment, definition, 1)
    _events(environment, definition, 2, received=timezone.now())
    assert event_counts_rollup() == 1
    assert EventDefinition.objects.get(pk=definition.pk).total_count == 1
    watermark = RollupWatermark.objects.get(name="events").last_event_id
    assert event_counts_rollup(now=timezone.now() + timedelta(minutes=1)) == 1
    assert RollupWatermark.objects.get(name="events").last_event_id > watermark
    assert EventDefinition.objects.get(pk=definition.pk).total_count == 2


def test_rollup_runs_constant_queries(environment, django_assert_max_num_queries):
    for n in range(20):
        _events(environment, EventDefinitionFactory(environment=environment, name=f"E{n}"), 1, 2)
    with django_assert_max_num_queries(7):
        assert event_counts_rollup() == 40


def test_rollup_steps_over_a_gap_in_event_ids(environment, monkeypatch):

    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    _events(environment, definition, 1)
    event_counts_rollup()
    # Ids jump far past the rollup's window, as after a large delete or an aborted load.
    monkeypatch.setattr(services, "ROLLUP_MAX_EVENTS", 10)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('events_event', 'id'), "
            "(SELECT max(id) FROM events_event) + 1000)"
        )
    _events(environment, definition, 2, 3)
    assert event_counts_rollup() == 2
    assert EventDefinition.objects.get(pk=definition.pk).total_count == 3
