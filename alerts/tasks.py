"""Thin Celery wrappers over alerts.services (scheduled by beat in config/celery.py)."""

from __future__ import annotations

from celery import shared_task

from . import services

# Both tasks are idempotent (the sweep's unique key, leased delivery, one digest per period):
# acknowledged when they end, and handed out again if their worker dies.
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(ignore_result=True, **IDEMPOTENT)
def sweep_and_deliver() -> int:
    """Queue the alerts of new responses and segment entries, then deliver the due ones."""
    services.alerts_sweep()
    return services.alerts_deliver()


@shared_task(ignore_result=True, **IDEMPOTENT)
def send_digests() -> int:
    return services.alerts_digests_run()


@shared_task(ignore_result=True, **IDEMPOTENT)
def purge_sent_log() -> int:
    """Daily: alerts and digests past HARK_DELIVERY_LOG_DAYS."""
    return services.sent_log_purge()
