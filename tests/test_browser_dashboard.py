"""The dashboard on a desktop and on a 390 px phone, in a real browser: axe-core finds no
serious or critical accessibility violation on the main pages, the phone gets a menu that works
without JavaScript, no page scrolls sideways, and the skip link leads to the content.

Set HARK_SCREENSHOT_DIR to keep a full-page PNG of every page visited (for a human look)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from conftest import PASSWORD
from events.factories import EventDefinitionFactory, EventFactory
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from traits.factories import TraitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")


@pytest.fixture
def dashboard(environment):
    survey = SurveyFactory(environment=environment, name="Product NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", position=1, title="How likely…?")
    QuestionFactory(survey=survey, kind="csat", key="csat", position=2, title="How satisfied?")
    QuestionFactory(survey=survey, kind="text", key="why", position=3, required=False)
    TraitFactory(environment=environment, key="plan", label="Plan")
    TraitFactory(environment=environment, key="company", label="Company")
    signed_up = EventDefinitionFactory(environment=environment, name="Signed Up", total_count=2)
    now = timezone.now()
    people = []
    for i, (name, nps, csat) in enumerate(
        [("Ada Lovelace", 10, 2), ("Grace Hopper", 3, -2), ("Alan Turing", 8, 0)]
    ):
        profile = ProfileFactory(
            environment=environment,
            user_id=f"user-{i}",
            email=f"user{i}@example.com",
            traits={"name": name, "plan": "pro", "company": "Analytical Engines Ltd"},
            last_seen_at=now - timedelta(hours=i * 8),
        )
        people.append(profile)
        ResponseFactory(
            survey=survey,
            profile=profile,
            completed=i != 2,
            created_at=now - timedelta(hours=i + 1),
            data={"nps": nps, "csat": csat, "why": "A rather long answer " * 6},
            context={"page": "/pricing/enterprise?utm_source=newsletter", "ref": "email"},
            locale="pt-BR",
        )
        EventFactory(profile=profile, definition=signed_up)
    segment = ManualSegmentFactory(environment=environment, name="Beta testers")
    for profile in people:
        SegmentMembershipFactory(segment=segment, profile=profile)
    return {"people": people, "segment": segment, "survey": survey}


def _signed_in(browser, live_server, owner, viewport, *, javascript=True):
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def _shot(page, name: str) -> None:
    folder = os.environ.get("HARK_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _pages(base: str, dashboard) -> list[tuple[str, str]]:
    return [
        ("overview", f"{base}/overview/"),
        ("responses", f"{base}/responses/"),
        ("users", f"{base}/users/"),
        ("panel", f"{base}/users/"),  # the panel, opened from the list below
        ("traits", f"{base}/traits/"),
        ("events", f"{base}/events/"),
        ("segments", f"{base}/segments/"),
        ("segment", f"{base}/segments/{dashboard['segment'].uuid}/"),
    ]


def _blocking(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(
            f"{node['target'][0]} {node['any'][0].get('data') if node.get('any') else ''}"
            for node in v["nodes"][:3]
        )
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_have_no_serious_accessibility_violations(
    browser, live_server, environment, owner, dashboard, viewport
):
    context, page = _signed_in(browser, live_server, owner, viewport)
    size = "phone" if viewport is PHONE else "desktop"
    found: dict[str, list[str]] = {}
    try:
        for name, address in _pages(f"{live_server.url}/e/{environment.slug}", dashboard):
            page.goto(address)
            if name == "panel":
                page.locator("a.user-link", has_text="Ada Lovelace").first.click()
                page.locator("dialog#panel #panel-title").wait_for()
                page.wait_for_load_state("networkidle")
            _shot(page, f"{size}-{name}")
            problems = _blocking(page)
            if problems:
                found[name] = problems
    finally:
        context.close()
    assert not found, "\n".join(f"{name}: {problem}" for name, v in found.items() for problem in v)


@pytest.mark.parametrize(
    "name",
    [
        "overview",
        "responses",
        "users",
        "segments",
        "segment",
        "traits",
        "events",
        "surveys",
        "settings",
    ],
)
def test_phone_pages_do_not_scroll_sideways(
    browser, live_server, environment, owner, dashboard, name
):
    context, page = _signed_in(browser, live_server, owner, PHONE)
    try:
        base = f"{live_server.url}/e/{environment.slug}"
        pages = dict(_pages(base, dashboard))
        pages.update(surveys=f"{base}/surveys/", settings=f"{base}/settings/")
        page.goto(pages[name])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width}px wide"
    finally:
        context.close()


def test_phone_menu_works_without_javascript(browser, live_server, environment, owner, dashboard):
    context, page = _signed_in(browser, live_server, owner, PHONE, javascript=False)
    try:
        page.goto(f"{live_server.url}/e/{environment.slug}/overview/")
        assert not page.locator("nav.mainnav").is_visible()  # the desktop bar is hidden
        menu = page.locator("details.navmenu")
        assert menu.is_visible()
        links = menu.locator("a")
        assert not links.first.is_visible()
        menu.locator("summary").click()
        assert links.first.is_visible()
        _shot(page, "phone-menu-open")
        menu.get_by_role("link", name="Responses").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/e/{environment.slug}/responses/")
        assert page.locator("h1").inner_text() == "Responses"
    finally:
        context.close()


def test_skip_link_is_the_first_stop_and_leads_to_the_content(
    logged_in_page, live_server, environment, dashboard
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    assert page.locator("a.skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_answer_filter_narrows_to_the_survey_and_filters_by_csat_label(
    logged_in_page, live_server, environment, dashboard
):
    other = SurveyFactory(environment=environment, name="Onboarding")
    QuestionFactory(survey=other, kind="text", key="first_impression", title="First impression?")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/responses/")
    question = page.locator("#id_answer")
    option = question.locator('option[value="first_impression"]')
    assert option.evaluate("o => !o.hidden")
    page.select_option("#id_survey", label="Product NPS")
    assert option.evaluate("o => o.hidden && o.disabled")
    page.select_option("#id_answer", label="How satisfied?")
    labels = page.locator("#answer-values option").evaluate_all("os => os.map(o => o.value)")
    assert labels == ["Very unsatisfied", "Unsatisfied", "Neutral", "Satisfied", "Very satisfied"]
    with page.expect_response(lambda r: "value=Very" in r.url):
        page.fill("#id_value", "Very unsatisfied")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert "Grace Hopper" in rows.first.inner_text()
    assert "value=Very%20unsatisfied" in page.url  # the URL reproduces the list
