"""The client API (delivery/CONTRACT.md) against real PostgreSQL, as the web client calls it:
text/plain JSON bodies, the public key in the query string, CORS."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from delivery import api, selectors
from delivery.factories import web_survey
from delivery.models import DeliverySettings, SurveyTranslation
from delivery.services import identity_signature
from events.models import Event
from profiles.models import Profile
from profiles.services import profile_identify
from surveys.factories import QuestionFactory
from surveys.models import Channel, QuestionKind, Response
from surveys.services import survey_set_status

from .helpers import ANON, PREFIX, call, table_counts

pytestmark = pytest.mark.django_db
URL = "https://app.acme.test/billing"


@pytest.fixture
def client() -> Client:
    return Client()


def page(client, environment, **extra):
    headers = {k: v for k, v in extra.items() if k.isupper()}
    body = {k: v for k, v in extra.items() if not k.isupper()}
    return call(client, environment, "/page", {"anonymous_id": ANON, "url": URL, **body}, **headers)


def test_page_returns_surveys_theme_strings_in_one_call(client, environment):
    survey = web_survey(
        environment, questions=3, targeting={"trigger": "delay", "trigger_seconds": 10}
    )
    answer = page(client, environment, locale="de-DE", user={"id": "u1"})
    assert answer.status_code == 200
    body = answer.json()
    [item] = body["surveys"]
    assert item["id"] == str(survey.uuid)
    assert item["trigger"] == {"type": "delay", "seconds": 10}
    assert [q["key"] for q in item["questions"]] == ["q1", "q2", "q3"]
    assert item["questions"][0]["options"][0] == {"value": 0, "label": "0", "title": "0"}
    assert item["questions"][2]["options"] == [
        {"value": "Red", "label": "Red", "title": "Red"},
        {"value": "Blue", "label": "Blue", "title": "Blue"},
    ]
    assert body["theme"]["position"] == "bottom_right"
    assert body["locale"] == "de"
    assert body["strings"]["next"] == "Weiter"
    assert body["strings"]["continue"] == "Fortfahren"
    assert body["strings"]["optional"] == "(optional)"
    assert answer["Content-Type"] == "application/json"


def test_page_stores_pageview_for_identified_users_only(client, environment):
    page(client, environment, user={"id": "u1"}, title="Billing")
    [event] = Event.objects.filter(environment=environment)
    assert event.definition.name == "$pageview"
    assert event.properties["path"] == "/billing"
    DeliverySettings.objects.create(environment=environment, pageview_tracking=False)

    api._key_cache.clear()
    page(client, environment, user={"id": "u1"})
    assert Event.objects.filter(environment=environment).count() == 1


def test_page_content_in_survey_translation(client, environment):
    survey = web_survey(environment, questions=3)
    SurveyTranslation.objects.create(
        survey=survey,
        locale="fr",
        texts={
            "questions": {
                "q1": {"title": "Recommanderiez-vous ?"},
                "q3": {"choices": ["Rouge", "Bleu"]},
            },
            "thank_you": {"title": "Merci !"},
        },
    )
    body = page(client, environment, locale="fr-CA").json()
    [item] = body["surveys"]
    assert item["questions"][0]["title"] == "Recommanderiez-vous ?"
    assert item["questions"][2]["options"][0] == {
        "value": "Red",
        "label": "Rouge",
        "title": "Rouge",
    }
    assert item["thank_you"]["title"] == "Merci !"
    assert body["strings"]["submit"] == "Envoyer"
    # No translation for Dutch: the default texts, Dutch interface words.
    body = page(client, environment, locale="nl").json()
    assert body["surveys"][0]["questions"][0]["title"] == survey.questions.first().title
    assert body["strings"]["close"] == "Sluiten"


def test_manual_surveys_are_not_listed_but_can_be_claimed(client, environment):
    survey = web_survey(environment, targeting={"trigger": "manual"})
    assert page(client, environment).json()["surveys"] == []
    answer = call(
        client, environment, "/displays", {"anonymous_id": ANON, "survey_id": str(survey.uuid)}
    )
    assert answer.status_code == 201


def test_claim_records_a_web_view_and_a_second_claim_is_refused(client, environment):
    survey = web_survey(environment)
    body = {"anonymous_id": ANON, "survey_id": str(survey.uuid), "url": URL}
    first = call(client, environment, "/displays", body)
    assert first.status_code == 201
    display = first.json()
    response = Response.objects.get(uuid=display["display_id"])
    assert response.channel == Channel.WEB and response.show_count == 1
    assert response.context == {"url": URL}
    assert display["survey"]["id"] == str(survey.uuid)
    second = call(client, environment, "/displays", body)
    assert second.status_code == 409
    assert second.json() == {
        "error": "not_eligible",
        "field": "recurrence",
        "detail": "Not shown: the recurrence gate says no",
    }
    assert Response.objects.count() == 1


def test_force_skips_targeting_but_needs_a_live_survey(client, environment):
    survey = web_survey(environment, targeting={"sample_percent": 0})
    body = {"anonymous_id": ANON, "survey_id": str(survey.uuid)}
    assert call(client, environment, "/displays", body).status_code == 409
    forced = call(client, environment, "/displays", {**body, "force": True})
    assert forced.status_code == 201
    assert Response.objects.get(uuid=forced.json()["display_id"]).context == {"forced": True}
    draft = web_survey(environment, status="draft")
    refused = call(
        client, environment, "/displays", {**body, "survey_id": str(draft.uuid), "force": True}
    )
    assert refused.status_code == 409 and refused.json()["field"] == "status"


def _claim(client, environment, survey, **identity):
    body = {"anonymous_id": ANON, **identity, "survey_id": str(survey.uuid)}
    answer = call(client, environment, "/displays", body)
    assert answer.status_code == 201, answer.content
    return answer.json()["display_id"]


def _answer(client, environment, display, question, value, key, **identity):
    return call(
        client,
        environment,
        f"/displays/{display}/answers",
        {
            "anonymous_id": ANON,
            **identity,
            "question": question,
            "value": value,
            "idempotency_key": key,
        },
    )


def test_answers_are_saved_step_by_step_then_complete(client, environment):
    survey = web_survey(environment, questions=3)
    display = _claim(client, environment, survey, user={"id": "u1"})
    first = _answer(client, environment, display, "q1", 9, "key-0000001", user={"id": "u1"})
    assert first.json() == {"next": "q2", "completed": False}
    response = Response.objects.get(uuid=display)
    assert response.data == {"q1": 9} and response.completed_at is None
    _answer(client, environment, display, "q2", "Great", "key-0000002", user={"id": "u1"})
    last = _answer(client, environment, display, "q3", "Blue", "key-0000003", user={"id": "u1"})
    assert last.json() == {"next": None, "completed": True}
    response.refresh_from_db()
    assert response.data == {"q1": 9, "q2": "Great", "q3": "Blue"}
    assert response.completed_at is not None
    assert response.profile.user_id == "u1"


def test_a_retried_answer_is_applied_once(client, environment):
    survey = web_survey(environment, questions=2)
    display = _claim(client, environment, survey)
    assert _answer(client, environment, display, "q1", 3, "key-aaaaaaa1").status_code == 200
    _answer(client, environment, display, "q1", 8, "key-aaaaaaa2")
    # The first call's retry arrives late: it changes nothing and answers as it did.
    retry = _answer(client, environment, display, "q1", 3, "key-aaaaaaa1")
    assert retry.json() == {"next": "q2", "completed": False}
    assert Response.objects.get(uuid=display).data == {"q1": 8}


def test_changing_an_answer_drops_the_other_branch(client, environment):
    survey = web_survey(environment, questions=0)
    QuestionFactory(
        survey=survey,
        kind=QuestionKind.NPS,
        key="nps",
        position=1,
        logic=[{"operator": "gte", "value": 9, "goto": "praise"}],
    )
    QuestionFactory(
        survey=survey,
        kind=QuestionKind.TEXT,
        key="wrong",
        position=2,
        required=False,
        logic=[{"operator": "answered", "value": None, "goto": "end"}],
    )
    QuestionFactory(survey=survey, kind=QuestionKind.TEXT, key="praise", position=3, required=False)
    display = _claim(client, environment, survey)
    assert _answer(client, environment, display, "nps", 3, "k-00000001").json()["next"] == "wrong"
    assert _answer(client, environment, display, "wrong", "slow", "k-00000002").json() == {
        "next": None,
        "completed": True,
    }
    assert _answer(client, environment, display, "nps", 10, "k-00000003").json()["next"] == "praise"
    assert Response.objects.get(uuid=display).data == {"nps": 10}


def test_bad_answer_is_400_naming_the_question_and_writes_nothing(client, environment):
    survey = web_survey(environment, questions=1)
    display = _claim(client, environment, survey)
    before = table_counts()
    bad = _answer(client, environment, display, "q1", 11, "k-00000001")
    assert bad.status_code == 400
    assert bad.json()["field"] == "q1"
    assert bad.json()["error"] == "bad_request"
    unknown = _answer(client, environment, display, "nope", 1, "k-00000002")
    assert unknown.json()["field"] == "question"
    assert table_counts() == before
    assert Response.objects.get(uuid=display).data == {}


def test_dismiss_complete_and_context(client, environment):
    survey = web_survey(environment, questions=1)
    display = _claim(client, environment, survey)
    base = {"anonymous_id": ANON}
    assert call(
        client, environment, f"/displays/{display}/context", {**base, "data": {"plan": "pro"}}
    ).json() == {"saved": True}
    assert call(client, environment, f"/displays/{display}/dismiss", base).json() == {
        "dismissed": True
    }
    assert call(client, environment, f"/displays/{display}/complete", base).json() == {
        "completed": True
    }
    response = Response.objects.get(uuid=display)
    assert response.context == {"plan": "pro"}
    assert response.dismissed_at and response.completed_at
    bad = call(client, environment, f"/displays/{display}/context", {**base, "data": [1]})
    assert bad.status_code == 400 and bad.json()["field"] == "data"


def test_another_persons_display_is_404(client, environment):
    survey = web_survey(environment)
    display = _claim(client, environment, survey)
    before = table_counts()
    other = call(
        client, environment, f"/displays/{display}/dismiss", {"anonymous_id": "someone-else-000001"}
    )
    assert other.status_code == 404
    assert table_counts() == before


def test_other_environment_key_survey_or_display_is_404_and_writes_nothing(
    client, environment, other_environment
):
    mine = web_survey(environment)
    theirs = web_survey(other_environment)
    display = _claim(client, environment, mine)
    their_display = _claim(client, other_environment, theirs)
    before = table_counts()
    # My key, their survey.
    claim = call(
        client, environment, "/displays", {"anonymous_id": ANON, "survey_id": str(theirs.uuid)}
    )
    assert claim.status_code == 404 and claim.json()["error"] == "not_found"
    # My key, their display.
    for action in ("dismiss", "complete"):
        assert (
            call(
                client, environment, f"/displays/{their_display}/{action}", {"anonymous_id": ANON}
            ).status_code
            == 404
        )
    assert _answer(client, environment, their_display, "q1", 5, "k-00000009").status_code == 404
    # Their key, my display.
    assert (
        call(
            client, other_environment, f"/displays/{display}/dismiss", {"anonymous_id": ANON}
        ).status_code
        == 404
    )
    # No key / unknown key.
    unknown = call(client, environment, "/page", {"anonymous_id": ANON, "url": URL}, key="pk_nope")
    assert unknown.status_code == 401 and unknown.json()["error"] == "unknown_key"
    assert table_counts() == before


def test_client_calls_never_return_profile_data(client, environment):
    survey = web_survey(environment)
    user = {"id": "u-secret", "email": "ann@secret.test", "traits": {"salary": "123456"}}
    texts = [
        page(client, environment, user=user).content.decode(),
        call(
            client,
            environment,
            "/displays",
            {"anonymous_id": ANON, "user": user, "survey_id": str(survey.uuid)},
        ).content.decode(),
    ]
    for text in texts:
        assert "u-secret" not in text and "ann@secret" not in text and "123456" not in text


@pytest.fixture
def verified(environment):
    environment.identity_verification = True
    environment.save(update_fields=["identity_verification"])

    api._key_cache.clear()
    return environment


def test_identity_verification_accepts_a_signed_user(client, verified):
    survey = web_survey(verified)
    signature = identity_signature(verified.identity_secret, user_id="u1", email=None)
    answer = page(client, verified, user={"id": "u1"}, signature=signature)
    assert answer.status_code == 200 and len(answer.json()["surveys"]) == 1
    display = _claim(client, verified, survey, user={"id": "u1"}, signature=signature)
    ok = _answer(
        client, verified, display, "q1", 7, "k-00000001", user={"id": "u1"}, signature=signature
    )
    assert ok.status_code == 200
    # Email-only users sign their lower-cased email.
    signed_email = identity_signature(verified.identity_secret, user_id=None, email="ann@x.test")
    assert (
        page(client, verified, user={"email": "Ann@X.test"}, signature=signed_email).status_code
        == 200
    )


@pytest.mark.parametrize("path", ["/page", "/identify", "/event", "/displays"])
def test_identity_verification_refuses_unsigned_wrong_and_other_users_signature(
    client, verified, path
):
    survey = web_survey(verified)
    other = identity_signature(verified.identity_secret, user_id="someone-else", email=None)
    body = {
        "anonymous_id": ANON,
        "url": URL,
        "name": "clicked",
        "survey_id": str(survey.uuid),
        "user": {"id": "u1", "traits": {"plan": "pro"}},
    }
    before = table_counts()
    for signature, code in (
        (None, "signature_required"),
        ("0" * 64, "signature_invalid"),
        ("zz", "signature_invalid"),
        (other, "signature_invalid"),
    ):
        answer = call(
            client, verified, path, {**body, **({"signature": signature} if signature else {})}
        )
        assert answer.status_code == 403
        assert answer.json()["error"] == code and answer.json()["field"] == "signature"
    assert table_counts() == before


def test_identity_verification_refuses_answers_for_an_unsigned_user(client, verified):
    survey = web_survey(verified)
    signature = identity_signature(verified.identity_secret, user_id="u1", email=None)
    display = _claim(client, verified, survey, user={"id": "u1"}, signature=signature)
    before = table_counts()
    refused = _answer(client, verified, display, "q1", 7, "k-00000001", user={"id": "u1"})
    assert refused.status_code == 403
    assert table_counts() == before


def test_identity_verification_ignores_an_unsigned_email_beside_a_signed_id(client, verified):

    victim = profile_identify(environment=verified, email="victim@x.test", traits={"plan": "gold"})
    signature = identity_signature(verified.identity_secret, user_id="attacker", email=None)
    page(
        client,
        verified,
        user={"id": "attacker", "email": "victim@x.test", "traits": {"email": "victim@x.test"}},
        signature=signature,
    )
    victim.refresh_from_db()
    assert victim.user_id is None
    assert Profile.objects.get(environment=verified, user_id="attacker").email is None


@pytest.mark.parametrize("key", ["email\u0000", "\u0000email", "em\u0000ail"])
def test_identity_verification_ignores_an_email_trait_spelled_with_nul(client, verified, key):
    """traits_clean drops NUL from keys, so "email\\u0000" became the identifying email trait
    after the verification had let it through: a signed user took over the profile found by
    that email (its traits, its device)."""
    victim = profile_identify(environment=verified, email="victim@x.test", traits={"plan": "gold"})
    signature = identity_signature(verified.identity_secret, user_id="attacker", email=None)
    for path in ("/identify", "/page"):
        answer = call(
            client,
            verified,
            path,
            {
                "anonymous_id": ANON,
                "url": URL,
                "user": {"id": "attacker", "traits": {key: "victim@x.test"}},
                "signature": signature,
            },
        )
        assert answer.status_code == 200, answer.content
    victim.refresh_from_db()
    assert victim.user_id is None and victim.traits == {"plan": "gold"}
    assert Profile.objects.get(environment=verified, user_id="attacker").email is None


def test_anonymous_calls_work_under_verification(client, verified):
    web_survey(verified, targeting={"audience": "anonymous"})
    assert len(page(client, verified).json()["surveys"]) == 1


@override_settings(HARK_CLIENT_RATE_LIMIT_IP=100_000)
def test_a_thousand_anonymous_page_views_and_events_write_nothing(client, environment):
    web_survey(environment, targeting={"trigger": "event", "trigger_event": "clicked"})
    web_survey(environment)
    before = table_counts()
    with CaptureQueriesContext(connection) as queries:
        for n in range(500):
            device = f"anonymous-device-{n:06d}"
            assert (
                call(client, environment, "/page", {"anonymous_id": device, "url": URL}).status_code
                == 200
            )
            assert (
                call(
                    client,
                    environment,
                    "/event",
                    {"anonymous_id": device, "name": "clicked", "url": URL},
                ).status_code
                == 200
            )
    assert table_counts() == before
    # The person's query is a prepared SELECT (delivery.selectors._FACTS_BY): its PREPARE and
    # EXECUTE are reads too.
    reads = ("SELECT", "WITH", "PREPARE DELIVERY_FACTS_", "EXECUTE DELIVERY_FACTS_")
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].lstrip().upper().startswith(reads)
    ]
    assert writes == []


def test_event_returns_event_triggered_surveys_due_now(client, environment):
    every = web_survey(environment, targeting={"trigger": "event", "trigger_event": "clicked"})
    third = web_survey(
        environment,
        targeting={
            "trigger": "event",
            "trigger_event": "clicked",
            "trigger_nth": 3,
            "throttle_exempt": True,
        },
    )
    web_survey(environment, targeting={"trigger": "event", "trigger_event": "other"})
    body = {"anonymous_id": ANON, "name": "clicked", "url": URL}
    assert [s["id"] for s in call(client, environment, "/event", body).json()["surveys"]] == [
        str(every.uuid)
    ]
    ids = [
        s["id"] for s in call(client, environment, "/event", {**body, "count": 3}).json()["surveys"]
    ]
    assert ids == [str(every.uuid), str(third.uuid)]
    # Identified users are counted on the server (stored events).
    user = {"user": {"id": "u1"}}
    for n in range(1, 4):
        ids = [
            s["id"] for s in call(client, environment, "/event", {**body, **user}).json()["surveys"]
        ]
        assert (str(third.uuid) in ids) is (n == 3)
    assert Event.objects.filter(environment=environment, definition__name="clicked").count() == 3


def test_identify_merges_the_device_into_the_user(client, environment):
    survey = web_survey(environment, questions=1)
    display = _claim(client, environment, survey)
    device = Profile.objects.get(environment=environment, anonymous_id=ANON)
    answer = call(
        client,
        environment,
        "/identify",
        {"anonymous_id": ANON, "user": {"id": "u9", "traits": {"plan": "pro"}}},
    )
    assert answer.json() == {"identified": True}
    response = Response.objects.get(uuid=display)
    assert response.profile.user_id == "u9"
    assert not Profile.objects.filter(pk=device.pk).exists() or response.profile_id == device.pk
    # The merged user continues the same display, and is not shown the survey again.
    assert (
        _answer(client, environment, display, "q1", 9, "k-00000001", user={"id": "u9"}).status_code
        == 200
    )
    assert page(client, environment, user={"id": "u9"}).json()["surveys"] == []


def test_bad_input_is_400_naming_the_field(client, environment):
    cases = [
        ({"url": URL}, "anonymous_id"),
        ({"anonymous_id": "short", "url": URL}, "anonymous_id"),
        ({"anonymous_id": ANON}, "url"),
        ({"anonymous_id": ANON, "url": "javascript:alert(1)"}, "url"),
        ({"anonymous_id": ANON, "url": URL, "user": "u1"}, "user"),
        ({"anonymous_id": ANON, "url": URL, "user": {"id": True}}, "user.id"),
        ({"anonymous_id": ANON, "url": URL, "user": {}}, None),
        ({"anonymous_id": ANON, "url": URL, "user": {"traits": {"a": 1}}}, "user.id"),
        ({"anonymous_id": ANON, "url": URL, "locale": 5}, "locale"),
    ]
    for body, field in cases:
        answer = call(client, environment, "/page", body)
        if field is None:
            assert answer.status_code == 200
            continue
        assert answer.status_code == 400, body
        assert answer.json()["field"] == field, body
    not_json = client.post(
        f"{PREFIX}/page?key={environment.public_key}", data="{nope", content_type="text/plain"
    )
    assert not_json.status_code == 400 and not_json.json()["field"] == "body"
    array = client.post(
        f"{PREFIX}/page?key={environment.public_key}", data="[]", content_type="text/plain"
    )
    assert array.json()["field"] == "body"
    big = call(
        client, environment, "/page", {"anonymous_id": ANON, "url": URL, "title": "x" * 70_000}
    )
    assert big.status_code == 413 and big.json()["error"] == "body_too_large"
    deep = client.post(
        f"{PREFIX}/page?key={environment.public_key}",
        data="[" * 5000 + "]" * 5000,
        content_type="text/plain",
    )
    assert deep.status_code == 400
    bad_survey = call(client, environment, "/displays", {"anonymous_id": ANON, "survey_id": "x"})
    assert bad_survey.json()["field"] == "survey_id"
    bad_display = call(client, environment, "/displays/not-a-uuid/dismiss", {"anonymous_id": ANON})
    assert bad_display.status_code == 404


@override_settings(HARK_CLIENT_RATE_LIMIT_IP=100_000)
@pytest.mark.parametrize(
    ("path", "extra", "field"),
    [
        # A NUL is dropped when stored: "u\0x" would have been identified as "ux", another
        # person; the ids' reads failed on it with a 500 before that.
        ("/page", {"user": {"id": "u\u0000x"}}, "user.id"),
        ("/event", {"user": {"id": "u\u0000x"}, "name": "clicked"}, "user.id"),
        ("/identify", {"user": {"id": "u\u0000x"}}, "user.id"),
        ("/page", {"user": {"email": "a\u0000@x.test"}}, "user.email"),
        ("/page", {"user": {"id": "tab\tid"}}, "user.id"),
        # A lone surrogate cannot be stored or signed (a 500 from the encoder).
        ("/page", {"user": {"id": "\ud800"}}, "user.id"),
        ("/page", {"user": {"email": "\udfff@x.test"}}, "user.email"),
        ("/page", {"user": {"id": "u1", "traits": {"plan": "\ud800"}}}, "user.traits.plan"),
        # urlsplit raises on these (a 500, and the call was never counted by the rate limit).
        ("/page", {"url": "https://[::1/x"}, "url"),
        ("/page", {"url": "https://a\uff03b.example/x"}, "url"),
        ("/event", {"url": "https://[::1/x", "name": "clicked"}, "url"),
    ],
)
def test_odd_identities_and_urls_are_400_naming_the_field_and_write_nothing(
    client, environment, path, extra, field
):
    web_survey(environment)
    before = table_counts()
    # Raw JSON: json.dumps would refuse nothing, but spell the escapes as a client would.
    body = json.dumps({"anonymous_id": ANON, "url": URL, **extra})
    answer = client.post(
        f"{PREFIX}{path}?key={environment.public_key}", data=body, content_type="text/plain"
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field
    assert table_counts() == before


def test_a_lone_surrogate_in_an_answer_is_400_naming_the_field(client, environment):
    survey = web_survey(environment)
    QuestionFactory(survey=survey, kind=QuestionKind.TEXT, key="why", position=2)
    display = _claim(client, environment, survey)
    before = table_counts()
    answer = _answer(client, environment, display, "why", "\ud800", "k-00000009")
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == "value"
    assert table_counts() == before


@override_settings(HARK_CLIENT_RATE_LIMIT_IP=3)
def test_a_call_refused_for_its_url_still_counts_toward_the_rate_limit(client, environment):
    cache.clear()
    statuses = [
        call(
            client, environment, "/page", {"anonymous_id": ANON, "url": "https://[::1/x"}
        ).status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429]
    cache.clear()


def test_cors_headers_preflight_and_allowed_origins(client, environment):
    origin = "https://app.acme.test"
    answer = page(client, environment, HTTP_ORIGIN=origin)
    assert answer["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in answer
    assert not answer.cookies
    preflight = client.options(
        f"{PREFIX}/page", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]
    # application/json bodies work too.
    assert (
        call(
            client,
            environment,
            "/page",
            {"anonymous_id": ANON, "url": URL},
            content_type="application/json",
        ).status_code
        == 200
    )
    DeliverySettings.objects.create(environment=environment, allowed_origins=[origin])

    api._key_cache.clear()
    assert page(client, environment, HTTP_ORIGIN=origin).status_code == 200
    refused = page(client, environment, HTTP_ORIGIN="https://evil.test", user={"id": "u1"})
    assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"
    assert refused["Access-Control-Allow-Origin"] == "https://evil.test"
    assert not Profile.objects.filter(user_id="u1").exists()
    # Servers and apps send no Origin.
    assert page(client, environment).status_code == 200


@override_settings(HARK_CLIENT_RATE_LIMIT_IP=5)
def test_rate_limit_per_ip_is_429_with_retry_after(client, environment):

    cache.clear()
    codes = [page(client, environment, REMOTE_ADDR="10.9.9.9").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    limited = page(client, environment, REMOTE_ADDR="10.9.9.9")
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert page(client, environment, REMOTE_ADDR="10.9.9.10").status_code == 200


@override_settings(HARK_CLIENT_RATE_LIMIT_KEY=3, HARK_CLIENT_RATE_LIMIT_IP=1000)
def test_rate_limit_per_public_key(client, environment):

    cache.clear()
    codes = [page(client, environment, REMOTE_ADDR=f"10.0.0.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def _queries(client, environment, body, path="/page"):
    with CaptureQueriesContext(connection) as queries:
        answer = call(client, environment, path, body)
    assert answer.status_code in (200, 201), answer.content
    return len(queries.captured_queries)


@pytest.mark.parametrize("identified", [False, True])
def test_page_query_count_is_flat_for_1_and_50_live_surveys(
    client, environment, other_environment, identified
):

    user = {"user": {"id": "u1"}} if identified else {}
    profile_identify(environment=environment, user_id="u1")
    profile_identify(environment=other_environment, user_id="u1")
    web_survey(environment, questions=3)
    for _ in range(50):
        web_survey(
            other_environment,
            questions=3,
            targeting={
                "page_rules": [
                    {"kind": "include", "field": "path", "op": "starts_with", "value": "/b"}
                ]
            },
        )
    body = {"anonymous_id": ANON, "url": URL, "locale": "de", **user}
    _queries(client, environment, body)  # warm the key cache
    _queries(client, other_environment, body)
    one = _queries(client, environment, body)
    fifty = _queries(client, other_environment, body)
    assert one == fifty
    # In a test transaction identify pays savepoints; in autocommit it is one statement.
    assert fifty <= (13 if identified else 4)


def test_claim_query_count_is_flat_for_1_and_50_live_surveys(
    client, environment, other_environment
):
    one_survey = web_survey(environment, questions=3)
    surveys = [web_survey(other_environment, questions=3) for _ in range(50)]
    call(client, environment, "/page", {"anonymous_id": ANON, "url": URL})
    call(client, other_environment, "/page", {"anonymous_id": ANON, "url": URL})
    body = {"anonymous_id": ANON, "url": URL, "user": {"id": "u1"}}
    one = _queries(client, environment, {**body, "survey_id": str(one_survey.uuid)}, "/displays")
    fifty = _queries(
        client, other_environment, {**body, "survey_id": str(surveys[7].uuid)}, "/displays"
    )
    assert one == fifty


def test_openapi_documents_the_client_api(client):
    schema = json.loads(client.get("/api/v1/openapi.json").content)
    for path in ("/page", "/event", "/displays", "/displays/{display_id}/answers"):
        assert f"/api/v1/client{path}" in schema["paths"]


def test_throttle_and_recurrence_follow_the_person_across_devices(client, environment):
    first = web_survey(environment)
    second = web_survey(environment)
    _claim(client, environment, first, user={"id": "u1"})
    other_device = {"anonymous_id": "second-device-00000001", "url": URL, "user": {"id": "u1"}}
    assert call(client, environment, "/page", other_device).json()["surveys"] == []
    refused = call(
        client, environment, "/displays", {**other_device, "survey_id": str(second.uuid)}
    )
    assert refused.json()["field"] == "throttling"


def test_every_90_days_creates_a_new_response_after_90_days_not_before(client, environment):
    survey = web_survey(environment, targeting={"recurrence": "every", "recurrence_days": 90})
    user = {"user": {"id": "u1"}}
    first = _claim(client, environment, survey, **user)
    body = {"anonymous_id": ANON, **user, "survey_id": str(survey.uuid)}
    response = Response.objects.get(uuid=first)
    for days, expected in ((89, 409), (90, 201)):
        at = timezone.now() - timedelta(days=days)
        # The display and its last activity lie `days` back (a response is reused only
        # within hours of its last activity: surveys.services).
        Response.objects.filter(pk=response.pk).update(
            created_at=at, first_shown_at=at, last_shown_at=at, updated_at=at
        )
        answer = call(client, environment, "/displays", body)
        assert answer.status_code == expected
    assert Response.objects.filter(survey=survey).count() == 2
    assert answer.json()["display_id"] != first


@override_settings(HARK_DELIVERY_CACHE_SECONDS=60)
def test_page_reads_a_process_snapshot_that_a_change_invalidates_at_once(client, environment):

    selectors._snapshots.clear()
    survey = web_survey(environment, questions=3)
    body = {"anonymous_id": ANON, "url": URL, "locale": "fr"}
    _queries(client, environment, body)
    # Surveys, questions and translations come from the snapshot: one query for the person.
    assert _queries(client, environment, body) == 1
    survey_set_status(survey=survey, status="paused")
    # The person's query reads the cache version the pause bumped: the next call sees it.
    assert call(client, environment, "/page", body).json()["surveys"] == []
    claim = call(client, environment, "/displays", {**body, "survey_id": str(survey.uuid)})
    assert claim.status_code == 409 and claim.json()["field"] == "status"
