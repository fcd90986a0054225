"""REST: track an event (`POST /api/v1/track-event`), mounted in config/api.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router
from pydantic import BaseModel

from api.auth import key_environment
from api.errors import ERRORS, json_answer
from api.fields import IsoDateTime, UserId, as_utc

from .services import events_track, track_item

router = Router()


class TrackIn(BaseModel):
    event: str
    id: UserId | None = None
    email: str | None = None
    anonymous_id: str | None = None
    timestamp: IsoDateTime | None = Field(None, description="When it happened (default: now)")
    properties: dict[str, Any] | None = None
    message_id: str | None = Field(
        None, description="Your id for this call: a retried call with the same id is stored once"
    )


class TrackOut(BaseModel):
    message: str
    contact_uuid: UUID
    duplicate: bool


# The operation id is the one the endpoint had in config/api.py (client generators use it).
@router.post(
    "/track-event",
    response={200: TrackOut, 201: TrackOut, **ERRORS},
    operation_id="config_api_track_event",
)
def track_event(request: HttpRequest, payload: TrackIn) -> HttpResponse:
    """Record an event for a user (created if missing)."""
    item = track_item(
        event=payload.event,
        user_id=payload.id,
        email=payload.email,
        anonymous_id=payload.anonymous_id,
        properties=payload.properties,
        timestamp=as_utc(payload.timestamp),
        message_id=payload.message_id,
    )
    [item] = events_track(environment=key_environment(request), items=[item])
    return json_answer(
        201 if item.stored else 200,
        {
            "message": "Event tracked" if item.stored else "Already stored (same message_id)",
            "contact_uuid": str(item.profile_uuid),
            "duplicate": not item.stored,
        },
    )
