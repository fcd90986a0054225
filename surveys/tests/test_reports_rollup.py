"""The Overview's daily rollup gives the same figures as the live query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.factories import ProfileFactory
from segments.models import Segment, SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.report_rollup import response_stats_rollup, rollup_watermark
from surveys.tasks import rollup_response_stats


@pytest.fixture
def history(environment):
    nps = SurveyFactory(environment=environment, name="NPS")
    QuestionFactory(survey=nps, kind="nps", key="score")
    csat = SurveyFactory(environment=environment, name="CSAT")
    QuestionFactory(survey=csat, kind="csat", key="happy")
    QuestionFactory(survey=csat, kind="ces", key="effort")
    profile = ProfileFactory(environment=environment)
    now = timezone.now()
    for days in range(0, 75, 4):
        at = now - timedelta(days=days, hours=1)
        ResponseFactory(survey=nps, profile=profile, created_at=at, data={"score": days % 11})
        ResponseFactory(survey=nps, profile=profile, created_at=at)  # a view
        ResponseFactory(
            survey=csat,
            profile=profile,
            created_at=at,
            data={"happy": days % 5 - 2, "effort": days % 7 + 1},
            completed_at=at if days % 3 else None,
            dismissed_at=None if days % 3 else at,
        )
    return {"nps": nps, "csat": csat, "profile": profile}


def overview(client, environment, params=None):
    url = reverse("surveys:overview", kwargs={"env": environment.slug})
    response = client.get(url, params or {})
    assert response.status_code == 200
    context = response.context
    return context["figures"], [
        (str(point), point) for point in (context["nps_chart"], context["volume_chart"])
    ]


@pytest.mark.parametrize(
    "params",
    [{}, {"period": "7d"}, {"period": "90d"}, {"period": "all"}, {"period": "custom"}],
)
def test_rollup_gives_the_same_figures_as_live(owner_client, environment, history, params):
    live = overview(owner_client, environment, params)
    response_stats_rollup(environment_id=environment.pk)
    assert rollup_watermark(environment.pk) == timezone.localdate()
    assert overview(owner_client, environment, params) == live


def test_rollup_with_a_survey_and_a_custom_range(owner_client, environment, history):
    today = timezone.localdate()
    params = {
        "survey": str(history["csat"].uuid),
        "start": (today - timedelta(days=40)).isoformat(),
        "end": (today - timedelta(days=5)).isoformat(),
        "period": "custom",
    }
    live = overview(owner_client, environment, params)
    response_stats_rollup(environment_id=environment.pk)
    assert overview(owner_client, environment, params) == live
    assert live[0]["csat"]["total"] > 0


def test_segment_filter_is_always_live(owner_client, environment, history):
    segment = Segment.objects.create(environment=environment, name="All", kind="manual")
    SegmentMembership.objects.create(segment=segment, profile=history["profile"])
    response_stats_rollup(environment_id=environment.pk)
    ResponseFactory(
        survey=history["nps"],
        profile=history["profile"],
        created_at=timezone.now() - timedelta(days=10),
        data={"score": 10},
    )
    with_segment = overview(owner_client, environment, {"segment": str(segment.uuid)})[0]
    rolled = overview(owner_client, environment)[0]
    # The late response on a rolled-up day shows live (segment), not until the next rollup.
    assert with_segment["views"] == rolled["views"] + 1


def test_today_is_always_live(owner_client, environment, history):
    response_stats_rollup(environment_id=environment.pk)
    before = overview(owner_client, environment)[0]
    ResponseFactory(survey=history["nps"], profile=history["profile"], data={"score": 0})
    after = overview(owner_client, environment)[0]
    assert after["views"] == before["views"] + 1
    assert after["nps"]["detractors"] == before["nps"]["detractors"] + 1


def test_recent_rollup_picks_up_late_changes_of_recent_days(owner_client, environment, history):
    response_stats_rollup(environment_id=environment.pk)
    ResponseFactory(
        survey=history["nps"],
        profile=history["profile"],
        created_at=timezone.now() - timedelta(days=2),
        data={"score": 10},
    )
    stale = overview(owner_client, environment)[0]
    rollup_response_stats.delay()  # eager without a broker: the last RECENT_DAYS days
    fresh = overview(owner_client, environment)[0]
    assert fresh["views"] == stale["views"] + 1
    assert fresh["nps"]["promoters"] == stale["nps"]["promoters"] + 1


def test_rollup_is_per_environment(owner_client, environment, other_environment, history):
    other = SurveyFactory(environment=other_environment)
    QuestionFactory(survey=other, kind="nps", key="score")
    ResponseFactory(survey=other, created_at=timezone.now() - timedelta(days=3), data={"score": 0})
    live = overview(owner_client, environment)
    rollup_response_stats.delay(full=True)
    assert overview(owner_client, environment) == live
