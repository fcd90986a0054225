"""Forms that htmx submits answer 400 (or 422) with the form and its errors: the errors show in
place and the page around them stays, in production (DEBUG off) and under `make run` (DEBUG on,
where django-htmx's debug script used to replace the whole document with the bare fragment)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from delivery.factories import web_survey
from delivery.models import SurveyTargeting

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "make-run"])
def test_a_refused_targeting_shows_its_error_in_the_page(
    logged_in_page, live_server, environment, settings, debug
):
    settings.DEBUG = debug
    survey = web_survey(environment)
    before = list(SurveyTargeting.objects.filter(survey=survey).values())
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/{survey.uuid}/web/")
    page.select_option("select[name=rule_op_0]", "regex")
    page.fill("input[name=rule_value_0]", "^/billing(?!/plans)")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("text=Save targeting")
    assert answer.value.status == 400
    expect(page.locator("#targeting")).to_contain_text("lookarounds")
    expect(page.locator("h1")).to_have_text("Web (in-product)")  # the page is still there
    assert page.evaluate("document.styleSheets.length") >= 1
    # The form keeps what was typed, and nothing was written.
    expect(page.locator("input[name=rule_value_0]")).to_have_value("^/billing(?!/plans)")
    assert list(SurveyTargeting.objects.filter(survey=survey).values()) == before
