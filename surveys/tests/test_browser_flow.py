"""A respondent in real Chromium (Playwright): the browser's Back button across a branch, the
progress after a jump, reopening a finished survey, a text answer made of emoji, and the survey
page's contrast (axe-core, and the non-text contrast measured here). The builder's preview."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from surveys.answers import TEXT_MAX_LENGTH
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Response

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAMILY = "👨‍👩‍👧‍👦"  # one character to a person: 7 code points, 11 UTF-16 units


@pytest.fixture
def branching(environment):
    survey = SurveyFactory(environment=environment, live=True, name="Branches")
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[{"operator": "gte", "value": 7, "goto": "liked"}],
    )
    QuestionFactory(
        survey=survey,
        kind="text",
        key="wrong",
        title="What went wrong?",
        logic=[{"operator": "answered", "goto": "plan"}],
    )
    QuestionFactory(survey=survey, kind="text", key="liked", title="What did you like?")
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    return survey


def new_page(browser, **options):
    options.setdefault("viewport", {"width": 390, "height": 800})
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_back_button_and_another_branch_keeps_only_the_new_branch(
    browser, live_server, branching, javascript
):
    context, page = new_page(browser, java_script_enabled=javascript)
    page.goto(f"{live_server.url}/s/{branching.public_id}/?id=promoter-1")
    page.get_by_role("button", name="3", exact=True).click()
    page.wait_for_selector("[data-step=wrong]")
    page.fill("textarea[name=answer]", "The export broke")
    page.get_by_role("button", name="Next").click()
    page.wait_for_selector("[data-step=plan]")
    # Back twice: the browser's button, then the page's own link (the browser's would reach
    # the opening URL, which continues where the respondent stopped).
    page.go_back()
    page.wait_for_selector("[data-step=wrong]")
    assert page.input_value("textarea[name=answer]") == "The export broke"
    page.get_by_role("link", name="← Back").click()
    page.wait_for_selector("[data-step=nps]")
    assert page.get_by_role("button", name="3", exact=True).get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="9", exact=True).click()
    page.wait_for_selector("[data-step=liked]")
    assert "question 2 of 3" in page.inner_text("#step").lower()
    page.fill("textarea[name=answer]", "Fast")
    page.get_by_role("button", name="Next").click()
    page.wait_for_selector("[data-step=plan]")
    page.get_by_role("button", name="Pro").click()
    page.wait_for_selector("[data-step=done]")
    context.close()
    response = Response.objects.get(survey=branching)
    assert response.data == {"nps": 9, "liked": "Fast", "plan": "Pro"}
    assert response.completed_at is not None


def test_progress_after_a_jump_and_reopening_a_finished_survey(browser, live_server, environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        logic=[{"operator": "gte", "value": 9, "goto": "tell"}],
    )
    QuestionFactory(survey=survey, kind="single_choice", key="plan", choices=["Free", "Pro"])
    QuestionFactory(survey=survey, kind="text", key="tell", required=False)
    link = f"{live_server.url}/s/{survey.public_id}/?id=u-9"
    context, page = new_page(browser)
    page.goto(link)
    assert "question 1 of 3" in page.inner_text("#step").lower()
    page.get_by_role("button", name="10", exact=True).click()
    page.wait_for_selector("[data-step=tell]")
    assert "question 2 of 2" in page.inner_text("#step").lower()
    assert page.get_by_role("button", name="Submit").is_visible()
    assert page.get_by_role("button", name="Next").count() == 0
    page.get_by_role("button", name="Skip").click()
    page.wait_for_selector("[data-step=done]")
    page.goto(link)  # the same link again, an hour later or a minute later
    page.wait_for_selector("[data-step=done]")
    assert "You have already answered" in page.inner_text("#step")
    context.close()
    assert Response.objects.get(survey=survey).data == {"nps": 10}


def test_text_answer_limit_counts_an_emoji_as_one_character(browser, live_server, environment):
    survey = SurveyFactory(environment=environment, live=True, mode="anonymous")
    QuestionFactory(survey=survey, kind="text", key="story")
    context, page = new_page(browser)
    page.goto(f"{live_server.url}/s/{survey.public_id}/")
    field = page.locator("textarea[name=answer]")
    assert field.get_attribute("maxlength") is None
    field.fill(FAMILY * (TEXT_MAX_LENGTH + 3))
    count = (
        "el => [...new Intl.Segmenter(undefined, {granularity: 'grapheme'})"
        ".segment(el.value)].length"
    )
    assert field.evaluate(count) == TEXT_MAX_LENGTH
    assert field.evaluate("el => el.value.length") == TEXT_MAX_LENGTH * 11  # UTF-16 units
    assert "0 of 5000 characters left" in page.inner_text("#sv-count")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("[data-step=done]")
    context.close()
    assert Response.objects.get(survey=survey).data == {"story": FAMILY * TEXT_MAX_LENGTH}


CONTRAST = """([fg, bg]) => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(rgb(fg)), lum(rgb(bg))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def contrast(page, foreground, background):
    return page.evaluate(CONTRAST, [foreground, background])


def test_survey_page_passes_axe_and_non_text_contrast(browser, live_server, environment):
    survey = SurveyFactory(environment=environment, live=True, mode="anonymous")
    QuestionFactory(
        survey=survey, kind="rating", key="stars", config={"scale": 5, "style": "stars"}
    )
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    context, page = new_page(browser, viewport={"width": 1024, "height": 800})
    page.goto(f"{live_server.url}/s/{survey.public_id}/")
    page.wait_for_selector("[data-step=stars]")

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

    card = page.eval_on_selector(".sv-card", "el => getComputedStyle(el).backgroundColor")
    star = page.locator(".sv-stars .sv-option").first
    # Stars (WCAG 1.4.11, graphical objects): at least 3:1 against the card, chosen or not.
    assert contrast(page, star.evaluate("el => getComputedStyle(el).color"), card) >= 3
    star_on = page.eval_on_selector(
        "body", "() => getComputedStyle(document.documentElement).getPropertyValue('--sv-star-on')"
    )
    hex_on = star_on.strip().lstrip("#")
    on_rgb = f"rgb({int(hex_on[0:2], 16)}, {int(hex_on[2:4], 16)}, {int(hex_on[4:6], 16)})"
    assert contrast(page, on_rgb, card) >= 3
    # The focus ring of a keyboard user: at least 3:1 against the card around it.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineColor, document.activeElement.className]; }"
    )
    assert focused[0] == "solid", focused
    assert contrast(page, focused[1], card) >= 3

    page.keyboard.press("3")
    page.wait_for_selector("[data-step=why]")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    context.close()


def test_builder_preview_shows_the_question_just_added(logged_in_page, live_server, environment):
    survey = SurveyFactory(environment=environment, name="Preview")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/{survey.uuid}/")
    assert "Add a question to see it" in page.inner_text("#preview")
    page.get_by_role("button", name="+ CES (1-7)").click()
    page.wait_for_selector("#questions .bq.editing")
    page.wait_for_selector("#preview :text('How easy was it to get what you needed?')")
    assert "Add a question" not in page.inner_text("#preview")
