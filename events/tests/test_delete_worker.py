"""A real Celery worker on a real Redis broker deletes an event definition's events."""

from __future__ import annotations

import pytest

from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventDefinition
from events.services import event_definition_delete_request
from profiles.factories import ProfileFactory
from segments.tests.celery_fixtures import (  # noqa: F401 (fixtures)
    celery_worker_process,
    redis_server,
    redis_url,
)
from segments.tests.test_celery_worker import wait_for

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_worker_deletes_the_definition_and_its_events(environment, request):
    log = request.getfixturevalue("celery_worker_process")
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    profile = ProfileFactory(environment=environment)
    for _ in range(4):
        EventFactory(profile=profile, definition=definition)
    event_definition_delete_request(definition=definition)  # autocommit: queued at once
    assert EventDefinition.objects.get(pk=definition.pk).deleting
    wait_for(lambda: not EventDefinition.objects.filter(pk=definition.pk).exists(), log)
    assert not Event.objects.filter(definition_id=definition.pk).exists()
