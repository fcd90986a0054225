"""Segments keep their books when profiles merge or are deleted: member counts fall at once
(not at the next full recompute), every history alternates entered / left, and a deleted
profile leaves an exit behind. Set-based: a constant number of statements."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.erasure import profile_erase
from profiles.factories import ProfileFactory
from profiles.models import Profile
from profiles.services import profile_identify
from segments import services
from segments.models import Segment, SegmentMembership, SegmentMembershipChange
from traits.factories import TraitFactory
from traits.models import Trait
from traits.services import trait_delete

pytestmark = pytest.mark.django_db

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


@pytest.fixture
def pro(environment):
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
    return segment


def recompute(segment: Segment) -> Segment:
    services.segment_recompute(segment_id=segment.pk)
    segment.refresh_from_db()
    return segment


def history(segment: Segment, profile_id: int) -> list[str]:
    return list(
        SegmentMembershipChange.objects.filter(segment=segment, profile_id=profile_id)
        .order_by("at", "id")
        .values_list("change", flat=True)
    )


def counted(segment: Segment) -> tuple[int, int]:
    segment.refresh_from_db()
    return segment.member_count, SegmentMembership.objects.filter(segment=segment).count()


def test_erasing_a_profile_lowers_counts_and_leaves_no_history(environment, pro):
    beta = services.segment_create(environment=environment, name="Beta", kind="manual")
    gone = ProfileFactory(environment=environment, traits={"plan": "pro"})
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    recompute(pro)
    services.segment_members_add(segment=beta, profile_ids=[gone.pk])
    assert counted(pro) == (2, 2) and counted(beta) == (1, 1)
    gone_id = gone.pk
    profile_erase(profile=gone)
    assert counted(pro) == (1, 1)
    assert counted(beta) == (0, 0)
    # The exit is recorded (webhooks, alerts) and then erased with the rest of the person.
    assert history(pro, gone_id) == []
    assert history(beta, gone_id) == []
    # The next full recompute has nothing to correct.
    result = services.segment_recompute(segment_id=pro.pk)
    assert (result.entered, result.left, result.member_count) == (0, 0, 1)


def test_delete_is_a_constant_number_of_statements(environment, pro):

    def delete_member_of(n: int) -> int:
        segments = [
            services.segment_create(environment=environment, name=f"M{n}-{i}", kind="manual")
            for i in range(n)
        ]
        profile = ProfileFactory(environment=environment, traits={"plan": "pro"})
        recompute(pro)
        for segment in segments:
            services.segment_members_add(segment=segment, profile_ids=[profile.pk])
        with CaptureQueriesContext(connection) as queries:
            profile_erase(profile=profile)
        assert all(counted(s) == (0, 0) for s in segments)
        return len(queries)

    assert delete_member_of(1) == delete_member_of(8)


def test_merge_into_a_profile_in_the_same_segment_lowers_the_count(environment, pro):
    ProfileFactory(environment=environment, user_id="u1", traits={"plan": "pro"})
    anonymous = ProfileFactory(
        environment=environment, anonymous=True, anonymous_id="d1", traits={"plan": "pro"}
    )
    recompute(pro)
    assert counted(pro) == (2, 2)
    merged = profile_identify(environment=environment, user_id="u1", anonymous_id="d1")
    assert not Profile.objects.filter(pk=anonymous.pk).exists()
    assert counted(pro) == (1, 1)
    assert history(pro, merged.pk) == ["entered"]
    assert history(pro, anonymous.pk) == ["entered", "left"]


def test_merge_moves_manual_membership_with_a_history_that_alternates(environment):
    beta = services.segment_create(environment=environment, name="Beta", kind="manual")
    user = ProfileFactory(environment=environment, user_id="u1")
    anonymous = ProfileFactory(environment=environment, anonymous=True, anonymous_id="d1")
    services.segment_members_add(segment=beta, profile_ids=[anonymous.pk])
    # The user was in Beta once and left.
    services.segment_members_add(segment=beta, profile_ids=[user.pk])
    services.segment_member_remove(segment=beta, profile=user)
    profile_identify(environment=environment, user_id="u1", anonymous_id="d1")
    assert counted(beta) == (1, 1)
    assert SegmentMembership.objects.filter(segment=beta, profile=user).exists()
    assert history(beta, user.pk) == ["entered", "left", "entered"]
    assert history(beta, anonymous.pk) == ["entered", "left"]


def test_a_running_recompute_is_not_waited_for_its_count_is_refreshed_after(
    environment, pro, django_capture_on_commit_callbacks
):
    profiles = [ProfileFactory(environment=environment, traits={"plan": "pro"}) for _ in range(2)]
    gone = profiles[0]
    # Members written as a finished recompute leaves them (a recompute in this test's
    # transaction would hold the run lock until the test ends).
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=pro, profile=p) for p in profiles]
    )
    SegmentMembershipChange.objects.bulk_create(
        [SegmentMembershipChange(segment=pro, profile=p, change="entered") for p in profiles]
    )
    Segment.objects.filter(pk=pro.pk).update(member_count=2)
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )
    try:
        # A recompute of "Pro" holds its run lock: the delete must not wait for it.
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services.ADVISORY_LOCK_CLASS, pro.pk])
        with django_capture_on_commit_callbacks() as callbacks:
            profile_erase(profile=gone)
        assert history(pro, gone.pk) == []
        assert counted(pro) == (2, 1)  # left to the refresh
    finally:
        other.execute("SELECT pg_advisory_unlock_all()")
        other.close()
    for callback in callbacks:
        callback()
    assert counted(pro) == (1, 1)


def test_bulk_remove_is_set_based_and_keeps_the_books(environment):

    beta = services.segment_create(environment=environment, name="Beta", kind="manual")

    def remove(n: int) -> int:
        profiles = [ProfileFactory(environment=environment) for _ in range(n)]
        services.segment_members_add(segment=beta, profile_ids=[p.pk for p in profiles])
        with CaptureQueriesContext(connection) as queries:
            removed = services.segment_members_remove(
                segment=beta, profile_ids=[p.pk for p in profiles]
            )
        assert removed == n
        assert counted(beta) == (0, 0)
        assert all(history(beta, p.pk) == ["entered", "left"] for p in profiles)
        return len(queries)

    assert remove(1) == remove(20)


def test_deleting_a_trait_recomputes_the_segments_that_use_it(
    environment, pro, django_capture_on_commit_callbacks
):

    ProfileFactory(environment=environment, traits={"plan": "pro"})
    recompute(pro)
    assert counted(pro) == (1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        trait_delete(trait=Trait.objects.get(environment=environment, key="plan"))
    assert counted(pro) == (0, 0)
