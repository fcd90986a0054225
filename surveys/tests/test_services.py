from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from profiles.factories import ProfileFactory
from profiles.models import MonthlyActivity
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.logic import next_question, resume_question
from surveys.models import Question, Response
from surveys.services import (
    question_add,
    question_delete,
    question_move,
    question_update,
    response_dismiss,
    response_import,
    response_record_view,
    response_save_answers,
    survey_duplicate,
    survey_set_status,
)
from traits.models import Trait
from webhooks.factories import WebhookEndpointFactory
from webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="csat", key="csat", config={"points": 5})
    QuestionFactory(survey=survey, kind="csat", key="thumbs", config={"points": 2}, required=False)
    QuestionFactory(survey=survey, kind="ces", key="ces", required=False)
    QuestionFactory(survey=survey, kind="rating", key="stars", config={"scale": 4})
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="multiple_choice", key="uses", choices=["A", "B", "C"])
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    QuestionFactory(survey=survey, kind="email", key="mail", required=False)
    QuestionFactory(survey=survey, kind="cta", key="call", required=False)
    return survey


@pytest.fixture
def profile(environment):
    return ProfileFactory(environment=environment)


def test_view_then_answers_make_a_partial_then_completed_response(survey, profile):
    response = response_record_view(survey=survey, profile=profile, channel="link")
    assert response.status == "view" and response.show_count == 1
    response_save_answers(response=response, answers={"nps": "9"})
    response.refresh_from_db()
    assert response.data == {"nps": 9} and response.status == "partial"
    assert response.first_data_at and response.completed_at is None
    response_save_answers(
        response=response, answers={"plan": "Pro", "uses": ["C", "A"]}, complete=True
    )
    response.refresh_from_db()
    assert response.data == {"nps": 9, "plan": "Pro", "uses": ["A", "C"]}
    assert response.status == "completed"
    assert MonthlyActivity.objects.filter(profile=profile).count() == 1


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("nps", 0, 0),
        ("nps", "10", 10),
        ("csat", -1, -1),
        ("csat", "0", 0),
        ("thumbs", 2, 2),
        ("thumbs", "-2", -2),
        ("ces", 7, 7),
        ("stars", 4, 4),
        ("plan", "Free", "Free"),
        ("uses", "B", ["B"]),
        ("why", "  Because  ", "Because"),
        ("mail", "Ann@Example.com", "ann@example.com"),
        ("call", "clicked", True),
    ],
)
def test_valid_answers_are_normalised(survey, profile, key, value, stored):
    response = ResponseFactory(survey=survey, profile=profile)
    response_save_answers(response=response, answers={key: value})
    response.refresh_from_db()
    assert response.data == {key: stored}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nps", 11),
        ("nps", -1),
        ("nps", "nine"),
        ("nps", True),
        ("csat", 3),
        ("thumbs", 0),
        ("thumbs", 1),
        ("ces", 0),
        ("ces", 8),
        ("stars", 5),
        ("plan", "Enterprise"),
        ("uses", ["A", "Z"]),
        ("mail", "not-an-email"),
        ("call", "maybe"),
        ("unknown", 1),
        ("nps", None),
    ],
)
def test_invalid_answers_raise_naming_the_key(survey, profile, key, value):
    response = ResponseFactory(survey=survey, profile=profile)
    with pytest.raises(ValidationError) as exc:
        response_save_answers(response=response, answers={key: value})
    assert key in exc.value.message_dict
    response.refresh_from_db()
    assert response.data == {}


def test_answers_define_response_scope_traits(survey, profile, environment):
    response = ResponseFactory(survey=survey, profile=profile)
    response_save_answers(response=response, answers={"nps": 3, "plan": "Free", "call": "1"})
    traits = {
        t.key: t.data_type for t in Trait.objects.filter(environment=environment, scope="response")
    }
    assert traits == {"nps": "number", "plan": "string", "call": "boolean"}


