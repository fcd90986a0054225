"""How a survey reaches a person on the web channel: its targeting, the environment's delivery
settings (throttle, allowed origins, page-view storage, appearance), survey translations and
the receipts that make answer calls idempotent.

Targeting lives here, one row per survey (a one-to-one with surveys.Survey), rather than in
fields added to Survey: `delivery/` owns and alone writes it, its columns are typed and
constrained by the database (a JSON blob on Survey would be validated only by code), and the
decision reads it with the survey in one join. A survey without a row has the defaults
(`targeting_defaults`): everyone, every page, on page view, once per user, 100 %.
"""

from __future__ import annotations

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


def _salt() -> str:
    return secrets.token_hex(8)


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    IDENTIFIED = "identified", "Identified users only"
    ANONYMOUS = "anonymous", "Anonymous visitors only"


class SegmentMatch(models.TextChoices):
    ANY = "any", "any of"
    ALL = "all", "all of"


class TriggerType(models.TextChoices):
    PAGE = "page", "On page view"
    DELAY = "delay", "After N seconds on the page"
    SESSION_DELAY = "session_delay", "After N seconds in the session"
    EVENT = "event", "On a tracked event"
    EXIT_INTENT = "exit_intent", "On exit intent"
    SCROLL = "scroll", "On scrolling past N % of the page"
    MANUAL = "manual", "Manual only (showForm)"


class Recurrence(models.TextChoices):
    ONCE = "once", "Once per user"
    UNTIL_RESPONDED = "until_responded", "Until the user responds"
    EVERY = "every", "Every D days"
    ALWAYS = "always", "Always (for testing)"


class SurveyTargeting(models.Model):
    survey = models.OneToOneField(
        "surveys.Survey", on_delete=models.CASCADE, primary_key=True, related_name="web_targeting"
    )
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.EVERYONE)
    # Segment ids (a deleted segment's id stays until the targeting is saved again: an include
    # of a segment that no longer exists fails closed, an exclude of one is ignored).
    segments_include = ArrayField(models.BigIntegerField(), default=list, blank=True)
    segment_match = models.CharField(
        max_length=3, choices=SegmentMatch.choices, default=SegmentMatch.ANY
    )
    segments_exclude = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # [{"kind": "include"|"exclude", "field": "path"|"url", "op": "equals"|"starts_with"|
    #   "contains"|"ends_with"|"wildcard"|"regex", "value": "/billing"}], validated by
    # delivery.targeting.page_rules_clean.
    page_rules = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=16, choices=TriggerType.choices, default=TriggerType.PAGE)
    trigger_seconds = models.PositiveIntegerField(null=True, blank=True)
    trigger_event = models.CharField(max_length=200, blank=True)
    trigger_nth = models.PositiveIntegerField(null=True, blank=True)
    trigger_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    recurrence = models.CharField(
        max_length=16, choices=Recurrence.choices, default=Recurrence.ONCE
    )
    recurrence_days = models.PositiveIntegerField(null=True, blank=True)
    recurrence_max = models.PositiveIntegerField(null=True, blank=True)
    sample_percent = models.PositiveSmallIntegerField(default=100)
    sample_salt = models.CharField(max_length=32, default=_salt)
    throttle_exempt = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    response_limit = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gte=0) & Q(sample_percent__lte=100),
                name="targeting_sample_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(trigger_percent__isnull=True)
                | (Q(trigger_percent__gte=1) & Q(trigger_percent__lte=100)),
                name="targeting_trigger_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="targeting_schedule_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Targeting of survey {self.survey_id}"


class Position(models.TextChoices):
    BOTTOM_RIGHT = "bottom_right", "Bottom right"
    BOTTOM_LEFT = "bottom_left", "Bottom left"
    CENTER = "center", "Centre (modal)"


class ColorScheme(models.TextChoices):
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    AUTO = "auto", "Follow the visitor's system"


class DeliverySettings(models.Model):
    """Per environment; a missing row means the defaults."""

    environment = models.OneToOneField(
        "environments.Environment",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="delivery_settings",
    )
    # "Show a user at most one survey every D days", over every survey and channel; 0 = off.
    throttle_days = models.PositiveIntegerField(default=7)
    # Origins (scheme://host[:port]) the public key is accepted from; empty = any.
    allowed_origins = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    # Store identified users' page views as `$pageview` events.
    pageview_tracking = models.BooleanField(default=True)
    brand_color = models.CharField(max_length=7, default="#4f46e5")
    text_color = models.CharField(max_length=7, default="#111827")
    background_color = models.CharField(max_length=7, default="#ffffff")
    dark_text_color = models.CharField(max_length=7, default="#f9fafb")
    dark_background_color = models.CharField(max_length=7, default="#111827")
    font_family = models.CharField(max_length=200, default="system-ui, sans-serif")
    radius = models.PositiveSmallIntegerField(default=12)
    position = models.CharField(
        max_length=12, choices=Position.choices, default=Position.BOTTOM_RIGHT
    )
    color_scheme = models.CharField(
        max_length=5, choices=ColorScheme.choices, default=ColorScheme.LIGHT
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Delivery settings of environment {self.environment_id}"


class SurveyTranslation(models.Model):
    """A survey's texts in one more language: {"questions": {key: {"title", "description",
    "choices": [...], "low_label", "high_label", "placeholder", "button_label"}},
    "thank_you": {"title", "message", "button_label"}}. Missing texts fall back to the default."""

    survey = models.ForeignKey(
        "surveys.Survey", on_delete=models.CASCADE, related_name="translations"
    )
    locale = models.CharField(max_length=20)
    texts = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["survey", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "locale"], name="survey_translation_locale_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} in {self.locale}"


class AnswerReceipt(models.Model):
    """An answer call already applied to a web response: a retry with the same client-made
    key returns the stored result and changes nothing."""

    response = models.ForeignKey(
        "surveys.Response", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "key"], name="answer_receipt_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.response_id}/{self.key}"


class CacheVersion(models.Model):
    """A counter per environment that PostgreSQL triggers bump whenever something the client
    API keeps in memory changes (migration 0002): the environment's keys and identity
    verification, its delivery settings, its surveys, their targeting, questions and
    translations, the names of segments, and a limited survey's completed count. Each web
    process keeps the environment's live surveys with the version it read, and reads the
    current version in the same query as the person on every call: a change reaches every
    process on its next call, with no extra round trip.

    No foreign key: a trigger fired while an environment is being deleted writes here, and a
    row left behind for a deleted environment is harmless."""

    environment_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Cache version {self.version} of environment {self.environment_id}"
