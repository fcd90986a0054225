"""Erase a contact (the right to erasure): every row that refers to the person goes, in one
transaction, and an erasure log entry records who erased, when, and keyed hashes of the
identifiers.

What goes is found, not listed (governance/references.py): every model with a foreign key to
profiles.Profile, and the rows that refer to those rows, deepest first, each with one DELETE;
then the references that are not foreign keys (registered), then the profile row itself (with
it, its entries in the search indexes: the Users search's trigram index (profiles/search.py)
and the traits GIN index are on the profile row's own columns, and the Response List's trigram
index is on the responses' answers, deleted above).

What stays: aggregate figures. Before the responses go, their figures are added to the surveys
app's erased-responses roll-up (surveys.report_rollup.response_stats_erase), so the Overview
and the survey list show the same totals after an erasure; event counts are already rolled up
incrementally (events.EventDailyCount never recounts old days); segments record the member
leaving (their counts go down: the person is no longer a member) and that history row is then
erased with the rest.

The hashes are HMAC-SHA256 keyed with HARK_ERASURE_SECRET (default: derived from SECRET_KEY),
so a leaked erasure log cannot be tested against a list of emails without the key, and an
auditor who is given an identifier can confirm it was erased (`manage.py verify_erasure`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest

from core.ingest import canonical_email
from profiles.models import Profile
from segments.services import segment_memberships_end
from surveys.report_rollup import response_stats_erase
from webhooks.outbox import emit

from . import audit
from .models import ErasureLog
from .references import extra_references, profile_references


def erasure_key() -> bytes:
    secret = getattr(settings, "HARK_ERASURE_SECRET", "") or ""
    if secret:
        return secret.encode()
    # Derived, not SECRET_KEY itself: the key of one purpose never serves another.
    return hashlib.sha256(b"hark.governance.erasure:" + settings.SECRET_KEY.encode()).digest()


def identifier_hash(kind: str, value: str) -> str:
    """The erasure log's hash of one identifier (`kind`: "email", "id" or "uuid")."""
    if kind == "email":
        value = canonical_email(value.strip()) or value.strip()
    elif kind == "uuid":
        value = value.strip().lower()
    message = f"{kind}:{value}".encode()
    return hmac.new(erasure_key(), message, hashlib.sha256).hexdigest()


def profile_hashes(profile: Profile) -> list[str]:
    hashes = [identifier_hash("uuid", str(profile.uuid))]
    if profile.email:
        hashes.append(identifier_hash("email", profile.email))
    if profile.user_id:
        hashes.append(identifier_hash("id", profile.user_id))
    return hashes


@dataclass
class ErasurePlan:
    """What erasing a profile deletes: rows per table (the confirmation shows it)."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def rows(self) -> list[tuple[str, int]]:
        return sorted(((k, v) for k, v in self.counts.items() if v), key=lambda kv: -kv[1])

    def described_rows(self) -> list[tuple[str, str, int]]:
        """(table label, what it holds in words, rows) for the confirmation."""

        described = []
        for label, count in self.rows():
            try:
                name = str(apps.get_model(label)._meta.verbose_name_plural).capitalize()
            except (LookupError, ValueError):
                name = label
            described.append((label, name, count))
        return described


def _add(counts: dict[str, int], label: str, n: int) -> None:
    counts[label] = counts.get(label, 0) + n


def profile_erasure_plan(*, profile: Profile) -> ErasurePlan:
    """Rows that refer to the profile, per table: one count per reference."""
    counts: dict[str, int] = {"profiles.Profile": 1}
    for ref in profile_references():
        if ref.detach is None:  # detached rows stay (unlinked): not deleted, not listed
            _add(counts, ref.label, ref.queryset(profile.pk).count())
    for extra in extra_references():
        _add(counts, extra.name, extra.count(profile))
    return ErasurePlan(counts=counts)


def profile_erase(
    *, profile: Profile, actor: Any = None, actor_label: str = "", via: str = "dashboard"
) -> ErasureLog:
    """Erase the profile and everything that refers to it; return the erasure log entry."""

    counts: dict[str, int] = {}
    with transaction.atomic():
        for extra in extra_references():
            if extra.lock is not None:
                extra.lock()
        locked = Profile.objects.select_for_update().filter(pk=profile.pk).first()
        if locked is None:  # erased meanwhile by another request
            raise Profile.DoesNotExist
        hashes = profile_hashes(locked)
        # Segments: member counts go down and a "left" is recorded (erased below with the
        # rest of the history); roll-ups keep the responses' figures.
        segment_memberships_end(profile_ids=[locked.pk])
        response_stats_erase(profile_id=locked.pk, environment_id=locked.environment_id)
        for ref in profile_references():
            qs = ref.queryset(locked.pk)
            if ref.detach is not None:
                qs.update(**{ref.detach: None})
                continue
            # One DELETE per reference, deepest first, without Django's collector (which
            # would load every row: a million events). Every referring table is in the walk.
            _add(counts, ref.label, qs._raw_delete(qs.db))
        for extra in extra_references():
            _add(counts, extra.name, extra.erase(locked))
        Profile.objects.filter(pk=locked.pk)._raw_delete("default")
        counts["profiles.Profile"] = 1
        # After the delete (the contact's own pending webhook events went with it): the one
        # event that tells receivers to erase the contact on their side too (GDPR art. 17(2),
        # 19), with what they need to find it. Written only when an endpoint subscribes.
        emit(
            locked.environment_id,
            "contact.deleted",
            {
                "contact": {
                    "id": locked.user_id,
                    "uuid": str(locked.uuid),
                    "email": locked.email,
                    "anonymous_id": locked.anonymous_id,
                }
            },
            contact_key=locked.pk,
        )
        entry = ErasureLog.objects.create(
            environment_id=locked.environment_id,
            erased_by=actor if getattr(actor, "is_authenticated", False) else None,
            erased_by_label=actor_label,
            via=via,
            hashes=hashes,
            counts={k: v for k, v in counts.items() if v},
        )
    return entry


def erasures_matching(*, kind: str, value: str, environment_id: int | None = None):
    """Erasure log entries that erased a contact with this identifier."""
    qs = ErasureLog.objects.filter(hashes__contains=[identifier_hash(kind, value)])
    if environment_id is not None:
        qs = qs.filter(environment_id=environment_id)
    return qs.order_by("-erased_at")


def erase_contact(request: HttpRequest, profile: Profile, *, via: str) -> ErasureLog:
    """Erase and audit (the panel and the API's DELETE /contact): the audit entry names the
    erasure log entry, never the contact."""
    actor = audit.actor_from_request(request)
    with transaction.atomic():
        try:
            entry = profile_erase(
                profile=profile, actor=actor.user, actor_label=actor.label, via=via
            )
        except Profile.DoesNotExist:  # erased meanwhile by another request
            raise Http404("No such contact") from None
        audit.record(
            request,
            "contact.erase",
            ("erasure", entry.pk, f"Erasure #{entry.pk}"),
            environment=profile.environment_id,
            after={"via": via, "rows_deleted": entry.counts},
        )
    return entry
