"""Every gate of the decision, alone and combined, against real PostgreSQL: what `explain`
says of one survey is what `eligible_surveys` decides for all of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from delivery import selectors
from delivery.factories import web_survey
from delivery.models import DeliverySettings, SurveyTargeting
from delivery.services import targeting_resample, targeting_update
from delivery.targeting import (
    Context,
    Facts,
    SurveyPlan,
    bucket,
    evaluate,
    page_rules_clean,
)
from profiles.factories import ProfileFactory
from profiles.services import profile_identify
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from surveys.factories import ResponseFactory
from surveys.models import Channel, SurveyStatus

pytestmark = pytest.mark.django_db
URL = "https://app.acme.test/billing/plans?x=1"


def decide(survey, profile=None, *, url=URL, now=None, anonymous_id=None):
    """explain() for the survey, checked against eligible_surveys() for the same person."""
    if profile is not None:
        facts = selectors.facts_for_profile(profile)
    else:
        facts = selectors.facts_for(
            environment_id=survey.environment_id, anonymous_id=anonymous_id or "a" * 20
        )
    decision = selectors.explain(survey=survey, facts=facts, url=url, now=now)
    eligible = selectors.eligible_surveys(
        environment_id=survey.environment_id, facts=facts, url=url, now=now
    )
    assert (survey.pk in [d.plan.id for d in eligible]) == decision.eligible
    return decision


def gate(decision, name):
    return next(g for g in decision.gates if g.name == name)


def shown(survey, profile, *, ago, completed=False, channel=Channel.WEB):
    at = timezone.now() - ago
    return ResponseFactory(
        survey=survey,
        profile=profile,
        channel=channel,
        first_shown_at=at,
        last_shown_at=at,
        show_count=1,
        created_at=at,
        completed=completed,
    )


def test_default_targeting_shows_everyone_everywhere(environment):
    survey = web_survey(environment)
    decision = decide(survey, ProfileFactory(environment=environment))
    assert decision.eligible
    assert [g.name for g in decision.gates] == [
        "status", "schedule", "limits", "channel", "audience", "segments", "pages",
        "recurrence", "throttling", "sampling",
    ]  # fmt: skip


@pytest.mark.parametrize("status", [SurveyStatus.DRAFT, SurveyStatus.PAUSED, SurveyStatus.ARCHIVED])
def test_status_gate(environment, status):
    survey = web_survey(environment, status=status)
    decision = decide(survey, ProfileFactory(environment=environment))
    assert not decision.eligible
    assert gate(decision, "status").reason == f"the survey is {status}, not live"


def test_schedule_gate_before_start_and_after_end(environment):
    profile = ProfileFactory(environment=environment)
    start = timezone.now() + timedelta(days=2)
    later = web_survey(environment, targeting={"starts_at": start})
    decision = decide(later, profile)
    assert not decision.eligible and decision.eligible_at == start
    assert "starts on" in gate(decision, "schedule").reason
    ended = web_survey(environment, targeting={"ends_at": timezone.now() - timedelta(hours=1)})
    assert "ended on" in gate(decide(ended, profile), "schedule").reason
    running = web_survey(
        environment,
        targeting={
            "starts_at": timezone.now() - timedelta(days=1),
            "ends_at": timezone.now() + timedelta(days=1),
        },
    )
    assert decide(running, profile).eligible


def test_limits_gate_counts_completed_responses_of_every_channel(environment):
    survey = web_survey(environment, targeting={"response_limit": 2})
    profile = ProfileFactory(environment=environment)
    for channel in (Channel.LINK, Channel.API):
        ResponseFactory(
            survey=survey,
            profile=ProfileFactory(environment=environment),
            channel=channel,
            completed=True,
        )
    ResponseFactory(survey=survey, profile=ProfileFactory(environment=environment))  # partial
    decision = decide(survey, profile)
    assert not decision.eligible
    assert gate(decision, "limits").reason == (
        "the survey has its 2 completed responses and stopped"
    )


def test_channel_gate(environment):
    survey = web_survey(environment, channels=[Channel.LINK])
    survey.channels = [Channel.LINK]
    survey.save(update_fields=["channels"])
    decision = decide(survey, ProfileFactory(environment=environment))
    assert gate(decision, "channel").reason == "the survey's Web (in-product) channel is off"
    assert not decision.eligible


def test_audience_gate(environment):
    user = ProfileFactory(environment=environment)
    for_users = web_survey(environment, targeting={"audience": "identified"})
    for_anonymous = web_survey(environment, targeting={"audience": "anonymous"})
    assert decide(for_users, user).eligible
    assert not decide(for_users, None).eligible
    assert decide(for_anonymous, None).eligible
    assert gate(decide(for_anonymous, user), "audience").reason == (
        "an identified user; the survey is for anonymous visitors"
    )


def test_segments_gate_any_all_and_exclude(environment):
    enterprise = ManualSegmentFactory(environment=environment, name="Enterprise customers")
    trial = ManualSegmentFactory(environment=environment, name="Trial users")
    churned = ManualSegmentFactory(environment=environment, name="Churned")
    profile = ProfileFactory(environment=environment)
    SegmentMembershipFactory(segment=trial, profile=profile)

    only_enterprise = web_survey(environment, targeting={"segments_include": [enterprise.pk]})
    decision = decide(only_enterprise, profile)
    assert gate(decision, "segments").reason == "not in segment Enterprise customers"
    any_of = web_survey(environment, targeting={"segments_include": [enterprise.pk, trial.pk]})
    assert decide(any_of, profile).eligible
    all_of = web_survey(
        environment,
        targeting={"segments_include": [enterprise.pk, trial.pk], "segment_match": "all"},
    )
    assert not decide(all_of, profile).eligible
    SegmentMembershipFactory(segment=churned, profile=profile)
    excluded = web_survey(
        environment, targeting={"segments_include": [trial.pk], "segments_exclude": [churned.pk]}
    )
    assert gate(decide(excluded, profile), "segments").reason == "in excluded segment Churned"
    # An anonymous visitor with no profile is in no segment.
    assert not decide(any_of, None).eligible


@pytest.mark.parametrize(
    ("rule", "url", "expected"),
    [
        ({"field": "path", "op": "equals", "value": "/billing/plans"}, URL, True),
        ({"field": "path", "op": "equals", "value": "/billing"}, URL, False),
        ({"field": "path", "op": "starts_with", "value": "/billing"}, URL, True),
        ({"field": "path", "op": "contains", "value": "plans"}, URL, True),
        ({"field": "path", "op": "ends_with", "value": "/plans"}, URL, True),
        ({"field": "path", "op": "wildcard", "value": "/billing/*"}, URL, True),
        ({"field": "path", "op": "wildcard", "value": "/settings/*"}, URL, False),
        ({"field": "path", "op": "regex", "value": r"^/billing/(plans|invoices)$"}, URL, True),
        ({"field": "url", "op": "contains", "value": "x=1"}, URL, True),
        ({"field": "url", "op": "starts_with", "value": "https://other.test"}, URL, False),
    ],
)
def test_pages_gate_each_operator(environment, rule, url, expected):
    survey = web_survey(environment, targeting={"page_rules": [{"kind": "include", **rule}]})
    assert decide(survey, ProfileFactory(environment=environment), url=url).eligible is expected


def test_pages_gate_exclude_wins_and_no_url_is_unknown(environment):
    survey = web_survey(
        environment,
        targeting={
            "page_rules": [
                {"kind": "include", "field": "path", "op": "starts_with", "value": "/billing"},
                {"kind": "exclude", "field": "path", "op": "contains", "value": "plans"},
            ]
        },
    )
    profile = ProfileFactory(environment=environment)
    decision = decide(survey, profile)
    assert "the page is excluded" in gate(decision, "pages").reason
    assert decide(survey, profile, url="https://app.acme.test/billing").eligible
    assert decide(survey, profile, url="https://app.acme.test/settings").eligible is False
    unknown = gate(decide(survey, profile, url=None), "pages")
    assert unknown.verdict == "unknown" and unknown.passed


def test_recurrence_once(environment):
    survey = web_survey(environment)
    profile = ProfileFactory(environment=environment)
    shown(survey, profile, ago=timedelta(days=3))
    decision = decide(survey, profile)
    assert gate(decision, "recurrence").reason == (
        "shown 3 days ago; this survey shows once per user"
    )
    assert decision.eligible_at is None


def test_recurrence_every_90_days(environment):
    survey = web_survey(environment, targeting={"recurrence": "every", "recurrence_days": 90})
    profile = ProfileFactory(environment=environment)
    shown(survey, profile, ago=timedelta(days=3), completed=True)
    decision = decide(survey, profile)
    assert gate(decision, "recurrence").reason == (
        "shown 3 days ago; this survey recurs every 90 days"
    )
    assert decision.eligible_at is not None
    assert (
        decide(survey, profile, now=timezone.now() + timedelta(days=86, hours=23)).eligible is False
    )
    assert decide(survey, profile, now=timezone.now() + timedelta(days=87, minutes=1)).eligible


def test_recurrence_until_responded(environment):
    survey = web_survey(
        environment,
        targeting={"recurrence": "until_responded", "recurrence_max": 2, "recurrence_days": 2},
    )
    profile = ProfileFactory(environment=environment)
    first = shown(survey, profile, ago=timedelta(days=1))
    assert "shown again at most every 2 days" in gate(decide(survey, profile), "recurrence").reason
    first.created_at = first.last_shown_at = timezone.now() - timedelta(days=3)
    first.save()
    assert decide(survey, profile).eligible
    shown(survey, profile, ago=timedelta(days=5))
    assert "at most 2 times" in gate(decide(survey, profile), "recurrence").reason
    other = ProfileFactory(environment=environment)
    shown(survey, other, ago=timedelta(days=10), completed=True)
    assert gate(decide(survey, other), "recurrence").reason == (
        "already responded; this survey shows until answered"
    )


def test_recurrence_always(environment):
    survey = web_survey(environment, targeting={"recurrence": "always"})
    profile = ProfileFactory(environment=environment)
    shown(survey, profile, ago=timedelta(minutes=5), completed=True)
    assert decide(survey, profile).eligible


def test_throttle_counts_every_survey_and_channel(environment):
    profile = ProfileFactory(environment=environment)
    link_survey = web_survey(environment)
    shown(link_survey, profile, ago=timedelta(days=2), channel=Channel.LINK)
    survey = web_survey(environment)
    decision = decide(survey, profile)
    assert gate(decision, "throttling").reason == (
        "another survey was shown 2 days ago; at most one every 7 days"
    )
    assert decision.eligible_at is not None
    exempt = web_survey(environment, targeting={"throttle_exempt": True})
    assert decide(exempt, profile).eligible
    DeliverySettings.objects.create(environment=environment, throttle_days=1)
    assert decide(survey, profile).eligible


def test_exempt_survey_displays_do_not_throttle_others(environment):
    profile = ProfileFactory(environment=environment)
    exempt = web_survey(environment, targeting={"throttle_exempt": True})
    shown(exempt, profile, ago=timedelta(hours=1))
    assert decide(web_survey(environment), profile).eligible


def test_sampling_gate_reason_and_resample(environment):
    survey = web_survey(environment, targeting={"sample_percent": 25})
    profile = ProfileFactory(environment=environment)
    n = bucket(survey.web_targeting.sample_salt, f"user:{profile.user_id}")
    decision = decide(survey, profile)
    verdict = "sampled in" if n < 25 else "sampled out"
    assert gate(decision, "sampling").reason == f"{verdict}: bucket {n} of 100, sample is 25%"
    # Changing the percentage keeps the bucket.
    targeting_update(survey=survey, values={"sample_percent": 60})
    assert f"bucket {n} of 100" in gate(decide(survey, profile), "sampling").reason
    salts = {survey.web_targeting.sample_salt}
    for _ in range(3):
        salts.add(targeting_resample(survey=survey).sample_salt)
    assert len(salts) == 4


def test_gates_combined_first_failure_and_all_reasons(environment):
    segment = ManualSegmentFactory(environment=environment, name="Enterprise customers")
    survey = web_survey(
        environment,
        targeting={
            "audience": "identified",
            "segments_include": [segment.pk],
            "page_rules": [{"kind": "include", "field": "path", "op": "equals", "value": "/x"}],
            "sample_percent": 0,
        },
    )
    profile = ProfileFactory(environment=environment)
    decision = decide(survey, profile)
    failed = [g.name for g in decision.gates if not g.passed]
    assert failed == ["segments", "pages", "sampling"]
    assert decision.failed.name == "segments"
    SegmentMembershipFactory(segment=segment, profile=profile)
    targeting_update(survey=survey, values={"sample_percent": 100, "page_rules": []})
    assert decide(survey, profile).eligible


def test_sampling_is_sticky_and_close_to_percent_over_10000_people():
    salt = "abc123"
    keys = [f"user:{n}" for n in range(10_000)]
    for percent in (10, 25, 50):
        sampled = sum(1 for k in keys if bucket(salt, k) < percent)
        # Binomial: 3 standard deviations around P%.
        sd = (10_000 * percent / 100 * (1 - percent / 100)) ** 0.5
        assert abs(sampled - 100 * percent) < 3 * sd
    # Same answer every time (another process, another day: a pure hash).
    assert [bucket(salt, k) for k in keys[:100]] == [bucket(salt, k) for k in keys[:100]]
    # Raising P keeps everyone who was in.
    inside_25 = {k for k in keys if bucket(salt, k) < 25}
    inside_50 = {k for k in keys if bucket(salt, k) < 50}
    assert inside_25 <= inside_50


def test_sampling_sticky_across_devices_and_merge(environment):
    """Two devices of one user share the bucket (it hashes the user id); an anonymous device
    has its own (it hashes the device id); after identification the user's bucket applies."""

    survey = web_survey(environment, targeting={"sample_percent": 50})
    salt = survey.web_targeting.sample_salt
    anonymous = selectors.facts_for(environment_id=environment.pk, anonymous_id="d" * 20)
    assert anonymous.sampling_key == "anon:" + "d" * 20
    profile_identify(environment=environment, anonymous_id="d" * 20)
    profile_identify(environment=environment, anonymous_id="e" * 20)
    keys = set()
    for device in ("d" * 20, "e" * 20):
        user = profile_identify(environment=environment, user_id="u-1", anonymous_id=device)
        facts = selectors.facts_for(environment_id=environment.pk, anonymous_id=device)
        assert facts.profile_id == user.pk
        keys.add(facts.sampling_key)
    assert keys == {"user:u-1"}
    expected = bucket(salt, "user:u-1")
    assert f"bucket {expected} of 100" in gate(decide(survey, user), "sampling").reason


