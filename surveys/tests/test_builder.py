"""The builder pages: access by role, htmx fragments, query counts, the email generator."""

import pytest

from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Question, Survey
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="Onboarding NPS")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    return survey


def test_list_requires_login_and_membership(client, outsider_client, environment, survey):
    list_url = eurl(environment, "surveys:list")
    assert client.get(list_url).status_code == 302
    assert outsider_client.get(list_url).status_code == 404


def test_list_shows_surveys_with_constant_queries(
    owner_client, environment, survey, django_assert_max_num_queries
):
    for _ in range(5):
        extra = SurveyFactory(environment=environment)
        QuestionFactory(survey=extra)
    with django_assert_max_num_queries(8):
        page = owner_client.get(eurl(environment, "surveys:list"))
    assert page.status_code == 200
    assert b"Onboarding NPS" in page.content
    with django_assert_max_num_queries(8):
        fragment = owner_client.get(
            eurl(environment, "surveys:list"), {"q": "onboard"}, headers=HTMX
        )
    assert b'id="results"' in fragment.content and b"<html" not in fragment.content
    assert fragment.content.count(b"<tr>") == 2  # header + the match


def test_list_of_one_environment_never_shows_another(outsider_client, other_environment, survey):
    page = outsider_client.get(eurl(other_environment, "surveys:list"))
    assert b"Onboarding NPS" not in page.content


def test_detail_of_another_environment_is_404(outsider_client, other_environment, survey):
    assert (
        outsider_client.get(eurl(other_environment, "surveys:detail", uuid=survey.uuid)).status_code
        == 404
    )
    q = survey.questions.first()
    for name in ("question", "question_preview"):
        page = outsider_client.get(
            eurl(other_environment, f"surveys:{name}", uuid=survey.uuid, question_id=q.pk)
        )
        assert page.status_code == 404
    moved = outsider_client.post(
        eurl(other_environment, "surveys:question_move", uuid=survey.uuid, question_id=q.pk),
        {"direction": "down"},
    )
    assert moved.status_code == 404


def test_question_of_another_survey_is_404(owner_client, environment, survey):
    other = SurveyFactory(environment=environment)
    foreign = QuestionFactory(survey=other)
    page = owner_client.get(
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=foreign.pk)
    )
    assert page.status_code == 404


def test_detail_constant_queries(owner_client, environment, survey, django_assert_max_num_queries):
    for _ in range(6):
        QuestionFactory(survey=survey, kind="text")
    with django_assert_max_num_queries(9):
        page = owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    assert page.status_code == 200
    assert b"Add a question" in page.content


def test_analyst_sees_no_edit_controls_and_gets_403_on_posts(analyst_client, environment, survey):
    page = analyst_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid))
    assert page.status_code == 200
    assert b"Add a question" not in page.content and b"Publish" not in page.content
    q = survey.questions.first()
    posts = [
        eurl(environment, "surveys:new"),
        eurl(environment, "surveys:settings", uuid=survey.uuid),
        eurl(environment, "surveys:status", uuid=survey.uuid),
        eurl(environment, "surveys:duplicate", uuid=survey.uuid),
        eurl(environment, "surveys:thank_you", uuid=survey.uuid),
        eurl(environment, "surveys:question_add", uuid=survey.uuid),
        eurl(environment, "surveys:question_reorder", uuid=survey.uuid),
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=q.pk),
        eurl(environment, "surveys:question_move", uuid=survey.uuid, question_id=q.pk),
        eurl(environment, "surveys:question_delete", uuid=survey.uuid, question_id=q.pk),
    ]
    for post_url in posts:
        data = {"kind": "nps", "status": "live", "confirm": "yes"}
        assert analyst_client.post(post_url, data).status_code == 403
    survey.refresh_from_db()
    assert survey.status == "draft" and survey.questions.count() == 2


def test_create_survey_then_add_questions_with_htmx(owner_client, owner, environment):
    created = owner_client.post(
        eurl(environment, "surveys:new"),
        {"name": "Churn", "mode": "anonymous", "channels": ["link"]},
    )
    survey = Survey.objects.get(name="Churn")
    assert created.status_code == 302 and survey.created_by == owner.user
    fragment = owner_client.post(
        eurl(environment, "surveys:question_add", uuid=survey.uuid), {"kind": "nps"}, headers=HTMX
    )
    assert fragment.status_code == 200
    assert b'id="questions"' in fragment.content and b"<html" not in fragment.content
    question = survey.questions.get()
    assert b"Save question" in fragment.content  # opens in edit mode
    saved = owner_client.post(
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=question.pk),
        {
            "title": "Would you recommend us?",
            "key": "",
            "required": "on",
            "low_label": "No",
            "high_label": "Yes",
        },
        headers=HTMX,
    )
    assert saved.status_code == 200 and saved["HX-Retarget"] == "#questions"
    question.refresh_from_db()
    assert question.key == "recommend" and question.config["high_label"] == "Yes"


