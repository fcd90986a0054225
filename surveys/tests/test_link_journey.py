"""The survey link as an unlucky or hostile respondent walks it, and as a team editing a live
survey meets it: answers taken back, stale steps (another tab, a logic edit), two requests at
once, and parameters given twice. The happy paths: test_link.py and test_link_flow.py."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from surveys import public_views
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Question, Response
from surveys.services import question_update

from .test_link_flow import post, step_of, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    """NPS (9-10 end the survey), then Plan, optional Features, optional Why."""
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey, kind="nps", key="nps", logic=[{"operator": "gte", "value": 9, "goto": "end"}]
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(
        survey=survey, kind="multiple_choice", key="feat", choices=["A", "B"], required=False
    )
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


def email_url(survey):
    return reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})


def started(client, survey, user_id="u-1"):
    client.get(url(survey), {"id": user_id})
    return Response.objects.get(survey=survey, profile__user_id=user_id)


# --- An answer taken back -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "given", "action"),
    [("feat", ["A", "B"], "answer"), ("why", "Too slow", "answer"), ("why", "Too slow", "skip")],
    ids=["checks-cleared", "text-emptied", "skipped"],
)
def test_an_optional_answer_taken_back_is_removed(client, survey, key, given, action):
    """Back to an optional question answered before, its answer emptied (or Skip): the answer
    the respondent last gave is "none", so the old one goes."""
    response = started(client, survey)
    post(client, survey, response, "nps", "3")
    post(client, survey, response, "plan", "Pro")
    post(client, survey, response, "feat", ["A", "B"])
    post(client, survey, response, "why", "Too slow")
    response.refresh_from_db()
    assert response.data[key] == given and response.completed_at is not None

    # A cleared text field sends "", unchecked boxes send nothing, Skip sends no answer.
    emptied = "" if key == "why" and action == "answer" else None
    reply = post(client, survey, response, key, emptied, action=action)
    assert reply.status_code == 302
    response.refresh_from_db()
    assert key not in response.data
    assert response.data["plan"] == "Pro" and response.completed_at is not None


def test_skipping_a_taken_back_answer_follows_its_skipped_jump(client, environment):
    """Taking an answer back can change the path: the answers it no longer goes through go too."""
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey,
        kind="text",
        key="why",
        required=False,
        logic=[{"operator": "skipped", "goto": "end"}],
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    response = started(client, survey)
    post(client, survey, response, "why", "Slow")
    post(client, survey, response, "plan", "Free")
    reply = post(client, survey, response, "why", action="skip")
    assert step_of(reply["Location"]) == "done"
    response.refresh_from_db()
    assert response.data == {}


def test_continue_after_a_call_to_action_click_keeps_the_click(client, environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="cta", key="docs", config={"url": "https://example.com/"})
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    response = started(client, survey)
    cta = reverse("surveys:link_cta", kwargs={"public_id": survey.public_id})
    client.get(cta, {"r": str(response.uuid), "q": "docs"})
    post(client, survey, response, "docs", action="skip")  # its "Continue" button
    response.refresh_from_db()
    assert response.data == {"docs": True}


# --- A step the path no longer takes --------------------------------------------------------------


def test_a_stale_tab_cannot_answer_a_step_off_the_path(client, survey):
    """Tab A shows "Plan" (after NPS 3); in tab B the respondent goes back and gives 10, which
    ends the survey. Tab A's answer would be dropped at once and its next steps too: it is
    refused, nothing is written, and the page says where the respondent stands."""
    response = started(client, survey)
    post(client, survey, response, "nps", "3")
    assert step_of(post(client, survey, response, "nps", "10")["Location"]) == "done"
    response.refresh_from_db()
    before = (response.data, response.completed_at, response.updated_at)

    page = post(client, survey, response, "plan", "Pro")
    assert page.status_code == 409
    assert b'data-step="done"' in page.content and b"already answered" in page.content
    response.refresh_from_db()
    assert (response.data, response.completed_at, response.updated_at) == before


def test_a_step_the_teams_new_jump_skips_shows_the_step_the_path_takes(client, survey):
    """The team adds a jump while the respondent is on "Plan": NPS 0-8 now go to "Why"."""
    response = started(client, survey)
    post(client, survey, response, "nps", "3")
    nps = Question.objects.get(survey=survey, key="nps")
    question_update(
        question=nps,
        title=nps.title,
        key="nps",
        logic=[
            {"operator": "gte", "value": 9, "goto": "end"},
            {"operator": "lte", "value": 8, "goto": "why"},
        ],
    )
    page = post(client, survey, response, "plan", "Pro")
    assert page.status_code == 409
    assert page.context["question"].key == "why"
    assert b"survey changed" in page.content
    response.refresh_from_db()
    assert response.data == {"nps": 3}
    # Answering the step shown goes on as usual.
    assert step_of(post(client, survey, response, "why", "Slow")["Location"]) == "done"
    response.refresh_from_db()
    assert response.data == {"nps": 3, "why": "Slow"} and response.completed_at is not None


# --- Two requests at once -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_tabs_answering_at_the_same_moment_keep_both_answers(survey, monkeypatch):
    """Both requests have read the response before either saves (a barrier holds them there):
    each answer is merged into the row as stored, so neither overwrites the other."""
    client = Client()
    response = started(client, survey)
    post(client, survey, response, "nps", "3")
    post(client, survey, response, "plan", "Pro")
    barrier = threading.Barrier(2, timeout=10)
    original = public_views.next_question

    def next_question_together(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(public_views, "next_question", next_question_together)
    replies = {}

    def answer(key, value):
        try:
            replies[key] = post(Client(), survey, response, key, value).status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=answer, args=("feat", ["A"])),
        threading.Thread(target=answer, args=("why", "Slow")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert replies == {"feat": 302, "why": 302}
    response.refresh_from_db()
    assert response.data == {"nps": 3, "plan": "Pro", "feat": ["A"], "why": "Slow"}


# --- Parameters given twice ---------------------------------------------------------------------


@pytest.mark.parametrize(("key", "values"), [("nps", ["9", "3"]), ("plan", ["Free", "Pro"])])
def test_two_answers_to_a_one_answer_question_are_refused(client, survey, key, values):
    """The page's buttons send one answer; two (a forged form) are not one of them picked."""
    response = started(client, survey)
    if key == "plan":
        post(client, survey, response, "nps", "3")
    response.refresh_from_db()
    before = response.data
    page = post(client, survey, response, key, values)
    assert page.status_code == 200 and page.context["error"]
    response.refresh_from_db()
    assert response.data == before and response.completed_at is None


def test_an_email_answer_link_with_two_answers_is_refused(client, survey):
    page = client.get(email_url(survey) + "?answer=9&answer=3&email=ann%40example.com")
    assert page.status_code == 400 and b"not valid" in page.content
    assert not Response.objects.filter(survey=survey).exists()
