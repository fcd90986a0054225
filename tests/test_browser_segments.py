"""The segment builder in a real browser: an existing segment's count shows as the page opens,
and a rule at fault is explained in words next to its field (not a path in place of the
count)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from profiles.factories import ProfileFactory
from segments import services
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
