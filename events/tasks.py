"""Celery tasks for events: thin wrappers over events.services.

Both are idempotent (the roll-up moves a watermark in the transaction that adds the counts; a
deletion deletes what is left), so they are acknowledged when they end, and handed out again at
once when the pool process running them dies (reject_on_worker_lost).
"""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from .buffer import events_queue_drain
from .partitions import partitions_ensure
from .services import (
    event_counts_rollup,
    event_definition_delete,
    event_definition_deletes_resume,
)

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**IDEMPOTENT)
def rollup_event_counts() -> int:
    """Every minute (beat entry "events-rollup"): fold new events into the counters."""
    return event_counts_rollup()


@shared_task(
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    **IDEMPOTENT,
)
def delete_event_definition(definition_id: int) -> int:
    """Queued when the team deletes an event definition: its events in batches, then itself.
    Database errors retry with capped backoff; a deletion that still did not finish (retries
    exhausted, the message lost with its worker) is queued again by the hourly
    resume_event_definition_deletes."""
    return event_definition_delete(definition_id=definition_id)


@shared_task(**IDEMPOTENT)
def resume_event_definition_deletes() -> int:
    """Hourly (beat entry "events-resume-deletions"): deletions left unfinished."""
    return len(event_definition_deletes_resume())


@shared_task(**IDEMPOTENT)
def ensure_event_partitions() -> list[str]:
    """Daily (beat entry "events-partitions"): the coming months' partitions exist, and late
    events that fell into the DEFAULT partition move into their month's."""
    return partitions_ensure()


@shared_task(**IDEMPOTENT)
def drain_pageviews() -> int:
    """Every HARK_PAGEVIEW_BUFFER_SECONDS (beat entry "events-drain-pageviews"): store the page
    views the client API queued (events/buffer.py: rows leave the queue once stored)."""
    return events_queue_drain()
