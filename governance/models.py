"""Data governance: the audit log of team members' changes, and the erasure log.

Neither table holds a person's data: an audit entry names a team member (the actor) and what
they changed; an erasure entry keeps only keyed hashes of the erased contact's identifiers
(governance/erasure.py), so an auditor can confirm an erasure without the data surviving it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField(default=timezone.now)
    # The team member; null for an API key or a command line (then `actor_label` says which),
    # and kept as a label when the login is deleted later.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=320, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # "survey.publish", "segment.delete", "api_key.create", ... (governance.audit.ACTIONS)
    action = models.CharField(max_length=50)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            # The Audit log page: newest first (keyset on at, id), by action, by actor; and the
            # retention purge (by `at` across environments).
            models.Index(fields=["environment", "-at", "-id"], name="audit_env_at"),
            models.Index(
                fields=["environment", "action", "-at", "-id"], name="audit_env_action_at"
            ),
            models.Index(fields=["environment", "actor", "-at", "-id"], name="audit_env_actor_at"),
            models.Index(fields=["at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.at:%Y-%m-%d %H:%M}"


class ErasureLog(models.Model):
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    erased_at = models.DateTimeField(default=timezone.now)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_by_label = models.CharField(max_length=320, blank=True)
    via = models.CharField(max_length=20)  # "dashboard", "api", "command"
    # HMAC-SHA256 (governance.erasure.identifier_hash) of each identifier the contact had:
    # "email:<canonical email>", "id:<user id>", "uuid:<uuid>". Never the identifiers.
    hashes = models.JSONField(default=list)
    # Rows deleted per table ({"events.Event": 1200, ...}): what went, not whose.
    counts = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["environment", "-erased_at"], name="erasure_env_at"),
            # verify_erasure: which erasures hold this hash (jsonb containment).
            GinIndex(fields=["hashes"], name="erasure_hashes_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"Erasure {self.pk} at {self.erased_at:%Y-%m-%d %H:%M}"
