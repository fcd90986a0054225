"""Shared by the periodic tasks that walk every environment (roll-ups, counts)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class EnvironmentsFailed(Exception):
    """Some environments' part of a periodic task failed (each is logged with its traceback)."""


def for_each_environment(
    environment_ids: Iterable[int], work: Callable[[int], T], *, what: str
) -> list[T]:
    """Run `work` for each environment; one that fails (bad data, a timeout) is logged and
    skipped, so it cannot stop the work of all the others. Raises EnvironmentsFailed at the
    end if any failed, so the task still shows as failed. Each `work` call must be its own
    transaction (a failure rolls back that environment only)."""
    results: list[T] = []
    failed: list[int] = []
    for environment_id in environment_ids:
        try:
            results.append(work(environment_id))
        except Exception:
            logger.exception("%s failed for environment %s", what, environment_id)
            failed.append(environment_id)
    if failed:
        raise EnvironmentsFailed(f"{what} failed for environments {failed}")
    return results
