"""Outside a caller's transaction, identify and track run as single autocommit statements that
commit without waiting for the WAL flush; the connection's own setting is left as it was."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from core.ingest import commit_mode
from events.models import Event
from events.services import events_track, track_item
from profiles.models import MonthlyActivity, Profile
from profiles.services import profile_identify
from segments import services as segment_services
from segments.models import DirtyProfile, SegmentMembership
from tests.helpers import race
from traits.models import Trait

pytestmark = pytest.mark.django_db(transaction=True)


def _race(
    workers: list[Callable[[], None]], background: Callable[[threading.Event], None] | None = None
) -> list[BaseException]:
    """What `workers` raised, run at once (tests.helpers.race)."""
    return race(workers, background)[1]


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_identify_and_track_in_autocommit(environment, django_assert_max_num_queries, monkeypatch):
    # Count ingestion's own statements: the segment seam (which runs at once in autocommit)
    # belongs to the segments app.
    calls = []
    monkeypatch.setattr("profiles.services.segment_profiles_changed", lambda **kw: calls.append(kw))
    before = _synchronous_commit()
    assert not connection.in_atomic_block
    # The first call on a connection also PREPAREs its statement (core/prepared.py).
    profile_identify(environment=environment, user_id="warm-up", traits={"plan": "free"})
    events_track(environment=environment, items=[track_item(event="Paid", user_id="w")])
    calls.clear()
    with django_assert_max_num_queries(1):
        profile = profile_identify(environment=environment, user_id="u1", traits={"plan": "pro"})
    assert profile.created
    with django_assert_max_num_queries(1):
        [item] = events_track(
            environment=environment,
            items=[track_item(event="Paid", user_id="u1", message_id="m1")],
        )
    assert item.stored and item.profile_id == profile.pk
    assert _synchronous_commit() == before
    # Both statements queued the profile for segments themselves (marked).
    assert calls == [
        {"environment_id": environment.pk, "profile_ids": [profile.pk], "marked": True},
        {"environment_id": environment.pk, "profile_ids": [profile.pk], "marked": True},
    ]
    assert Profile.objects.get(pk=profile.pk).traits == {"plan": "pro"}
    assert Trait.objects.filter(environment=environment, key="plan").exists()
    assert MonthlyActivity.objects.filter(profile_id=profile.pk).count() == 1
    assert Event.objects.get(message_id="m1").profile_id == profile.pk


def test_new_user_with_email_adopts_email_only_profile_in_autocommit(environment):
    known = profile_identify(environment=environment, email="a@x.test", traits={"a": 1})
    profile = profile_identify(environment=environment, user_id="u1", email="a@x.test")
    assert profile.pk == known.pk and profile.user_id == "u1"
    assert Profile.objects.filter(environment=environment).count() == 1


def test_synchronous_commit_setting_keeps_server_value(environment, settings):
    settings.HARK_INGEST_SYNCHRONOUS_COMMIT = True
    profile_identify(environment=environment, user_id="u2")
    events_track(environment=environment, items=[track_item(event="E", user_id="u2")])
    assert Event.objects.count() == 1


def test_concurrent_batches_creating_the_same_profiles(environment, monkeypatch):
    """Batches racing to create the same new users and event names all land (regression: a row
    created by a concurrent call after the statement's snapshot used to leave a null profile)."""
    monkeypatch.setattr("profiles.services.segment_profiles_changed", lambda **kw: None)

    def worker(seed: int) -> None:
        for round_ in range(3):
            items = [
                track_item(event=f"New {i % 7} {round_}", user_id=f"race-{i}")
                for i in range(seed, seed + 150)
            ]
            events_track(environment=environment, items=items)

    assert _race([lambda k=k: worker(k * 10) for k in range(4)]) == []
    assert Event.objects.filter(environment=environment).count() == 4 * 3 * 150
    assert Profile.objects.filter(environment=environment).count() == 180


def test_synchronous_commit_follows_the_setting(settings):

    assert commit_mode() == "off"
    settings.HARK_INGEST_SYNCHRONOUS_COMMIT = True
    assert commit_mode() is None


def test_concurrent_ingestion_and_drain_with_dynamic_segments(environment, settings):
    """With a dynamic segment, every call also queues its profiles for re-evaluation: batches,
    identifies and a draining task racing over the same users neither deadlock nor lose a
    profile, and the final drain leaves the segment right."""

    settings.REDIS_URL = "redis://127.0.0.1:6379/15"  # queue, do not evaluate inline
    settings.CELERY_TASK_ALWAYS_EAGER = False
    Trait.objects.create(environment=environment, key="plan", scope="profile", data_type="string")
    segment = segment_services.segment_create(
        environment=environment,
        name="Pro",
        kind="dynamic",
        rules={
            "op": "and",
            "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
        },
    )

    def tracker(seed: int) -> None:
        for _ in range(3):
            items = [
                track_item(event=f"E{i % 5}", user_id=f"race-{i % 60}")
                for i in range(seed, seed + 120)
            ]
            events_track(environment=environment, items=items)
            profile_identify(
                environment=environment, user_id=f"race-{seed % 60}", traits={"plan": "pro"}
            )

    def drainer(done: threading.Event) -> None:
        while not done.is_set():
            segment_services.segment_dirty_profiles_drain(batch=7)

    assert _race([lambda k=k: tracker(k * 13) for k in range(4)], background=drainer) == []
    assert Event.objects.filter(environment=environment).count() == 4 * 3 * 120
    segment_services.segment_dirty_profiles_drain()
    assert not DirtyProfile.objects.exists()
    pro = set(
        Profile.objects.filter(environment=environment, traits__plan="pro").values_list(
            "pk", flat=True
        )
    )
    assert (
        pro
        and set(
            SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
        )
        == pro
    )
