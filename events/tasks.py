"""Celery tasks for events: thin wrappers over events.services."""

from __future__ import annotations

from celery import shared_task

from .services import event_counts_rollup, event_definition_delete


@shared_task(acks_late=True)
def rollup_event_counts() -> int:
    """Every minute (beat entry "events-rollup"): fold new events into the counters."""
    return event_counts_rollup()


@shared_task(acks_late=True)
def delete_event_definition(definition_id: int) -> int:
    """Queued when the team deletes an event definition: its events in batches, then itself."""
    return event_definition_delete(definition_id=definition_id)
