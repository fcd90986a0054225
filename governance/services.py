"""Writes of the governance app: the audit log's retention purge."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.querysql import delete_in_batches

from .models import AuditEntry

PURGE_BATCH = 5000


def audit_log_purge(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete audit entries older than HARK_AUDIT_RETENTION_DAYS, `batch` rows per statement
    (each its own short transaction, on the `at` index), so a first purge of years of entries
    never holds a long lock. Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HARK_AUDIT_RETENTION_DAYS)
    table = AuditEntry._meta.db_table
    return delete_in_batches(
        f"DELETE FROM {table} WHERE id IN "
        f"(SELECT id FROM {table} WHERE at < %(cutoff)s ORDER BY at LIMIT %(batch)s)",
        {"cutoff": cutoff},
        batch,
    )
