from celery import shared_task

from profiles.services import profiles_gin_merge

from .services import import_run


@shared_task(acks_late=False)
def import_run_task(import_id: int) -> None:
    """Run a contact import (not acks_late: a run cut short is marked failed, not replayed)."""
    import_run(import_id=import_id)


@shared_task(acks_late=True)
def profiles_gin_merge_task() -> None:
    """Merge the profile GIN indexes' pending lists after an import (idempotent: acks_late)."""
    profiles_gin_merge()