def test_question_edit_errors_are_shown(owner_client, environment, survey):
    plan = survey.questions.get(key="plan")
    page = owner_client.post(
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=plan.pk),
        {"title": "Plan", "key": "nps", "choices": "Only one"},
        headers=HTMX,
    )
    assert page.status_code == 422
    assert b"another question of this survey uses this key" in page.content
    assert b"at least two different choices" in page.content
    plan.refresh_from_db()
    assert plan.key == "plan"


def test_logic_jump_saved_from_the_form(owner_client, environment, survey):
    nps = survey.questions.get(key="nps")
    QuestionFactory(survey=survey, kind="text", key="why")
    owner_client.post(
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=nps.pk),
        {
            "title": "NPS",
            "key": "nps",
            "required": "on",
            "logic_0_operator": "gte",
            "logic_0_value": "9",
            "logic_0_goto": "end",
            "logic_1_operator": "lte",
            "logic_1_value": "6",
            "logic_1_goto": "why",
        },
    )
    nps.refresh_from_db()
    assert nps.logic == [
        {"operator": "gte", "value": 9, "goto": "end"},
        {"operator": "lte", "value": 6, "goto": "why"},
    ]


def test_move_without_js_redirects_and_reorders(owner_client, environment, survey):
    plan = survey.questions.get(key="plan")
    page = owner_client.post(
        eurl(environment, "surveys:question_move", uuid=survey.uuid, question_id=plan.pk),
        {"direction": "up"},
    )
    assert page.status_code == 302
    assert list(survey.questions.values_list("key", flat=True)) == ["plan", "nps"]


def test_reorder_by_drag(owner_client, environment, survey):
    ids = list(survey.questions.values_list("pk", flat=True))
    page = owner_client.post(
        eurl(environment, "surveys:question_reorder", uuid=survey.uuid),
        {"order": [ids[1], ids[0]]},
        headers=HTMX,
    )
    assert page.status_code == 200
    assert list(survey.questions.values_list("key", flat=True)) == ["plan", "nps"]


def test_delete_question_asks_first(owner_client, analyst_client, environment, survey):
    plan = survey.questions.get(key="plan")
    target = eurl(environment, "surveys:question_delete", uuid=survey.uuid, question_id=plan.pk)
    builder = owner_client.get(
        eurl(environment, "surveys:detail", uuid=survey.uuid)
    ).content.decode()
    # The opener leads to the confirmation page without JavaScript, the <dialog> with it, whose
    # form posts with htmx and swaps the question list.
    assert f'href="{target}" data-dialog-open="remove-question-{plan.pk}"' in builder
    assert f'<dialog id="remove-question-{plan.pk}"' in builder and "hx-confirm" not in builder
    assert f'hx-post="{target}" hx-target="#questions"' in builder
    confirm = owner_client.get(target)
    assert confirm.status_code == 200 and b"stay in the responses" in confirm.content
    assert b"Nothing was changed" in owner_client.post(target, headers=HTMX).content
    assert Question.objects.filter(pk=plan.pk).exists()
    # An analyst's GET goes back to the builder.
    assert analyst_client.get(target)["Location"] == eurl(
        environment, "surveys:detail", uuid=survey.uuid
    )
    removed = owner_client.post(target, {"confirm": "yes"}, headers=HTMX)
    assert removed.content.decode().lstrip().startswith('<ol id="questions"') or (
        'id="questions"' in removed.content.decode()
    )
    assert not Question.objects.filter(pk=plan.pk).exists()


def test_publish_records_who_and_when_then_archive_and_duplicate(
    owner_client, owner, environment, survey
):
    owner_client.post(eurl(environment, "surveys:status", uuid=survey.uuid), {"status": "live"})
    survey.refresh_from_db()
    assert survey.status == "live" and survey.published_by == owner.user and survey.published_at
    owner_client.post(eurl(environment, "surveys:status", uuid=survey.uuid), {"status": "archived"})
    survey.refresh_from_db()
    assert survey.status == "archived"
    copy_page = owner_client.post(eurl(environment, "surveys:duplicate", uuid=survey.uuid))
    copy = Survey.objects.exclude(pk=survey.pk).get()
    assert copy_page.status_code == 302 and copy.status == "draft" and copy.questions.count() == 2


def test_settings_and_thank_you_fragments(owner_client, environment, survey):
    page = owner_client.post(
        eurl(environment, "surveys:settings", uuid=survey.uuid),
        {"name": "Renamed", "mode": "anonymous", "channels": ["email"]},
        headers=HTMX,
    )
    assert page.status_code == 200 and b'id="settings"' in page.content
    survey.refresh_from_db()
    assert survey.name == "Renamed" and survey.mode == "anonymous" and survey.channels == ["email"]
    page = owner_client.post(
        eurl(environment, "surveys:thank_you", uuid=survey.uuid),
        {
            "title": "Merci",
            "message": "Bye",
            "button_label": "Home",
            "button_url": "https://acme.test/",
        },
        headers=HTMX,
    )
    assert page.status_code == 200 and b'id="thank_you"' in page.content
    survey.refresh_from_db()
    assert survey.thank_you["title"] == "Merci"


