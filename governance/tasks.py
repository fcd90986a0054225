from celery import shared_task

from .services import audit_log_purge


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_audit_log() -> int:
    """Daily: audit entries past HARK_AUDIT_RETENTION_DAYS (idempotent, in batches)."""
    return audit_log_purge()
