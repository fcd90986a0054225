"""Celery tasks of the surveys app. Thin: they call services.

Reports: the Project Overview's daily rollup (surveys/report_rollup.py).
"""

from __future__ import annotations

from celery import shared_task

from .report_rollup import response_stats_rollup_all


# Idempotent (each environment's days are recomputed in one transaction): acknowledged when it
# ends, handed out again at once if the pool process running it dies.
@shared_task(name="surveys.tasks.rollup_response_stats", acks_late=True, reject_on_worker_lost=True)
def rollup_response_stats(full: bool = False) -> int:
    """Recompute the Overview's daily figures: the last few days (every few minutes), or all
    days (daily, so responses deleted with their profile leave the figures)."""

    return response_stats_rollup_all(full=full)
