from __future__ import annotations

from celery import shared_task

from . import services


# Idempotent (leases guard every send): handed out again if its worker dies.
@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def webhooks_drain() -> int:
    """Fan out new events and send due deliveries (leases make concurrent runs safe)."""
    return services.drain()


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def purge_delivery_log() -> int:
    """Daily: events and deliveries past HARK_DELIVERY_LOG_DAYS (idempotent, in batches)."""
    return services.delivery_log_purge()
