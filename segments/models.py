"""Segments: rule-based (dynamic) or hand-kept (manual) groups of profiles, stored membership."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (rules)"
    MANUAL = "manual", "Manual (list)"


class RecomputeStatus(models.TextChoices):
    IDLE = "idle", "Up to date"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Computing"
    FAILED = "failed", "Failed"


class Segment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="segments"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    # A tree of AND/OR groups over conditions; validated by segments.rules before saving.
    rules = models.JSONField(default=dict, blank=True)
    # True when a condition depends on the clock ("within the last D days"): the periodic
    # refresh recomputes only these.
    has_time_window = models.BooleanField(default=False)
    member_count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    # Versioned recomputes (as PostHog's cohorts): each request bumps `version`; a run that finds
    # a newer version than its own exits without writing.
    version = models.PositiveIntegerField(default=0)
    computed_version = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=RecomputeStatus.choices, default=RecomputeStatus.IDLE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="segment_env_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index for "members of a segment" (segment filter on every report).
            models.UniqueConstraint(fields=["segment", "profile"], name="segment_membership_uniq")
        ]
        # "Segments of a profile" (the panel, incremental re-evaluation).
        indexes = [models.Index(fields=["profile"], name="segment_membership_profile")]


class SegmentMembershipChange(models.Model):
    """History of entries and exits, for alerts and webhooks to read. Per (segment, profile)
    it alternates: entered, left, entered... A deleted or merged-away profile leaves ("left")
    and its history stays, keeping the id of a profile that no longer exists (no foreign-key
    constraint on `profile`, and no cascade)."""

    class Change(models.TextChoices):
        ENTERED = "entered", "Entered"
        LEFT = "left", "Left"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes")
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["segment", "-at"], name="segment_change_segment_at")]


class DirtyProfile(models.Model):
    """A profile whose data changed since it was last checked against its environment's dynamic
    segments: a queue kept in PostgreSQL, so ingestion marks the profile inside its own
    statement (no extra round trip; the mark commits with the change, or not at all). A
    periodic task drains it (segments.services.segment_dirty_profiles_drain)."""

    profile_id = models.BigIntegerField(primary_key=True)
    environment_id = models.BigIntegerField()


# pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, segment id): one membership run per segment at a time
# (services take it; selectors ask which segments are running).
ADVISORY_LOCK_CLASS = 7001
