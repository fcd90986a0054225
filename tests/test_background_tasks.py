"""Every background task: acknowledged late where a lost worker must not lose it, never running
longer than Redis would wait before handing it out again, and never left half done for good."""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app, beat_schedule
from core.periodic import EnvironmentsFailed
from environments.services import environment_create
from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventDefinition
from events.services import event_definition_deletes_resume
from profiles.factories import ProfileFactory
from traits import tasks as trait_tasks
from traits.factories import TraitFactory
from traits.models import Trait

# Queued by the code rather than by beat.
ON_DEMAND = [
    "segments.tasks.recompute_segment",
    "segments.tasks.evaluate_profiles",
    "events.tasks.delete_event_definition",
]


def test_every_task_is_acknowledged_when_it_ends_and_handed_out_again_if_its_worker_dies():
    app.loader.import_default_modules()
    names = {entry["task"] for entry in beat_schedule().values()} | set(ON_DEMAND)
    assert names <= set(app.tasks)
    late = {
        name: (app.tasks[name].acks_late, app.tasks[name].reject_on_worker_lost) for name in names
    }
    assert late == dict.fromkeys(names, (True, True))


def test_no_task_outlives_the_visibility_timeout():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > settings.CELERY_TASK_TIME_LIMIT
    # A recompute: a few statements, each bounded by the statement timeout.
    assert 4 * settings.HARK_SEGMENT_STATEMENT_TIMEOUT < settings.CELERY_TASK_TIME_LIMIT


@pytest.mark.django_db
def test_an_unfinished_event_definition_deletion_is_resumed(environment):
    """A deletion whose task never ran to its end (failed for good, or lost with its worker):
    the definition is hidden but its events would stay forever; the hourly task resumes it."""
    definition = EventDefinitionFactory(environment=environment, name="Clicked")
    kept = EventDefinitionFactory(environment=environment, name="Kept")
    profile = ProfileFactory(environment=environment)
    for _ in range(3):
        EventFactory(profile=profile, definition=definition)
    EventFactory(profile=profile, definition=kept)
    EventDefinition.objects.filter(pk=definition.pk).update(deleting=True)

    assert event_definition_deletes_resume() == [definition.pk]  # eager here: runs at once
    assert not EventDefinition.objects.filter(pk=definition.pk).exists()
    assert list(Event.objects.values_list("definition_id", flat=True)) == [kept.pk]
    assert event_definition_deletes_resume() == []


@pytest.mark.django_db
def test_one_environment_failing_does_not_stop_the_trait_counts_of_the_others(monkeypatch):

    broken = environment_create(name="Broken")
    counted = environment_create(name="Counted")
    TraitFactory(environment=counted, key="plan", data_type="string", scope="profile")
    ProfileFactory(environment=counted, traits={"plan": "pro"})
    refresh = trait_tasks.trait_profile_counts_refresh

    def refresh_or_fail(*, environment_id: int) -> None:
        if environment_id == broken.pk:
            raise KeyError("bad data")
        refresh(environment_id=environment_id)

    monkeypatch.setattr(trait_tasks, "trait_profile_counts_refresh", refresh_or_fail)
    with pytest.raises(EnvironmentsFailed, match=f"\\[{broken.pk}\\]"):
        trait_tasks.count_trait_profiles.delay()
    # The others are still counted (and the task shows as failed).
    assert Trait.objects.get(environment=counted, key="plan").profile_count == 1