def test_same_survey_within_three_hours_continues_the_response(survey, profile):
    start = timezone.now() - timedelta(hours=8)
    first = response_record_view(survey=survey, profile=profile, channel="link", at=start)
    again = response_record_view(
        survey=survey, profile=profile, channel="link", at=start + timedelta(hours=2, minutes=59)
    )
    assert again.pk == first.pk and again.show_count == 2
    later = response_record_view(
        survey=survey, profile=profile, channel="link", at=start + timedelta(hours=5, minutes=59)
    )
    assert later.pk != first.pk and later.show_count == 1
    assert Response.objects.filter(survey=survey, profile=profile).count() == 2


def test_reuse_window_counts_from_the_last_activity_not_the_start(survey, profile):
    """Started at 9:00, answered at 11:30: opened again at 13:00 (4 h after the start, 1.5 h
    after the last answer) it is the same response; at 14:31 (3 h 1 min after) a new one."""
    start = timezone.now() - timedelta(hours=10)
    first = response_record_view(survey=survey, profile=profile, channel="link", at=start)
    response_save_answers(
        response=first, answers={"nps": 4}, at=start + timedelta(hours=2, minutes=30)
    )
    again = response_record_view(
        survey=survey, profile=profile, channel="link", at=start + timedelta(hours=4)
    )
    assert again.pk == first.pk and again.data == {"nps": 4}
    # The view at 13:00 is activity too: the window now runs from it.
    later = response_record_view(
        survey=survey, profile=profile, channel="link", at=start + timedelta(hours=7, minutes=1)
    )
    assert later.pk != first.pk and later.data == {}


def test_view_merges_context_and_keeps_first_shown(survey, profile):
    first = response_record_view(
        survey=survey, profile=profile, channel="link", context={"source": "mail"}
    )
    again = response_record_view(
        survey=survey, profile=profile, channel="link", context={"page": "/x"}
    )
    assert again.context == {"source": "mail", "page": "/x"}
    assert again.first_shown_at == first.first_shown_at


def test_view_refuses_a_profile_of_another_environment(survey, other_environment):
    stranger = ProfileFactory(environment=other_environment)
    with pytest.raises(ValueError):
        response_record_view(survey=survey, profile=stranger, channel="link")


def test_dismiss_records_the_first_time_only(survey, profile):
    response = ResponseFactory(survey=survey, profile=profile)
    response_dismiss(response=response)
    first = response.dismissed_at
    response_dismiss(response=response, at=timezone.now() + timedelta(minutes=5))
    response.refresh_from_db()
    assert response.dismissed_at == first and response.status == "dismissed"


def test_import_is_idempotent_by_external_id(survey, profile):
    done = timezone.now() - timedelta(days=2)
    response, created = response_import(
        survey=survey, profile=profile, answers={"nps": 8}, completed_at=done, external_id="x-1"
    )
    assert created and response.completed_at == done and response.channel == "api"
    again, created = response_import(
        survey=survey, profile=profile, answers={"nps": 2}, external_id="x-1"
    )
    assert not created and again.pk == response.pk
    again.refresh_from_db()
    assert again.data == {"nps": 8}


def test_logic_jumps_forward_and_resume(environment):
    survey = SurveyFactory(environment=environment)
    nps = QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[
            {"operator": "gte", "value": 9, "goto": "end"},
            {"operator": "lte", "value": 6, "goto": "bad"},
        ],
    )
    why = QuestionFactory(survey=survey, kind="text", key="why")
    bad = QuestionFactory(survey=survey, kind="text", key="bad")
    questions = list(survey.questions.all())
    assert next_question(questions, nps, 10) is None
    assert next_question(questions, nps, 3) == bad
    assert next_question(questions, nps, 7) == why
    assert next_question(questions, bad, "x") is None
    assert resume_question(questions, {"nps": 3}) == bad
    assert resume_question(questions, {"nps": 10}) is None


