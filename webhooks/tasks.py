from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def webhooks_drain() -> int:
    """Fan out new events and send due deliveries (leases make concurrent runs safe)."""
    from .services import drain

    return drain()
