"""Trait definitions: the description of every key stored on profiles and responses."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DataType(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"


class Scope(models.TextChoices):
    PROFILE = "profile", "Profile"
    RESPONSE = "response", "Response"


class Trait(models.Model):
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="traits"
    )
    key = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    data_type = models.CharField(max_length=10, choices=DataType.choices, default=DataType.STRING)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.PROFILE)
    hidden = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Filled by a background task (traits.tasks), never counted on page load.
    profile_count = models.PositiveIntegerField(null=True, blank=True)
    profile_count_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scope", "key"]
        constraints = [
            # Ingestion upserts definitions with ON CONFLICT on this key.
            models.UniqueConstraint(
                fields=["environment", "scope", "key"], name="trait_env_scope_key_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.label or self.key

    @property
    def display_label(self) -> str:
        return self.label or self.key.replace("_", " ").capitalize()
