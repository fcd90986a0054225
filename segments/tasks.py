"""Celery tasks for segments: thin wrappers taking ids (and a version) over segments.services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError, connection

from . import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
BACKOFF_BASE = 5  # seconds; doubled per retry
BACKOFF_MAX = 300


def backoff(retries: int) -> int:
    """Capped exponential backoff: 5, 10, 20, 40, 80 ... at most 300 seconds."""
    return int(min(BACKOFF_MAX, BACKOFF_BASE * (2**retries)))


# Every task here is idempotent (a recompute is versioned and transactional; an evaluation or a
# drain computes from the data as it is; the periodic ones only queue work), so each is
# acknowledged when it ends, not when it starts: a worker that dies mid-task (killed, out of
# memory, a deploy) leaves its message for another worker. reject_on_worker_lost hands it out
# again at once when only the pool's child process died; when the whole worker vanished, the
# lost-run check (segments_reset_stuck: beat, every minute, and each worker as it starts)
# queues the run again, and Redis's visibility timeout redelivers the message later (it is
# then superseded and exits).
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(
    bind=True, name="segments.tasks.recompute_segment", max_retries=MAX_RETRIES, **IDEMPOTENT
)
def recompute_segment(self, segment_id: int, version: int | None = None) -> dict | None:
    """Full recompute of one segment for `version` (None: refresh the current version).
    A superseded run exits. Database errors (timeouts, lost connections, deadlocks) retry with
    capped backoff; any other error (a bug, rules the compiler cannot take) would fail the same
    way again, so it fails at once. Either way a run that ends without a result marks the
    segment failed, with the reason shown on its page, and "Recompute now" is offered again;
    inline (no worker), the error is logged and the request goes on."""
    inline = bool(self.request.called_directly or self.request.is_eager)
    try:
        result = services.segment_recompute(segment_id=segment_id, version=version)
    except DatabaseError as exc:
        if inline or self.request.retries >= self.max_retries:
            _failed(segment_id, version, exc, inline=inline)
            return None
        services.segment_mark_retrying(segment_id=segment_id, version=version)
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except Exception as exc:
        _failed(segment_id, version, exc, inline=inline)
        return None
    if result is None:
        return None
    return {
        "segment_id": result.segment_id,
        "version": result.version,
        "superseded": result.superseded,
        "member_count": result.member_count,
        "entered": result.entered,
        "left": result.left,
    }


def _failed(segment_id: int, version: int | None, exc: Exception, *, inline: bool) -> None:
    logger.exception("segment %s: recompute failed", segment_id)
    if not connection.in_atomic_block:
        # The error may have broken the connection: a new one writes the failure.
        connection.close_if_unusable_or_obsolete()
    services.segment_mark_failed(
        segment_id=segment_id, version=version, error=services.failure_reason(exc)
    )
    if inline:
        return None
    raise exc


@shared_task(name="segments.tasks.evaluate_profiles", **IDEMPOTENT)
def evaluate_profiles(environment_id: int, profile_ids: list[int]) -> int:
    result = services.segment_profiles_evaluate(
        environment_id=environment_id, profile_ids=profile_ids
    )
    return len(result.entered) + len(result.left)


@shared_task(
    bind=True,
    name="segments.tasks.evaluate_dirty_profiles",
    max_retries=MAX_RETRIES,
    **IDEMPOTENT,
)
def evaluate_dirty_profiles(self, environment_id: int | None = None) -> int:
    """The periodic re-evaluation: drain the queue of changed profiles (of every environment,
    unless one is given)."""
    try:
        return services.segment_dirty_profiles_drain(environment_id=environment_id)
    except DatabaseError as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name="segments.tasks.refresh_time_window_segments", **IDEMPOTENT)
def refresh_time_window_segments() -> int:
    return len(services.segments_refresh_time_windows())


@shared_task(name="segments.tasks.reset_stuck_runs", **IDEMPOTENT)
def reset_stuck_runs() -> int:
    return len(services.segments_reset_stuck())
