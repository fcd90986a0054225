"""REST: identify users (`POST /api/v1/identify-user`), list, read and erase contacts
(`/api/v1/contacts`, `/api/v1/contact`), mounted in config/api.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel, ConfigDict

from api.auth import key_environment
from api.errors import ERRORS, ERRORS_404, json_answer
from api.fields import PAGE_LENGTH_DEFAULT, PAGE_LENGTH_MAX, UserId
from core.pagination import keyset_page
from governance.erasure import erase_contact
from segments.selectors import profile_segments, segment_by_uuid
from surveys.selectors import survey_by_uuid

from .models import Profile
from .selectors import contact_get, contact_list
from .services import profile_identify

router = Router()

# The operation ids below are the ones the endpoints had in config/api.py: they are part of the
# published document (client generators name methods after them).

# --- Identify ----------------------------------------------------------------------------------

IDENTIFY_RESERVED = {"id", "email", "anonymous_id", "traits", "mode", "api_key"}


class IdentifyIn(BaseModel):
    """Traits may be sent under `traits` or as top-level keys (any key not listed here)."""

    # A plain pydantic model: ninja's Schema reads attributes and would drop the extra keys.
    model_config = ConfigDict(extra="allow")

    id: UserId | None = Field(None, description="Your id for the user")
    email: str | None = None
    anonymous_id: str | None = Field(
        None, description="A device id: its anonymous profile is merged into this user"
    )
    traits: dict[str, Any] | None = None
    mode: Literal["merge", "replace"] = Field(
        "merge", description="merge (default) adds/overwrites traits; replace replaces all"
    )


class IdentifyOut(BaseModel):
    message: str
    contact_uuid: UUID


@router.post(
    "/identify-user",
    response={200: IdentifyOut, 201: IdentifyOut, **ERRORS},
    operation_id="config_api_identify_user",
)
def identify_user(request: HttpRequest, payload: IdentifyIn) -> HttpResponse:
    """Create or update a user (by `id` and/or `email`) and write traits."""
    if payload.id is None and not payload.email:
        raise DjangoValidationError({"id": "id or email is required"})
    traits = dict(payload.model_extra or {})
    for key in IDENTIFY_RESERVED:
        traits.pop(key, None)
    traits.update(payload.traits or {})
    profile = profile_identify(
        environment=key_environment(request),
        user_id=payload.id,
        email=payload.email,
        anonymous_id=payload.anonymous_id,
        traits=traits,
        mode=payload.mode,
    )
    created = getattr(profile, "created", False)
    return json_answer(
        201 if created else 200,
        {
            "message": "User created" if created else "User updated",
            "contact_uuid": str(profile.uuid),
        },
    )


# --- Contacts ----------------------------------------------------------------------------------


class ContactOut(Schema):
    uuid: UUID
    id: str | None
    email: str | None
    anonymous_id: str | None
    traits: dict[str, Any]
    first_seen_at: datetime
    last_seen_at: datetime


class SegmentRef(Schema):
    uuid: UUID
    name: str


class ContactDetailOut(ContactOut):
    segments: list[SegmentRef]


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactFilters(Schema):
    search: str | None = Field(None, description="id, email, anonymous id, uuid or key:value")
    segment: UUID | None = Field(None, description="Members of this segment")
    survey: UUID | None = Field(None, description="Contacts who responded to this survey")
    order: Literal["last_seen", "first_seen"] = Field("last_seen", description="newest first")
    page_length: int = Field(PAGE_LENGTH_DEFAULT, ge=1, le=PAGE_LENGTH_MAX)
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class ContactLookup(Schema):
    id: str | None = None
    email: str | None = None
    uuid: UUID | None = None


class Message(Schema):
    message: str


def _contact(profile: Profile) -> dict[str, Any]:
    return {
        "uuid": profile.uuid,
        "id": profile.user_id,
        "email": profile.email,
        "anonymous_id": profile.anonymous_id,
        "traits": profile.traits or {},
        "first_seen_at": profile.first_seen_at,
        "last_seen_at": profile.last_seen_at,
    }


@router.get(
    "/contacts", response={200: ContactPage, **ERRORS_404}, operation_id="config_api_contacts"
)
def contacts(request: HttpRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    """The environment's contacts, newest first, in pages (cursor pagination)."""
    environment = key_environment(request)
    segment = (
        segment_by_uuid(environment=environment, uuid=filters.segment) if filters.segment else None
    )
    survey = (
        survey_by_uuid(environment=environment, uuid=filters.survey) if filters.survey else None
    )
    qs = contact_list(
        environment_id=environment.pk,
        search=filters.search.replace("\x00", "") if filters.search else None,
        segment=segment,
        survey=survey,
    )
    field = "last_seen_at" if filters.order == "last_seen" else "first_seen_at"
    cursor = filters.cursor.replace("\x00", "") if filters.cursor else None
    page = keyset_page(qs, field, cursor, filters.page_length)
    return {"items": [_contact(p) for p in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/contact", response={200: ContactDetailOut, **ERRORS_404}, operation_id="config_api_contact"
)
def contact(request: HttpRequest, lookup: Query[ContactLookup]) -> dict[str, Any]:
    """One contact by `id`, `email` or `uuid`, with its segments."""
    profile = contact_get(
        environment_id=key_environment(request).pk,
        user_id=lookup.id,
        email=lookup.email,
        uuid=lookup.uuid,
    )
    return {
        **_contact(profile),
        "segments": [{"uuid": s.uuid, "name": s.name} for s in profile_segments(profile=profile)],
    }


@router.delete(
    "/contact", response={200: Message, **ERRORS_404}, operation_id="config_api_contact_delete"
)
def contact_delete(request: HttpRequest, lookup: Query[ContactLookup]) -> dict[str, str]:
    """Erase a contact: every row that refers to it (events, responses, memberships and their
    history, displays...), in one transaction; the erasure is logged with keyed hashes of its
    identifiers (governance.erasure)."""
    profile = contact_get(
        environment_id=key_environment(request).pk,
        user_id=lookup.id,
        email=lookup.email,
        uuid=lookup.uuid,
    )
    erase_contact(request, profile, via="api")
    return {"message": "Contact deleted"}
