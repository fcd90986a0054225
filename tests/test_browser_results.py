"""A survey's results in a real browser: opened from the survey list, filtered by period and
segment (the URL follows and the cards update), a respondent's panel opened from a text answer,
and the page still fits a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import PASSWORD
from profiles.factories import ProfileFactory
from segments.models import Segment, SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def results_data(environment):
    survey = SurveyFactory(environment=environment, name="Product NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", position=1)
    QuestionFactory(survey=survey, kind="text", key="why", position=2, required=False)
    now = timezone.now()
    alice = ProfileFactory(
        environment=environment, user_id="alice", traits={"name": "Alice Liddell", "plan": "pro"}
    )
    vip = Segment.objects.create(environment=environment, name="VIP", kind="manual")
    SegmentMembership.objects.create(segment=vip, profile=alice)
    ResponseFactory(
        survey=survey,
        profile=alice,
        completed=True,
        completed_at=now,
        created_at=now - timedelta(hours=1),
        data={"nps": 10, "why": "Curiouser and curiouser"},
    )
    for days in (2, 3):
        ResponseFactory(
            survey=survey,
            profile=ProfileFactory(environment=environment),
            created_at=now - timedelta(days=days),
            data={"nps": 2},
        )
    # Two months ago: only in a longer period.
    ResponseFactory(
        survey=survey,
        profile=ProfileFactory(environment=environment),
        created_at=now - timedelta(days=60),
        data={"nps": 5},
    )
    return {"survey": survey, "vip": vip}


def _answered(page) -> str:
    return page.locator('[data-question="nps"] [data-answered]').get_attribute("data-answered")


def test_results_open_from_the_list_and_follow_the_filters(
    logged_in_page, live_server, environment, results_data
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/")
    page.locator("tr", has_text="Product NPS").get_by_role("link", name="Results").click()
    page.wait_for_url("**/results/**")
    assert _answered(page) == "3"

    # A longer period: the URL changes and the card counts the older answer too.
    page.select_option("#id_period", "90d")
    expect(page).to_have_url(re.compile(r"period=90d"))
    expect(page.locator('[data-question="nps"] [data-answered]')).to_have_attribute(
        "data-answered", "4"
    )
    # A segment: only its member's answer is left.
    page.select_option("#id_segment", str(results_data["vip"].uuid))
    expect(page).to_have_url(re.compile(f"segment={results_data['vip'].uuid}"))
    expect(page.locator('[data-question="nps"] [data-answered]')).to_have_attribute(
        "data-answered", "1"
    )
    expect(page.locator('[data-question="nps"] [data-score]')).to_have_text("100")

    # The URL reproduces the page (a reload gives the same filtered figures).
    page.reload()
    assert _answered(page) == "1"

    # A text answer's respondent opens the User Detail Panel without leaving the page.
    url_before = page.url
    page.locator('[data-question="why"] a.user-link', has_text="Alice Liddell").click()
    panel = page.locator("dialog#panel")
    panel.wait_for(state="visible")
    assert "Alice Liddell" in panel.inner_text()
    assert page.url == url_before


def test_results_fit_a_phone(page, live_server, environment, owner, results_data):

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    survey = results_data["survey"]
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/{survey.uuid}/results/")
    # Nothing in the report is wider than the phone (it does not scroll sideways).
    report_width = page.locator("#report").evaluate("el => el.scrollWidth")
    assert report_width <= 390
    assert page.locator("#funnel").is_visible()
