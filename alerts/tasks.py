"""Thin Celery wrappers over alerts.services (scheduled by beat in config/celery.py)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def sweep_and_deliver() -> int:
    """Queue the alerts of new responses and segment entries, then deliver the due ones."""
    services.alerts_sweep()
    return services.alerts_deliver()


@shared_task(ignore_result=True)
def send_digests() -> int:
    return services.alerts_digests_run()
