"""User profiles: one row per known person or anonymous device in an environment."""

from __future__ import annotations

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Profile(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: every composite index below starts with the environment, and each
    # index is one more write per identify.
    environment = models.ForeignKey(
        "environments.Environment",
        on_delete=models.CASCADE,
        related_name="profiles",
        db_index=False,
    )
    # The team's own id for the user; null for anonymous profiles.
    user_id = models.CharField(max_length=255, null=True, blank=True)
    email = models.CharField(max_length=320, null=True, blank=True)
    # Device id set by the web client (or a Segment anonymousId).
    anonymous_id = models.CharField(max_length=255, null=True, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Identify looks a profile up by (environment, user_id) and by (environment,
            # anonymous_id): both unique where set, which also gives the lookup index.
            models.UniqueConstraint(
                fields=["environment", "user_id"],
                condition=Q(user_id__isnull=False),
                name="profile_env_user_id_uniq",
            ),
            models.UniqueConstraint(
                fields=["environment", "anonymous_id"],
                condition=Q(anonymous_id__isnull=False),
                name="profile_env_anonymous_id_uniq",
            ),
        ]
        indexes = [
            # Identify by email only, and the API's contact lookup by email.
            models.Index(fields=["environment", "email"], name="profile_env_email_idx"),
            # The Users list and the contacts API sort by last or first seen, keyset-paginated.
            models.Index(
                fields=["environment", "-last_seen_at", "-id"], name="profile_env_last_seen_idx"
            ),
            models.Index(
                fields=["environment", "-first_seen_at", "-id"], name="profile_env_first_seen_idx"
            ),
            # Segment trait conditions and trait search use containment / key existence.
            GinIndex(fields=["traits"], name="profile_traits_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_identified(self) -> bool:
        return bool(self.user_id or self.email)

    @property
    def display_name(self) -> str:
        traits = self.traits or {}
        name = traits.get("name") or " ".join(
            str(part) for part in (traits.get("first_name"), traits.get("last_name")) if part
        )
        return str(name or self.email or self.user_id or f"Anonymous {str(self.uuid)[:8]}")


class ActivitySource(models.IntegerChoices):
    """Where a month's activity came from: bits of MonthlyActivity.sources."""

    API = 1, "API"
    CLIENT = 2, "Web client"
    LINK = 4, "Survey link"
    EMAIL = 8, "Email"

    @classmethod
    def for_channel(cls, channel: str) -> ActivitySource:
        """The source of a survey response's channel (surveys.models.Channel's values)."""
        return {"api": cls.API, "web": cls.CLIENT, "link": cls.LINK, "email": cls.EMAIL}.get(
            channel, cls.API
        )


class MonthlyActivity(models.Model):
    """One row per profile and month in which it was active.

    Every month a profile was seen has a row (delivery's "people active this month" counts
    them all). MAU, by the rule Hark is measured on, counts the rows that are `identified` (a
    call of the client or the API named the user: a user id or an email) or `surveyed` (the
    person saw, dismissed or answered a survey that month): an anonymous visitor who only
    browsed has a row but is not counted. `sources` ORs the ActivitySource bits of the calls.
    Months start in settings.TIME_ZONE. Ingestion writes rows with profiles.sql's
    activity_upsert_sql: flags only ever turn on, and a row that already says as much is
    not rewritten."""

    # Indexed by the constraint (profile, month) and by (environment, month) below.
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # SET_NULL: a profile erased or purged leaves its months behind, unlinked (a month, two flags
    # and the sources: nothing personal once the link is gone), so past MAU does not shrink.
    # governance.references detaches such rows instead of deleting them.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.SET_NULL,
        null=True,
        related_name="monthly_activity",
        db_index=False,
    )
    month = models.DateField(help_text="First day of the month (in settings.TIME_ZONE).")
    identified = models.BooleanField(default=False, db_default=False)
    surveyed = models.BooleanField(default=False, db_default=False)
    sources = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            # Ingestion marks activity with INSERT ... ON CONFLICT DO NOTHING on this key.
            models.UniqueConstraint(fields=["profile", "month"], name="monthly_activity_uniq")
        ]
        indexes = [
            # Everyone active in a month (delivery's audience estimate).
            models.Index(fields=["environment", "month"], name="monthly_activity_env_month"),
            # Who counts toward MAU: the Usage page's figures and its keyset pages by profile
            # id read only these entries, however many anonymous visitors only browsed.
            models.Index(
                fields=["environment", "month", "profile"],
                name="monthly_activity_counted",
                condition=Q(identified=True) | Q(surveyed=True),
            ),
        ]
