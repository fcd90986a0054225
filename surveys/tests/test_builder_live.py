"""Editing a survey that already has answers: the builder says so, keys of answered questions
stay, a removed question's answers stay in the CSV export. And the builder's defaults: a short
question key, a preview that follows the list."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.services import question_add, question_update
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="Churn", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", title="Recommend us?")
    QuestionFactory(survey=survey, kind="text", key="reason", title="Why?", required=False)
    return survey


def edit(client, environment, question, key, **extra):
    return client.post(
        eurl(environment, "surveys:question", uuid=question.survey.uuid, question_id=question.pk),
        {"title": question.title, "key": key, "required": "on"},
        **extra,
    )


def export(client, environment, params=None):
    reply = client.get(
        reverse("surveys:responses_export", kwargs={"env": environment.slug}), params or {}
    )
    text = b"".join(reply.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- 8: a live survey with responses ----------------------------------------------------------


def test_builder_warns_that_the_survey_is_live_with_responses(owner_client, environment, survey):
    page = owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    assert b'id="live-notice"' not in page.content  # no responses yet
    ResponseFactory(survey=survey, data={"nps": 9})
    ResponseFactory(survey=survey, data={"nps": 3, "reason": "Slow"})
    ResponseFactory(survey=survey, data={})  # a view is not a response
    page = owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    assert b"This survey is live and has 2 responses." in page.content


def test_renaming_the_key_of_an_answered_question_is_refused(owner_client, environment, survey):
    reason = survey.questions.get(key="reason")
    ResponseFactory(survey=survey, data={"nps": 3, "reason": "Slow"})
    page = edit(owner_client, environment, reason, "why_text")
    assert page.status_code == 400
    assert "answers are stored under “reason”, so it cannot change" in page.content.decode()
    fragment = edit(owner_client, environment, reason, "why_text", headers=HTMX)
    assert fragment.status_code == 422 and b"cannot change" in fragment.content
    reason.refresh_from_db()
    assert reason.key == "reason"
    # A question nobody answered yet can still be renamed.
    nps = survey.questions.get(key="nps")
    survey.responses.all().delete()
    assert edit(owner_client, environment, nps, "score").status_code == 302
    nps.refresh_from_db()
    assert nps.key == "score"


def test_a_removed_questions_key_is_not_reused(environment, survey):
    ResponseFactory(survey=survey, data={"nps": 3, "reason": "Slow"})
    survey.questions.get(key="reason").delete()
    question = question_add(survey=survey, kind="text", title="Why?")
    assert question.key == "why"
    with pytest.raises(ValidationError) as exc:
        question_update(question=question, title="Why?", key="reason")
    assert "removed question" in exc.value.message_dict["key"][0]
    again = question_add(survey=survey, kind="text", title="Reason")
    assert again.key == "reason_2"  # "reason" holds the removed question's answers


def test_export_has_a_column_for_every_key_in_the_responses(
    owner_client, environment, survey, django_assert_max_num_queries
):
    ResponseFactory(survey=survey, data={"nps": 3, "reason": "Slow"})
    ResponseFactory(survey=survey, data={"nps": 10})
    delete = eurl(
        environment,
        "surveys:question_delete",
        uuid=survey.uuid,
        question_id=survey.questions.get(key="reason").pk,
    )
    assert owner_client.post(delete, {"confirm": "yes"}).status_code == 302
    with django_assert_max_num_queries(13):
        rows = export(owner_client, environment, {"survey": survey.uuid})
    assert list(rows[0])[-2:] == ["nps", "reason (removed question)"]
    assert sorted(row["reason (removed question)"] for row in rows) == ["", "Slow"]
    # The whole environment's export, too.
    rows = export(owner_client, environment)
    assert "reason (removed question)" in rows[0]


def test_export_columns_query_count_does_not_grow_with_rows(
    owner_client, environment, survey, django_assert_max_num_queries
):
    for i in range(40):
        ResponseFactory(survey=survey, data={"nps": i % 11, f"old_{i % 4}": "x"})
    with django_assert_max_num_queries(13):
        rows = export(owner_client, environment)
    assert len(rows) == 40
    assert [c for c in rows[0] if c.startswith("old_")] == [
        f"old_{i} (removed question)" for i in range(4)
    ]


# --- 16: the builder's defaults --------------------------------------------------------------


def test_default_keys_are_short_readable_and_unique(environment):
    survey = SurveyFactory(environment=environment)
    first = question_add(survey=survey, kind="nps")
    second = question_add(survey=survey, kind="nps")
    email = question_add(survey=survey, kind="email")
    long = question_add(
        survey=survey, kind="text", title="Internationalization considerations notwithstanding?"
    )
    assert first.key == "likely_recommend_friend"
    assert second.key == "likely_recommend_friend_2"
    assert email.key == "email_address"
    assert len(long.key) <= 30 and long.key == "internationalization"
    assert all(len(q.key) <= 32 for q in survey.questions.all())


def test_adding_a_question_redraws_the_preview(owner_client, environment):
    survey = SurveyFactory(environment=environment)
    page = owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    assert b"Add a question to see it" in page.content
    fragment = owner_client.post(
        eurl(environment, "surveys:question_add", uuid=survey.uuid), {"kind": "csat"}, headers=HTMX
    )
    html = fragment.content.decode()
    assert 'id="questions"' in html
    assert 'id="preview" class="preview-box" aria-live="polite" hx-swap-oob="true"' in html
    assert "Add a question to see it" not in html
    assert "How satisfied are you with our product?" in html.split('id="preview"')[1]
    # Removing the last question empties it again.
    question = survey.questions.get()
    removed = owner_client.post(
        eurl(environment, "surveys:question_delete", uuid=survey.uuid, question_id=question.pk),
        {"confirm": "yes"},
        headers=HTMX,
    )
    assert "Add a question to see it" in removed.content.decode().split('id="preview"')[1]