def test_builder_services_add_move_update_delete(environment, owner):
    survey = SurveyFactory(environment=environment)
    with pytest.raises(ValidationError):
        survey_set_status(survey=survey, status="live", by=owner.user)
    a = question_add(survey=survey, kind="nps")
    b = question_add(survey=survey, kind="nps")
    assert a.key == "likely_recommend_friend"  # short: the title's first three main words
    assert b.key == f"{a.key}_2"
    c = question_add(survey=survey, kind="single_choice", title="Your current plan?")
    assert c.key == "current_plan"
    question_update(
        question=a,
        title="Recommend?",
        key="",
        logic=[{"operator": "lte", "value": "6", "goto": "current_plan"}],
    )
    a.refresh_from_db()
    assert a.key == "recommend" and a.logic[0]["goto"] == "current_plan"
    with pytest.raises(ValidationError) as exc:
        question_update(question=b, title="x", key="recommend")
    assert "key" in exc.value.message_dict
    question_move(question=c, direction="up")
    question_move(question=c, direction="up")
    assert list(survey.questions.values_list("key", flat=True)) == [
        "current_plan",
        "recommend",
        b.key,
    ]
    a.refresh_from_db()
    assert a.logic == []  # the jump would now go backwards
    question_delete(question=c)
    assert list(survey.questions.values_list("position", flat=True)) == [1, 2]
    survey_set_status(survey=survey, status="live", by=owner.user)
    assert survey.published_by == owner.user and survey.published_at
    copy = survey_duplicate(survey=survey, by=owner.user)
    assert copy.status == "draft" and copy.questions.count() == 2
    assert Question.objects.filter(survey=survey).count() == 2


def test_derived_key_follows_the_title_until_answers_exist(environment):
    survey = SurveyFactory(environment=environment)
    question = question_add(survey=survey, kind="text", title="Why?")
    assert question.key == "why"
    question_update(question=question, title="What for?", key="why")
    assert question.key == "what_for"
    question_update(question=question, title="Custom", key="my_key")
    question_update(question=question, title="Other title", key="my_key")
    assert question.key == "my_key"  # chosen by hand: kept
    question_update(question=question, title="Reason", key="")
    ResponseFactory(survey=survey, data={"reason": "x"})
    question_update(question=question, title="Motive", key="reason")
    assert question.key == "reason"  # answers are stored under it: kept


@pytest.mark.parametrize("prepared", [True, False])
def test_a_view_records_its_webhook_event_and_activity_with_it(survey, profile, settings, prepared):
    """One statement (prepared or plain SQL): a new response with its "response.displayed"
    event for a subscribed endpoint, then the same response continued (no second event), and
    the month's activity; the returned response is the stored one."""
    settings.HARK_PREPARED_STATEMENTS = prepared
    WebhookEndpointFactory(environment=survey.environment, event_types=["response.displayed"])
    at = timezone.now() - timedelta(hours=1)
    first = response_record_view(
        survey=survey, profile=profile, channel="web", at=at, context={"url": "/a"}, locale="de"
    )
    again = response_record_view(
        survey=survey,
        profile=profile,
        channel="web",
        at=at + timedelta(minutes=5),
        context={"forced": True},
    )
    assert again.pk == first.pk and (first.show_count, again.show_count) == (1, 2)
    assert again.context == {"url": "/a", "forced": True} and again.locale == "de"
    assert (again.first_shown_at, again.last_shown_at) == (at, at + timedelta(minutes=5))
    stored = Response.objects.get(pk=first.pk)
    assert (stored.uuid, stored.data, stored.context, stored.updated_at) == (
        again.uuid,
        {},
        again.context,
        again.updated_at,
    )
    assert first.uuid == again.uuid and first.data == {} and first.channel == "web"
    events = OutboxEvent.objects.filter(event_type="response.displayed")
    assert [(e.profile_id, e.data) for e in events] == [(profile.pk, {"response_id": first.pk})]
    assert MonthlyActivity.objects.get(profile=profile).surveyed
