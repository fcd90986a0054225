"""Browser tests for the Users list, the User Detail Panel and the Traits page: what only a real
browser shows (the panel opening and closing, htmx swaps and the URL, nothing executing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import PASSWORD
from environments.models import Membership
from environments.services import api_key_authenticate, api_key_create
from events.factories import EventDefinitionFactory, EventFactory
from profiles.factories import ProfileFactory
from traits.factories import TraitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOADS = [
    '<img src=x onerror="window.__xss_img=1">',
    "<script>window.__xss_script=1</script>",
    '"><svg onload="window.__xss_svg=1">',
    "<b>bold</b>",
]


def test_clicking_a_name_opens_the_panel_and_esc_closes_it(
    logged_in_page, live_server, environment
):
    TraitFactory(environment=environment, key="plan", label="Plan")
    ProfileFactory(environment=environment, traits={"name": "Grace Hopper", "plan": "enterprise"})
    ProfileFactory(environment=environment, traits={"name": "Alan Turing", "plan": "free"})
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/users/")
    list_url = page.url
    page.get_by_role("link", name="Grace Hopper").click()
    panel = page.locator("dialog#panel")
    panel.locator("#panel-title").wait_for()
    assert panel.evaluate("d => d.open")
    assert panel.locator("#panel-title").inner_text() == "Grace Hopper"
    assert "enterprise" in panel.locator(".traits-table").inner_text()
    assert "Plan" in panel.locator(".traits-table").inner_text()
    assert page.url == list_url  # the page stays where it was
    # Keyboard: focus is inside the panel, Esc closes it and focus returns to the name.
    assert page.evaluate("document.activeElement.closest('dialog#panel') !== null")
    page.keyboard.press("Escape")
    expect(panel).not_to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.textContent") == "Grace Hopper"
    # The close button works too.
    page.get_by_role("link", name="Alan Turing").click()
    panel.locator("#panel-title").wait_for()
    panel.locator("[data-panel-close]").click()
    expect(panel).not_to_have_attribute("open", "")


def test_panel_loads_more_events_inside(logged_in_page, live_server, environment):
    profile = ProfileFactory(environment=environment, traits={"name": "Busy Bee"})
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    now = timezone.now()
    for i in range(25):
        EventFactory(profile=profile, definition=definition, timestamp=now - timedelta(minutes=i))
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/users/")
    page.get_by_role("link", name="Busy Bee").click()
    events = page.locator("dialog#panel .event")
    events.first.wait_for()
    assert events.count() == 20
    page.locator("dialog#panel .load-more a").click()
    expect(events).to_have_count(25)
    assert page.locator("dialog#panel .load-more").count() == 0
    assert page.evaluate("document.getElementById('panel').open")


def test_html_and_script_payloads_show_as_text_and_run_nothing(
    logged_in_page, live_server, environment
):
    TraitFactory(environment=environment, key="bio")
    traits = {"name": PAYLOADS[0], "bio": PAYLOADS[1], "company": PAYLOADS[2], "note": PAYLOADS[3]}
    ProfileFactory(environment=environment, user_id=PAYLOADS[2], traits=traits)
    EventFactory(
        profile=ProfileFactory(environment=environment, traits={"name": "Other"}),
        definition=EventDefinitionFactory(environment=environment, name=PAYLOADS[1]),
    )
    page = logged_in_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{live_server.url}/e/{environment.slug}/users/")
    page.locator("a.user-link", has_text="onerror").click()
    panel = page.locator("dialog#panel")
    panel.locator(".traits-table").wait_for()
    text = panel.inner_text()
    for payload in PAYLOADS:
        assert payload in text
    for url in ("traits/", "events/"):
        page.goto(f"{live_server.url}/e/{environment.slug}/{url}")
        page.wait_for_load_state("networkidle")
    assert PAYLOADS[1] in page.locator("table").inner_text()
    flags = page.evaluate("[window.__xss_img, window.__xss_script, window.__xss_svg]")
    assert flags == [None, None, None]
    assert page.locator("b", has_text="bold").count() == 0
    assert dialogs == []


def test_users_filter_updates_list_and_url_and_reload_keeps_it(
    logged_in_page, live_server, environment
):
    ProfileFactory(environment=environment, traits={"name": "Known Person"})
    ProfileFactory(environment=environment, anonymous=True, traits={"name": "Mystery Visitor"})
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/users/")
    names = page.locator("#results a.user-link")
    assert sorted(names.all_inner_texts()) == ["Known Person", "Mystery Visitor"]
    page.select_option("#id_identity", "anonymous")
    page.wait_for_url("**identity=anonymous**")
    expect(names).to_have_count(1)
    assert names.all_inner_texts() == ["Mystery Visitor"]
    page.reload()
    assert names.all_inner_texts() == ["Mystery Visitor"]
    assert page.locator("#id_identity").input_value() == "anonymous"
    # Search as you type narrows further and also lands in the URL.
    page.select_option("#id_identity", "")
    expect(names).to_have_count(2)
    page.fill("#id_q", "Known")
    page.wait_for_url("**q=Known**")
    expect(names).to_have_count(1)
    assert names.all_inner_texts() == ["Known Person"]
    page.reload()
    assert names.all_inner_texts() == ["Known Person"]


def test_trait_label_edited_inline_stays_after_reload(logged_in_page, live_server, environment):
    trait = TraitFactory(environment=environment, key="plan_tier")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/traits/")
    row = page.locator(f"#trait-{trait.pk}")
    row.get_by_role("link", name="Edit").click()
    page.locator(f"#label-{trait.pk}").fill("Subscription tier")
    page.locator(f"#trait-{trait.pk} button[type=submit]").click()
    page.locator(f"#trait-{trait.pk}:not(.editing)").wait_for()
    assert "Subscription tier" in row.inner_text()
    page.reload()
    assert "Subscription tier" in page.locator(f"#trait-{trait.pk}").inner_text()


def test_event_delete_asks_for_confirmation_in_a_dialog(logged_in_page, live_server, environment):
    definition = EventDefinitionFactory(environment=environment, name="to_delete")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/events/")
    page.locator(f"#event-{definition.pk} a.danger").click()
    dialog = page.locator(f"#delete-event-{definition.pk}")
    assert dialog.evaluate("d => d.open")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.evaluate("d => d.open")
    page.locator(f"#event-{definition.pk} a.danger").click()
    dialog.get_by_role("button", name="Delete event and its data").click()
    page.wait_for_load_state()
    assert page.locator(f"#event-{definition.pk}").count() == 0
    assert "deleted" in page.locator(".messages").inner_text()


def test_settings_revoke_asks_in_a_dialog(logged_in_page, live_server, environment):
    key, secret = api_key_create(environment=environment, name="backend")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/settings/")
    dialog = page.locator(f"#revoke-key-{key.pk}")
    page.locator("#api-keys a.danger", has_text="Revoke").click()
    assert dialog.evaluate("d => d.open")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.evaluate("d => d.open")
    assert api_key_authenticate(secret=secret) is not None
    page.locator("#api-keys a.danger", has_text="Revoke").click()
    dialog.get_by_role("button", name="Revoke key").click()
    page.wait_for_load_state()
    assert "revoked" in page.locator(".messages").inner_text()
    assert api_key_authenticate(secret=secret) is None


def test_settings_remove_member_without_javascript_confirms_on_a_page(
    browser, live_server, environment, owner, analyst
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", owner.user.email)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/e/{environment.slug}/settings/")
        page.locator("#team a.danger").nth(0).click()  # the analyst sorts first
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == f"Remove {analyst.user.email}?"
        assert Membership.objects.filter(pk=analyst.pk).exists()
        page.get_by_role("button", name="Remove").click()
        page.wait_for_load_state()
        assert "removed" in page.locator(".messages").inner_text()
        assert not Membership.objects.filter(pk=analyst.pk).exists()
    finally:
        context.close()
