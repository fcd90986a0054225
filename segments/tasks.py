"""Celery tasks for segments: thin wrappers taking ids (and a version) over segments.services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
BACKOFF_BASE = 5  # seconds; doubled per retry
BACKOFF_MAX = 300


def backoff(retries: int) -> int:
    """Capped exponential backoff: 5, 10, 20, 40, 80 ... at most 300 seconds."""
    return int(min(BACKOFF_MAX, BACKOFF_BASE * (2**retries)))


@shared_task(bind=True, name="segments.tasks.recompute_segment", max_retries=MAX_RETRIES)
def recompute_segment(self, segment_id: int, version: int | None = None) -> dict | None:
    """Full recompute of one segment for `version` (None: refresh the current version).
    A superseded run exits; database errors (timeouts included) retry with capped backoff, and
    mark the segment failed once retries are exhausted."""
    try:
        result = services.segment_recompute(segment_id=segment_id, version=version)
    except DatabaseError as exc:
        if (
            self.request.called_directly
            or self.request.is_eager
            or (self.request.retries >= self.max_retries)
        ):
            logger.exception("segment %s: recompute failed", segment_id)
            services.segment_mark_failed(segment_id=segment_id, version=version, error=str(exc))
            if self.request.is_eager or self.request.called_directly:
                return None
            raise
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
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


@shared_task(name="segments.tasks.evaluate_profiles")
def evaluate_profiles(environment_id: int, profile_ids: list[int]) -> int:
    result = services.segment_profiles_evaluate(
        environment_id=environment_id, profile_ids=profile_ids
    )
    return len(result.entered) + len(result.left)


@shared_task(
    bind=True,
    name="segments.tasks.evaluate_dirty_profiles",
    max_retries=MAX_RETRIES,
)
def evaluate_dirty_profiles(self, environment_id: int | None = None) -> int:
    """The periodic re-evaluation: drain the queue of changed profiles (of every environment,
    unless one is given)."""
    try:
        return services.segment_dirty_profiles_drain(environment_id=environment_id)
    except DatabaseError as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task(name="segments.tasks.refresh_time_window_segments")
def refresh_time_window_segments() -> int:
    return len(services.segments_refresh_time_windows())


@shared_task(name="segments.tasks.reset_stuck_runs")
def reset_stuck_runs() -> int:
    return len(services.segments_reset_stuck())
