"""The wiring, end to end: a real Celery worker on a real Redis broker runs the segment tasks."""

from __future__ import annotations

import time

import pytest

from events.services import events_track, track_item
from profiles.factories import ProfileFactory
from profiles.services import profile_identify
from segments import services, tasks
from segments.models import DirtyProfile, RecomputeStatus, Segment, SegmentMembership
from traits.factories import TraitFactory

from .celery_fixtures import (  # noqa: F401 (fixtures)
    celery_worker_process,
    redis_server,
    redis_url,
)

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


def wait_for(predicate, log_path, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out; worker log:\n" + log_path.read_text(errors="replace")[-4000:])
        time.sleep(0.2)


@pytest.mark.usefixtures("celery_worker_process")
def test_worker_recomputes_a_new_segment_and_debounces_profile_changes(environment, request):
    log = request.getfixturevalue("celery_worker_process")
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    pro = [ProfileFactory(environment=environment, traits={"plan": "pro"}) for _ in range(3)]
    ProfileFactory(environment=environment, traits={"plan": "free"})

    # Saving queues the first recompute (after commit) on the broker; the worker runs it.
    segment = services.segment_create(
        environment=environment, name="Pro", kind="dynamic", rules=PRO
    )
    assert Segment.objects.get(pk=segment.pk).status == RecomputeStatus.QUEUED

    def computed() -> bool:
        s = Segment.objects.get(pk=segment.pk)
        return s.status == RecomputeStatus.IDLE and s.computed_version == s.version

    wait_for(computed, log)
    assert Segment.objects.get(pk=segment.pk).member_count == 3

    # A burst of changes for one profile: identify and track queue it in their own statements
    # (one row however many calls), and the periodic task (run here on demand, as beat would)
    # evaluates it once.
    changed = ProfileFactory(environment=environment, traits={"plan": "pro"})
    for _ in range(5):
        profile_identify(environment=environment, user_id=changed.user_id, traits={"n": 1})
        events_track(
            environment=environment,
            items=[track_item(event="Seen", user_id=changed.user_id)],
        )
    services.segment_profiles_changed(environment_id=environment.pk, profile_ids=[changed.pk])
    assert list(DirtyProfile.objects.values_list("profile_id", flat=True)) == [changed.pk]
    assert not SegmentMembership.objects.filter(segment=segment, profile=changed).exists()
    tasks.evaluate_dirty_profiles.delay()
    wait_for(
        lambda: SegmentMembership.objects.filter(segment=segment, profile=changed).exists(), log
    )
    assert Segment.objects.get(pk=segment.pk).member_count == 4
    assert not DirtyProfile.objects.exists()

    # "Recompute now" on demand, with a profile that left.
    pro[0].traits = {"plan": "free"}
    pro[0].save()
    services.segment_recompute_request(segment=Segment.objects.get(pk=segment.pk))
    wait_for(computed, log)
    assert set(
        SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
    ) == {pro[1].pk, pro[2].pk, changed.pk}
