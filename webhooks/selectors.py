"""Reads for webhooks: endpoints of an environment, and the delivery log (keyset pages)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from environments.models import Environment

from .models import Delivery, WebhookEndpoint


def endpoints_for(*, environment: Environment) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(environment=environment).order_by("-created_at", "-id")


def endpoint_by_uuid(*, environment: Environment, uuid: Any) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(environment=environment, uuid=uuid).first()


def delivery_of(*, endpoint: WebhookEndpoint, delivery_id: int) -> Delivery | None:
    """One of the endpoint's deliveries, with its event (a replay sends the same event)."""
    return (
        Delivery.objects.select_related("event").filter(endpoint=endpoint, pk=delivery_id).first()
    )


def deliveries_page(
    *, endpoint: WebhookEndpoint, status: str | None, before: int | None, limit: int = 50
) -> tuple[list[Delivery], int | None]:
    """One page of the endpoint's deliveries, newest first, and the id to page on from (None on
    the last page). Keyset on id over the (endpoint, -id) / (endpoint, status, -id) indexes: one
    query whatever the log's length."""
    qs = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    # The payload can be large: the log shows the type and the attempt, not the body sent.
    qs = qs.defer("event__payload", "event__data")
    if status:
        qs = qs.filter(status=status)
    if before:
        qs = qs.filter(id__lt=before)
    rows = list(qs.order_by("-id")[: limit + 1])
    next_before = rows[limit - 1].pk if len(rows) > limit else None
    return rows[:limit], next_before
