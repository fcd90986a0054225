"""The reports in a real browser: the user panel opens from a respondent's name, filters update
the list and the URL (and the URL reproduces the list), user-supplied values stay text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from profiles.factories import ProfileFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture
def report_data(environment):
    survey = SurveyFactory(environment=environment, name="Product NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", position=1)
    QuestionFactory(survey=survey, kind="text", key="why", position=2, required=False)
    now = timezone.now()
    alice = ProfileFactory(
        environment=environment,
        user_id="alice",
        traits={"name": "Alice Liddell", "plan": "wonderland-pro"},
    )
    mallory = ProfileFactory(
        environment=environment, user_id="mallory", traits={"name": PAYLOAD, "bio": PAYLOAD}
    )
    promoter = ResponseFactory(
        survey=survey,
        profile=alice,
        completed=True,
        created_at=now - timedelta(hours=1),
        data={"nps": 10, "why": "Curiouser and curiouser"},
    )
    detractor = ResponseFactory(
        survey=survey,
        profile=mallory,
        completed=True,
        created_at=now - timedelta(hours=2),
        data={"nps": 2, "why": PAYLOAD},
    )
    return {"survey": survey, "alice": alice, "promoter": promoter, "detractor": detractor}


def _watch_for_script(page):
    """Record any alert/dialog; the payload also sets window.__pwned if it ever runs."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def _open_panel_from(page, row_selector: str, name: str):
    link = page.locator(f"{row_selector} a.user-link", has_text=name).first
    link.click()
    panel = page.locator("dialog#panel")
    panel.wait_for(state="visible")
    return panel


def test_overview_name_opens_the_user_panel(logged_in_page, live_server, environment, report_data):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/overview/")
    url_before = page.url
    panel = _open_panel_from(page, ".latest", "Alice Liddell")
    assert panel.evaluate("el => el.open")
    assert "wonderland-pro" in panel.inner_text()  # the user's traits
    assert page.url == url_before  # without leaving the page
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")


def test_response_list_name_opens_the_user_panel(
    logged_in_page, live_server, environment, report_data
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    panel = _open_panel_from(page, "#results", "Alice Liddell")
    assert "wonderland-pro" in panel.inner_text()
    assert "/responses/" in page.url


def test_filter_change_updates_list_and_url_and_reload_shows_the_same(
    logged_in_page, live_server, environment, report_data
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 2
    page.select_option("#id_answer", "nps")
    page.select_option("#id_op", "detractors")
    page.wait_for_url("**op=detractors**")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert "Curiouser" not in page.locator("#results").inner_text()
    filtered_url = page.url
    assert "answer=nps" in filtered_url
    page.reload()
    assert page.url == filtered_url
    assert page.locator("#results tbody tr").count() == 1
    assert page.locator("#id_op").input_value() == "detractors"


def test_search_as_you_type_updates_the_list_and_url(
    logged_in_page, live_server, environment, report_data
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    page.locator("#id_q").press_sequentially("curiouser", delay=30)
    page.wait_for_url("**q=curiouser**")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert "Alice Liddell" in page.locator("#results").inner_text()
    page.go_back()
    expect(page.locator("#results tbody tr")).to_have_count(2)


def test_the_count_of_a_long_list_arrives_after_the_list(
    logged_in_page, live_server, environment, report_data
):
    """More responses than a page: the page shows its rows, then fills in how many match
    (responses_count), and again after a filter changes the list."""
    survey = SurveyFactory(environment=environment, name="Many")
    for i in range(30):
        ResponseFactory(survey=survey, data={"score": i % 11}, completed=i < 27)
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    expect(page.locator("#results tbody tr")).to_have_count(25)
    expect(page.locator("[data-total] .total")).to_have_text("32")
    page.select_option("#id_survey", str(survey.uuid))
    expect(page.locator("[data-total]")).to_contain_text("30 responses match")
    expect(page.locator("[data-counting]")).to_have_count(0)


def test_payloads_in_traits_and_answers_render_as_text(
    logged_in_page, live_server, environment, report_data
):
    page = logged_in_page
    dialogs = _watch_for_script(page)
    for path in ("overview", "responses"):
        page.goto(f"{live_server.url}/e/{environment.slug}/{path}/")
        page.wait_for_load_state("networkidle")
        text = page.locator("#main").inner_text()
        assert '<img src=x onerror="window.__pwned=1">' in text  # shown literally
        assert page.locator("#main img[src=x]").count() == 0
        assert page.evaluate("window.__pwned === undefined")
    # And inside the panel, opened from the payload-named respondent.
    page.locator("#results a.user-link").nth(1).click()
    panel = page.locator("dialog#panel")
    panel.wait_for(state="visible")
    assert "<script>window.__pwned=2</script>" in panel.inner_text()
    assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []


def test_overview_filters_update_the_report(logged_in_page, live_server, environment, report_data):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/overview/")
    assert page.locator("[data-stat=responses] .value").inner_text() == "2"
    assert page.locator("svg.chart").count() == 2
    page.select_option("#id_period", "custom")
    yesterday = (timezone.localdate() - timedelta(days=3)).isoformat()
    page.fill("#id_end", yesterday)
    page.locator("#id_end").dispatch_event("change")
    page.wait_for_url("**period=custom**")
    expect(page.locator("[data-stat=responses] .value")).to_have_text("0")
    page.reload()
    assert page.locator("[data-stat=responses] .value").inner_text() == "0"
