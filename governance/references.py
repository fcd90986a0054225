"""What refers to a contact: every model with a foreign key to profiles.Profile, found through
Django's model metadata, and the tables that refer to those rows in turn (an answer receipt
refers to a response, which refers to the profile). Export and erasure both walk this, so a
table added later (a webhook outbox with a nullable foreign key to the profile) is exported and
erased without anyone remembering to list it.

References that are not foreign keys (an id in a column without a constraint, a uuid inside a
JSON payload) register an `ExtraReference` with `register_reference`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import models
from django.db.models.expressions import RawSQL

from alerts.models import AlertSent
from events.buffer import queue_lock, queued_erase, queued_for
from imports.models import RejectedRow
from segments.models import DirtyProfile

from .models import AuditEntry

if TYPE_CHECKING:
    from profiles.models import Profile

MAX_DEPTH = 4


@dataclass(frozen=True)
class Reference:
    """Rows of `model` that refer to a profile through `lookup` (a filter path ending at the
    profile's id: "profile__id", "response__profile__id")."""

    model: type[models.Model]
    lookup: str
    depth: int
    # The field to set to NULL instead of deleting the row: a foreign key to the profile declared
    # SET_NULL keeps its rows, unlinked (profiles.MonthlyActivity: MAU does not shrink). Only for
    # rows that hold nothing personal once unlinked.
    detach: str | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label

    def queryset(self, profile_id: int) -> models.QuerySet:
        return self.model._base_manager.filter(**{self.lookup: profile_id})


def _profile_model() -> type[models.Model]:
    return apps.get_model("profiles", "Profile")


def _foreign_keys_to(target: type[models.Model]) -> list[tuple[type[models.Model], models.Field]]:
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if (
                isinstance(field, models.Field)
                and field.concrete
                and field.is_relation
                and (field.many_to_one or field.one_to_one)
                and field.related_model is target
            ):
                found.append((model, field))
    return found


def profile_references() -> list[Reference]:
    """Every (model, lookup) whose rows refer to a profile, directly or through rows that do,
    deepest first (the order to delete them in). A model reached twice (two paths) is listed
    once per path."""
    profile = _profile_model()
    found: list[Reference] = []
    frontier: list[tuple[type[models.Model], str]] = [(profile, "id")]
    seen: set[tuple[str, str]] = set()
    for depth in range(1, MAX_DEPTH + 1):
        next_frontier = []
        for target, path in frontier:
            for model, field in _foreign_keys_to(target):
                lookup = f"{field.name}__{path}"
                key = (model._meta.label, lookup)
                if key in seen or model is profile:
                    continue
                seen.add(key)
                if (
                    target is profile
                    and getattr(field.remote_field, "on_delete", None) is models.SET_NULL
                ):
                    # Kept, unlinked: nothing below it refers to the person any more.
                    found.append(Reference(model, lookup, depth, detach=field.attname))
                    continue
                found.append(Reference(model=model, lookup=lookup, depth=depth))
                next_frontier.append((model, lookup))
        frontier = next_frontier
        if not frontier:
            break
    return sorted(found, key=lambda ref: (-ref.depth, ref.label, ref.lookup))


@dataclass(frozen=True)
class ExtraReference:
    """A reference the foreign-key walk cannot see. `count(profile)` says how many rows refer
    to it, `erase(profile)` removes (or redacts) them and returns how many; `export(profile)`,
    when given, returns JSON-ready rows for the export; `lock()`, when given, is called first in
    the erasure's transaction, before the profile row is locked."""

    name: str
    count: Callable[[Profile], int]
    erase: Callable[[Profile], int]
    export: Callable[[Profile], list] | None = None
    lock: Callable[[], None] | None = None


_EXTRA: dict[str, ExtraReference] = {}


def register_reference(reference: ExtraReference) -> ExtraReference:
    _EXTRA[reference.name] = reference
    return reference


def unregister_reference(name: str) -> None:
    _EXTRA.pop(name, None)


def extra_references() -> list[ExtraReference]:
    return list(_EXTRA.values())


# --- The references Hark has today that are not foreign keys -------------------------------------


def _dirty_count(profile: Profile) -> int:

    return DirtyProfile.objects.filter(profile_id=profile.pk).count()


def _dirty_erase(profile: Profile) -> int:

    return DirtyProfile.objects.filter(profile_id=profile.pk)._raw_delete("default")


def _audit_q(profile: Profile) -> models.Q:
    return models.Q(
        environment_id=profile.environment_id, target_type="contact", target_id=str(profile.uuid)
    )


def _audit_count(profile: Profile) -> int:

    return AuditEntry.objects.filter(_audit_q(profile)).count()


def _audit_erase(profile: Profile) -> int:
    """The audit log keeps that a team member exported or erased a contact, not whom: the
    contact's uuid and name are blanked in those entries."""

    return AuditEntry.objects.filter(_audit_q(profile)).update(
        target_id="", target_label="(erased contact)"
    )


register_reference(
    ExtraReference(
        # segments' queue of changed profiles: a bare bigint id, no constraint.
        name="segments.DirtyProfile",
        count=_dirty_count,
        erase=_dirty_erase,
    )
)
register_reference(
    ExtraReference(
        name="governance.AuditEntry (contact named as target)",
        count=_audit_count,
        erase=_audit_erase,
    )
)


def _queued(profile: Profile) -> list[dict]:
    return queued_for(
        environment_id=profile.environment_id, user_id=profile.user_id, email=profile.email
    )


register_reference(
    ExtraReference(
        # Page views queued in Redis for the drain (events/buffer.py), by user id or email.
        name="events: queued page views",
        count=lambda profile: len(_queued(profile)),
        erase=lambda profile: queued_erase(
            environment_id=profile.environment_id, user_id=profile.user_id, email=profile.email
        ),
        export=_queued,
        lock=queue_lock,
    )
)


def _queryset_reference(
    name: str, rows: Callable[[Profile], models.QuerySet], order: tuple[str, ...], fields: tuple
) -> ExtraReference:
    """A reference whose rows a queryset finds: counted, deleted in one statement, exported
    with `fields`."""
    return ExtraReference(
        name=name,
        count=lambda profile: rows(profile).count(),
        erase=lambda profile: rows(profile)._raw_delete("default"),
        export=lambda profile: list(rows(profile).order_by(*order).values(*fields)),
    )


def _alerts_sent(profile: Profile) -> models.QuerySet:
    """Team alerts about the person (a completed response, a segment entry), pending ones too:
    nothing about an erased person goes out. A bare profile id, no foreign key."""
    return AlertSent.objects.filter(
        subscription__environment_id=profile.environment_id, profile_id=profile.pk
    )


register_reference(
    _queryset_reference(
        "alerts.AlertSent",
        _alerts_sent,
        ("id",),
        ("kind", "object_id", "status", "created_at", "sent_at"),
    )
)


def _rejected_rows(profile: Profile) -> models.QuerySet:
    """Rows of the environment's import reports that were not imported but hold the person's
    user id or email as one of their values (trimmed; the email in any case): the report keeps
    the file's values as read, so the person may be named there without a profile row."""
    needles = [profile.user_id, profile.email.lower() if profile.email else None]
    if not any(needles):  # NULL never equals a cell: an absent identifier matches nothing
        return RejectedRow.objects.none()
    names = RawSQL(
        'EXISTS (SELECT 1 FROM jsonb_array_elements_text("imports_rejectedrow"."values") AS cell '
        "WHERE btrim(cell) = %s OR lower(btrim(cell)) = %s)",
        needles,
        output_field=models.BooleanField(),
    )
    return RejectedRow.objects.filter(contact_import__environment_id=profile.environment_id).filter(
        names
    )


register_reference(
    _queryset_reference(
        "imports.RejectedRow (values naming the contact)",
        _rejected_rows,
        ("contact_import_id", "row"),
        ("contact_import_id", "row", "reason", "values"),
    )
)
