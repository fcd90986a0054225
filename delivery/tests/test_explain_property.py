"""`explain` and `eligible_surveys` agree: for hypothesis-made environments (surveys with
random targeting, statuses and channels; people with random segments and histories), a survey
is in eligible_surveys exactly when explain says every gate passes, and the decision equals
the pure evaluation of its gates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery import selectors
from delivery.factories import web_survey
from delivery.models import DeliverySettings
from environments.services import environment_create
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from surveys.factories import ResponseFactory
from surveys.models import Channel

pytestmark = pytest.mark.django_db

PAGES = ["/billing", "/billing/plans", "/settings", "/"]
rule = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["include", "exclude"]),
        "field": st.sampled_from(["path", "url"]),
        "op": st.sampled_from(["equals", "starts_with", "contains", "ends_with", "wildcard"]),
        "value": st.sampled_from(["/billing", "/billing/*", "plans", "/settings", "acme"]),
    }
)
survey_spec = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["live", "live", "live", "paused"]),
        "web": st.booleans() | st.just(True),
        "audience": st.sampled_from(["everyone", "identified", "anonymous"]),
        "include": st.lists(st.integers(0, 2), max_size=2, unique=True),
        "exclude": st.lists(st.integers(0, 2), max_size=1),
        "match": st.sampled_from(["any", "all"]),
        "rules": st.lists(rule, max_size=2),
        "recurrence": st.sampled_from(["once", "every", "until_responded", "always"]),
        "days": st.integers(1, 30),
        "sample": st.sampled_from([0, 30, 70, 100]),
        "exempt": st.booleans(),
        "shown_days_ago": st.none() | st.integers(0, 40),
        "completed": st.booleans(),
        "starts_in_days": st.none() | st.integers(-3, 3),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(survey_spec, min_size=1, max_size=5),
    member_of=st.lists(st.integers(0, 2), max_size=3, unique=True),
    identified=st.booleans(),
    page=st.sampled_from(PAGES),
    throttle=st.sampled_from([0, 7]),
)
def test_explain_and_eligible_surveys_agree(specs, member_of, identified, page, throttle):
    environment = environment_create(name="Property")
    DeliverySettings.objects.create(environment=environment, throttle_days=throttle)
    segments = [ManualSegmentFactory(environment=environment) for _ in range(3)]
    profile = (
        ProfileFactory(environment=environment)
        if identified
        else ProfileFactory(environment=environment, anonymous=True)
    )
    for index in member_of:
        SegmentMembershipFactory(segment=segments[index], profile=profile)
    now = timezone.now()
    surveys = []
    for spec in specs:
        starts = now + timedelta(days=spec["starts_in_days"]) if spec["starts_in_days"] else None
        survey = web_survey(
            environment,
            status=spec["status"],
            channels=[Channel.WEB] if spec["web"] else [Channel.LINK],
            targeting={
                "audience": spec["audience"],
                "segments_include": [segments[i].pk for i in spec["include"]],
                "segments_exclude": [segments[i].pk for i in spec["exclude"]],
                "segment_match": spec["match"],
                "page_rules": spec["rules"],
                "recurrence": spec["recurrence"],
                "recurrence_days": spec["days"],
                "sample_percent": spec["sample"],
                "throttle_exempt": spec["exempt"],
                "starts_at": starts,
            },
        )
        if spec["shown_days_ago"] is not None:
            at = now - timedelta(days=spec["shown_days_ago"])
            ResponseFactory(
                survey=survey,
                profile=profile,
                channel=Channel.WEB,
                created_at=at,
                first_shown_at=at,
                last_shown_at=at,
                show_count=1,
                completed=spec["completed"],
            )
        surveys.append(survey)

    url = f"https://app.acme.test{page}"
    facts = selectors.facts_for_profile(profile)
    eligible = {
        d.plan.id
        for d in selectors.eligible_surveys(
            environment_id=environment.pk, facts=facts, url=url, now=now
        )
    }
    for survey in surveys:
        decision = selectors.explain(survey=survey, facts=facts, url=url, now=now)
        assert decision.eligible == (survey.pk in eligible), [g.as_dict() for g in decision.gates]
        assert decision.eligible == all(g.passed for g in decision.gates)
        # A reason in words for every gate.
        assert all(g.reason for g in decision.gates)
