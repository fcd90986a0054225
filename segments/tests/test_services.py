"""Recompute, versioning, incremental evaluation, cycles, manual import, the periodic tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.factories import EventDefinitionFactory, EventFactory
from profiles.factories import ProfileFactory
from segments import services, tasks
from segments.models import RecomputeStatus, Segment, SegmentMembership, SegmentMembershipChange
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


def members(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)
    )


@pytest.fixture
def plan_trait(environment):
    return TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")


def make_dynamic(environment, rules, name="Pro", **kwargs) -> Segment:
    segment = services.segment_create(
        environment=environment, name=name, kind="dynamic", rules=rules, **kwargs
    )
    segment.refresh_from_db()
    return segment


def test_full_recompute_inserts_deletes_and_records_history(environment, plan_trait):
    a = ProfileFactory(environment=environment, traits={"plan": "pro"})
    b = ProfileFactory(environment=environment, traits={"plan": "free"})
    segment = make_dynamic(environment, PRO)
    assert segment.status == RecomputeStatus.QUEUED
    result = services.segment_recompute(segment_id=segment.pk, version=segment.version)
    assert (result.entered, result.left, result.member_count) == (1, 0, 1)
    assert members(segment) == {a.pk}
    segment.refresh_from_db()
    assert segment.member_count == 1 and segment.computed_at is not None
    assert segment.status == RecomputeStatus.IDLE and segment.computed_version == segment.version

    a.traits = {"plan": "free"}
    a.save()
    b.traits = {"plan": "pro"}
    b.save()
    result = services.segment_recompute(segment_id=segment.pk)
    assert (result.entered, result.left) == (1, 1)
    assert members(segment) == {b.pk}
    history = list(
        SegmentMembershipChange.objects.filter(segment=segment)
        .order_by("id")
        .values_list("profile_id", "change")
    )
    assert history == [(a.pk, "entered"), (b.pk, "entered"), (a.pk, "left")]


def test_recompute_that_changes_nothing_writes_nothing(environment, plan_trait):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    segment = make_dynamic(environment, PRO)
    services.segment_recompute(segment_id=segment.pk, version=segment.version)
    before = list(SegmentMembership.objects.filter(segment=segment).values_list("id", "since"))
    with CaptureQueriesContext(connection) as queries:
        result = services.segment_recompute(segment_id=segment.pk)
    assert result.wrote is False and (result.entered, result.left) == (0, 0)
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")
    ]
    assert writes == []
    assert (
        list(SegmentMembership.objects.filter(segment=segment).values_list("id", "since")) == before
    )
    assert SegmentMembershipChange.objects.filter(segment=segment).count() == 1


def test_recompute_sets_statement_timeout_and_analyzes_stage(environment, plan_trait):
    segment = make_dynamic(environment, PRO)
    with CaptureQueriesContext(connection) as queries:
        services.segment_recompute(segment_id=segment.pk, version=segment.version)
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "statement_timeout" in sql
    assert "ANALYZE hark_segment_stage" in sql


def test_superseded_run_exits_without_writing(environment, plan_trait):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    segment = make_dynamic(environment, PRO)
    old_version = segment.version
    services.segment_recompute_request(segment=segment)  # a newer version is queued
    result = services.segment_recompute(segment_id=segment.pk, version=old_version)
    assert result.superseded
    assert members(segment) == set()
    segment.refresh_from_db()
    assert segment.computed_version == 0 and segment.status == RecomputeStatus.QUEUED


def test_run_superseded_while_computing_rolls_back(environment, plan_trait, monkeypatch):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    segment = make_dynamic(environment, PRO)
    real = services.matching_ids_sql

    def bump_then_select(seg, *, now):
        # A newer request lands while this run is staging its members.
        Segment.objects.filter(pk=seg.pk).update(version=seg.version + 1)
        return real(seg, now=now)

    monkeypatch.setattr(services, "matching_ids_sql", bump_then_select)
    result = services.segment_recompute(segment_id=segment.pk, version=segment.version)
    assert result.superseded and not result.wrote
    assert members(segment) == set()
    assert not SegmentMembershipChange.objects.filter(segment=segment).exists()


def test_newer_run_result_is_not_overwritten_by_older(environment, plan_trait):
    a = ProfileFactory(environment=environment, traits={"plan": "pro"})
    segment = make_dynamic(environment, PRO)
    v1 = segment.version
    v2 = services.segment_recompute_request(segment=segment)
    services.segment_recompute(segment_id=segment.pk, version=v2)
    assert members(segment) == {a.pk}
    a.traits = {"plan": "free"}
    a.save()
    late = services.segment_recompute(segment_id=segment.pk, version=v1)  # the old run, late
    assert late.superseded
    assert members(segment) == {a.pk}
    segment.refresh_from_db()
    assert segment.computed_version == v2


def test_cycle_is_refused(environment):
    a = make_dynamic(environment, {"op": "and", "conditions": []}, name="A")
    b = make_dynamic(
        environment,
        {
            "op": "and",
            "conditions": [{"type": "segment", "segment": str(a.uuid), "operator": "in"}],
        },
        name="B",
    )
    with pytest.raises(ValidationError) as info:
        services.segment_update(
            segment=a,
            rules={
                "op": "or",
                "conditions": [
                    {"type": "profile", "field": "has_email", "operator": "is_true"},
                    {"type": "segment", "segment": str(b.uuid), "operator": "not_in"},
                ],
            },
        )
    assert "conditions[1].segment" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        services.segment_update(
            segment=a,
            rules={
                "op": "and",
                "conditions": [{"type": "segment", "segment": str(a.uuid), "operator": "in"}],
            },
        )
    assert "conditions[0].segment" in info.value.message_dict


def test_reference_to_other_environment_is_refused(environment, other_environment):
    foreign = make_dynamic(other_environment, {"op": "and", "conditions": []}, name="Foreign")
    with pytest.raises(ValidationError) as info:
        make_dynamic(
            environment,
            {
                "op": "and",
                "conditions": [{"type": "segment", "segment": str(foreign.uuid), "operator": "in"}],
            },
        )
    assert "conditions[0].segment" in info.value.message_dict


def test_incremental_evaluation_agrees_with_full_recompute(environment, plan_trait):
    now = timezone.now()
    login = EventDefinitionFactory(environment=environment, name="login")
    profiles = [
        ProfileFactory(environment=environment, traits={"plan": p}) for p in ("pro", "free", "pro")
    ]
    for _ in range(3):
        EventFactory(profile=profiles[1], definition=login, timestamp=now - dt.timedelta(days=1))
    rules = {
        "op": "or",
        "conditions": [
            PRO["conditions"][0],
            {
                "type": "event",
                "event": "login",
                "operator": "at_least",
                "count": 2,
                "within_days": 7,
            },
        ],
    }
    incremental = make_dynamic(environment, rules, name="Inc")
    full = make_dynamic(environment, rules, name="Full")
    services.segment_profiles_evaluate(
        environment_id=environment.pk, profile_ids=[p.pk for p in profiles]
    )
    services.segment_recompute(segment_id=full.pk, version=full.version)
    assert members(incremental) == members(full) == {p.pk for p in profiles}
    profiles[0].traits = {"plan": "free"}
    profiles[0].save()
    result = services.segment_profiles_evaluate(
        environment_id=environment.pk, profile_ids=[profiles[0].pk]
    )
    services.segment_recompute(segment_id=full.pk)
    assert members(incremental) == members(full) == {profiles[1].pk, profiles[2].pk}
    assert (incremental.pk, profiles[0].pk) in result.left
    incremental.refresh_from_db()
    full.refresh_from_db()
    assert incremental.member_count == full.member_count == 2


def test_incremental_evaluation_is_one_query_for_all_segments(
    environment, plan_trait, django_assert_max_num_queries
):
    profile = ProfileFactory(environment=environment, traits={"plan": "pro"})
    for i in range(10):
        make_dynamic(environment, PRO, name=f"S{i}")
    services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[profile.pk])
    # Fingerprint, current memberships and every segment's flag in one statement; no writes.
    with django_assert_max_num_queries(1) as captured:
        result = services.segment_profiles_evaluate(
            environment_id=environment.pk, profile_ids=[profile.pk]
        )
    assert not result.entered and not result.left
    # A prepared statement: planned once, not at every evaluation.
    assert captured.captured_queries[0]["sql"].startswith("EXECUTE hark_segments_")


def test_profiles_changed_without_redis_evaluates_at_once(environment, plan_trait, settings):
    settings.REDIS_URL = None
    segment = make_dynamic(environment, PRO)
    profile = ProfileFactory(environment=environment, traits={"plan": "pro"})
    services.segment_profiles_changed(
        environment_id=environment.pk, profile_ids=[profile.pk, profile.pk]
    )
    assert members(segment) == {profile.pk}


def test_manual_import_by_ids_and_emails(environment):
    segment = services.segment_create(environment=environment, name="Beta", kind="manual")
    a = ProfileFactory(environment=environment, user_id="u-1", email="ada@example.test")
    b = ProfileFactory(environment=environment, user_id="u-2", email="bob@example.test")
    ProfileFactory(environment=environment, user_id="u-3")
    added, missing = services.segment_members_import(
        segment=segment, data="id,email\nu-1,\n,BOB@example.test\nnobody@example.test\n"
    )
    assert added == 2
    assert members(segment) == {a.pk, b.pk}
    assert set(missing) == {"id", "email", "nobody@example.test"}
    segment.refresh_from_db()
    assert segment.member_count == 2


def test_manual_membership_rejected_on_dynamic(environment, plan_trait):
    segment = make_dynamic(environment, PRO)
    with pytest.raises(ValidationError):
        services.segment_member_add(
            segment=segment, profile=ProfileFactory(environment=environment)
        )


def test_reset_stuck_runs_requeues(environment, plan_trait):
    segment = make_dynamic(environment, PRO)
    Segment.objects.filter(pk=segment.pk).update(
        status=RecomputeStatus.RUNNING, status_changed_at=timezone.now() - dt.timedelta(hours=3)
    )
    old_version = segment.version
    assert services.segments_reset_stuck() == [segment.pk]
    segment.refresh_from_db()
    assert segment.version == old_version + 1 and segment.status == RecomputeStatus.QUEUED
    assert services.segments_reset_stuck() == []  # a fresh queue entry is not stuck


def test_refresh_time_windows_picks_only_time_window_segments(environment, plan_trait, settings):
    window = make_dynamic(
        environment,
        {
            "op": "and",
            "conditions": [
                {
                    "type": "profile",
                    "field": "last_seen_at",
                    "operator": "within_last_days",
                    "value": 7,
                }
            ],
        },
        name="Recent",
    )
    plain = make_dynamic(environment, PRO)
    assert window.has_time_window and not plain.has_time_window
    ProfileFactory(environment=environment)
    assert services.segments_refresh_time_windows() == [window.pk]
    assert window.memberships.count() == 1  # eager: the refresh ran


def test_task_backoff_is_capped():
    assert [tasks.backoff(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_failed_recompute_marks_segment_failed(environment, plan_trait, monkeypatch):

    segment = make_dynamic(environment, PRO)

    def boom(**kwargs):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(services, "segment_recompute", boom)
    tasks.recompute_segment.delay(segment.pk, segment.version)
    segment.refresh_from_db()
    assert segment.status == RecomputeStatus.FAILED and "statement timeout" in segment.error


def test_bad_trait_data_never_crashes_the_query(environment):
    TraitFactory(environment=environment, key="age", data_type="number", scope="profile")
    TraitFactory(environment=environment, key="born", data_type="date", scope="profile")
    good = ProfileFactory(environment=environment, traits={"age": 40, "born": "1990-02-03"})
    ProfileFactory(environment=environment, traits={"age": "forty", "born": "1990-02-31"})
    ProfileFactory(environment=environment, traits={"age": [1], "born": 12})
    odd = ProfileFactory(
        environment=environment, traits={"age": "41", "born": "1990-02-03T10:00:00Z"}
    )
    rules = {
        "op": "and",
        "conditions": [
            {"type": "trait", "key": "age", "operator": "gte", "value": 30},
            {"type": "trait", "key": "born", "operator": "before", "value": "2000-01-01"},
        ],
    }
    segment = make_dynamic(environment, rules)
    services.segment_recompute(segment_id=segment.pk, version=segment.version)
    assert members(segment) == {good.pk, odd.pk}


def test_dynamic_segment_on_manual_follows_manual_changes(
    environment, django_capture_on_commit_callbacks
):
    beta = services.segment_create(environment=environment, name="Beta", kind="manual")
    on_beta = make_dynamic(
        environment,
        {
            "op": "and",
            "conditions": [{"type": "segment", "segment": str(beta.uuid), "operator": "in"}],
        },
        name="On beta",
    )
    profile = ProfileFactory(environment=environment)
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_member_add(segment=beta, profile=profile)
    assert members(on_beta) == {profile.pk}
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_member_remove(segment=beta, profile=profile)
    assert members(on_beta) == set()
