"""Tenancy: an Environment is one project's data space. Every row of user data points at one."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models


def _public_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def _identity_secret() -> str:
    return secrets.token_hex(32)


class Environment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Published in the web client snippet and survey links: identifies, never authorises writes
    # beyond what a respondent may do.
    public_key = models.CharField(max_length=64, unique=True, default=_public_key, editable=False)
    # HMAC-SHA256 secret for identity verification of survey links and the web client.
    identity_secret = models.CharField(max_length=128, default=_identity_secret)
    identity_verification = models.BooleanField(default=False)
    # The team's time zone (an IANA name): where its months start for MAU (Settings → Usage).
    # Empty: the instance's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> str:
        """The environment's time zone, or the instance's."""
        return self.time_zone or str(settings.TIME_ZONE)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    CONTRIBUTOR = "contributor", "Contributor"
    ANALYST = "analyst", "Analyst (read-only)"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CONTRIBUTOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "environment"], name="membership_user_environment_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.environment} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role != Role.ANALYST

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


API_KEY_PREFIX = "hark_sk_"


def hash_api_key(secret: str) -> str:
    """Keys are 32 random bytes: a plain SHA-256 is enough (no dictionary to attack) and lets the
    hot ingestion path find a key with one indexed lookup, which a slow KDF would not."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the key, shown in the dashboard so teams can tell keys apart.
    prefix = models.CharField(max_length=20)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.environment})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
