"""Settings → Alerts: each member manages their own subscriptions (analysts too: an alert only
reads), admins see every one of the environment; another environment's are 404; bad input is a
form error and writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertSubscription, Frequency, Trigger
from environments.models import Role
from environments.services import member_add
from segments.factories import ManualSegmentFactory
from surveys.factories import QuestionFactory, SurveyFactory
from tests.helpers import eurl
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="Onboarding")
    QuestionFactory(survey=survey, kind="nps", key="nps", title="Recommend us?")
    QuestionFactory(survey=survey, kind="text", key="why", title="Why?")
    return survey


@pytest.fixture
def colleague(environment):
    return member_add(environment=environment, email="colleague@acme.test", role=Role.CONTRIBUTOR)


def form_data(**overrides):
    data = {
        "name": "Detractors",
        "trigger": "response",
        "question_key": "",
        "frequency": "immediate",
        "email": "on",
        "active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_analyst_subscribes_for_themselves(analyst_client, analyst, environment, survey):
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    segment = ManualSegmentFactory(environment=environment, name="VIP")
    response = analyst_client.post(
        eurl(environment, "alerts:new"),
        form_data(
            survey=str(survey.uuid),
            question_key="nps",
            score_min="0",
            score_max="6",
            segment=str(segment.uuid),
            trait_key="plan",
            trait_operator="in",
            trait_value="pro, enterprise",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    sub = AlertSubscription.objects.get()
    assert (sub.user, sub.environment, sub.survey, sub.segment) == (
        analyst.user,
        environment,
        survey,
        segment,
    )
    assert (sub.question_key, sub.score_min, sub.score_max) == ("nps", 0, 6)
    assert sub.rules == {
        "op": "and",
        "conditions": [
            {"type": "segment", "segment": str(segment.uuid), "operator": "in"},
            {"type": "trait", "key": "plan", "operator": "in", "value": ["pro", "enterprise"]},
        ],
    }
    page = analyst_client.get(eurl(environment, "alerts:list"))
    assert page.status_code == 200 and "Detractors" in page.content.decode()


def test_members_see_only_their_own_admins_see_all(
    owner_client, analyst_client, analyst, colleague, environment, django_assert_num_queries
):
    mine = AlertSubscriptionFactory(environment=environment, user=analyst.user, name="Mine")
    theirs = AlertSubscriptionFactory(environment=environment, user=colleague.user, name="Theirs")
    listed = analyst_client.get(eurl(environment, "alerts:list")).content.decode()
    assert "Mine" in listed and "Theirs" not in listed
    for name in ("edit", "delete"):
        assert (
            analyst_client.get(eurl(environment, f"alerts:{name}", pk=theirs.pk)).status_code == 404
        )
        assert (
            analyst_client.post(
                eurl(environment, f"alerts:{name}", pk=theirs.pk),
                {"confirm": "yes", **form_data(name="Hijacked")},
            ).status_code
            == 404
        )
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert analyst_client.get(eurl(environment, "alerts:edit", pk=mine.pk)).status_code == 200
    # Admins: every subscription, each listed with its member.
    for _ in range(5):
        AlertSubscriptionFactory(environment=environment, user=colleague.user)
    # Session, user, membership, the subscriptions (joined), the environment switcher.
    with django_assert_num_queries(5):
        listed = owner_client.get(eurl(environment, "alerts:list")).content.decode()
    assert "Mine" in listed and "Theirs" in listed and "colleague@acme.test" in listed
    response = owner_client.post(
        eurl(environment, "alerts:edit", pk=theirs.pk), form_data(name="Renamed")
    )
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.name == "Renamed" and theirs.user == colleague.user


def test_delete_asks_then_deletes(analyst_client, analyst, environment):
    sub = AlertSubscriptionFactory(environment=environment, user=analyst.user, name="Gone soon")
    page = analyst_client.get(eurl(environment, "alerts:delete", pk=sub.pk))
    assert "Delete the alert “Gone soon”?" in page.content.decode()
    assert analyst_client.post(eurl(environment, "alerts:delete", pk=sub.pk)).status_code == 200
    assert AlertSubscription.objects.filter(pk=sub.pk).exists()
    response = analyst_client.post(
        eurl(environment, "alerts:delete", pk=sub.pk), {"confirm": "yes"}
    )
    assert response.status_code == 302
    assert not AlertSubscription.objects.filter(pk=sub.pk).exists()


def test_another_environments_alerts_are_404(
    owner_client, environment, other_environment, outsider, outsider_client
):
    elsewhere = AlertSubscriptionFactory(environment=other_environment, user=outsider.user)
    for name in ("edit", "delete"):
        # Own environment in the URL, another environment's id.
        assert (
            owner_client.get(eurl(environment, f"alerts:{name}", pk=elsewhere.pk)).status_code
            == 404
        )
        assert (
            owner_client.post(
                eurl(environment, f"alerts:{name}", pk=elsewhere.pk), {"confirm": "yes"}
            ).status_code
            == 404
        )
    assert outsider_client.get(eurl(environment, "alerts:list")).status_code == 404
    assert outsider_client.post(eurl(environment, "alerts:new"), form_data()).status_code == 404
    assert AlertSubscription.objects.filter(environment=environment).count() == 0
    assert AlertSubscription.objects.filter(pk=elsewhere.pk).exists()


def test_anonymous_is_sent_to_login(client, environment):
    response = client.get(eurl(environment, "alerts:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"email": None}, None, "Choose at least one way to be alerted"),
        ({"score_min": "0", "score_max": "6"}, "question_key", "A score range needs the question"),
        ({"question_key": "why", "score_min": "0"}, "question_key", "NPS, CSAT, CES or rating"),
        (
            {"question_key": "nps", "score_min": "7", "score_max": "3"},
            "score_max",
            "must not be below",
        ),
        ({"question_key": "nps", "score_min": "11"}, "score_min", "less than or equal to 10"),
        ({"trigger": "segment_entered"}, "segment", "Pick the segment"),
        ({"frequency": "hourly"}, "frequency", "Select a valid choice"),
        ({"survey": "00000000-0000-0000-0000-000000000000"}, "survey", "Select a valid choice"),
        ({"slack_url": "not a url"}, "slack_url", "Enter a valid URL"),
        ({"slack_url": "http://127.0.0.1:9/hook"}, "slack_url", "refused"),
        ({"slack_url": "http://169.254.169.254/latest"}, "slack_url", "refused"),
        (
            {"trait_key": "plan", "trait_operator": "gte", "trait_value": "3"},
            "trait_operator",
            "is a string trait",
        ),
        (
            {"trait_key": "seats", "trait_operator": "gte", "trait_value": "many"},
            "trait_value",
            "Enter a number",
        ),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(
    owner_client, environment, survey, overrides, field, message, settings
):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    TraitFactory(environment=environment, key="seats", data_type="number", scope="profile")
    response = owner_client.post(eurl(environment, "alerts:new"), form_data(**overrides))
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in e for e in errors), form.errors
    assert message.split(":")[0] in response.content.decode().replace("&quot;", '"').replace(
        "&#x27;", "'"
    )
    assert AlertSubscription.objects.count() == 0


def test_another_environments_survey_or_segment_is_not_a_choice(
    owner_client, environment, other_environment
):
    foreign_survey = SurveyFactory(environment=other_environment)
    foreign_segment = ManualSegmentFactory(environment=other_environment)
    for field, value in (("survey", foreign_survey.uuid), ("segment", foreign_segment.uuid)):
        response = owner_client.post(
            eurl(environment, "alerts:new"), form_data(**{field: str(value)})
        )
        assert response.status_code == 400
        assert field in response.context["form"].errors
    assert AlertSubscription.objects.count() == 0


def test_segment_entered_and_digest_subscriptions(owner_client, owner, environment, slack_receiver):
    churn = ManualSegmentFactory(environment=environment, name="Churn risk")
    response = owner_client.post(
        eurl(environment, "alerts:new"),
        form_data(
            name="Churn",
            trigger="segment_entered",
            segment=str(churn.uuid),
            email=None,
            slack_url=slack_receiver.url,
        ),
    )
    assert response.status_code == 302
    sub = AlertSubscription.objects.get(name="Churn")
    assert (sub.trigger, sub.segment, sub.rules, sub.email) == (
        Trigger.SEGMENT_ENTERED,
        churn,
        {},
        False,
    )
    # Segment entries are immediate only.
    response = owner_client.post(
        eurl(environment, "alerts:new"),
        form_data(name="X", trigger="segment_entered", segment=str(churn.uuid), frequency="daily"),
    )
    assert response.status_code == 400
    response = owner_client.post(
        eurl(environment, "alerts:new"), form_data(name="Weekly", frequency="weekly")
    )
    assert response.status_code == 302
    assert AlertSubscription.objects.get(name="Weekly").frequency == Frequency.WEEKLY


def test_the_form_shows_a_saved_subscription(owner_client, owner, environment, survey):
    sub = AlertSubscriptionFactory(
        environment=environment,
        user=owner.user,
        name="NPS detractors",
        survey=survey,
        question_key="nps",
        score_min=0,
        score_max=6,
    )
    page = owner_client.get(eurl(environment, "alerts:edit", pk=sub.pk)).content.decode()
    assert 'value="NPS detractors"' in page
    assert f'<option value="{survey.uuid}" selected>' in page
    assert '<option value="nps" selected>Recommend us? (nps)</option>' in page
    settings_page = owner_client.get(
        reverse("environments:settings", kwargs={"env": environment.slug})
    )
    assert eurl(environment, "alerts:list") in settings_page.content.decode()
