"""Browser tests (Playwright, headless Chromium): a respondent on a survey link, and the builder."""

import pytest

from profiles.models import Profile
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Response, Survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_survey(environment):
    # Anonymous: some tests open the link without an id (identified surveys refuse that).
    survey = SurveyFactory(environment=environment, live=True, name="Feedback", mode="anonymous")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(
        survey=survey, kind="single_choice", key="reason", choices=["Price", "Features"]
    )
    QuestionFactory(survey=survey, kind="text", key="comment", required=False)
    return survey


def test_respondent_answers_leaves_and_comes_back_to_finish(
    browser, live_server, live_survey, environment
):
    link = (
        f"{live_server.url}/s/{live_survey.public_id}/"
        "?contact_id=cust-42&contact_plan=enterprise&response_source=newsletter"
    )
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(link)
    page.get_by_role("button", name="8", exact=True).click()
    page.wait_for_selector("[data-step=reason]")
    page.close()  # leaves half way

    profile = Profile.objects.get(environment=environment, user_id="cust-42")
    assert profile.traits["plan"] == "enterprise"
    response = Response.objects.get(survey=live_survey, profile=profile)
    assert response.data == {"nps": 8}
    assert response.context == {"source": "newsletter"}
    assert response.completed_at is None and response.status == "partial"

    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(link)
    page.wait_for_selector("[data-step=reason]")  # continues where it stopped
    page.get_by_role("button", name="Features").click()
    page.wait_for_selector("[data-step=comment]")
    page.fill("textarea[name=answer]", "More integrations please")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("[data-step=done]")
    assert "Thank you" in page.inner_text("#step")
    context.close()

    response.refresh_from_db()
    assert response.status == "completed"
    assert response.data == {"nps": 8, "reason": "Features", "comment": "More integrations please"}
    assert response.show_count == 2
    assert Response.objects.filter(survey=live_survey).count() == 1


def test_survey_link_works_without_javascript(browser, live_server, live_survey):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/s/{live_survey.public_id}/")
    page.get_by_role("button", name="3", exact=True).click()
    page.wait_for_selector("[data-step=reason]")
    page.get_by_role("button", name="Price").click()
    page.wait_for_selector("[data-step=comment]")
    page.get_by_role("button", name="Skip").click()
    page.wait_for_selector("[data-step=done]")
    context.close()
    response = Response.objects.get(survey=live_survey)
    assert response.data == {"nps": 3, "reason": "Price"} and response.completed_at


def test_keyboard_digits_answer_a_scale(page, live_server, live_survey):
    page.goto(f"{live_server.url}/s/{live_survey.public_id}/")
    page.keyboard.press("7")
    page.wait_for_selector("[data-step=reason]")
    assert Response.objects.get(survey=live_survey).data == {"nps": 7}


def test_builder_add_nps_and_choice_reorder_and_publish(
    logged_in_page, live_server, environment, owner
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/")
    page.get_by_role("link", name="New survey").click()
    page.fill("input[name=name]", "Onboarding")
    page.get_by_role("button", name="Create survey").click()
    survey = Survey.objects.get(name="Onboarding")

    page.get_by_role("button", name="+ NPS (0-10)").click()
    page.wait_for_selector("#questions .bq.editing")
    page.fill(".bq.editing input[name=title]", "Would you recommend us?")
    page.wait_for_selector("#preview :text('Would you recommend us?')")  # live preview
    page.get_by_role("button", name="Save question").click()
    page.wait_for_selector("#questions .bq:not(.editing) :text('Would you recommend us?')")

    page.get_by_role("button", name="+ Single choice").click()
    page.wait_for_selector("#questions .bq.editing")
    page.fill(".bq.editing input[name=title]", "Main reason?")
    page.fill(".bq.editing textarea[name=choices]", "Price\nSpeed\nSupport")
    page.get_by_role("button", name="Save question").click()
    page.wait_for_selector("#questions .bq:not(.editing) :text('Main reason?')")
    assert list(survey.questions.values_list("key", flat=True)) == [
        "recommend",
        "main_reason",
    ]

    page.get_by_role("button", name="Move “Main reason?” up").click()
    page.wait_for_selector("#questions li:first-child :text('Main reason?')")
    assert list(survey.questions.values_list("key", flat=True)) == [
        "main_reason",
        "recommend",
    ]

    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector("#survey-status:text('Live')")
    survey.refresh_from_db()
    assert survey.status == "live" and survey.published_by == owner.user
    assert survey.questions.get(key="main_reason").config == {
        "choices": ["Price", "Speed", "Support"]
    }


def test_builder_shows_question_errors_in_place(logged_in_page, live_server, environment):
    survey = SurveyFactory(environment=environment, name="Errors")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    choice = QuestionFactory(survey=survey, kind="single_choice", key="pick", choices=["A", "B"])
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/{survey.uuid}/")
    page.locator(f"#question-{choice.pk}").get_by_role("link", name="Edit").click()
    page.wait_for_selector(f"#question-{choice.pk} .bq-form")
    page.fill(f"#question-{choice.pk} input[name=key]", "nps")
    page.get_by_role("button", name="Save question").click()
    page.wait_for_selector(
        f"#question-{choice.pk} :text('another question of this survey uses this key')"
    )
    choice.refresh_from_db()
    assert choice.key == "pick"
