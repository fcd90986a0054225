"""Team alerts: a member's subscription to responses (or segment entries) matching a filter,
delivered by email and/or to a Slack-compatible incoming webhook, at once or as a digest.

Delivery state lives in two tables written by alerts.services only: AlertSent (one row per
subscription and matched object, unique: the dedupe key of the sweep) and AlertDigest (one row
per subscription and period, unique: a beat that fires twice sends once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Trigger(models.TextChoices):
    RESPONSE = "response", "A response is completed"
    SEGMENT_ENTERED = "segment_entered", "A user enters a segment"


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


class AlertSubscription(models.Model):
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+"
    )
    # Whose subscription it is: they manage it (admins see every one of the environment), and
    # its emails go to their address.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.RESPONSE)
    # Response filters (all optional; each narrows): the survey, a question (by key, as answers
    # are stored) with a score range on its numeric answer.
    survey = models.ForeignKey(
        "surveys.Survey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    question_key = models.CharField(max_length=100, blank=True)
    score_min = models.SmallIntegerField(null=True, blank=True)
    score_max = models.SmallIntegerField(null=True, blank=True)
    # For a response alert: respondents in this segment; for a segment alert: the segment
    # entered.
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A trait condition as the form took it (shown back in the form).
    trait_key = models.CharField(max_length=100, blank=True)
    trait_operator = models.CharField(max_length=30, blank=True)
    trait_value = models.CharField(max_length=500, blank=True)
    # The profile conditions (segment membership, trait) as a segments rule tree: matched by
    # the segments compiler, never by code of our own. {} when there is none.
    rules = models.JSONField(default=dict, blank=True)
    email = models.BooleanField(default=True)
    slack_url = models.URLField(max_length=1000, blank=True)
    frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["environment", "user"], name="alert_sub_env_user"),
            models.Index(
                fields=["trigger", "frequency"],
                condition=Q(active=True),
                name="alert_sub_active",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class _Outgoing(models.Model):
    """Delivery state shared by an alert and a digest: leased, retried, each channel once."""

    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    # Each channel is done once: a Slack retry does not send the email again.
    email_done = models.BooleanField(default=False)
    slack_done = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class AlertSent(_Outgoing):
    """One immediate alert: a subscription matched an object (a completed response, a segment
    entry). Inserted by the sweep with ON CONFLICT DO NOTHING on (subscription, kind, object),
    so an object seen by two sweeps alerts once; delivered under a lease, retried with backoff
    (a worker killed mid-delivery leaves the lease to expire, and the next sweep retries)."""

    subscription = models.ForeignKey(
        AlertSubscription, on_delete=models.CASCADE, related_name="sent"
    )
    kind = models.CharField(max_length=20, choices=Trigger.choices)
    # The response id, or the segment membership change id.
    object_id = models.BigIntegerField()
    profile_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "kind", "object_id"], name="alert_sent_uniq"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alert_sent_pending",
            )
        ]


class AlertDigest(_Outgoing):
    """One digest: a subscription's period [period_start, period_end). Unique per (subscription,
    period_start), so a beat that fires twice, or two beats, send it once."""

    subscription = models.ForeignKey(
        AlertSubscription, on_delete=models.CASCADE, related_name="digests"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="alert_digest_uniq"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alert_digest_pending",
            )
        ]


class AlertCursor(models.Model):
    """How far the sweep has read a source ("response": completed responses, "segment_entered":
    segment membership changes). Each sweep reads from `position` minus the lookback window,
    so rows committed late (a long transaction, clocks apart) are still seen."""

    source = models.CharField(max_length=20, primary_key=True)
    position = models.DateTimeField()