def test_live_preview_renders_unsaved_values_without_writing(owner_client, environment, survey):
    plan = survey.questions.get(key="plan")
    page = owner_client.get(
        eurl(environment, "surveys:question_preview", uuid=survey.uuid, question_id=plan.pk),
        {"title": "Pick one", "choices": "Red\nBlue"},
        headers=HTMX,
    )
    assert page.status_code == 200 and b'id="preview"' in page.content
    assert b"Pick one" in page.content and b"Blue" in page.content
    plan.refresh_from_db()
    assert plan.title != "Pick one"
    full = owner_client.get(
        eurl(environment, "surveys:question_preview", uuid=survey.uuid, question_id=plan.pk),
        follow=True,
    )
    assert b"<html" in full.content and b"Which option fits best?" in full.content


def test_survey_preview_walks_every_step_without_recording(owner_client, environment, survey):
    preview = eurl(environment, "surveys:preview", uuid=survey.uuid)
    first = owner_client.get(preview)
    assert first.status_code == 200 and b"Question 1 of 2" in first.content
    assert b"?q=plan" in first.content
    second = owner_client.get(preview, {"q": "plan"})
    assert b"Question 2 of 2" in second.content and b"?q=done" in second.content
    done = owner_client.get(preview, {"q": "done"})
    assert b"Thank you!" in done.content
    assert not survey.responses.exists()


def test_email_page_needs_a_live_survey(owner_client, environment, survey):
    page = owner_client.get(eurl(environment, "surveys:email", uuid=survey.uuid))
    assert b"Publish the survey first" in page.content


@pytest.mark.parametrize(
    ("provider", "identify_by", "tag"),
    [
        ("mailchimp", "email", "email=*|EMAIL|*"),
        ("hubspot", "email", "email={{ contact.email }}"),
        ("customerio", "user_id", "id={{ customer.id }}"),
        ("intercom", "email", "email={{ email }}"),
        ("sendgrid", "email", "email={{email}}"),
        ("sendgrid_legacy", "email", "email=-email-"),
        ("braze", "user_id", "id={{${user_id}}}"),
        ("klaviyo", "email", "email={{ email }}"),
    ],
)
def test_email_block_carries_the_providers_merge_tag(
    owner_client, environment, survey, provider, identify_by, tag
):
    survey.status = "live"
    survey.save()
    page = owner_client.get(
        eurl(environment, "surveys:email", uuid=survey.uuid),
        {"provider": provider, "identify_by": identify_by},
    )
    html = page.context["html"]
    assert html.count("<a ") == 11  # NPS 0..10
    assert f"answer=10&amp;{tag}" in html
    assert "<script" not in html and "<table" in html


def test_email_block_without_provider_is_anonymous(owner_client, environment, survey):
    survey.status = "live"
    survey.mode = "anonymous"
    survey.save()
    page = owner_client.get(eurl(environment, "surveys:email", uuid=survey.uuid), headers=HTMX)
    assert b'id="generated"' in page.content
    assert b"answer=0&quot;" in page.content  # the HTML as text in the textarea
    assert b"email=" not in page.content


def test_email_provider_without_user_id_tag_explains(owner_client, environment, survey):
    survey.status = "live"
    survey.save()
    page = owner_client.get(
        eurl(environment, "surveys:email", uuid=survey.uuid),
        {"provider": "mailchimp", "identify_by": "user_id"},
    )
    assert b"no merge tag for the user id" in page.content


def test_email_block_link_records_the_answer(owner_client, client, environment, survey):
    survey.status = "live"
    survey.mode = "anonymous"
    survey.save()
    page = owner_client.get(
        eurl(environment, "surveys:email", uuid=survey.uuid), {"provider": "none"}
    )
    href = page.context["html"].split('href="')[8].split('"')[0].replace("&amp;", "&")
    reply = client.get(href)
    assert reply.status_code == 302
    response = survey.responses.get()
    assert response.data == {"nps": 7} and response.channel == "email"


def test_responses_untouched_by_builder_pages(owner_client, environment, survey):
    ResponseFactory(survey=survey, data={"nps": 3})
    assert (
        owner_client.get(eurl(environment, "surveys:detail", uuid=survey.uuid)).status_code == 200
    )


def test_edit_form_shows_the_saved_settings(owner_client, environment, survey):
    plan = survey.questions.get(key="plan")
    page = owner_client.get(
        eurl(environment, "surveys:question", uuid=survey.uuid, question_id=plan.pk),
        {"mode": "edit"},
        headers=HTMX,
    )
    assert page.status_code == 200
    assert b'value="plan"' in page.content
    assert b"Free\nPro</textarea>" in page.content
    assert b'name="required" checked' in page.content
    full = owner_client.get(
        eurl(environment, "surveys:detail", uuid=survey.uuid), {"edit": plan.pk}
    )
    assert b"Save question" in full.content and b'value="plan"' in full.content


@pytest.mark.parametrize("name", ["detail", "email", "settings", "question_add"])
def test_anonymous_visitors_are_sent_to_login(client, environment, survey, name):
    target = eurl(environment, f"surveys:{name}", uuid=survey.uuid)
    assert client.get(target).status_code == 302
    assert client.post(target, {"kind": "nps"}).status_code == 302
    assert survey.questions.count() == 2
