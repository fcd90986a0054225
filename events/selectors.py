"""Reads for the Events page: every definition with its counts, from the rollups."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from .models import EventDefinition

RECENT_DAYS = 30


def event_definition_list(*, environment_id: int) -> QuerySet[EventDefinition]:
    """Definitions with `recent_count` (the last 30 days) summed from EventDailyCount (one row
    per definition and day, so at most 30 rows per definition) and `total_count` as rolled up:
    never a COUNT over the events table. Definitions being deleted are left out."""
    since = timezone.now().date() - timedelta(days=RECENT_DAYS - 1)
    return (
        EventDefinition.objects.filter(environment_id=environment_id, deleting=False)
        .annotate(recent_count=Sum("daily_counts__count", filter=Q(daily_counts__day__gte=since)))
        .order_by("name")
    )


def event_names(*, environment_id: int, limit: int = 1000) -> list[str]:
    """The names of the environment's events (not those being deleted), by name, at most
    `limit` of them: for pickers such as the segment builder's."""
    return list(
        EventDefinition.objects.filter(environment_id=environment_id, deleting=False)
        .order_by("name")
        .values_list("name", flat=True)[:limit]
    )
