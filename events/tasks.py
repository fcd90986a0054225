"""Celery tasks for events: thin wrappers over events.services."""

from __future__ import annotations

from celery import shared_task

from .services import event_counts_rollup


@shared_task(acks_late=True)
def rollup_event_counts() -> int:
    """Every minute (beat entry "events-rollup"): fold new events into the counters."""
    return event_counts_rollup()
