"""Deleting an event definition: hidden at once with its name free again, its events removed by
a task in batches, then the definition."""

import pytest
from django.utils import timezone

from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventDailyCount, EventDefinition
from events.selectors import event_definition_list
from events.services import (
    event_definition_delete,
    event_definition_delete_request,
    events_track,
    track_item,
)
from profiles.factories import ProfileFactory
from profiles.selectors import profile_events_page
from segments import services as segment_services
from segments.models import SegmentMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def clicked(environment):
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    profile = ProfileFactory(environment=environment, user_id="u1")
    for _ in range(5):
        EventFactory(profile=profile, definition=definition)
    EventDailyCount.objects.create(definition=definition, day=timezone.now().date(), count=5)
    return definition


def test_request_hides_the_definition_at_once_and_frees_its_name(environment, clicked, monkeypatch):
    queued = []
    monkeypatch.setattr("events.tasks.delete_event_definition.delay", queued.append)
    profile = clicked.events.first().profile
    event_definition_delete_request(definition=clicked)
    assert queued == []  # after commit only
    assert list(event_definition_list(environment_id=environment.pk)) == []
    assert profile_events_page(profile=profile, cursor=None).items == []
    # Clients still sending the name start a new definition; the old one keeps its events for
    # the task to delete.
    [item] = events_track(
        environment=environment, items=[track_item(event="Clicked", user_id="u1")]
    )
    fresh = EventDefinition.objects.get(environment=environment, name="Clicked", deleting=False)
    assert fresh.pk != clicked.pk
    assert Event.objects.get(message_id=None, definition=fresh).profile_id == item.profile_id
    assert Event.objects.filter(definition=clicked).count() == 5


def test_task_deletes_the_events_in_batches_then_the_definition(environment, clicked):
    other = EventDefinitionFactory(environment=environment, name="Kept")
    EventFactory(profile=ProfileFactory(environment=environment), definition=other)
    EventDefinition.objects.filter(pk=clicked.pk).update(deleting=True)
    assert event_definition_delete(definition_id=clicked.pk, batch=2) == 5
    assert not EventDefinition.objects.filter(pk=clicked.pk).exists()
    assert not EventDailyCount.objects.filter(definition_id=clicked.pk).exists()
    assert Event.objects.filter(definition=other).count() == 1
    # Run again (a retried task): nothing left to do.
    assert event_definition_delete(definition_id=clicked.pk) == 0


def test_task_leaves_a_live_definition_alone(clicked):
    assert event_definition_delete(definition_id=clicked.pk) == 0
    assert Event.objects.filter(definition=clicked).count() == 5


def test_deleted_event_no_longer_matches_segment_rules(environment, clicked):
    segment = segment_services.segment_create(
        environment=environment,
        name="Clickers",
        kind="dynamic",
        rules={
            "op": "and",
            "conditions": [
                {"type": "event", "event": "Clicked", "operator": "at_least", "count": 1}
            ],
        },
    )
    segment_services.segment_recompute(segment_id=segment.pk)
    assert SegmentMembership.objects.filter(segment=segment).count() == 1
    EventDefinition.objects.filter(pk=clicked.pk).update(deleting=True)
    segment_services.segment_recompute(segment_id=segment.pk)
    assert SegmentMembership.objects.filter(segment=segment).count() == 0
