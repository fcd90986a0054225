"""REST: list segments (`GET /api/v1/segments`) and add or remove a manual segment's members
(`/api/v1/sync-segment`), mounted in config/api.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from api.auth import key_environment
from api.errors import ERRORS, ERRORS_404
from api.fields import UserId
from profiles.models import Profile
from profiles.selectors import contact_get
from profiles.services import profile_identify

from .models import Segment, SegmentKind
from .selectors import segment_by_uuid, segments_by_name
from .services import segment_member_add, segment_member_remove

router = Router()

# The operation ids below are the ones the endpoints had in config/api.py: they are part of the
# published document (client generators name methods after them).


class SegmentOut(Schema):
    uuid: UUID
    name: str
    kind: str
    description: str
    member_count: int
    computed_at: datetime | None


@router.get(
    "/segments", response={200: list[SegmentOut], **ERRORS}, operation_id="config_api_segments"
)
def segments(request: HttpRequest) -> list[dict[str, Any]]:
    """The environment's segments (sync-segment works on the manual ones)."""
    return [
        {
            "uuid": s.uuid,
            "name": s.name,
            "kind": s.kind,
            "description": s.description,
            "member_count": s.member_count,
            "computed_at": s.computed_at,
        }
        for s in segments_by_name(environment=key_environment(request))
    ]


class SyncSegmentIn(Schema):
    segment: UUID
    id: UserId | None = Field(None, description="The user's id (created if new)")
    email: str | None = None
    uuid: UUID | None = Field(None, description="The contact's uuid")


class SyncSegmentOut(Schema):
    message: str
    contact_uuid: UUID
    changed: bool


def _sync_target(
    request: HttpRequest, payload: SyncSegmentIn, *, create: bool
) -> tuple[Segment, Profile]:
    environment = key_environment(request)
    segment = segment_by_uuid(environment=environment, uuid=payload.segment)
    if payload.uuid is None and payload.id is None and not payload.email:
        raise DjangoValidationError({"id": "id, email or uuid is required"})
    if segment.kind != SegmentKind.MANUAL:
        # Checked before the user is identified (and created): a refused call writes nothing.
        raise DjangoValidationError({"segment": "Only manual segments take members by hand."})
    if create and payload.uuid is None:
        profile = profile_identify(environment=environment, user_id=payload.id, email=payload.email)
    else:
        profile = contact_get(
            environment_id=environment.pk,
            user_id=None if payload.id is None else str(payload.id),
            email=payload.email,
            uuid=payload.uuid,
        )
    return segment, profile


def _manual_only(call: Any, **kwargs: Any) -> bool:
    try:
        return call(**kwargs)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"segment": " ".join(exc.messages)}) from exc


@router.post(
    "/sync-segment",
    response={200: SyncSegmentOut, **ERRORS_404},
    operation_id="config_api_sync_segment_add",
)
def sync_segment_add(request: HttpRequest, payload: SyncSegmentIn) -> dict[str, Any]:
    """Add a user to a manual segment (the user is created if new)."""
    with transaction.atomic():
        segment, profile = _sync_target(request, payload, create=True)
        added = _manual_only(segment_member_add, segment=segment, profile=profile)
    return {
        "message": "Added to segment" if added else "Already a member",
        "contact_uuid": profile.uuid,
        "changed": added,
    }


@router.delete(
    "/sync-segment",
    response={200: SyncSegmentOut, **ERRORS_404},
    operation_id="config_api_sync_segment_remove",
)
def sync_segment_remove(request: HttpRequest, payload: Query[SyncSegmentIn]) -> dict[str, Any]:
    """Remove a user from a manual segment."""
    segment, profile = _sync_target(request, payload, create=False)
    removed = _manual_only(segment_member_remove, segment=segment, profile=profile)
    return {
        "message": "Removed from segment" if removed else "Not a member",
        "contact_uuid": profile.uuid,
        "changed": removed,
    }
