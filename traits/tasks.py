"""Background work for trait definitions (thin: ids in, a service call)."""

from __future__ import annotations

from celery import shared_task

from core.periodic import for_each_environment
from environments.models import Environment

from .services import trait_profile_counts_refresh


@shared_task(name="traits.tasks.count_trait_profiles", acks_late=True, reject_on_worker_lost=True)
def count_trait_profiles(environment_id: int | None = None) -> int:
    """Refresh Trait.profile_count for one environment, or for all (the hourly beat entry
    "traits-count-profiles"). Idempotent, so acknowledged when it ends; an environment that
    fails does not stop the others. Returns the number of environments refreshed."""
    ids = (
        [environment_id]
        if environment_id is not None
        else list(Environment.objects.values_list("pk", flat=True))
    )
    return len(
        for_each_environment(
            ids,
            lambda pk: trait_profile_counts_refresh(environment_id=pk),
            what="trait counts",
        )
    )
