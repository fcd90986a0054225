"""The public survey link: identification, parameters, steps, the 3-hour rule, email answers."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.link import ANONYMOUS_COOKIE, sign
from surveys.models import Response
from surveys.public_views import STALE_STEP

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[{"operator": "gte", "value": 9, "goto": "end"}],
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


def link(survey, **params):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    return url, params


def open_link(client, survey, **params):
    url, params = link(survey, **params)
    return client.get(url, params)


def answer(client, survey, response, key, value=None, action="answer"):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    data = {"r": str(response.uuid), "q": key, "action": action}
    if value is not None:
        data["answer"] = value
    return client.post(url, data)


def test_identified_link_sets_traits_context_and_counts_a_view(client, survey, environment):
    page = open_link(client, survey, contact_id="u-1", contact_plan="pro", response_source="mail")
    assert page.status_code == 200
    assert b"How likely are you to recommend" in page.content
    profile = Profile.objects.get(environment=environment, user_id="u-1")
    assert profile.traits["plan"] == "pro"
    response = Response.objects.get(profile=profile, survey=survey)
    assert response.context == {"source": "mail"}
    assert response.show_count == 1 and response.status == "view" and response.channel == "link"


def test_steps_save_partial_then_complete_with_thank_you(client, survey):
    open_link(client, survey, id="u-2")
    response = Response.objects.get(survey=survey)
    first = answer(client, survey, response, "nps", "7")
    assert first.status_code == 302
    assert parse_qs(urlparse(first["Location"]).query)["q"] == ["plan"]
    response.refresh_from_db()
    assert response.data == {"nps": 7} and response.status == "partial"
    assert client.get(first["Location"]).status_code == 200
    answer(client, survey, response, "plan", "Pro")
    last = answer(client, survey, response, "why", action="skip")
    response.refresh_from_db()
    assert response.status == "completed" and response.data == {"nps": 7, "plan": "Pro"}
    done = client.get(last["Location"])
    assert b"Thank you" in done.content


def test_logic_jump_ends_the_survey(client, survey):
    open_link(client, survey, id="u-3")
    response = Response.objects.get(survey=survey)
    reply = answer(client, survey, response, "nps", "10")
    assert parse_qs(urlparse(reply["Location"]).query)["q"] == ["done"]
    response.refresh_from_db()
    assert response.completed_at is not None


def test_invalid_answer_shows_the_question_again_with_an_error(client, survey):
    open_link(client, survey, id="u-4")
    response = Response.objects.get(survey=survey)
    page = answer(client, survey, response, "nps", "11")
    assert page.status_code == 200
    assert b"sv-error" in page.content
    required = answer(client, survey, response, "plan", action="skip")
    assert b"Please answer this question" in required.content
    response.refresh_from_db()
    assert response.data == {}


def test_returning_respondent_resumes_at_the_first_unanswered_question(client, survey):
    open_link(client, survey, id="u-5")
    response = Response.objects.get(survey=survey)
    answer(client, survey, response, "nps", "5")
    again = open_link(client, survey, id="u-5")
    assert again.context["question"].key == "plan"
    response.refresh_from_db()
    assert response.show_count == 2
    assert Response.objects.filter(survey=survey).count() == 1


def test_anonymous_cookie_recognises_the_device_within_three_hours(client, survey):
    survey.mode = "anonymous"
    survey.save()
    first = open_link(client, survey)
    assert ANONYMOUS_COOKIE in first.cookies
    open_link(client, survey)
    assert Response.objects.filter(survey=survey).count() == 1
    assert Profile.objects.filter(environment=survey.environment).count() == 1
    # Three hours after its last activity (the clock moved back in the database).
    Response.objects.update(
        created_at=timezone.now() - timedelta(hours=4),
        updated_at=timezone.now() - timedelta(hours=3, minutes=1),
    )
    open_link(client, survey)
    assert Response.objects.filter(survey=survey).count() == 2
    assert Profile.objects.filter(environment=survey.environment).count() == 1


def test_dismiss_records_the_time(client, survey):
    open_link(client, survey, id="u-6")
    response = Response.objects.get(survey=survey)
    page = answer(client, survey, response, "nps", action="dismiss")
    assert b"Survey closed" in page.content
    response.refresh_from_db()
    assert response.dismissed_at is not None


def test_signature_accepted(client, survey, environment):
    environment.identity_verification = True
    environment.save()
    good = sign(environment.identity_secret, "u-7")
    page = open_link(client, survey, id="u-7", signature=good.upper())
    assert page.status_code == 200
    assert Profile.objects.filter(user_id="u-7").exists()


@pytest.mark.parametrize("signature", [None, "0" * 64, "nothex", "ab" * 40])
def test_signature_refused_when_verification_is_on(client, survey, environment, signature):
    environment.identity_verification = True
    environment.save()
    params = {"id": "u-8"}
    if signature:
        params["signature"] = signature
    page = open_link(client, survey, **params)
    assert page.status_code == 403
    assert b"could not be verified" in page.content
    assert not Profile.objects.filter(user_id="u-8").exists()
    assert not Response.objects.exists()


def test_bad_signature_refused_even_without_verification(client, survey):
    page = open_link(client, survey, id="u-9", signature="0" * 64)
    assert page.status_code == 403


def test_signed_email_only_link(client, survey, environment):
    environment.identity_verification = True
    environment.save()
    page = open_link(
        client,
        survey,
        email="ann@example.com",
        signature=sign(environment.identity_secret, "ann@example.com"),
    )
    assert page.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "email=not-an-email",
        "id=a&id=b",
        "id=a&contact_id=b",
        "id=" + "x" * 300,
        "contact_=x",
        "contact_bad%20key=1",
        "response_%00=1",
        "contact_plan=%00pro",
        "locale=%3Cscript%3E",
        "locale=" + "e" * 30,
        "signature=abc",
        "contact_plan=a&contact_plan=b",
        "response_x=" + "y" * 1200,
        "email=a%40b.co&contact_email=c%40d.co",
    ],
)
def test_every_bad_parameter_gets_a_clear_page(client, survey, query):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    page = client.get(f"{url}?{query}")
    assert page.status_code in (400, 403)
    assert b"<h1>" in page.content
    assert not Response.objects.exists()


def test_unknown_parameters_are_ignored(client, survey):
    page = open_link(client, survey, utm_source="x", fbclid="y", id="u-10")
    assert page.status_code == 200


@pytest.mark.parametrize(("status", "code"), [("draft", 403), ("paused", 403), ("archived", 410)])
def test_only_live_surveys_answer(client, survey, status, code):
    survey.status = status
    survey.save()
    page = open_link(client, survey, id="u-11")
    assert page.status_code == code
    assert not Response.objects.exists()


@pytest.mark.parametrize("public_id", ["nope", "x" * 40, "..%2F", "%00", "a%00b", "%FF%FE", "a b"])
def test_unknown_survey_is_a_clear_404(client, public_id):
    page = client.get(f"/s/{public_id}/")
    assert page.status_code == 404
    assert b"Survey not found" in page.content


@pytest.mark.parametrize("token", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_bad_response_token_is_a_clear_page(client, survey, token):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    assert client.get(url, {"r": token}).status_code == 400
    assert client.post(url, {"r": token, "q": "nps", "answer": "3"}).status_code == 400


def test_bad_question_key_goes_on_from_the_current_step(client, survey):
    """A question deleted while the respondent was on it (or a forged key): nothing written,
    the step the answers lead to, saying why (it was a 400 page: "open the link again")."""
    open_link(client, survey, id="u-12")
    response = Response.objects.get()
    page = answer(client, survey, response, "nope", "1")
    assert page.status_code == 409
    assert STALE_STEP in page.content.decode()
    assert page.context["question"].key == survey.questions.order_by("position")[0].key
    response.refresh_from_db()
    assert response.data == {}


def test_another_surveys_response_is_never_reachable(client, survey, other_environment):
    foreign = SurveyFactory(environment=other_environment, live=True)
    QuestionFactory(survey=foreign, kind="nps", key="nps")
    foreign_response = ResponseFactory(survey=foreign)
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    assert client.get(url, {"r": str(foreign_response.uuid)}).status_code == 400
    page = client.post(url, {"r": str(foreign_response.uuid), "q": "nps", "answer": "3"})
    assert page.status_code == 400
    foreign_response.refresh_from_db()
    assert foreign_response.data == {}
    # Nor through the email answer link.
    email_url = reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
    client.get(email_url, {"answer": "3", "r": str(foreign_response.uuid)})
    foreign_response.refresh_from_db()
    assert foreign_response.data == {}


def test_email_answer_link_records_the_answer_and_continues(client, survey, environment):
    url = reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
    reply = client.get(url, {"answer": "6", "email": "bob+news@example.com"})
    assert reply.status_code == 302
    response = Response.objects.get(survey=survey)
    assert response.data == {"nps": 6} and response.channel == "email"
    assert response.profile.email == "bob+news@example.com"
    assert parse_qs(urlparse(reply["Location"]).query)["q"] == ["plan"]
    assert client.get(reply["Location"]).context["question"].key == "plan"


def test_email_answer_with_unencoded_plus_in_the_email(client, survey):
    url = reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
    client.get(f"{url}?answer=9&email=bob+news@example.com")
    response = Response.objects.get(survey=survey)
    assert response.profile.email == "bob+news@example.com"
    assert response.completed_at is not None  # 9 jumps to the end


@pytest.mark.parametrize("value", ["", "11", "x", "-1"])
def test_email_answer_link_refuses_bad_answers(client, survey, value):
    url = reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
    assert client.get(url, {"answer": value, "id": "u-13"}).status_code == 400
    assert not Response.objects.exists()


def test_cta_link_records_the_click_and_redirects(client, environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="cta", key="call", required=False)
    open_link(client, survey, id="u-14")
    response = Response.objects.get()
    url = reverse("surveys:link_cta", kwargs={"public_id": survey.public_id})
    reply = client.get(url, {"r": str(response.uuid), "q": "call"})
    assert reply.status_code == 302 and reply["Location"] == "https://example.com/"
    response.refresh_from_db()
    assert response.data == {"call": True}


def test_survey_link_form_posts_need_csrf(survey):
    client = Client(enforce_csrf_checks=True)
    page = open_link(client, survey, id="u-15")
    token = page.cookies["csrftoken"].value
    response = Response.objects.get()
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    refused = client.post(url, {"r": str(response.uuid), "q": "nps", "answer": "3"})
    assert refused.status_code == 403
    ok = client.post(
        url, {"r": str(response.uuid), "q": "nps", "answer": "3", "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 302


def test_head_requests_record_nothing(client, survey):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    assert client.head(url, {"id": "u-16"}).status_code == 200
    assert not Response.objects.exists()
    assert not Profile.objects.exists()


def _count_queries(callable_):

    with CaptureQueriesContext(connection) as ctx:
        callable_()
    return len(ctx.captured_queries)


def test_link_steps_cost_the_same_whatever_the_number_of_questions(client, environment):
    counts = []
    for size in (2, 12):
        survey = SurveyFactory(environment=environment, live=True)
        for i in range(size):
            QuestionFactory(survey=survey, kind="nps", key=f"q{i}")
        counts.append(
            _count_queries(
                lambda s=survey: open_link(client, s, id=f"size-{s.pk}", contact_plan="x")
            )
        )
        response = Response.objects.get(survey=survey)
        counts.append(_count_queries(lambda s=survey, r=response: answer(client, s, r, "q0", "5")))
    assert counts[0] == counts[2] and counts[1] == counts[3]
    assert max(counts) <= 16  # measured: 14 to open (identify, view, MAU), 8 per answer


def test_verification_refuses_unsigned_traits_but_allows_anonymous_links(
    client, survey, environment
):
    environment.identity_verification = True
    environment.save()
    survey.mode = "anonymous"
    survey.save()
    assert open_link(client, survey, contact_plan="free").status_code == 403
    assert open_link(client, survey, response_source="ad").status_code == 200
    response = Response.objects.get()
    assert response.profile.user_id is None and response.context == {"source": "ad"}
