"""Webhook endpoints, the outbox, and deliveries (see webhooks/outbox.py for the design)."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone


class EventType(models.TextChoices):
    RESPONSE_COMPLETED = "response.completed", "Response completed"
    RESPONSE_UPDATED = (
        "response.updated",
        "Response updated (answers saved, or changed after completion; debounced)",
    )
    RESPONSE_DISMISSED = "response.dismissed", "Response dismissed"
    CONTACT_IDENTIFIED = "contact.identified", "Contact identified (created or merged)"
    CONTACT_DELETED = "contact.deleted", "Contact deleted"
    SEGMENT_ENTERED = "segment.entered", "Contact entered a segment"
    SEGMENT_LEFT = "segment.left", "Contact left a segment"
    SURVEY_PUBLISHED = "survey.published", "Survey published"
    SURVEY_CLOSED = "survey.closed", "Survey closed"
    # Internal: a survey was shown (only Segment-compatible destinations receive it, as the
    # "Survey Shown" track call); not offered to webhook endpoints.
    RESPONSE_DISPLAYED = "response.displayed", "Survey shown"


WEBHOOK_EVENT_TYPES = [value for value in EventType.values if value != EventType.RESPONSE_DISPLAYED]
# What a Segment-compatible destination receives: track calls and the identify with answers.
SEGMENT_EVENT_TYPES = [
    EventType.RESPONSE_DISPLAYED.value,
    EventType.RESPONSE_DISMISSED.value,
    EventType.RESPONSE_COMPLETED.value,
]


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (Standard Webhooks signatures)"
    SEGMENT = "segment", "Segment-compatible destination (Segment, RudderStack, Jitsu)"


class WebhookEndpoint(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    kind = models.CharField(max_length=10, choices=EndpointKind.choices, default="webhook")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=300, blank=True)
    event_types = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # Webhooks: `whsec_` + base64 of 24 random bytes. Segment destinations: the write key.
    # Kept readable (signing needs it); shown once in the dashboard and the API.
    secret = models.CharField(max_length=200)
    # During a rotation the previous secret also signs, until it expires (24 hours).
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts (cleared by a success): 5 days -> disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["environment", "enabled"], name="webhook_endpoint_env_idx")]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now=None) -> list[str]:
        now = now or timezone.now()
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > now
        ):
            secrets.append(self.previous_secret)
        return secrets

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:6]}…{self.secret[-4:]}"


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change that caused it. `data` holds the
    references (and, for a deleted contact, the snapshot) the payload is built from; `payload`
    is built once, on first delivery, and then sent identically to every endpoint and retry."""

    id = models.BigAutoField(primary_key=True)
    # Standard Webhooks' webhook-id is "msg_" + this: the same for every retry and replay.
    uuid = models.UUIDField(db_default=RandomUUID(), editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    event_type = models.CharField(max_length=40)
    # The contact the event is about. CASCADE: erasing the contact removes its pending payloads.
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Per-contact ordering key (the profile id, kept after the profile is deleted).
    contact_key = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    # Deliveries created for the endpoints subscribed at the time (by the drain, set-based).
    fanned_out = models.BooleanField(db_default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="webhook_outbox_pending_idx", condition=Q(fanned_out=False)
            ),
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed (will retry)"
    SUCCEEDED = "succeeded", "Succeeded"
    GAVE_UP = "gave_up", "Gave up"


OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


class Delivery(models.Model):
    """One event to one endpoint: its state and its last attempt's result."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    contact_key = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Held by the worker sending it; a worker killed mid-delivery lets it lapse -> sent again.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    body_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    replay_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The drain: open deliveries due, oldest first.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="webhook_delivery_due_idx",
                condition=Q(status__in=OPEN_STATUSES),
            ),
            # Per-contact ordering: an earlier open delivery of the contact to the endpoint.
            models.Index(
                fields=["endpoint", "contact_key", "event"],
                name="webhook_delivery_order_idx",
                condition=Q(status__in=OPEN_STATUSES),
            ),
            # The delivery log: an endpoint's deliveries, newest first (keyset), by status.
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log_idx"),
            models.Index(fields=["endpoint", "status", "-id"], name="webhook_delivery_status_idx"),
        ]


class PendingResponseUpdate(models.Model):
    """A response.updated waiting for the respondent to stop answering (debounce)."""

    response = models.OneToOneField(
        "surveys.Response", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    first_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
