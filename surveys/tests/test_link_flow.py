"""The survey link as a respondent walks it without JavaScript (plain form posts and GETs):
branching and Back, the progress along the path, reopening a completed response, the reuse
window, identified mode and the Channels setting. The same in Chromium: test_browser.py."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.models import MonthlyActivity, Profile
from surveys.answers import TEXT_MAX_LENGTH
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Response
from tests.api_helpers import ApiClient, new_key

pytestmark = pytest.mark.django_db

FAMILY = "👨‍👩‍👧‍👦"  # one character to a person: 7 code points, 11 UTF-16 units


@pytest.fixture
def branching(environment):
    """NPS; 0-6 go to "What went wrong?", 7-10 to "What did you like?"; both then "Plan"."""
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[{"operator": "gte", "value": 7, "goto": "liked"}],
    )
    QuestionFactory(
        survey=survey,
        kind="text",
        key="wrong",
        title="What went wrong?",
        logic=[{"operator": "answered", "goto": "plan"}],
    )
    QuestionFactory(survey=survey, kind="text", key="liked", title="What did you like?")
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    return survey


@pytest.fixture
def optional_last(environment):
    """NPS 9-10 end the survey; else "Plan", then an optional "Why?"."""
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey, kind="nps", key="nps", logic=[{"operator": "gte", "value": 9, "goto": "end"}]
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


def url(survey):
    return reverse("surveys:link", kwargs={"public_id": survey.public_id})


def post(client, survey, response, key, value=None, action="answer"):
    data = {"r": str(response.uuid), "q": key, "action": action}
    if value is not None:
        data["answer"] = value
    return client.post(url(survey), data)


def step_of(location):
    return parse_qs(urlparse(location).query)["q"][0]


def follow(client, location):
    page = client.get(location)
    assert page.status_code == 200
    return page


# --- 7: going back and changing an answer -------------------------------------------------------


def test_back_and_another_branch_removes_the_answers_of_the_old_branch(client, branching):
    page = client.get(url(branching), {"id": "u-7"})
    response = Response.objects.get(survey=branching)
    reply = post(client, branching, response, "nps", "3")
    assert step_of(reply["Location"]) == "wrong"
    reply = post(client, branching, response, "wrong", "The export broke")
    assert step_of(reply["Location"]) == "plan"
    # Back, Back: each step's page links to the one before it on the path.
    page = follow(client, reply["Location"])
    back = page.context["back_url"]
    assert step_of(back) == "wrong"
    page = follow(client, back)
    assert step_of(page.context["back_url"]) == "nps"
    page = follow(client, page.context["back_url"])
    assert page.context["question"].key == "nps" and page.context["value"] == 3

    reply = post(client, branching, response, "nps", "9")
    assert step_of(reply["Location"]) == "liked"
    response.refresh_from_db()
    assert response.data == {"nps": 9}  # the complaint went with its branch
    post(client, branching, response, "liked", "Fast exports")
    done = post(client, branching, response, "plan", "Pro")
    assert step_of(done["Location"]) == "done"
    response.refresh_from_db()
    assert response.data == {"nps": 9, "liked": "Fast exports", "plan": "Pro"}
    assert response.completed_at is not None


def test_changing_an_answer_that_keeps_the_path_keeps_the_later_answers(client, branching):
    client.get(url(branching), {"id": "u-8"})
    response = Response.objects.get(survey=branching)
    post(client, branching, response, "nps", "8")
    post(client, branching, response, "liked", "Speed")
    post(client, branching, response, "nps", "10")
    response.refresh_from_db()
    assert response.data == {"nps": 10, "liked": "Speed"}


def test_api_refuses_answers_off_the_path_naming_the_key(branching, environment):
    api = ApiClient(new_key(environment))
    body = {
        "survey": str(branching.uuid),
        "id": "api-1",
        "answers": {"nps": 9, "wrong": "Slow", "liked": "Reports"},
    }
    refused = api.post("/api/v1/responses", body)
    assert refused.status_code == 400, refused.content
    assert refused.json()["field"] == "wrong"
    assert not Response.objects.filter(survey=branching).exists()
    body["answers"] = {"nps": 3, "wrong": "Slow", "plan": "Free"}
    stored = api.post("/api/v1/responses", body)
    assert stored.status_code == 201, stored.content
    assert Response.objects.get(survey=branching).data == body["answers"]


# --- 15: progress and the last button follow the path -------------------------------------------


def test_progress_counts_the_steps_of_the_path_and_the_last_one_submits(client, environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[{"operator": "gte", "value": 9, "goto": "tell"}],
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="text", key="tell", required=False)
    first = client.get(url(survey), {"id": "u-15"})
    assert b"Question 1 of 3" in first.content
    response = Response.objects.get(survey=survey)
    page = follow(client, post(client, survey, response, "nps", "10")["Location"])
    assert page.context["question"].key == "tell"
    assert b"Question 2 of 2" in page.content
    assert b">Submit</button>" in page.content and b">Next</button>" not in page.content
    # Back, and another answer: the path has three steps again.
    page = follow(client, page.context["back_url"])
    page = follow(client, post(client, survey, response, "nps", "4")["Location"])
    assert page.context["question"].key == "plan" and b"Question 2 of 3" in page.content
    page = follow(client, post(client, survey, response, "plan", "Pro")["Location"])
    assert b"Question 3 of 3" in page.content and b">Submit</button>" in page.content


# --- 14: reopening a completed response, and the reuse window -----------------------------------


def test_reopening_a_completed_response_shows_already_answered(client, optional_last):
    client.get(url(optional_last), {"id": "u-14"})
    response = Response.objects.get(survey=optional_last)
    post(client, optional_last, response, "nps", "5")
    post(client, optional_last, response, "plan", "Free")
    post(client, optional_last, response, "why", action="skip")
    response.refresh_from_db()
    assert response.completed_at is not None

    again = client.get(url(optional_last), {"id": "u-14"})
    assert again.status_code == 200
    assert b"You have already answered" in again.content
    assert b'data-step="done"' in again.content and b'name="answer"' not in again.content
    # The page's own link without a step (a reload of the thank-you page) says the same.
    token = client.get(url(optional_last), {"r": str(response.uuid)})
    assert b'data-step="done"' in token.content
    assert Response.objects.filter(survey=optional_last).count() == 1
    response.refresh_from_db()
    assert response.data == {"nps": 5, "plan": "Free"} and response.show_count == 2


def test_returning_respondent_is_not_sent_back_to_a_skipped_optional_question(client, environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="text", key="more")
    client.get(url(survey), {"id": "u-14b"})
    response = Response.objects.get(survey=survey)
    post(client, survey, response, "nps", "6")
    post(client, survey, response, "why", action="skip")
    post(client, survey, response, "plan", "Pro")
    again = client.get(url(survey), {"id": "u-14b"})
    assert again.context["question"].key == "more"


def test_reuse_window_runs_from_the_last_activity(client, optional_last):
    """Started 4 hours ago, last answered 1 hour ago: the same response continues. (The clock
    is moved by writing the response's times back.)"""
    client.get(url(optional_last), {"id": "u-w"})
    response = Response.objects.get(survey=optional_last)
    post(client, optional_last, response, "nps", "5")
    now = timezone.now()
    Response.objects.filter(pk=response.pk).update(
        created_at=now - timedelta(hours=4), updated_at=now - timedelta(hours=1)
    )
    again = client.get(url(optional_last), {"id": "u-w"})
    assert again.context["response"].pk == response.pk
    assert again.context["question"].key == "plan"
    Response.objects.filter(pk=response.pk).update(updated_at=now - timedelta(hours=3, minutes=1))
    later = client.get(url(optional_last), {"id": "u-w"})
    assert later.context["response"].pk != response.pk
    assert later.context["question"].key == "nps"


def test_email_click_after_finishing_changes_nothing(client, optional_last):
    email_url = reverse("surveys:email_answer", kwargs={"public_id": optional_last.public_id})
    first = client.get(email_url, {"answer": "10", "email": "ann@example.com"})
    assert step_of(first["Location"]) == "done"
    second = client.get(email_url, {"answer": "2", "email": "ann@example.com"})
    assert second.status_code == 200 and b"You have already answered" in second.content
    assert Response.objects.get(survey=optional_last).data == {"nps": 10}


# --- 13: identified mode and channels -----------------------------------------------------------


def nothing_written(environment):
    return (
        not Profile.objects.filter(environment=environment).exists()
        and not Response.objects.filter(environment=environment).exists()
        and not MonthlyActivity.objects.filter(environment=environment).exists()
    )


@pytest.mark.parametrize(
    "params", [{}, {"response_source": "ad"}, {"contact_plan": "pro"}, {"locale": "de"}]
)
def test_identified_survey_refuses_a_link_without_identity(client, optional_last, params):
    assert optional_last.mode == "identified"
    page = client.get(url(optional_last), params)
    assert page.status_code == 403
    assert b"for invited respondents" in page.content
    assert "hark_aid" not in page.cookies
    assert nothing_written(optional_last.environment)


def test_identified_survey_answers_an_id_or_an_email(client, optional_last):
    assert client.get(url(optional_last), {"id": "u-1"}).status_code == 200
    assert client.get(url(optional_last), {"email": "bo@example.com"}).status_code == 200
    assert Response.objects.filter(survey=optional_last).count() == 2


def test_anonymous_survey_answers_a_link_without_identity(client, optional_last):
    optional_last.mode = "anonymous"
    optional_last.save()
    assert client.get(url(optional_last)).status_code == 200
    assert Response.objects.filter(survey=optional_last).count() == 1


def test_identified_survey_refuses_an_email_answer_without_identity(client, optional_last):
    email_url = reverse("surveys:email_answer", kwargs={"public_id": optional_last.public_id})
    page = client.get(email_url, {"answer": "7"})
    assert page.status_code == 403 and b"for invited respondents" in page.content
    assert nothing_written(optional_last.environment)


def test_link_channel_off_does_not_answer(client, optional_last):
    client.get(url(optional_last), {"id": "u-c"})
    response = Response.objects.get(survey=optional_last)
    optional_last.channels = ["email"]
    optional_last.save()
    before = (response.show_count, response.data)
    page = client.get(url(optional_last), {"id": "u-new"})
    assert page.status_code == 403 and b"not available here" in page.content
    assert not Profile.objects.filter(user_id="u-new").exists()
    # A response started before the channel was turned off cannot go on either.
    assert post(client, optional_last, response, "nps", "4").status_code == 403
    assert client.get(url(optional_last), {"r": str(response.uuid)}).status_code == 403
    response.refresh_from_db()
    assert (response.show_count, response.data) == before


def test_email_channel_off_does_not_answer(client, optional_last):
    optional_last.channels = ["link"]
    optional_last.save()
    email_url = reverse("surveys:email_answer", kwargs={"public_id": optional_last.public_id})
    page = client.get(email_url, {"answer": "7", "email": "ann@example.com"})
    assert page.status_code == 403 and b"not available here" in page.content
    assert nothing_written(optional_last.environment)


def test_email_response_continues_on_the_link_page_with_the_link_channel_off(client, optional_last):
    optional_last.channels = ["email"]
    optional_last.save()
    email_url = reverse("surveys:email_answer", kwargs={"public_id": optional_last.public_id})
    reply = client.get(email_url, {"answer": "3", "email": "ann@example.com"})
    page = follow(client, reply["Location"])
    assert page.context["question"].key == "plan"
    response = Response.objects.get(survey=optional_last)
    post(client, optional_last, response, "plan", "Pro")
    response.refresh_from_db()
    assert response.data == {"nps": 3, "plan": "Pro"} and response.channel == "email"


# --- 16: a text answer's length, counted as a person counts ----------------------------------


def test_text_limit_counts_what_a_person_sees(client, optional_last):
    client.get(url(optional_last), {"id": "u-t"})
    response = Response.objects.get(survey=optional_last)
    post(client, optional_last, response, "nps", "3")
    post(client, optional_last, response, "plan", "Pro")
    too_long = post(client, optional_last, response, "why", FAMILY * (TEXT_MAX_LENGTH + 1))
    assert too_long.status_code == 200 and b"at most 5000 characters" in too_long.content
    response.refresh_from_db()
    assert "why" not in response.data
    fits = post(client, optional_last, response, "why", FAMILY * TEXT_MAX_LENGTH)
    assert fits.status_code == 302
    response.refresh_from_db()
    assert response.data["why"] == FAMILY * TEXT_MAX_LENGTH


def test_text_field_has_no_maxlength_in_utf16_units(client, optional_last):
    client.get(url(optional_last), {"id": "u-t2"})
    response = Response.objects.get(survey=optional_last)
    post(client, optional_last, response, "nps", "3")
    post(client, optional_last, response, "plan", "Pro")
    page = client.get(url(optional_last), {"r": str(response.uuid), "q": "why"})
    assert b'data-max-chars="5000"' in page.content and b"maxlength" not in page.content
