from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from events.factories import EventDefinitionFactory
from events.models import Event, EventDefinition
from events.services import events_track, track_item
from profiles.factories import ProfileFactory
from profiles.models import MonthlyActivity, Profile


def test_track_creates_profile_definition_event_and_mau(environment):
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    [item] = events_track(
        environment=environment,
        items=[
            track_item(event="Signed Up", user_id="u1", properties={"plan": "pro"}, timestamp=at)
        ],
    )
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert item.profile_id == profile.pk and item.profile_uuid == profile.uuid and item.stored
    assert profile.first_seen_at == at and profile.last_seen_at == at
    event = Event.objects.get()
    assert event.definition.name == "Signed Up"
    assert event.definition.environment_id == environment.pk
    assert event.properties == {"plan": "pro"}
    assert event.timestamp == at
    assert MonthlyActivity.objects.get().month.isoformat() == "2024-05-01"


def test_track_does_not_touch_existing_definition_counters(environment):
    definition = EventDefinitionFactory(environment=environment, name="Clicked", total_count=7)
    before = EventDefinition.objects.get(pk=definition.pk).last_seen_at
    events_track(environment=environment, items=[track_item(event="Clicked", anonymous_id="d1")])
    definition.refresh_from_db()
    assert definition.total_count == 7 and definition.last_seen_at == before
    assert Event.objects.get().definition_id == definition.pk


def test_track_same_message_id_is_stored_once(environment):
    for _ in range(2):
        items = events_track(
            environment=environment,
            items=[
                track_item(event="Paid", user_id="u1", message_id="m-1"),
                track_item(event="Paid", user_id="u1", message_id="m-1"),
            ],
        )
    assert Event.objects.count() == 1
    assert [i.stored for i in items] == [False, False]


def test_message_id_is_per_environment(environment, other_environment):
    for env in (environment, other_environment):
        events_track(
            environment=env, items=[track_item(event="Paid", user_id="u1", message_id="m")]
        )
    assert Event.objects.count() == 2


def test_track_batch_resolves_each_kind_of_key(environment):
    known = ProfileFactory(
        environment=environment,
        user_id=None,
        email="e@x.test",
        first_seen_at=timezone.now() - timedelta(days=1),
    )
    later = timezone.now() - timedelta(minutes=1)
    items = events_track(
        environment=environment,
        items=[
            track_item(event="A", user_id="u1"),
            track_item(event="B", anonymous_id="d1"),
            track_item(event="A", email="e@x.test", timestamp=later),
            track_item(event="C", email="new@x.test"),
            track_item(event="B", user_id="u1", anonymous_id="d1"),
        ],
    )
    assert items[0].profile_id == items[4].profile_id
    assert items[2].profile_id == known.pk
    assert len({i.profile_id for i in items}) == 4
    assert Event.objects.count() == 5
    assert EventDefinition.objects.filter(environment=environment).count() == 3
    known.refresh_from_db()
    assert known.last_seen_at == later


def test_track_future_timestamp_is_clamped(environment):
    events_track(
        environment=environment,
        items=[track_item(event="A", user_id="u", timestamp=timezone.now() + timedelta(days=3))],
    )
    assert Event.objects.get().timestamp <= timezone.now()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event": "", "user_id": "u"}, "event"),
        ({"event": None, "user_id": "u"}, "event"),
        ({"event": "x" * 201, "user_id": "u"}, "event"),
        ({"event": "A"}, "id"),
        ({"event": "A", "user_id": "u", "properties": [1]}, "properties"),
        ({"event": "A", "user_id": "u", "properties": {"s": "x" * 10_001}}, "properties.s"),
    ],
)
def test_track_item_rejects_naming_field(kwargs, field):
    with pytest.raises(ValidationError) as exc:
        track_item(**kwargs)
    assert field in exc.value.message_dict


def test_track_item_strips_nul():
    item = track_item(event="A\x00B", user_id="u", properties={"k\x00": "v\x00"})
    assert item.event == "AB" and item.properties == {"k": "v"}


@pytest.mark.parametrize("n", [1, 500])
def test_track_runs_constant_queries(environment, django_assert_max_num_queries, n):
    items = [
        track_item(event=f"E{i % 50}", user_id=f"u{i}", properties={"i": i}, message_id=f"m{i}")
        for i in range(n)
    ]
    # savepoint, commit mode, one statement (profiles, definitions, events, MAU), release
    with django_assert_max_num_queries(4):
        events_track(environment=environment, items=items)
    assert Event.objects.count() == n


def test_track_advances_last_seen_by_five_minutes(environment):
    at = timezone.now() - timedelta(hours=1)
    for offset, expected in ((0, 0), (30, 0), (299, 0), (301, 301), (500, 301), (700, 700)):
        events_track(
            environment=environment,
            items=[track_item(event="E", user_id="u", timestamp=at + timedelta(seconds=offset))],
        )
        profile = Profile.objects.get(environment=environment, user_id="u")
        assert profile.last_seen_at == at + timedelta(seconds=expected)
    assert Event.objects.filter(profile=profile).count() == 6
