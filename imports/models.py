"""A CSV contact import: the stored upload, its column mapping, progress, and rejected rows."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Waiting for the column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ColumnRole(models.TextChoices):
    SKIP = "skip", "Skip"
    USER_ID = "user_id", "User id"
    EMAIL = "email", "Email"
    TRAIT = "trait", "Trait"


class ContactImport(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    filename = models.CharField(max_length=255)
    # Where the upload is kept until the import ran (HARK_IMPORT_DIR, shared with the worker).
    path = models.CharField(max_length=500)
    size = models.BigIntegerField(default=0)
    header = models.JSONField(default=list)
    # [{"role": ColumnRole, "key": trait key, "type": traits DataType}] in the header's order.
    mapping = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.MAPPING
    )
    total_rows = models.IntegerField(default=0)
    processed_rows = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    rejected_count = models.IntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["environment", "-created_at"], name="contact_import_env_created")
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(99, self.processed_rows * 100 // self.total_rows)

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class RejectedRow(models.Model):
    """A row of the file that was not imported, with the reason and its values as read."""

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="rejected_rows", db_index=False
    )
    # The data row's number in the file (1 is the first row after the header).
    row = models.IntegerField()
    reason = models.TextField()
    values = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_import", "row"], name="rejected_row_uniq")
        ]
