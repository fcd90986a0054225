"""REST: read and store responses (`/api/v1/responses`), list forms (`GET /api/v1/forms`),
mounted in config/api.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from api.auth import key_environment
from api.errors import ERRORS, ERRORS_404
from api.fields import PAGE_LENGTH_DEFAULT, PAGE_LENGTH_MAX, IsoDate, IsoDateTime, UserId, as_utc
from core.pagination import keyset_page
from profiles.services import profile_identify
from segments.selectors import segment_by_uuid

from .selectors import response_list, survey_by_uuid, survey_forms
from .services import response_import, response_import_check

router = Router()

# The operation ids below are the ones the endpoints had in config/api.py: they are part of the
# published document (client generators name methods after them).

# --- Responses ---------------------------------------------------------------------------------


class ResponseContact(Schema):
    uuid: UUID
    id: str | None
    email: str | None


class ResponseOut(Schema):
    uuid: UUID
    survey: UUID
    survey_name: str
    contact: ResponseContact
    channel: str
    status: str
    data: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime
    first_data_at: datetime | None
    last_data_at: datetime | None
    completed_at: datetime | None
    dismissed_at: datetime | None
    external_id: str | None


class ResponsePage(Schema):
    items: list[ResponseOut]
    next_cursor: str | None


class ResponseFilters(Schema):
    survey: UUID | None = None
    segment: UUID | None = Field(None, description="Responses of this segment's members")
    date_from: IsoDate | IsoDateTime | None = Field(None, description="Received on or after")
    date_to: IsoDate | IsoDateTime | None = Field(None, description="Received on or before")
    include: Literal["completed", "partials", "all"] = "completed"
    page_length: int = Field(PAGE_LENGTH_DEFAULT, ge=1, le=PAGE_LENGTH_MAX)
    cursor: str | None = None


def _response(r: Any) -> dict[str, Any]:
    return {
        "uuid": r.uuid,
        "survey": r.survey.uuid,
        "survey_name": r.survey.name,
        "contact": {"uuid": r.profile.uuid, "id": r.profile.user_id, "email": r.profile.email},
        "channel": r.channel,
        "status": r.status,
        "data": r.data or {},
        "context": r.context or {},
        "created_at": r.created_at,
        "first_data_at": r.first_data_at,
        "last_data_at": r.last_data_at,
        "completed_at": r.completed_at,
        "dismissed_at": r.dismissed_at,
        "external_id": r.external_id,
    }


def _day_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value, "date_to" if end else "date_from")
    return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)


@router.get(
    "/responses", response={200: ResponsePage, **ERRORS_404}, operation_id="config_api_responses"
)
def responses(request: HttpRequest, filters: Query[ResponseFilters]) -> dict[str, Any]:
    """Survey responses, newest first, in pages (cursor pagination)."""
    environment = key_environment(request)
    survey = (
        survey_by_uuid(environment=environment, uuid=filters.survey) if filters.survey else None
    )
    segment = (
        segment_by_uuid(environment=environment, uuid=filters.segment) if filters.segment else None
    )
    qs = response_list(
        environment=environment,
        survey=survey,
        segment=segment,
        start=_day_bound(filters.date_from, end=False),
        end=_day_bound(filters.date_to, end=True),
        include=filters.include,
    )
    cursor = filters.cursor.replace("\x00", "") if filters.cursor else None
    page = keyset_page(qs, "created_at", cursor, filters.page_length)
    return {"items": [_response(r) for r in page.items], "next_cursor": page.next_cursor}


class ResponseIn(Schema):
    survey: UUID
    id: UserId | None = Field(None, description="The respondent's user id")
    email: str | None = None
    anonymous_id: str | None = None
    answers: dict[str, Any] = Field(description="Answers keyed by question key")
    completed: bool = Field(True, description="Mark the response completed")
    completed_at: IsoDateTime | None = None
    external_id: str | None = Field(
        None, description="Your id for the response: sending it again stores nothing new"
    )
    context: dict[str, Any] | None = None


class ResponseStoredOut(Schema):
    message: str
    response_uuid: UUID
    contact_uuid: UUID
    created: bool


@router.post(
    "/responses",
    response={200: ResponseStoredOut, 201: ResponseStoredOut, **ERRORS_404},
    operation_id="config_api_response_create",
)
def response_create(request: HttpRequest, payload: ResponseIn) -> Status:
    """Store a response collected elsewhere; `external_id` prevents duplicates."""
    environment = key_environment(request)
    survey = survey_by_uuid(environment=environment, uuid=payload.survey)
    if payload.id is None and not payload.email and not payload.anonymous_id:
        raise DjangoValidationError({"id": "id, email or anonymous_id is required"})
    # Everything is checked before the respondent is identified: a rejected call writes
    # nothing (no profile, no month of activity). The writes share one transaction, so a
    # failure past the checks cannot leave half of them either.
    response_import_check(survey=survey, answers=payload.answers, context=payload.context)
    completed_at = as_utc(payload.completed_at, "completed_at")
    if payload.completed and completed_at is None:
        completed_at = timezone.now()
    with transaction.atomic():
        profile = profile_identify(
            environment=environment,
            user_id=payload.id,
            email=payload.email,
            anonymous_id=payload.anonymous_id,
        )
        response, created = response_import(
            survey=survey,
            profile=profile,
            answers=payload.answers,
            completed_at=min(completed_at, timezone.now()) if completed_at else None,
            external_id=payload.external_id,
            context=payload.context,
        )
    return Status(
        201 if created else 200,
        {
            "message": "Response stored" if created else "Already stored (same external_id)",
            "response_uuid": response.uuid,
            "contact_uuid": profile.uuid,
            "created": created,
        },
    )


# --- Forms -------------------------------------------------------------------------------------


class QuestionOut(Schema):
    key: str
    type: str
    title: str
    required: bool
    choices: list[Any] | None


class FormOut(Schema):
    uuid: UUID
    name: str
    status: str
    mode: str
    channels: list[str]
    link: str
    questions: list[QuestionOut]
    created_at: datetime


class FormFilters(Schema):
    status: Literal["draft", "live", "paused", "archived"] | None = None


def _survey_link(request: HttpRequest, public_id: str) -> str:
    return request.build_absolute_uri(reverse("surveys:link", kwargs={"public_id": public_id}))


@router.get("/forms", response={200: list[FormOut], **ERRORS}, operation_id="config_api_forms")
def forms(request: HttpRequest, filters: Query[FormFilters]) -> list[dict[str, Any]]:
    """The environment's surveys with their questions and public link."""
    return [
        {
            "uuid": s.uuid,
            "name": s.name,
            "status": s.status,
            "mode": s.mode,
            "channels": [str(c) for c in (s.channels or [])],
            "link": _survey_link(request, s.public_id),
            "questions": [
                {
                    "key": q.key,
                    "type": q.kind,
                    "title": q.title,
                    "required": q.required,
                    "choices": (q.config or {}).get("choices"),
                }
                for q in s.questions.all()
            ],
            "created_at": s.created_at,
        }
        for s in survey_forms(environment=key_environment(request), status=filters.status)
    ]
