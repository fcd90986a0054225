"""Reads for Settings → Alerts. Each member sees their own subscriptions; admins see every
subscription of the environment. Another environment's, or (for a non-admin) another member's,
subscription is 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import AlertSubscription


def subscriptions_visible(*, environment: Any, membership: Any) -> QuerySet[AlertSubscription]:
    qs = AlertSubscription.objects.filter(environment=environment)
    if not membership.is_admin:
        qs = qs.filter(user_id=membership.user_id)
    # The list shows the survey, segment and owner: joined, not a query per row.
    return qs.select_related("survey", "segment", "user").order_by("name", "id")


def subscription_for(*, environment: Any, membership: Any, pk: int) -> AlertSubscription:
    return get_object_or_404(
        subscriptions_visible(environment=environment, membership=membership), pk=pk
    )
