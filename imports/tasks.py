import logging

from celery import shared_task

from profiles.services import profiles_gin_merge

from .services import import_run

logger = logging.getLogger(__name__)


@shared_task(acks_late=False)
def import_run_task(import_id: int) -> None:
    """Run a contact import (not acks_late: a run cut short is marked failed, not replayed).

    A run that fails is marked failed with its reason by import_run, and its page says so:
    the error is logged here, not raised, so that with tasks run inline (no Redis) the Start
    button's POST gets that page rather than a server error."""
    try:
        import_run(import_id=import_id)
    except Exception:
        logger.exception("contact import %s failed", import_id)


@shared_task(acks_late=True)
def profiles_gin_merge_task() -> None:
    """Merge the profile GIN indexes' pending lists after an import (idempotent: acks_late)."""
    profiles_gin_merge()
