"""Celery task for retention: a thin wrapper over retention.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .services import retention_purge


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge() -> dict[str, Any]:
    """Hourly (beat entry "retention-purge"). Idempotent: a purge run again deletes what is
    left, so it is acknowledged when it ends and handed out again if its worker dies."""
    return retention_purge()
