"""Background work for trait definitions (thin: ids in, a service call)."""

from __future__ import annotations

from celery import shared_task

from environments.models import Environment

from .services import trait_profile_counts_refresh


@shared_task(name="traits.tasks.count_trait_profiles")
def count_trait_profiles(environment_id: int | None = None) -> int:
    """Refresh Trait.profile_count for one environment, or for all (the hourly beat entry
    "traits-count-profiles"). Idempotent; returns the number of environments refreshed."""
    ids = (
        [environment_id]
        if environment_id is not None
        else list(Environment.objects.values_list("pk", flat=True))
    )
    for pk in ids:
        trait_profile_counts_refresh(environment_id=pk)
    return len(ids)
