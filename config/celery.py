"""The Celery app. Tasks live in each app's tasks.py; the beat schedule lives here, in one place."""

import os

from celery import Celery
from celery.signals import worker_ready
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("hark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule() -> dict:
    """The whole periodic schedule. Intervals come from settings so operators can tune them.

    Built when Celery configures the app, which in `celery beat` is before (and without)
    Django's apps being loaded: read django.conf.settings only, never import an app's module
    (a model import raises AppRegistryNotReady there, which Celery logs and swallows, leaving
    beat with an empty schedule). tests/test_production_topology.py starts a real beat.
    """

    return {
        # Changed profiles against dynamic segments: the queue ingestion fills.
        "segments-evaluate-changed-profiles": {
            "task": "segments.tasks.evaluate_dirty_profiles",
            "schedule": float(settings.HARK_SEGMENT_DEBOUNCE_SECONDS),
        },
        "segments-refresh-time-windows": {
            "task": "segments.tasks.refresh_time_window_segments",
            "schedule": float(settings.HARK_SEGMENT_REFRESH_SECONDS),
        },
        # Runs whose worker died (noticed within a minute) or that are stuck past the limit.
        "segments-reset-stuck-runs": {
            "task": "segments.tasks.reset_stuck_runs",
            "schedule": 60.0,
        },
        # The client API's queued page views (events/buffer.py); off when set to 0.
        **(
            {
                "events-drain-pageviews": {
                    "task": "events.tasks.drain_pageviews",
                    "schedule": float(settings.HARK_PAGEVIEW_BUFFER_SECONDS),
                }
            }
            if settings.HARK_PAGEVIEW_BUFFER_SECONDS
            else {}
        ),
        "events-rollup": {
            "task": "events.tasks.rollup_event_counts",
            "schedule": 60.0,
        },
        "events-resume-deletions": {
            "task": "events.tasks.resume_event_definition_deletes",
            "schedule": 3600.0,
        },
        "traits-count-profiles": {
            "task": "traits.tasks.count_trait_profiles",
            "schedule": 3600.0,
        },
        # Project Overview: complete days are read from a daily rollup.
        "surveys-rollup-recent-days": {
            "task": "surveys.tasks.rollup_response_stats",
            "schedule": 600.0,
        },
        "surveys-rollup-all-days": {
            "task": "surveys.tasks.rollup_response_stats",
            "schedule": 86400.0,
            "kwargs": {"full": True},
        },
        # Webhooks: deliveries due for retry, leases lapsed, debounced response.updated.
        "webhooks-drain": {
            "task": "webhooks.tasks.webhooks_drain",
            "schedule": float(settings.HARK_WEBHOOKS_DRAIN_SECONDS),
        },
        # Team alerts: new responses and segment entries against the immediate subscriptions,
        # then delivery (retries and expired leases included).
        "alerts-sweep": {
            "task": "alerts.tasks.sweep_and_deliver",
            "schedule": float(settings.HARK_ALERTS_SWEEP_SECONDS),
        },
        # Digests: each period once, shortly after HARK_ALERTS_DIGEST_HOUR.
        "alerts-digests": {
            "task": "alerts.tasks.send_digests",
            "schedule": 300.0,
        },
        # Monthly partitions of events_event, created ahead; late rows moved out of DEFAULT.
        "events-partitions": {
            "task": "events.tasks.ensure_event_partitions",
            "schedule": 86400.0,
        },
        # Each environment's retention (Settings -> Data), in bounded batches.
        "retention-purge": {
            "task": "retention.tasks.purge",
            "schedule": 3600.0,
        },
        # Audit log retention (HARK_AUDIT_RETENTION_DAYS), in batches.
        "governance-purge-audit-log": {
            "task": "governance.tasks.purge_audit_log",
            "schedule": 86400.0,
        },
        # The outgoing logs (HARK_DELIVERY_LOG_DAYS): webhook deliveries, alerts sent.
        "webhooks-purge-delivery-log": {
            "task": "webhooks.tasks.purge_delivery_log",
            "schedule": 86400.0,
        },
        "alerts-purge-sent-log": {
            "task": "alerts.tasks.purge_sent_log",
            "schedule": 86400.0,
        },
    }


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    sender.conf.beat_schedule = beat_schedule()


@worker_ready.connect
def _recover_lost_runs(sender: object = None, **kwargs: object) -> None:
    """A worker that starts (after a crash, a deploy) queues the lost-run check at once rather
    than waiting for beat's next minute: segment runs whose worker died are queued again."""
    app.send_task("segments.tasks.reset_stuck_runs")
