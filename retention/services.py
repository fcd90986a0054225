"""Retention: each environment keeps events, responses and anonymous profiles for as long as its
policy says (Settings -> Data; forever by default), and an hourly task purges the rest.

Design:
- Bounded batches. Every DELETE removes at most HARK_RETENTION_BATCH rows and is its own short
  transaction, so the purge never holds many row locks, never bloats one transaction, and
  ingestion (which only inserts new rows, in the newest partition) never waits for it.
- Whole months of events are dropped, not deleted: when every environment has an events
  policy, the months older than the oldest cutoff go with one DROP TABLE each
  (events/partitions.py). Shorter policies inside a month delete that environment's rows in
  batches, on the (definition, timestamp) index, in the pruned partitions only.
- Responses are purged by whole days (in TIME_ZONE), and only after the survey roll-up
  (surveys/report_rollup.py) holds those days: the policy records `responses_purged_before`,
  and the roll-up never recomputes days before it. The Project Overview's counts stay what
  they were; the response lists show what is left.
- An anonymous profile (no user id, no email) is purged when it has shown no activity (last
  seen) for the policy's days and has no response left: a respondent's profile goes with its
  responses' retention, so no response (and no roll-up) loses its profile first. Rows that
  reference the profile go with it (Django's collector follows every foreign key).
- `now` is a parameter of every function: tests move the clock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.periodic import for_each_environment
from environments.models import Environment
from events.partitions import events_delete_before, partitions_drop_before
from governance import audit
from profiles.services import anonymous_profiles_delete
from surveys.report_rollup import day_start, response_stats_rollup
from surveys.services import responses_delete_before

from .models import RetentionPolicy

logger = logging.getLogger(__name__)

POLICY_FIELDS = ("events_days", "responses_days", "anonymous_profiles_days")
# Profiles carry their events, responses and memberships: fewer per batch.
PROFILE_BATCH_SHARE = 10


def retention_policy_get(*, environment: Environment) -> RetentionPolicy:
    """The environment's policy (unsaved and empty, i.e. forever, when it never set one)."""
    return RetentionPolicy.objects.filter(environment_id=environment.pk).first() or (
        RetentionPolicy(environment_id=environment.pk)
    )


def retention_policy_update(
    *, environment: Environment, values: dict[str, int | None]
) -> RetentionPolicy:
    """Save the three durations (None: forever); writes nothing when nothing changed."""
    policy = retention_policy_get(environment=environment)
    changed = [f for f in POLICY_FIELDS if getattr(policy, f) != values.get(f)]
    if not changed:
        return policy  # the same values, or forever for an environment that never set any
    before = audit.snapshot(policy, POLICY_FIELDS)
    for name in POLICY_FIELDS:
        setattr(policy, name, values.get(name))
    policy.updated_at = timezone.now()
    policy.full_clean(exclude=["environment"])
    with transaction.atomic():
        policy.save()
        audit.record(
            None,
            "retention.update",
            ("retention", environment.pk, "Data retention"),
            *audit.changes(before, audit.snapshot(policy, POLICY_FIELDS)),
            environment=environment,
        )
    return policy


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def events_partitions_purge(*, now: datetime) -> list[str]:
    """Drop the months of events every environment's policy has expired: only when every
    environment has an events policy (one that keeps its events forever keeps every month)."""
    environments = Environment.objects.count()
    days = [
        d
        for d in RetentionPolicy.objects.filter(events_days__isnull=False).values_list(
            "events_days", flat=True
        )
        if d is not None
    ]
    if not environments or len(days) < environments:
        return []
    return partitions_drop_before(now - timedelta(days=max(days)))


def responses_purge(*, policy: RetentionPolicy, now: datetime, batch: int) -> int:
    """Delete the responses of days before the cutoff's day, after folding them into the
    roll-up (which then never recomputes them)."""
    if policy.responses_days is None:
        return 0
    before_day = timezone.localdate(now - timedelta(days=policy.responses_days))
    if policy.responses_purged_before is None or policy.responses_purged_before < before_day:
        # The roll-up holds every day up to today, recomputed from responses that are all
        # still here (days before responses_purged_before are frozen and kept as they are).
        response_stats_rollup(environment_id=policy.environment_id)
        RetentionPolicy.objects.filter(pk=policy.pk).update(responses_purged_before=before_day)
        policy.responses_purged_before = before_day
    return responses_delete_before(
        environment_id=policy.environment_id,
        before=day_start(policy.responses_purged_before),
        batch=batch,
    )


def anonymous_profiles_purge(*, policy: RetentionPolicy, now: datetime, batch: int) -> int:
    """Delete anonymous profiles not seen since the cutoff and with no response left."""
    cutoff = _cutoff(now, policy.anonymous_profiles_days)
    if cutoff is None:
        return 0
    return anonymous_profiles_delete(
        environment_id=policy.environment_id,
        seen_before=cutoff,
        batch=max(1, batch // PROFILE_BATCH_SHARE),
    )


def environment_purge(
    *, environment_id: int, now: datetime | None = None, batch: int | None = None
) -> dict[str, int]:
    """One environment's purge (events, responses, anonymous profiles), batch by batch; the
    counts are recorded on its policy for the Data page."""
    now = now or timezone.now()
    batch = batch or settings.HARK_RETENTION_BATCH
    policy = RetentionPolicy.objects.filter(environment_id=environment_id).first()
    if policy is None:
        return {}
    counts = {"events": 0, "responses": 0, "anonymous_profiles": 0}
    events_cutoff = _cutoff(now, policy.events_days)
    if events_cutoff is not None:
        counts["events"] = events_delete_before(
            environment_id=environment_id, before=events_cutoff, batch=batch
        )
    counts["responses"] = responses_purge(policy=policy, now=now, batch=batch)
    counts["anonymous_profiles"] = anonymous_profiles_purge(policy=policy, now=now, batch=batch)
    RetentionPolicy.objects.filter(pk=policy.pk).update(last_purge_at=now, last_purge=counts)
    return counts


def retention_purge(*, now: datetime | None = None, batch: int | None = None) -> dict[str, Any]:
    """The hourly task's body: expired months of events dropped, then each environment with a
    policy purged (one that fails is logged and skipped; the others go on)."""
    now = now or timezone.now()
    dropped = events_partitions_purge(now=now)
    ids = RetentionPolicy.objects.order_by("pk").values_list("pk", flat=True)
    counts = for_each_environment(
        list(ids),
        lambda environment_id: environment_purge(
            environment_id=environment_id, now=now, batch=batch
        ),
        what="retention purge",
    )
    return {"partitions_dropped": dropped, "environments": len(counts)}
