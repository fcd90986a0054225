"""The unlucky respondent's journey in real Chromium (Playwright), with and without
JavaScript: an optional answer taken back after going back, and a second tab whose step the
path no longer takes. The same without a browser: test_link_journey.py."""

import pytest

from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Response

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def survey(environment):
    """NPS (9-10 end the survey), then Plan, then optional Features."""
    survey = SurveyFactory(environment=environment, live=True, name="Journey")
    QuestionFactory(
        survey=survey, kind="nps", key="nps", logic=[{"operator": "gte", "value": 9, "goto": "end"}]
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(
        survey=survey, kind="multiple_choice", key="feat", choices=["Export", "API"], required=False
    )
    return survey


def new_page(context):
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_unchecking_every_box_after_going_back_removes_the_answer(
    browser, live_server, survey, javascript
):
    context = browser.new_context(java_script_enabled=javascript)
    page = new_page(context)
    page.goto(f"{live_server.url}/s/{survey.public_id}/?id=back-1")
    page.get_by_role("button", name="3", exact=True).click()
    page.wait_for_selector("[data-step=plan]")
    page.get_by_role("button", name="Pro").click()
    page.wait_for_selector("[data-step=feat]")
    page.get_by_label("Export").check()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("[data-step=done]")
    page.go_back()
    page.wait_for_selector("[data-step=feat]")
    assert page.get_by_label("Export").is_checked()
    page.get_by_label("Export").uncheck()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("[data-step=done]")
    context.close()
    assert Response.objects.get(survey=survey).data == {"nps": 3, "plan": "Pro"}


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_a_second_tab_that_ended_the_survey_makes_the_first_tab_say_so(
    browser, live_server, survey, javascript
):
    context = browser.new_context(java_script_enabled=javascript)
    first = new_page(context)
    first.goto(f"{live_server.url}/s/{survey.public_id}/?id=tabs-1")
    first.get_by_role("button", name="3", exact=True).click()
    first.wait_for_selector("[data-step=plan]")
    # The second tab goes back to the first question and gives 10: the survey ends there.
    second = new_page(context)
    second.goto(first.url.replace("q=plan", "q=nps"))
    second.get_by_role("button", name="10", exact=True).click()
    second.wait_for_selector("[data-step=done]")

    first.get_by_role("button", name="Pro").click()
    first.wait_for_selector("[data-step=done]")
    assert "already answered" in first.inner_text("#step")
    context.close()
    response = Response.objects.get(survey=survey)
    assert response.data == {"nps": 10} and response.completed_at is not None
