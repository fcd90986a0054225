"""Digests: the last complete period at HARK_ALERTS_DIGEST_HOUR in TIME_ZONE, its scores against
the previous period (surveys.scores), new detractors and counts per survey; once per period."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from alerts import services
from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertDigest, Frequency
from profiles.factories import ProfileFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def clock(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.HARK_ALERTS_DIGEST_HOUR = 8
    settings.HARK_BASE_URL = "https://hark.example.com"


def test_digest_period_is_the_last_complete_day_or_week(clock):
    # Wednesday Nov 18, 2026, 08:05 in Berlin.
    assert services.digest_period(Frequency.DAILY, at(18, 8, 5)) == (at(17, 8), at(18, 8))
    assert services.digest_period(Frequency.DAILY, at(18, 7, 59)) == (at(16, 8), at(17, 8))
    assert services.digest_period(Frequency.WEEKLY, at(18, 8, 5)) == (at(9, 8), at(16, 8))
    assert services.digest_period(Frequency.WEEKLY, at(16, 8, 0)) == (at(9, 8), at(16, 8))


def test_daily_digest_compares_with_the_previous_period_and_lists_detractors(
    clock, owner, environment, slack_receiver
):
    onboarding = SurveyFactory(environment=environment, live=True, name="Onboarding")
    QuestionFactory(survey=onboarding, kind="nps", key="nps", title="Recommend us?")
    QuestionFactory(survey=onboarding, kind="csat", key="csat", title="Satisfied?")
    QuestionFactory(survey=onboarding, kind="text", key="why", title="Why?")
    pricing = SurveyFactory(environment=environment, live=True, name="Pricing")
    QuestionFactory(survey=pricing, kind="ces", key="ces", title="Easy?")
    jane = ProfileFactory(environment=environment, traits={"name": "Jane Doe"}, email="jane@x.test")

    def response(survey, when, profile=None, **data):
        extra = {"profile": profile} if profile else {}
        return ResponseFactory(survey=survey, data=data, created_at=when, completed=True, **extra)

    # This period (Nov 17 08:00 to Nov 18 08:00).
    response(onboarding, at(17, 9), nps=10, csat=2)
    response(onboarding, at(17, 12), nps=9, csat=1)
    response(onboarding, at(18, 7, 30), jane, nps=3, csat=-2, why="Too slow")
    response(pricing, at(17, 10), ces=6)
    response(pricing, at(17, 11), ces=4)
    # The previous period.
    response(onboarding, at(16, 9), nps=0, csat=-1)
    response(onboarding, at(16, 10), nps=0, csat=2)
    response(onboarding, at(16, 11), nps=10, csat=-2)
    response(pricing, at(16, 12), ces=2)
    # Outside both.
    response(onboarding, at(18, 9), nps=1)
    response(onboarding, at(15, 9), nps=1)

    AlertSubscriptionFactory(
        environment=environment,
        user=owner.user,
        name="Morning digest",
        frequency=Frequency.DAILY,
        slack_url=slack_receiver.url,
        created_at=at(1, 0),
    )
    assert services.alerts_digests_run(now=at(18, 8, 5)) == 1

    [email] = mail.outbox
    assert email.subject == "[Hark] Daily digest for Acme: Morning digest"
    body = email.body
    assert "Nov 17, 08:00 to Nov 18, 08:00" in body
    assert "Responses: 5 (5 completed); previous period: 4" in body
    # NPS 2 promoters, 1 detractor of 3 = 33.3; before: 1 and 2 of 3 = -33.3.
    assert "NPS: 33.3 (previous period: -33.3, change +66.6; 3 answers vs 3)" in body
    # CSAT % satisfied: 2 of 3 = 66.7; before 1 of 3 = 33.3.
    assert "CSAT (% satisfied): 66.7 (previous period: 33.3, change +33.4; 3 answers vs 3)" in body
    assert "CES (average): 5.0 (previous period: 2.0, change +3; 2 answers vs 1)" in body
    assert "Onboarding: 3 (3 completed)" in body and "Pricing: 2 (2 completed)" in body
    assert "Jane Doe (jane@x.test" in body
    assert "Recommend us?: 3; Satisfied?: Very unsatisfied; Why?: Too slow" in body
    assert f"https://hark.example.com/e/{environment.slug}/users/{jane.uuid}/" in body
    html = email.alternatives[0][0]
    assert '<td style="padding: 4px 12px 4px 0">NPS</td>' in html and "33.3" in html
    [post] = slack_receiver.posts
    assert "NPS: 33.3 (previous -33.3, +66.6)" in post["json"]["text"]
    assert "New detractors" in post["json"]["text"]

    # Idempotent per period: beat firing again (or twice) sends nothing more.
    assert services.alerts_digests_run(now=at(18, 8, 5)) == 0
    assert services.alerts_digests_run(now=at(18, 9, 0)) == 0
    assert len(mail.outbox) == 1
    assert AlertDigest.objects.count() == 1
    # The next day's period is a new digest.
    assert services.alerts_digests_run(now=at(19, 8, 1)) == 1
    assert len(mail.outbox) == 2


def test_weekly_digest_of_one_survey(clock, owner, environment):
    survey = SurveyFactory(environment=environment, live=True, name="Onboarding")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    other = SurveyFactory(environment=environment, live=True, name="Other")
    QuestionFactory(survey=other, kind="nps", key="nps")
    ResponseFactory(survey=survey, data={"nps": 9}, created_at=at(10, 9), completed=True)
    ResponseFactory(survey=other, data={"nps": 0}, created_at=at(10, 9), completed=True)
    AlertSubscriptionFactory(
        environment=environment,
        user=owner.user,
        name="Weekly",
        survey=survey,
        frequency=Frequency.WEEKLY,
        created_at=at(1, 0),
    )
    services.alerts_digests_run(now=at(18, 8, 5))
    body = mail.outbox[0].body
    assert "Weekly digest" in mail.outbox[0].subject
    assert "Nov 9, 08:00 to Nov 16, 08:00" in body
    assert "NPS: 100.0" in body
    assert "Other" not in body
    assert "New detractors:\n  none" in body


def test_a_digest_never_reaches_back_into_one_already_sent(clock, owner, environment, settings):
    """The periods move when TIME_ZONE or the digest hour changes: the next period then
    overlapped the last one sent (unique per start, so both were sent), and the responses of
    the overlap were reported twice. It starts where the last one ended instead."""
    subscription = AlertSubscriptionFactory(
        user=owner.user, environment=environment, frequency=Frequency.DAILY
    )
    subscription.created_at = at(1, 0)
    subscription.save(update_fields=["created_at"])
    assert services.digests_schedule(now=at(18, 8, 5)) == 1  # Nov 17 08:00 - Nov 18 08:00
    settings.HARK_ALERTS_DIGEST_HOUR = 20  # the same day's 20:00 now ends a period
    assert services.digests_schedule(now=at(18, 20, 5)) == 1
    periods = list(
        AlertDigest.objects.order_by("period_start").values_list("period_start", "period_end")
    )
    assert periods == [(at(17, 8), at(18, 8)), (at(18, 8), at(18, 20))]
    # A period the last digest covered already is not sent again.
    settings.HARK_ALERTS_DIGEST_HOUR = 6
    assert services.digests_schedule(now=at(18, 21)) == 0  # Nov 17 06:00 - Nov 18 06:00
    assert AlertDigest.objects.count() == 2
    # And the same tick twice queues one.
    assert services.digests_schedule(now=at(19, 6, 5)) == 1
    assert services.digests_schedule(now=at(19, 6, 10)) == 0
