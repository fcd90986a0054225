"""The builder of a live survey with responses, as a team hits it: stale pages posted after a
teammate's change, resubmitted forms, hostile choices, and the result pages after an edit.
Never a 500; a refusal writes nothing."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError

from governance.models import AuditEntry
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.forms import QuestionForm
from surveys.models import Question, QuestionKind, Survey
from surveys.services import (
    CHOICES_MAX,
    question_config_clean,
    question_delete,
    question_update,
    survey_set_status,
)
from tests.helpers import HTMX, eurl, race
from webhooks.models import OutboxEvent, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="Churn", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", title="Recommend us?")
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="multiple_choice", key="uses", choices=["A", "B", "C"])
    QuestionFactory(survey=survey, kind="rating", key="stars", config={"scale": 10})
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    ResponseFactory(survey=survey, data={"nps": 9, "plan": "Pro", "uses": ["A", "C"], "stars": 9})
    ResponseFactory(survey=survey, data={"nps": 3, "plan": "Free", "uses": ["B"], "why": "Slow"})
    return survey


def edit(client, environment, question, **changes):
    """Post the question's edit form as the builder draws it, with `changes`."""
    data = {k: v for k, v in QuestionForm.initial_for(question).items() if v not in (None, "")}
    data.pop("required", None)
    if question.required:
        data["required"] = "on"
    data.update(changes)
    url = eurl(environment, "surveys:question", uuid=question.survey.uuid, question_id=question.pk)
    return client.post(url, data)


