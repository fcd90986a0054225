"""Settings → Webhooks pages: anonymous, outsider (404), analyst (read-only, 403 on changes),
admin; the secret shown once; field errors on the form writing nothing; the delivery log's htmx
fragment, status filter and keyset pages in a constant number of queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.helpers import eurl
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.outbox import emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(environment, allow_private, receiver):
    return services.endpoint_create(
        environment=environment, url=receiver.url, event_types=["survey.published"]
    )


def test_anonymous_is_sent_to_login(client, environment):
    answer = client.get(eurl(environment, "webhooks:list"))
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_outsider_gets_404_everywhere(outsider_client, environment, endpoint):
    for name, kwargs in [
        ("list", {}),
        ("new", {}),
        ("detail", {"uuid": endpoint.uuid}),
        ("edit", {"uuid": endpoint.uuid}),
    ]:
        assert (
            outsider_client.get(eurl(environment, f"webhooks:{name}", **kwargs)).status_code == 404
        )
    # Its own environment's URL with this environment's endpoint: 404 too.
    other = outsider_client.get(
        reverse(
            "webhooks:detail",
            kwargs={"env": outsider_client.session["environment"], "uuid": endpoint.uuid},
        )
    )
    assert other.status_code == 404
    answer = outsider_client.post(
        reverse(
            "webhooks:toggle",
            kwargs={"env": outsider_client.session["environment"], "uuid": endpoint.uuid},
        )
    )
    assert answer.status_code == 404
    assert WebhookEndpoint.objects.get().enabled


def test_analyst_reads_but_cannot_change(analyst_client, environment, endpoint):
    assert analyst_client.get(eurl(environment, "webhooks:list")).status_code == 200
    detail = analyst_client.get(eurl(environment, "webhooks:detail", uuid=endpoint.uuid))
    assert detail.status_code == 200
    assert b"Rotate" not in detail.content and b"Replay" not in detail.content
    assert endpoint.secret.encode() not in detail.content
    for name in ["toggle", "rotate", "delete", "test", "replay_failed"]:
        answer = analyst_client.post(
            eurl(environment, f"webhooks:{name}", uuid=endpoint.uuid), {"confirm": "yes"}
        )
        assert answer.status_code == 403, name
    assert (
        analyst_client.post(
            eurl(environment, "webhooks:new"), {"url": "https://8.8.8.8/"}
        ).status_code
        == 403
    )
    # The edit form by URL: the read-only page instead.
    assert (
        analyst_client.get(eurl(environment, "webhooks:edit", uuid=endpoint.uuid)).status_code
        == 302
    )
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookEndpoint.objects.count() == 1


def test_admin_creates_an_endpoint_and_sees_the_secret_once(
    owner_client, environment, allow_private, receiver
):
    answer = owner_client.post(
        eurl(environment, "webhooks:new"),
        {
            "kind": "webhook",
            "url": receiver.url,
            "description": "CRM",
            "event_types": ["response.completed", "segment.entered"],
        },
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["response.completed", "segment.entered"]
    assert endpoint.secret.encode() in answer.content
    assert answer["Cache-Control"] == "no-store"
    again = owner_client.get(eurl(environment, "webhooks:detail", uuid=endpoint.uuid))
    assert endpoint.secret.encode() not in again.content


def test_form_errors_name_the_field_and_write_nothing(owner_client, environment, settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    answer = owner_client.post(
        eurl(environment, "webhooks:new"),
        {"kind": "webhook", "url": "http://169.254.169.254/", "event_types": ["survey.closed"]},
    )
    assert answer.status_code == 200
    assert "url" in answer.context["form"].errors
    answer = owner_client.post(
        eurl(environment, "webhooks:new"),
        {"kind": "webhook", "url": "https://8.8.8.8/", "event_types": []},
    )
    assert "event_types" in answer.context["form"].errors
    assert not WebhookEndpoint.objects.exists()


def test_admin_rotates_toggles_tests_replays_and_deletes(owner_client, environment, endpoint):
    old = endpoint.secret
    answer = owner_client.post(
        eurl(environment, "webhooks:rotate", uuid=endpoint.uuid), {"confirm": "yes"}
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.encode() in answer.content
    owner_client.post(eurl(environment, "webhooks:toggle", uuid=endpoint.uuid))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    owner_client.post(eurl(environment, "webhooks:toggle", uuid=endpoint.uuid), {"enabled": "on"})
    endpoint.refresh_from_db()
    assert endpoint.enabled
    owner_client.post(eurl(environment, "webhooks:test", uuid=endpoint.uuid))
    services.drain()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    owner_client.post(
        eurl(environment, "webhooks:delivery_replay", uuid=endpoint.uuid, pk=delivery.pk)
    )
    assert Delivery.objects.count() == 2
    answer = owner_client.post(
        eurl(environment, "webhooks:replay_failed", uuid=endpoint.uuid),
        {"since": "2020-01-01T00:00"},
    )
    assert answer.status_code == 302
    # Delete: without confirm nothing happens; with it, gone.
    owner_client.post(eurl(environment, "webhooks:delete", uuid=endpoint.uuid))
    assert WebhookEndpoint.objects.exists()
    owner_client.post(eurl(environment, "webhooks:delete", uuid=endpoint.uuid), {"confirm": "yes"})
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_whose_address_is_refused_now_can_still_be_disabled_and_edited(
    owner_client, environment, endpoint, allow_private
):
    """Its URL was accepted when created; now it points at a private address (or its host
    stopped resolving): switching it off, or editing its description, re-checked the URL and
    was a 500 (toggle) or a form error, and the failing endpoint stayed on."""
    allow_private.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    answer = owner_client.post(eurl(environment, "webhooks:toggle", uuid=endpoint.uuid))
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    answer = owner_client.post(
        eurl(environment, "webhooks:edit", uuid=endpoint.uuid),
        {
            "kind": "webhook",
            "url": endpoint.url,
            "description": "old CRM, being replaced",
            "event_types": ["survey.published"],
        },
    )
    assert answer.status_code == 302, answer.context and answer.context["form"].errors
    endpoint.refresh_from_db()
    assert endpoint.description == "old CRM, being replaced"
    # A new URL is checked as ever.
    answer = owner_client.post(
        eurl(environment, "webhooks:edit", uuid=endpoint.uuid),
        {"kind": "webhook", "url": "http://10.1.2.3/x", "event_types": ["survey.published"]},
    )
    assert "url" in answer.context["form"].errors


def _once(page) -> str:
    token = re.search(rb'name="once" value="([^"]+)"', page.content)
    assert token, "the form carries no one-time token"
    return token.group(1).decode()


def test_a_resubmitted_rotation_does_not_rotate_again(owner_client, environment, endpoint):
    """Reload on the page showing the new secret sends the confirmation again: it rotated a
    second time, and the receiver's secret (the one before the first rotation) stopped signing
    at once instead of 24 hours later."""
    original = endpoint.secret
    url = eurl(environment, "webhooks:rotate", uuid=endpoint.uuid)
    token = _once(owner_client.get(url))
    first = owner_client.post(url, {"confirm": "yes", "once": token})
    endpoint.refresh_from_db()
    rotated = endpoint.secret
    assert rotated != original and rotated.encode() in first.content
    again = owner_client.post(url, {"confirm": "yes", "once": token})
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated
    assert endpoint.signing_secrets() == [rotated, original]
    assert b"was sent before" in again.content and rotated.encode() not in again.content
    # The dialog on the endpoint's page carries its own token: a new rotation is one click.
    token = _once(owner_client.get(eurl(environment, "webhooks:detail", uuid=endpoint.uuid)))
    owner_client.post(url, {"confirm": "yes", "once": token})
    endpoint.refresh_from_db()
    assert endpoint.secret not in (rotated, original)


def test_a_resubmitted_new_endpoint_form_creates_one_endpoint(
    owner_client, environment, allow_private, receiver
):
    url = eurl(environment, "webhooks:new")
    body = {
        "kind": "webhook",
        "url": receiver.url,
        "event_types": ["survey.published"],
        "once": _once(owner_client.get(url)),
    }
    assert owner_client.post(url, body).status_code == 200
    again = owner_client.post(url, body)
    assert again.status_code == 302
    assert WebhookEndpoint.objects.count() == 1


def _deliveries(environment, n: int) -> None:
    for _ in range(n):
        emit(environment.pk, "survey.published", {"survey_id": 0})
    services.fan_out()


@pytest.mark.parametrize("rows", [3, 120])
def test_delivery_log_is_constant_in_queries(
    owner_client, environment, endpoint, rows, django_assert_num_queries
):
    _deliveries(environment, rows)
    detail = eurl(environment, "webhooks:detail", uuid=endpoint.uuid)
    owner_client.get(detail)  # warm the session
    with django_assert_num_queries(5):
        answer = owner_client.get(detail, headers={"HX-Request": "true", "HX-Target": "deliveries"})
    assert answer.status_code == 200
    assert b'id="deliveries"' in answer.content and b"<html" not in answer.content
    shown = answer.content.count(b"survey.published")
    assert shown == min(rows, 50)
    if rows > 50:
        assert b"before=" in answer.content


def test_delivery_log_filters_by_status_and_pages(owner_client, environment, endpoint):
    _deliveries(environment, 60)
    Delivery.objects.filter(pk__in=Delivery.objects.order_by("id")[:5].values("pk")).update(
        status=DeliveryStatus.GAVE_UP
    )
    detail = eurl(environment, "webhooks:detail", uuid=endpoint.uuid)
    answer = owner_client.get(detail, {"status": "gave_up"})
    assert answer.context["deliveries"] and len(answer.context["deliveries"]) == 5
    first = owner_client.get(detail)
    next_before = first.context["next_before"]
    second = owner_client.get(detail, {"before": next_before})
    ids = [d.pk for d in first.context["deliveries"]] + [d.pk for d in second.context["deliveries"]]
    assert len(ids) == 60 == len(set(ids))
