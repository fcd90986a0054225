"""Dashboard pages of delivery: targeting in the builder, Test targeting, translations, the
panel's Surveys section and Settings → Web client. Every view: anonymous, outsider, analyst
(read-only), owner, and its htmx fragment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from delivery.factories import web_survey
from delivery.models import DeliverySettings, SurveyTargeting, SurveyTranslation
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from surveys.factories import QuestionFactory, ResponseFactory
from surveys.models import Channel, QuestionKind
from surveys.services import survey_duplicate
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


def targeting_post(**extra):
    return {
        "audience": "identified",
        "segment_match": "any",
        "trigger": "delay",
        "trigger_seconds": "10",
        "recurrence": "once",
        "sample_percent": "25",
        "priority": "0",
        "rule_kind_0": "include",
        "rule_field_0": "path",
        "rule_op_0": "starts_with",
        "rule_value_0": "/billing",
        **extra,
    }


def test_targeting_page_access(environment, owner_client, analyst_client, outsider_client):
    survey = web_survey(environment)
    page = eurl(environment, "delivery:targeting", uuid=survey.uuid)
    assert Client().get(page).status_code == 302
    assert outsider_client.get(page).status_code == 404
    assert analyst_client.get(page).status_code == 200
    assert analyst_client.post(page, targeting_post()).status_code == 403
    answer = owner_client.get(page)
    assert answer.status_code == 200
    assert (
        b"Shown to everyone, on every page, when the page loads, once per user." in answer.content
    )


def test_targeting_saves_with_summary_in_words_and_estimate(environment, owner_client):
    trial = ManualSegmentFactory(environment=environment, name="Trial users")
    for _ in range(8):
        SegmentMembershipFactory(segment=trial, profile=ProfileFactory(environment=environment))
    survey = web_survey(environment)
    page = eurl(environment, "delivery:targeting", uuid=survey.uuid)
    answer = owner_client.post(page, targeting_post(segments_include=[trial.pk]), headers=HTMX)
    assert answer.status_code == 200
    text = answer.content.decode()
    assert (
        "Shown to 25% of identified users in Trial users, on /billing pages, "
        "10 seconds after the page loads, once per user." in text
    )
    assert "Estimated audience: 2 of 8 members of the segments" in text
    assert answer["HX-Trigger"]
    targeting = SurveyTargeting.objects.get(survey=survey)
    assert targeting.page_rules == [
        {"kind": "include", "field": "path", "op": "starts_with", "value": "/billing"}
    ]
    assert targeting.trigger_seconds == 10 and targeting.sample_percent == 25
    # Without htmx: redirect back.
    assert owner_client.post(page, targeting_post()).status_code == 302


def test_targeting_bad_input_is_a_form_error_and_writes_nothing(
    environment, owner_client, other_environment
):
    survey = web_survey(environment)
    theirs = ManualSegmentFactory(environment=other_environment)
    before = SurveyTargeting.objects.get(survey=survey)
    page = eurl(environment, "delivery:targeting", uuid=survey.uuid)
    cases = [
        targeting_post(rule_op_0="regex", rule_value_0="(unclosed"),
        targeting_post(trigger="event", trigger_event=""),
        targeting_post(sample_percent="150"),
        targeting_post(segments_include=[theirs.pk]),
        targeting_post(recurrence="every", recurrence_days=""),
        targeting_post(starts_at="2030-01-02T00:00", ends_at="2030-01-01T00:00"),
    ]
    for data in cases:
        answer = owner_client.post(page, data, headers=HTMX)
        assert answer.status_code == 400, data
        assert b"form-error" in answer.content or b"errorlist" in answer.content
    after = SurveyTargeting.objects.get(survey=survey)
    assert (after.updated_at, after.page_rules, after.sample_percent) == (
        before.updated_at,
        before.page_rules,
        before.sample_percent,
    )


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo"])
@pytest.mark.parametrize(
    "field,value", [("starts_at", "9999-12-31T23:59"), ("ends_at", "0001-01-01T00:00")]
)
def test_targeting_dates_at_the_ends_of_the_calendar_are_a_form_error(
    environment, owner_client, settings, zone, field, value
):
    """West of UTC, 9999-12-31 23:59 is in the year 10000 in UTC: stored, then unreadable (a
    500); east of it, 0001-01-01 00:00 falls before the year 1."""
    settings.TIME_ZONE = zone
    survey = web_survey(environment)
    page = eurl(environment, "delivery:targeting", uuid=survey.uuid)
    answer = owner_client.post(page, targeting_post(**{field: value}), headers=HTMX)
    assert answer.status_code == 400
    assert b"Enter a date between 0001-01-02 and 9999-12-30." in answer.content
    targeting = SurveyTargeting.objects.get(survey=survey)
    assert (targeting.starts_at, targeting.ends_at) == (None, None)


def test_builder_offers_the_web_channel_and_loads_targeting(environment, owner_client):

    survey = web_survey(environment)
    builder = owner_client.get(
        reverse("surveys:detail", kwargs={"env": environment.slug, "uuid": survey.uuid})
    )
    text = builder.content.decode()
    assert "Web (in-product)" in text
    assert eurl(environment, "delivery:targeting", uuid=survey.uuid) in text
    fragment = owner_client.get(
        eurl(environment, "delivery:targeting", uuid=survey.uuid), headers=HTMX
    )
    assert fragment.content.decode().lstrip().startswith('<section id="targeting"')


def test_resample_changes_the_salt(environment, owner_client, analyst_client):
    survey = web_survey(environment)
    salt = SurveyTargeting.objects.get(survey=survey).sample_salt
    assert (
        analyst_client.post(eurl(environment, "delivery:resample", uuid=survey.uuid)).status_code
        == 403
    )
    owner_client.post(eurl(environment, "delivery:resample", uuid=survey.uuid))
    assert SurveyTargeting.objects.get(survey=survey).sample_salt != salt


def test_test_targeting_searches_users_and_shows_every_gate(
    environment, owner_client, outsider_client
):
    survey = web_survey(
        environment,
        targeting={
            "page_rules": [
                {"kind": "include", "field": "path", "op": "starts_with", "value": "/billing"}
            ]
        },
    )
    ann = ProfileFactory(environment=environment, user_id="ann", traits={"name": "Ann Smith"})
    page = eurl(environment, "delivery:test", uuid=survey.uuid)
    found = owner_client.get(page, {"q": "ann"}, headers=HTMX)
    assert "Ann Smith" in found.content.decode()
    result = owner_client.get(
        page, {"user": str(ann.uuid), "url": "https://a.test/settings"}, headers=HTMX
    )
    text = result.content.decode()
    assert "would not be shown" in text
    assert "not a targeted page" in text
    assert text.count('<tr class="gate-') == 10
    bad = owner_client.get(page, {"user": str(ann.uuid), "url": "javascript:1"})
    assert bad.status_code == 200 and "Page URL:" in bad.content.decode()
    assert outsider_client.get(page).status_code == 404
    outsider_profile = outsider_client.get(page, {"user": str(ann.uuid)})
    assert outsider_profile.status_code == 404


def test_translation_page_saves_and_feeds_the_client(environment, owner_client, analyst_client):
    survey = web_survey(environment, questions=3)
    page = eurl(environment, "delivery:translation", uuid=survey.uuid, locale="de")
    assert analyst_client.get(page).status_code == 200
    assert analyst_client.post(page, {"q1__title": "x"}).status_code == 403
    answer = owner_client.post(
        page,
        {
            "q1__title": "Würden Sie uns empfehlen?",
            "q3__choices": "Rot\nBlau",
            "thank_you__title": "Danke!",
        },
    )
    assert answer.status_code == 302
    texts = SurveyTranslation.objects.get(survey=survey, locale="de").texts
    assert texts["questions"]["q1"] == {"title": "Würden Sie uns empfehlen?"}
    assert texts["questions"]["q3"]["choices"] == ["Rot", "Blau"]
    bad = owner_client.post(
        eurl(environment, "delivery:translation", uuid=survey.uuid, locale="not a locale!"),
        {"q1__title": "x"},
    )
    assert bad.status_code == 400
    owner_client.post(page, {"action": "delete"})
    assert not SurveyTranslation.objects.filter(survey=survey).exists()


def test_translation_with_a_nul_character_is_a_form_error_and_saves_nothing(
    environment, owner_client
):
    """jsonb cannot hold a NUL character: saving one was a 500."""
    survey = web_survey(environment, questions=3)
    page = eurl(environment, "delivery:translation", uuid=survey.uuid, locale="de")
    for field, named in [
        ("q1__title", "Question “q1”, title"),
        ("q3__choices", "Question “q3”, choices"),
        ("thank_you__message", "Thank-you step, message"),
    ]:
        answer = owner_client.post(page, {"q2__title": "Warum?", field: "Hallo\x00"})
        assert answer.status_code == 400
        assert f"{named}: a NUL character is not allowed." in answer.content.decode()
    assert not SurveyTranslation.objects.filter(survey=survey).exists()


def test_panel_surveys_section_says_shown_would_and_would_not(
    environment, owner_client, outsider_client
):
    profile = ProfileFactory(environment=environment)
    shown = web_survey(
        environment, name="Onboarding", targeting={"recurrence": "every", "recurrence_days": 90}
    )
    at = timezone.now() - timedelta(days=3)
    ResponseFactory(
        survey=shown,
        profile=profile,
        channel=Channel.WEB,
        created_at=at,
        first_shown_at=at,
        last_shown_at=at,
        show_count=1,
    )
    web_survey(environment, name="Pricing", targeting={"throttle_exempt": True})
    segment = ManualSegmentFactory(environment=environment, name="Enterprise customers")
    web_survey(
        environment,
        name="Enterprise",
        targeting={"segments_include": [segment.pk], "throttle_exempt": True},
    )
    page = eurl(environment, "delivery:profile_surveys", profile_uuid=profile.uuid)
    text = owner_client.get(page, headers=HTMX).content.decode()
    assert "shown 3 days ago; this survey recurs every 90 days" in text
    assert "eligible from" in text
    assert "would show now" in text
    assert "not in segment Enterprise customers" in text
    assert outsider_client.get(page).status_code == 404


def test_panel_surveys_query_count_is_flat(
    environment, owner_client, django_assert_max_num_queries
):

    profile = ProfileFactory(environment=environment)
    page = eurl(environment, "delivery:profile_surveys", profile_uuid=profile.uuid)
    # Segment names cost one query when any survey names a segment: both sides do.
    web_survey(
        environment,
        targeting={"segments_include": [ManualSegmentFactory(environment=environment).pk]},
    )
    owner_client.get(page, headers=HTMX)
    with CaptureQueriesContext(connection) as one:
        owner_client.get(page, headers=HTMX)
    for _ in range(20):
        web_survey(
            environment,
            targeting={"segments_include": [ManualSegmentFactory(environment=environment).pk]},
        )
    with CaptureQueriesContext(connection) as many:
        owner_client.get(page, headers=HTMX)
    assert len(one) == len(many)


def test_user_panel_loads_the_surveys_section(environment, owner_client):

    profile = ProfileFactory(environment=environment)
    panel = owner_client.get(
        reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": profile.uuid})
    )
    assert (
        eurl(environment, "delivery:profile_surveys", profile_uuid=profile.uuid)
        in panel.content.decode()
    )


def test_settings_page_saves_theme_throttle_origins(
    environment, owner_client, analyst_client, outsider_client
):
    page = eurl(environment, "delivery:settings")
    assert Client().get(page).status_code == 302
    assert outsider_client.get(page).status_code == 404
    assert analyst_client.get(page).status_code == 200
    data = {
        "brand_color": "#FF0000",
        "text_color": "#111111",
        "background_color": "#ffffff",
        "dark_text_color": "#eeeeee",
        "dark_background_color": "#000000",
        "font_family": "Inter, sans-serif",
        "radius": "8",
        "position": "center",
        "color_scheme": "auto",
        "throttle_days": "14",
        "allowed_origins": "https://app.acme.test\nhttp://localhost:3000/",
        "pageview_tracking": "",
    }
    assert analyst_client.post(page, data).status_code == 403
    assert owner_client.post(page, data).status_code == 302
    stored = DeliverySettings.objects.get(environment=environment)
    assert stored.brand_color == "#ff0000" and stored.position == "center"
    assert stored.throttle_days == 14 and stored.pageview_tracking is False
    assert stored.allowed_origins == ["https://app.acme.test", "http://localhost:3000"]
    for field, value in (
        ("brand_color", "red"),
        ("allowed_origins", "not an origin"),
        ("font_family", "x;}</style>"),
        ("radius", "99"),
    ):
        answer = owner_client.post(page, {**data, field: value})
        assert answer.status_code == 400, field
    assert DeliverySettings.objects.get(environment=environment).updated_at == stored.updated_at


def test_survey_link_page_uses_the_same_interface_translations(environment):

    survey = web_survey(environment, questions=0)
    QuestionFactory(survey=survey, kind=QuestionKind.TEXT, key="a", position=1, required=False)
    QuestionFactory(survey=survey, kind=QuestionKind.TEXT, key="b", position=2, required=False)
    link = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    # The survey is for identified users: the link names one.
    german = Client().get(link, {"locale": "de", "id": "u-de"}).content.decode()
    assert "Frage 1 von 2" in german and "Weiter" in german and "Überspringen" in german
    english = Client().get(link, {"id": "u-en"}).content.decode()
    assert "Question 1 of 2" in english and "Next" in english


def test_duplicating_a_survey_copies_its_targeting_and_translations(environment):

    survey = web_survey(environment, targeting={"sample_percent": 30, "trigger": "exit_intent"})
    SurveyTranslation.objects.create(
        survey=survey, locale="de", texts={"thank_you": {"title": "Danke"}}
    )
    copy = survey_duplicate(survey=survey)
    original, copied = (
        SurveyTargeting.objects.get(survey=survey),
        SurveyTargeting.objects.get(survey=copy),
    )
    assert (copied.sample_percent, copied.trigger) == (30, "exit_intent")
    assert copied.sample_salt != original.sample_salt
    assert SurveyTranslation.objects.get(survey=copy).texts == {"thank_you": {"title": "Danke"}}
