"""Changed profiles wait in segments_dirtyprofile: identify and track queue them inside their own
statement when the environment has a dynamic segment, other callers through the seam, and the
periodic task drains the queue (batched, across environments, with failures put back)."""

from __future__ import annotations

import pytest

from config.celery import beat_schedule
from events.services import events_track, track_item
from profiles.factories import ProfileFactory
from profiles.services import profile_identify
from segments import services, tasks
from segments.models import DirtyProfile, SegmentMembership
from traits.factories import TraitFactory

from .test_services import PRO, make_dynamic, members

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_trait(environment, other_environment):
    for env in (environment, other_environment):
        TraitFactory(environment=env, key="plan", data_type="string", scope="profile")


@pytest.fixture
def with_worker(settings):
    """Settings as with Redis and a worker: nothing is evaluated inline."""
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.CELERY_TASK_ALWAYS_EAGER = False


def queued() -> set[tuple[int, int]]:
    return set(DirtyProfile.objects.values_list("environment_id", "profile_id"))


def test_identify_and_track_queue_profiles_only_where_dynamic_segments_exist(
    environment, other_environment, plan_trait, with_worker
):
    a = profile_identify(environment=environment, user_id="a", traits={"plan": "pro"})
    assert queued() == set()  # no dynamic segment in the environment: nothing to re-evaluate
    segment = make_dynamic(environment, PRO)
    a = profile_identify(environment=environment, user_id="a", traits={"plan": "pro"})
    [item] = events_track(environment=environment, items=[track_item(event="E", user_id="b")])
    profile_identify(environment=other_environment, user_id="a", traits={"plan": "pro"})
    assert queued() == {(environment.pk, a.pk), (environment.pk, item.profile_id)}
    assert not members(segment)  # the periodic task evaluates them, not the call
    assert tasks.evaluate_dirty_profiles() == 2
    assert members(segment) == {a.pk}
    assert queued() == set()


def test_the_seam_queues_for_other_callers(environment, plan_trait, with_worker):
    segment = make_dynamic(environment, PRO)
    profile = ProfileFactory(environment=environment, traits={"plan": "pro"})
    for _ in range(3):
        services.segment_profiles_changed(environment_id=environment.pk, profile_ids=[profile.pk])
    assert queued() == {(environment.pk, profile.pk)}
    assert services.segment_dirty_profiles_drain() == 1
    assert members(segment) == {profile.pk}


def test_drain_in_batches_and_by_environment(
    environment, other_environment, plan_trait, with_worker
):
    make_dynamic(environment, PRO)
    make_dynamic(other_environment, PRO)
    mine = [ProfileFactory(environment=environment, traits={"plan": "pro"}) for _ in range(5)]
    theirs = ProfileFactory(environment=other_environment, traits={"plan": "pro"})
    services.segment_profiles_changed(
        environment_id=environment.pk, profile_ids=[p.pk for p in mine]
    )
    services.segment_profiles_changed(environment_id=other_environment.pk, profile_ids=[theirs.pk])
    assert services.segment_dirty_profiles_drain(environment_id=environment.pk, batch=2) == 5
    assert queued() == {(other_environment.pk, theirs.pk)}
    assert SegmentMembership.objects.filter(profile__in=mine).count() == 5
    assert services.segment_dirty_profiles_drain() == 1


def test_failed_evaluation_puts_the_profiles_back(
    environment, other_environment, plan_trait, with_worker, monkeypatch
):
    make_dynamic(environment, PRO)
    make_dynamic(other_environment, PRO)
    a = ProfileFactory(environment=environment, traits={"plan": "pro"})
    b = ProfileFactory(environment=other_environment, traits={"plan": "pro"})
    services.segment_profiles_changed(environment_id=environment.pk, profile_ids=[a.pk])
    services.segment_profiles_changed(environment_id=other_environment.pk, profile_ids=[b.pk])

    def broken(**kwargs):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(services, "segment_profiles_evaluate", broken)
    with pytest.raises(RuntimeError):
        services.segment_dirty_profiles_drain()
    assert queued() == {(environment.pk, a.pk), (other_environment.pk, b.pk)}


def test_inline_mode_evaluates_at_once_and_leaves_no_queue(
    environment, plan_trait, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = None
    segment = make_dynamic(environment, PRO)
    with django_capture_on_commit_callbacks(execute=True):
        profile = profile_identify(environment=environment, user_id="a", traits={"plan": "pro"})
    assert members(segment) == {profile.pk}
    assert queued() == set()


def test_beat_drains_the_queue_every_debounce_interval(settings):
    settings.HARK_SEGMENT_DEBOUNCE_SECONDS = 3
    entry = beat_schedule()["segments-evaluate-changed-profiles"]
    assert entry == {"task": "segments.tasks.evaluate_dirty_profiles", "schedule": 3.0}
