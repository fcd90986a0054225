"""Each environment's retention policy (Settings -> Data) and the purge's bookkeeping."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

MAX_DAYS = 36_500
DAYS_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_DAYS)]


class RetentionPolicy(models.Model):
    """How long an environment keeps its data; None (the default, and no row at all) keeps it
    forever."""

    environment = models.OneToOneField(
        "environments.Environment",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="retention_policy",
    )
    events_days = models.PositiveIntegerField(null=True, blank=True, validators=DAYS_VALIDATORS)
    responses_days = models.PositiveIntegerField(null=True, blank=True, validators=DAYS_VALIDATORS)
    # Anonymous profiles (no user id, no email) with no activity for this long.
    anonymous_profiles_days = models.PositiveIntegerField(
        null=True, blank=True, validators=DAYS_VALIDATORS
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # Responses created before this day (in TIME_ZONE) have been purged: their counts live on
    # in the survey roll-up (surveys/report_rollup.py), which never recomputes these days again.
    responses_purged_before = models.DateField(null=True, blank=True)
    # The last purge: when, and how many rows of each kind it removed (shown on the page).
    last_purge_at = models.DateTimeField(null=True, blank=True)
    last_purge = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"retention of {self.environment_id}"