def flash(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Status: a stale or resubmitted status form ---------------------------------------------


def test_stale_publish_button_does_not_relaunch_an_archived_survey(
    owner_client, environment, survey
):
    url = eurl(environment, "surveys:status", uuid=survey.uuid)
    assert owner_client.post(url, {"status": "archived"}).status_code == 302
    published_at = survey.published_at
    # A teammate's tab still shows the live survey's "Pause", or a draft's "Publish".
    for stale in ("live", "paused"):
        reply = owner_client.post(url, {"status": stale})
        assert reply.status_code == 302
        survey.refresh_from_db()
        assert survey.status == "archived"
        assert survey.published_at == published_at
        assert any("archived" in m.lower() for m in flash(reply))
    # What the page offers an archived survey still works.
    owner_client.post(url, {"status": "draft"})
    survey.refresh_from_db()
    assert survey.status == "draft"


def test_publishing_twice_publishes_once(owner_client, environment):
    survey = SurveyFactory(environment=environment)
    QuestionFactory(survey=survey, kind="nps", key="nps")
    url = eurl(environment, "surveys:status", uuid=survey.uuid)
    owner_client.post(url, {"status": "live"})
    survey.refresh_from_db()
    first = survey.published_at
    reply = owner_client.post(url, {"status": "live"})  # Back, then submit again
    assert reply.status_code == 302
    survey.refresh_from_db()
    assert survey.status == "live" and survey.published_at == first


# --- Two team members: one removes a question the other is editing ---------------------------


def test_saving_a_question_a_teammate_removed_does_not_bring_it_back(survey):
    # The edit view has read the question; before it saves, a teammate removes it.
    stale = QuestionFactory(survey=survey, kind="text", key="comment", title="Comment?")
    question_delete(question=Question.objects.get(pk=stale.pk))
    with pytest.raises(Question.DoesNotExist):
        question_update(question=stale, title="Any comment?", key="comment", required=False)
    assert not Question.objects.filter(pk=stale.pk).exists()
    assert list(survey.questions.values_list("position", flat=True)) == [1, 2, 3, 4, 5]


def test_a_removed_question_edit_form_posted_again_is_404(owner_client, environment, survey):
    why = survey.questions.get(key="why")
    Question.objects.filter(pk=why.pk).delete()
    assert edit(owner_client, environment, why, title="Why not?").status_code == 404
    assert not Question.objects.filter(pk=why.pk).exists()


def test_removing_a_question_twice_is_404_and_removes_one(owner_client, environment, survey):
    why = survey.questions.get(key="why")
    url = eurl(environment, "surveys:question_delete", uuid=survey.uuid, question_id=why.pk)
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 302
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 404
    assert owner_client.post(url, {"confirm": "yes"}, headers=HTMX).status_code == 404
    assert survey.questions.count() == 4


def test_stale_jump_to_a_question_moved_before_it_is_a_form_error(
    owner_client, environment, survey
):
    plan, why = survey.questions.get(key="plan"), survey.questions.get(key="why")
    order = [why.pk, *survey.questions.exclude(pk=why.pk).values_list("pk", flat=True)]
    owner_client.post(
        eurl(environment, "surveys:question_reorder", uuid=survey.uuid), {"order": order}
    )
    plan.refresh_from_db()
    reply = edit(
        owner_client,
        environment,
        plan,
        logic_0_operator="eq",
        logic_0_value="Pro",
        logic_0_goto="why",
    )
    assert reply.status_code == 400
    plan.refresh_from_db()
    assert plan.logic == []


def test_renaming_a_key_to_another_questions_key_is_a_form_error(owner_client, environment):
    survey = SurveyFactory(environment=environment, live=True)
    first = QuestionFactory(survey=survey, kind="text", key="first")
    QuestionFactory(survey=survey, kind="text", key="second")
    reply = edit(owner_client, environment, first, key="second")
    assert reply.status_code == 400
    assert b"another question of this survey uses this key" in reply.content
    first.refresh_from_db()
    assert first.key == "first"


# --- Hostile choices ---------------------------------------------------------------------------


def test_thousands_of_choices_are_refused(owner_client, environment, survey):
    """A pasted column of 100,000 lines was stored, after minutes of a quadratic duplicate
    check: a form error now, nothing written; 500 choices (a country list fits) are fine."""
    plan = survey.questions.get(key="plan")
    many = "\n".join(f"c{i}" for i in range(100_000))  # 0.7 MB, under the upload limit
    reply = edit(owner_client, environment, plan, choices=many)
    assert reply.status_code == 400
    assert f"at most {CHOICES_MAX} choices".encode() in reply.content
    plan.refresh_from_db()
    assert plan.config == {"choices": ["Free", "Pro"]}
    fits = "\n".join(map(str, range(CHOICES_MAX)))
    assert edit(owner_client, environment, plan, choices=fits).status_code == 302


def test_the_choices_check_stops_at_the_limit():
    """Linear, and it reads no further than the limit (no wall clock in a test: the work is
    counted)."""
    read = 0

    def lines():
        nonlocal read
        for i in range(100_000):
            read += 1
            yield f"c{i}"

    with pytest.raises(ValidationError):
        question_config_clean(QuestionKind.SINGLE_CHOICE, {"choices": lines()})
    assert read == CHOICES_MAX + 1


@pytest.mark.parametrize(
    "choices", ["Free\nPro\npro", "Free\nPro plan\nPro  plan", "Free\nPro\nPRO\t"]
)
def test_choices_differing_only_by_case_or_spaces_are_refused(
    owner_client, environment, survey, choices
):
    plan = survey.questions.get(key="plan")
    reply = edit(owner_client, environment, plan, choices=choices)
    assert reply.status_code == 400
    assert b"differ only by case or spaces" in reply.content
    plan.refresh_from_db()
    assert plan.config == {"choices": ["Free", "Pro"]}


def test_hostile_text_in_question_fields_is_never_a_500(owner_client, environment, survey):
    plan = survey.questions.get(key="plan")
    url = eurl(environment, "surveys:question", uuid=survey.uuid, question_id=plan.pk)
    # NUL: a form error (PostgreSQL refuses it). A lone surrogate (%ED%A0%80): replaced.
    assert edit(owner_client, environment, plan, title="a\x00b").status_code == 400
    assert edit(owner_client, environment, plan, choices="a\x00\nb").status_code == 400
    body = b"title=%ED%A0%80x&key=plan&choices=%ED%A0%80%0Ab"
    reply = owner_client.post(url, body, content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 302
    assert edit(owner_client, environment, plan, key="pl\x01an").status_code == 400
    assert edit(owner_client, environment, plan, scale="0").status_code in (302, 400)
    stars = survey.questions.get(key="stars")
    for scale in ("0", "1000000000", "9" * 5000):
        assert edit(owner_client, environment, stars, scale=scale).status_code == 400
    stars.refresh_from_db()
    assert stars.config["scale"] == 10


# --- Edits to answered questions: the result pages still draw ---------------------------------


def test_result_pages_draw_after_choices_and_scales_change(owner_client, environment, survey):
    plan, uses = survey.questions.get(key="plan"), survey.questions.get(key="uses")
    stars = survey.questions.get(key="stars")
    assert edit(owner_client, environment, plan, choices="Basic\nTeam").status_code == 302
    assert edit(owner_client, environment, uses, choices="X\nY").status_code == 302
    assert edit(owner_client, environment, stars, scale="3", style="numbers").status_code == 302
    survey.questions.get(key="why").delete()
    for url in (
        eurl(environment, "surveys:results", uuid=survey.uuid),
        eurl(environment, "surveys:responses") + f"?survey={survey.uuid}",
        eurl(environment, "surveys:detail", uuid=survey.uuid),
        eurl(environment, "surveys:preview", uuid=survey.uuid),
    ):
        assert owner_client.get(url).status_code == 200, url


# --- Another environment's ids ---------------------------------------------------------------


def test_another_surveys_question_ids_write_nothing(
    owner_client, environment, other_environment, survey
):
    other = SurveyFactory(environment=other_environment)
    theirs = QuestionFactory(survey=other, kind="text", key="theirs", title="Theirs")
    mine = survey.questions.get(key="nps")
    for name, data in (
        ("question", {"title": "Mine now", "key": "theirs"}),
        ("question_delete", {"confirm": "yes"}),
        ("question_move", {"direction": "down"}),
    ):
        url = eurl(environment, f"surveys:{name}", uuid=survey.uuid, question_id=theirs.pk)
        assert owner_client.post(url, data).status_code == 404
    url = eurl(environment, "surveys:question_reorder", uuid=survey.uuid)
    owner_client.post(url, {"order": [theirs.pk, mine.pk]})
    theirs.refresh_from_db()
    assert (theirs.title, theirs.position, theirs.survey_id) == ("Theirs", 1, other.pk) or (
        theirs.title == "Theirs" and theirs.survey_id == other.pk
    )


@pytest.mark.django_db(transaction=True)
def test_two_publishes_at_the_same_moment_publish_and_announce_once(environment):
    """Status, webhook event and audit entry were separate autocommits on the survey as each
    request had read it: two publishes at once both went through (two survey.published)."""
    WebhookEndpoint.objects.create(
        environment=environment,
        url="https://example.com/hook",
        event_types=["survey.published"],
        secret="whsec_test",
    )
    survey = SurveyFactory(environment=environment)
    QuestionFactory(survey=survey, kind="nps", key="nps")

    def publish():
        return survey_set_status(survey=Survey.objects.get(pk=survey.pk), status="live")

    for _ in range(3):  # a race may not interleave on a given run; three chances
        Survey.objects.filter(pk=survey.pk).update(status="draft")
        OutboxEvent.objects.all().delete()
        AuditEntry.objects.all().delete()
        results, errors = race([publish, publish])
        assert not errors and len(results) == 2
        assert OutboxEvent.objects.filter(event_type="survey.published").count() == 1
        assert AuditEntry.objects.filter(action="survey.publish").count() == 1


def test_a_status_change_decided_from_a_status_changed_since_is_refused(environment, survey):
    """The dashboard decides from the status it read; a teammate's change between that read
    and the write (the row is locked, then read again) refuses it."""
    Survey.objects.filter(pk=survey.pk).update(status="archived")
    with pytest.raises(ValidationError, match="archived now"):
        survey_set_status(survey=survey, status="paused", expected="live")
    survey.refresh_from_db()
    assert survey.status == "archived"


def _once(content: bytes) -> str:
    """The one-time token of the (first) form in `content`."""
    found = re.search(rb'name="once" value="([^"]+)"', content)
    assert found is not None
    return found.group(1).decode()


def test_a_resubmitted_new_survey_form_creates_one_survey(owner_client, environment):
    """A double click on Create, or Back then Create again: two surveys."""
    url = eurl(environment, "surveys:new")
    body = {"name": "Onboarding", "mode": "identified", "channels": ["link"]}
    body["once"] = _once(owner_client.get(url).content)
    assert owner_client.post(url, body).status_code == 302
    again = owner_client.post(url, body)
    assert again.status_code == 302 and again.url == eurl(environment, "surveys:list")
    assert any("created once" in m for m in flash(again))
    assert Survey.objects.filter(environment=environment, name="Onboarding").count() == 1


def test_a_resubmitted_duplicate_form_makes_one_copy(owner_client, environment, survey):
    page = owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    form = re.search(rb'surveys/[^"]*/duplicate/".*?</form>', page.content, re.DOTALL)
    assert form is not None
    body = {"once": _once(form.group(0))}
    url = eurl(environment, "surveys:duplicate", uuid=survey.uuid)
    assert owner_client.post(url, body).status_code == 302
    assert owner_client.post(url, body).status_code == 302
    assert Survey.objects.filter(environment=environment, name="Churn (copy)").count() == 1
