"""The segment builder in a real browser: an existing segment's count shows as the page opens,
and a rule at fault is explained in words next to its field (not a path in place of the
count)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from profiles.factories import ProfileFactory
from segments import services
from segments.models import Segment
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Question
from traits.factories import TraitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RULES = {
    "op": "and",
    "conditions": [
        {"type": "trait", "key": "plan", "operator": "equals", "value": "pro"},
        {"type": "trait", "key": "seats", "operator": "gte", "value": 1},
        {"type": "trait", "key": "plan", "operator": "starts_with", "value": "p"},
    ],
}


@pytest.fixture
def segment(environment):
    TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")
    TraitFactory(environment=environment, key="seats", data_type="number", scope="profile")
    for seats in (3, 8):
        ProfileFactory(environment=environment, traits={"plan": "pro", "seats": seats})
    ProfileFactory(environment=environment, traits={"plan": "free", "seats": 1})
    return services.segment_create(environment=environment, name="Pro teams", rules=RULES)


def test_editing_a_segment_shows_its_count_at_once(
    logged_in_page, live_server, environment, segment
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/segments/{segment.uuid}/edit/")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("2 users match now")


def test_a_blank_value_is_explained_next_to_its_field(
    logged_in_page, live_server, environment, segment
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/segments/{segment.uuid}/edit/")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("2 users match now")
    third = page.locator('.rule-condition[data-path="conditions[2]"]')
    value = third.locator('input[data-field="value"]')
    value.fill("")
    message = third.locator(".rule-error-message")
    expect(message).to_have_text("Enter a text value.")
    expect(value).to_have_attribute("aria-invalid", "true")
    assert value.get_attribute("aria-describedby") == message.get_attribute("id")
    expect(preview).to_contain_text("Condition 3: value")
    assert "conditions[2]" not in preview.inner_text()
    # The other conditions are not marked.
    expect(page.locator(".rule-error-message")).to_have_count(1)
    # Fixing it brings the count back and clears the message.
    value.fill("pr")
    expect(preview).to_contain_text("2 users match now")
    expect(page.locator(".rule-error-message")).to_have_count(0)
    expect(value).not_to_have_attribute("aria-invalid", "true")


def test_saving_with_a_blank_value_explains_it_in_words(
    logged_in_page, live_server, environment, segment
):
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/segments/{segment.uuid}/edit/")
    expect(page.locator("#preview")).to_contain_text("2 users match now")
    third = page.locator('.rule-condition[data-path="conditions[2]"]')
    third.locator('input[data-field="value"]').fill("")
    expect(third.locator(".rule-error-message")).to_have_count(1)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("Condition 3: value")
    expect(errors).to_contain_text("Enter a text value.")
    assert "conditions[2]" not in errors.inner_text()
    expect(
        page.locator('.rule-condition[data-path="conditions[2]"] .rule-error-message')
    ).to_have_text("Enter a text value.")


def test_deleting_a_segment_asks_in_a_dialog(logged_in_page, live_server, environment, segment):

    dialogs: list[str] = []
    page = logged_in_page
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/e/{environment.slug}/segments/{segment.uuid}/")
    dialog = page.locator("dialog#delete-segment")
    page.locator(".actions a.danger", has_text="Delete").click()
    expect(dialog).to_have_js_property("open", True)
    expect(dialog).to_contain_text("Delete the segment “Pro teams”?")
    # Cancel closes it and changes nothing.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_js_property("open", False)
    assert page.url.endswith(f"/segments/{segment.uuid}/")
    assert Segment.objects.filter(pk=segment.pk).exists()
    # Confirming deletes it.
    page.locator(".actions a.danger", has_text="Delete").click()
    dialog.get_by_role("button", name="Delete segment").click()
    page.wait_for_url(f"**/e/{environment.slug}/segments/")
    expect(page.locator(".messages")).to_contain_text("deleted")
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert dialogs == []  # no window.confirm


def test_removing_a_question_asks_in_a_dialog_and_swaps_the_list(
    logged_in_page, live_server, environment
):

    survey = SurveyFactory(environment=environment, name="Churn")
    keep = QuestionFactory(survey=survey, key="nps", kind="nps", title="How likely?", position=1)
    gone = QuestionFactory(survey=survey, key="why", kind="text", title="Why?", position=2)
    dialogs: list[str] = []
    page = logged_in_page
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/e/{environment.slug}/surveys/{survey.uuid}/")
    builder_url = page.url
    opener = page.locator(f"#question-{gone.pk} a.danger")
    dialog = page.locator(f"dialog#remove-question-{gone.pk}")
    opener.click()
    expect(dialog).to_have_js_property("open", True)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_js_property("open", False)
    assert Question.objects.filter(pk=gone.pk).exists()
    opener.click()
    dialog.get_by_role("button", name="Remove question").click()
    # htmx swaps the question list in place: the page stays, the question goes.
    expect(page.locator(f"#question-{gone.pk}")).to_have_count(0)
    expect(page.locator(f"#question-{keep.pk}")).to_have_count(1)
    assert page.url == builder_url
    assert not Question.objects.filter(pk=gone.pk).exists()
    assert dialogs == []
