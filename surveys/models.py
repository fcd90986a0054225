"""Surveys, their questions and the responses they collect."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def _public_id() -> str:
    return secrets.token_urlsafe(9)


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class SurveyMode(models.TextChoices):
    IDENTIFIED = "identified", "Identified users"
    ANONYMOUS = "anonymous", "Anonymous"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    LINK = "link", "Survey link"
    EMAIL = "email", "Email"
    API = "api", "API"


class Survey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="surveys"
    )
    # Used in public survey links (/s/<public_id>): unguessable, unique across environments.
    public_id = models.CharField(max_length=32, unique=True, default=_public_id, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT
    )
    mode = models.CharField(
        max_length=12, choices=SurveyMode.choices, default=SurveyMode.IDENTIFIED
    )
    # Subset of Channel values the survey is delivered on.
    channels = models.JSONField(default=list, blank=True)
    # Segments in/out, page rules, trigger, delay, recurrence, sampling, throttling, schedule.
    targeting = models.JSONField(default=dict, blank=True)
    # Thank-you step: {"title": ..., "message": ..., "button_label": ..., "button_url": ...}.
    thank_you = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["environment", "status"], name="survey_env_status_idx")]

    def __str__(self) -> str:
        return self.name


class QuestionKind(models.TextChoices):
    NPS = "nps", "NPS (0-10)"
    CSAT = "csat", "CSAT"
    CES = "ces", "CES (1-7)"
    RATING = "rating", "Rating"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    TEXT = "text", "Free text"
    EMAIL = "email", "Email"
    CTA = "cta", "Call to action"


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    # The answer is stored under this key in Response.data (and described by a response Trait).
    key = models.CharField(max_length=100)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    # Kind-specific settings: {"scale": 5, "style": "stars"}, {"points": 5}, {"choices": [...]},
    # {"button_label": ..., "url": ...}, {"placeholder": ...}.
    config = models.JSONField(default=dict, blank=True)
    # Logic jumps: [{"operator": "lte", "value": 6, "goto": "<question key>" | "end"}].
    logic = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="question_survey_key_uniq")
        ]

    def __str__(self) -> str:
        return self.title


class Response(models.Model):
    """One profile's interaction with one survey. With empty `data` it is a survey view."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+"
    )
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="responses"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.LINK)
    first_shown_at = models.DateTimeField(null=True, blank=True)
    last_shown_at = models.DateTimeField(null=True, blank=True)
    show_count = models.PositiveIntegerField(default=0)
    first_data_at = models.DateTimeField(null=True, blank=True)
    last_data_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # Answers keyed by question key.
    data = models.JSONField(default=dict, blank=True)
    # Contextual data (URL parameters, page, API-supplied context).
    context = models.JSONField(default=dict, blank=True)
    locale = models.CharField(max_length=20, blank=True)
    # Id supplied by the API caller for a response collected elsewhere: stored once.
    external_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "external_id"],
                condition=Q(external_id__isnull=False),
                name="response_env_external_id_uniq",
            )
        ]
        indexes = [
            # Response List and Overview: newest first within an environment (keyset pagination),
            # and the same within one survey.
            models.Index(
                fields=["environment", "-created_at", "-id"], name="response_env_created_idx"
            ),
            models.Index(
                fields=["survey", "-created_at", "-id"], name="response_survey_created_idx"
            ),
            # The user detail panel and the survey link's "same response within 3 hours" lookup.
            models.Index(
                fields=["profile", "survey", "-created_at"], name="response_profile_survey_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.profile_id}"

    @property
    def status(self) -> str:
        if self.completed_at:
            return "completed"
        if self.dismissed_at:
            return "dismissed"
        if self.data:
            return "partial"
        return "view"
