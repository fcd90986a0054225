"""Settings → Webhooks in a real browser: an admin adds an endpoint and sees its secret once,
and the delivery log's status filter updates the list in place (htmx) and the address bar."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.outbox import emit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_an_endpoint_and_filters_its_log(
    logged_in_page, live_server, environment, settings
):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/settings/")
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="Add endpoint").click()
    page.fill("#id_url", "http://127.0.0.1:9/hook")
    page.check("input[value='response.completed']")
    page.get_by_role("button", name="Add endpoint").click()
    endpoint = WebhookEndpoint.objects.get()
    expect(page.locator("#new-webhook-secret")).to_have_text(endpoint.secret)

    for _ in range(3):
        emit(environment.pk, "response.completed", {"response_id": 0})
    services.fan_out()
    Delivery.objects.filter(pk=Delivery.objects.order_by("id").first().pk).update(
        status=DeliveryStatus.GAVE_UP
    )
    page.goto(f"{live_server.url}/e/{environment.slug}/settings/webhooks/{endpoint.uuid}/")
    expect(page.locator("#deliveries tbody tr")).to_have_count(3)
    page.select_option("#id_status", "gave_up")
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    expect(page.locator("#deliveries")).to_contain_text("Gave up")
    assert "status=gave_up" in page.url
    # Reloaded from the address bar: the same filtered page, and no secret any more.
    page.reload()
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    expect(page.locator("#new-webhook-secret")).to_have_count(0)
