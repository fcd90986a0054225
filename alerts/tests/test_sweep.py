"""The sweep: which responses and segment entries alert which subscriptions, once, set-based."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import services
from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertSent, Frequency, Trigger
from profiles.factories import ProfileFactory
from segments import services as segment_services
from segments.factories import ManualSegmentFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, live=True, name="Onboarding")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="text", key="why")
    return survey


def subscribe(owner, **fields):
    values = {"created_at": timezone.now() - dt.timedelta(minutes=5), **fields}
    if "trait_key" in fields or "segment" in fields:
        values["rules"] = services.subscription_rules(
            environment_id=owner.environment_id,
            trigger=fields.get("trigger", Trigger.RESPONSE),
            segment=fields.get("segment"),
            trait_key=fields.get("trait_key", ""),
            trait_operator=fields.get("trait_operator", ""),
            trait_value=fields.get("trait_value", ""),
        )
    return AlertSubscriptionFactory(environment=owner.environment, user=owner.user, **values)


def completed(survey, profile=None, **data):
    kwargs = {"profile": profile} if profile is not None else {}
    return ResponseFactory(survey=survey, data=data, completed=True, **kwargs)


def alerted(subscription) -> set[int]:
    return set(
        AlertSent.objects.filter(subscription=subscription).values_list("object_id", flat=True)
    )


def test_score_range_alerts_detractors_only(owner, survey):
    detractors = subscribe(owner, question_key="nps", score_min=0, score_max=6)
    low, edge, high = completed(survey, nps=3), completed(survey, nps=6), completed(survey, nps=7)
    text_only = completed(survey, why="meh")
    assert services.alerts_sweep() == 2
    assert alerted(detractors) == {low.pk, edge.pk}
    assert high.pk not in alerted(detractors) and text_only.pk not in alerted(detractors)


def test_survey_and_question_filters(owner, environment, survey):
    other = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=other, kind="nps", key="nps")
    on_survey = subscribe(owner, survey=survey)
    on_question = subscribe(owner, question_key="why")
    mine = completed(survey, nps=9, why="Great")
    theirs = completed(other, nps=9)
    partial = ResponseFactory(survey=survey, data={"nps": 2})  # not completed: never
    services.alerts_sweep()
    assert alerted(on_survey) == {mine.pk}
    assert alerted(on_question) == {mine.pk}
    assert theirs.pk not in alerted(on_survey) | alerted(on_question)
    assert partial.pk not in alerted(on_survey)


def test_segment_and_trait_conditions_use_the_segments_compiler(owner, environment, survey):
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    TraitFactory(environment=environment, key="seats", data_type="number", scope="profile")
    vip = ManualSegmentFactory(environment=environment, name="VIP")
    inside, outside = (
        ProfileFactory(environment=environment),
        ProfileFactory(environment=environment),
    )
    segment_services.segment_member_add(segment=vip, profile=inside)
    pro = ProfileFactory(environment=environment, traits={"plan": "pro", "seats": 40})
    free = ProfileFactory(environment=environment, traits={"plan": "free", "seats": 2})

    in_vip = subscribe(owner, segment=vip)
    pro_plan = subscribe(owner, trait_key="plan", trait_operator="equals", trait_value="pro")
    big = subscribe(owner, trait_key="seats", trait_operator="gte", trait_value="10")
    r_inside, r_outside = completed(survey, inside, nps=5), completed(survey, outside, nps=5)
    r_pro, r_free = completed(survey, pro, nps=5), completed(survey, free, nps=5)
    services.alerts_sweep()
    assert alerted(in_vip) == {r_inside.pk}
    assert alerted(pro_plan) == {r_pro.pk}
    assert alerted(big) == {r_pro.pk}
    assert not {r_outside.pk, r_free.pk} & (alerted(in_vip) | alerted(pro_plan) | alerted(big))


def test_each_match_alerts_once_and_late_commits_are_seen(owner, survey):
    everything = subscribe(owner)
    first = completed(survey, nps=1)
    now = timezone.now()
    assert services.alerts_sweep(now=now) == 1
    assert services.alerts_sweep(now=now + dt.timedelta(seconds=15)) == 0  # re-read: no duplicate
    # Committed after the cursor moved, with an earlier completion time (a long transaction):
    # inside the lookback window, so still seen.
    late = completed(survey, nps=2)
    late.completed_at = now - dt.timedelta(seconds=30)
    late.save(update_fields=["completed_at"])
    assert services.alerts_sweep(now=now + dt.timedelta(seconds=30)) == 1
    assert alerted(everything) == {first.pk, late.pk}


def test_older_responses_inactive_and_digest_subscriptions_do_not_alert(owner, survey):
    old = completed(survey, nps=1)
    old.completed_at = timezone.now() - dt.timedelta(hours=1)
    old.save(update_fields=["completed_at"])
    fresh = subscribe(owner, created_at=timezone.now() - dt.timedelta(minutes=30))
    off = subscribe(owner, active=False)
    digest = subscribe(owner, frequency=Frequency.DAILY)
    new = completed(survey, nps=1)
    services.alerts_sweep()
    assert alerted(fresh) == {new.pk}
    assert not alerted(off) and not alerted(digest)


def test_another_environments_responses_never_alert(owner, survey, other_environment):
    everything = subscribe(owner)
    elsewhere = SurveyFactory(environment=other_environment, live=True)
    completed(elsewhere, nps=1)
    services.alerts_sweep()
    assert not alerted(everything)


def test_segment_entered_alerts(owner, environment):
    churn = ManualSegmentFactory(environment=environment, name="Churn risk")
    other = ManualSegmentFactory(environment=environment, name="Other")
    watch = subscribe(owner, trigger=Trigger.SEGMENT_ENTERED, segment=churn)
    watch.rules = {}
    watch.save(update_fields=["rules"])
    alice = ProfileFactory(environment=environment)
    segment_services.segment_member_add(segment=churn, profile=alice)
    segment_services.segment_member_add(
        segment=other, profile=ProfileFactory(environment=environment)
    )
    services.alerts_sweep()
    rows = list(AlertSent.objects.filter(subscription=watch))
    assert [(r.kind, r.profile_id) for r in rows] == [(Trigger.SEGMENT_ENTERED, alice.pk)]
    # Leaving is not entering.
    segment_services.segment_member_remove(segment=churn, profile=alice)
    assert services.alerts_sweep() == 0


def test_matching_is_set_based(owner, environment, survey, django_assert_num_queries):
    """The sweep costs the same queries for 1 response as for 50 (and several subscriptions
    with profile conditions): one INSERT ... SELECT per source."""
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    vip = ManualSegmentFactory(environment=environment, name="VIP")
    subscribe(owner, question_key="nps", score_min=0, score_max=6)
    subscribe(owner, segment=vip)
    subscribe(owner, trait_key="plan", trait_operator="equals", trait_value="pro")
    profiles = [ProfileFactory(environment=environment, traits={"plan": "pro"}) for _ in range(50)]
    for profile in profiles:
        segment_services.segment_member_add(segment=vip, profile=profile)
    now = timezone.now()
    services.alerts_sweep(now=now)  # the cursors exist from here on, as in production
    completed(survey, profiles[0], nps=2)
    with CaptureQueriesContext(connection) as one:
        assert services.alerts_sweep(now=now + dt.timedelta(seconds=1)) == 3
    for profile in profiles[1:]:
        completed(survey, profile, nps=2)
    with django_assert_num_queries(len(one.captured_queries)):
        assert services.alerts_sweep(now=now + dt.timedelta(seconds=2)) == 49 * 3