def test_facts_of_unknown_anonymous_visitor_are_empty(environment):
    facts = selectors.facts_for(environment_id=environment.pk, anonymous_id="z" * 20)
    assert facts == Facts(anonymous_id="z" * 20)


def test_a_plans_remembered_verdicts_follow_the_page_and_the_clock():
    """A plan remembers its pages gate per URL and its plan-only gates: the same plan decided
    on another page, without a page, or at another moment of its schedule says so."""
    plan = SurveyPlan(
        id=1,
        uuid="u",
        name="S",
        status="live",
        channels=("web",),
        page_rules=({"kind": "include", "field": "path", "op": "starts_with", "value": "/b"},),
    )
    now = timezone.now()
    facts = Facts(anonymous_id="a" * 20)

    def pages(url):
        return gate(evaluate(plan, facts, Context(now=now, url=url)), "pages").verdict

    assert [pages(u) for u in ("https://x.test/b", "https://x.test/a", "https://x.test/b")] == [
        "pass",
        "fail",
        "pass",
    ]
    assert pages(None) == "unknown"
    later = SurveyPlan(id=2, uuid="v", name="T", status="live", channels=("web",), starts_at=now)
    assert later.passing_prefix is None
    before = evaluate(later, facts, Context(now=now - timedelta(days=1)))
    after = evaluate(later, facts, Context(now=now + timedelta(days=1)))
    assert (before.eligible, after.eligible) == (False, True)
    closed = SurveyPlan(id=3, uuid="w", name="U", status="draft", channels=("web",))
    assert closed.passing_prefix is None
    assert gate(evaluate(closed, facts, Context(now=now)), "status").verdict == "fail"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(unclosed", "not a valid regular expression"),
        (r"^/(a)\1$", "backreferences"),
        (r"^/billing(?!/plans)", "lookarounds"),
    ],
)
def test_page_patterns_refused_when_saved_say_why(pattern, words):
    with pytest.raises(ValidationError) as refused:
        page_rules_clean([{"kind": "include", "field": "path", "op": "regex", "value": pattern}])
    assert words in " ".join(refused.value.message_dict["page_rules"])


def test_a_saved_pattern_page_rules_cannot_run_is_explained(environment):
    """A lookahead saved before page patterns ran on RE2 matches no page, and says so."""
    survey = web_survey(environment)
    SurveyTargeting.objects.filter(survey=survey).update(
        page_rules=[
            {"kind": "include", "field": "path", "op": "regex", "value": "^/billing(?!/plans)"}
        ]
    )
    survey.refresh_from_db()
    decision = decide(survey, ProfileFactory(environment=environment))
    reason = gate(decision, "pages").reason
    assert not decision.eligible and "cannot run, so it matches no page" in reason
