"""Reads for Settings → Alerts. Each member sees their own subscriptions; admins see every
subscription of the environment. Another environment's, or (for a non-admin) another member's,
subscription is 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from segments import rules as R

from .models import AlertDigest, AlertSent, AlertSubscription

RECENT_DELIVERIES = 10


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


def recent_deliveries(*, subscription: AlertSubscription) -> list[AlertSent | AlertDigest]:
    """The subscription's latest alerts or digests (status, attempts, last error), newest first:
    one query on the (subscription, ...) unique index."""
    model = AlertSent if subscription.frequency == "immediate" else AlertDigest
    fields = ["status", "attempts", "created_at", "sent_at", "last_error", "next_attempt_at"]
    if model is AlertDigest:
        fields += ["period_start", "period_end"]
    return list(
        model.objects.filter(subscription=subscription)
        .only(*fields)
        .order_by("-id")[:RECENT_DELIVERIES]
    )


def subscriptions_on_segment(segment: Any) -> list[str]:
    """The names of the alert subscriptions of the segment's environment that watch it, as
    their segment or inside their rules (registered with segments.uses: deleting the segment
    would take them with it)."""
    key = str(segment.uuid)
    return [
        name
        for name, segment_id, rules in AlertSubscription.objects.filter(
            environment_id=segment.environment_id
        )
        .filter(Q(segment_id=segment.pk) | ~Q(rules={}))
        .values_list("name", "segment_id", "rules")
        if segment_id == segment.pk or key in R.referenced_segment_uuids(rules)
    ]
