"""The Celery app. Tasks live in each app's tasks.py; the beat schedule lives here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule() -> dict:
    """The whole periodic schedule. Intervals come from settings so operators can tune them."""
    from django.conf import settings

    from segments.services import debounce_seconds

    return {
        # Changed profiles against dynamic segments: the queue ingestion fills.
        "segments-evaluate-changed-profiles": {
            "task": "segments.tasks.evaluate_dirty_profiles",
            "schedule": float(debounce_seconds()),
        },
        "segments-refresh-time-windows": {
            "task": "segments.tasks.refresh_time_window_segments",
            "schedule": float(settings.HARK_SEGMENT_REFRESH_SECONDS),
        },
        "segments-reset-stuck-runs": {
            "task": "segments.tasks.reset_stuck_runs",
            "schedule": 300.0,
        },
        "events-rollup": {
            "task": "events.tasks.rollup_event_counts",
            "schedule": 60.0,
        },
        "traits-count-profiles": {
            "task": "traits.tasks.count_trait_profiles",
            "schedule": 3600.0,
        },
        # Project Overview (H3a): complete days are read from a daily rollup.
        "surveys-rollup-recent-days": {
            "task": "surveys.tasks.rollup_response_stats",
            "schedule": 600.0,
        },
        "surveys-rollup-all-days": {
            "task": "surveys.tasks.rollup_response_stats",
            "schedule": 86400.0,
            "kwargs": {"full": True},
        },
    }


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    sender.conf.beat_schedule = beat_schedule()
