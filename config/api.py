"""The REST API (/api/v1/): identify users, track events, read and delete contacts, read and
store responses, list forms and segments, sync manual segments.

Thin endpoints over the services; every read is scoped by the key's environment. Errors are
JSON `{"error": ..., "field": ...}`; validation errors also list `errors`.
"""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import APIKeyQuery, HttpBasicAuth, HttpBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt, StrictStr

from core.ingest import canonical_email, lone_surrogate_field, may_hold_surrogate
from environments.models import ApiKey, Environment
from events.services import events_track, track_item
from profiles.models import Profile
from profiles.services import profile_identify

from .api_auth import AuthFailed, RateLimited, authenticate_request

MAX_BODY_BYTES = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE: larger bodies get 413
PAGE_LENGTH_MAX = 1000
PAGE_LENGTH_DEFAULT = 100


# --- Parsing and authentication ----------------------------------------------------------------


def decode_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip (bounded, so a small
    compressed body cannot inflate past the limit). Raises RequestDataTooBig or ValueError."""
    body = request.body
    if request.headers.get("Content-Encoding", "").strip().lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ValueError("Body is not valid gzip") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise RequestDataTooBig("Request body too large once decompressed")
    return body


def loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def loads_checked(body: bytes) -> Any:
    """`loads`, refusing a lone surrogate anywhere in the document (ValidationError naming the
    field): it could not be stored, and nothing of the call is written."""
    value = loads(body)
    if may_hold_surrogate(body):
        field = lone_surrogate_field(value)
        if field is not None:
            raise DjangoValidationError({field: "is not valid Unicode (a lone surrogate)"})
    return value


class HarkParser(Parser):
    """Ninja turns any exception of `parse_body` into a 400 "Cannot parse request body";
    `_http_error` below looks at its cause to answer 413 for a body too large once
    decompressed, and a field-naming 400 for invalid Unicode."""

    def parse_body(self, request: HttpRequest) -> Any:
        return loads_checked(decode_body(request))


class ApiKeyBearer(HttpBearer):
    """Authenticates for all three schemes (so a bad key gets a precise error); the Basic and
    query schemes below are declared for the OpenAPI document."""

    def __call__(self, request: HttpRequest) -> ApiKey:
        return authenticate_request(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:  # pragma: no cover
        return authenticate_request(request)


class ApiKeyBasic(HttpBasicAuth):
    def authenticate(self, request: HttpRequest, username: str, password: str) -> ApiKey:
        return authenticate_request(request)  # pragma: no cover


class ApiKeyParam(APIKeyQuery):
    param_name = "api_key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey:
        return authenticate_request(request)  # pragma: no cover


api = NinjaAPI(
    title="Hark API",
    version="1",
    description=(
        "Identify users, track events, read contacts and responses, sync segments. "
        "Authenticate with a secret API key: `Authorization: Bearer KEY`, HTTP Basic with the "
        "key as user name and an empty password, or an `api_key` query parameter."
    ),
    urls_namespace="api",
    auth=[ApiKeyBearer(), ApiKeyBasic(), ApiKeyParam()],
    parser=HarkParser(),
)


def _env(request: HttpRequest) -> Environment:
    return request.auth.environment  # type: ignore[attr-defined]


# --- Errors -------------------------------------------------------------------------------------


class FieldError(Schema):
    field: str
    message: str


class Error(Schema):
    error: str
    field: str | None = None
    errors: list[FieldError] | None = None


def _error(request: HttpRequest, status: int, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"error": message, **extra}, status=status)


def _answer(status: int, body: dict[str, Any]) -> HttpResponse:
    """A JSON answer the hot ingestion endpoints build themselves: what ninja would render for
    the declared response model, without validating a value the endpoint just made (about a
    tenth of a tracking call's CPU in the process). The OpenAPI fuzz test checks these answers
    against the declared models."""
    return HttpResponse(json.dumps(body), status=status, content_type=api.get_content_type())


# Pydantic names the members of a union in the error location ("id.str", "id.int"): not fields.
_UNION_TAG = re.compile(
    r"^(str|int|float|bool|bytes|date|datetime|time|uuid|none|is-instance\[.*\]|"
    r"(dict|list|literal|function-\w+|lax-or-strict|json-or-python|nullable|tagged-union)\[.*\])$"
)


def _ninja_field(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if not _UNION_TAG.match(str(p))]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
        if parts and parts[0] in ("payload", "filters", "params"):
            parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _ninja_field(e.get("loc", [])), "message": e.get("msg", "")} for e in exc.errors
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return _error(
        request,
        400,
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


@api.exception_handler(DjangoValidationError)
def _service_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": key, "message": " ".join(str(m) for m in messages)}
            for key, messages in exc.message_dict.items()
        ]
    else:
        errors = [{"field": "body", "message": " ".join(exc.messages)}]
    first = errors[0]
    return _error(
        request, 400, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
    )


@api.exception_handler(AuthFailed)
def _auth_failed(request: HttpRequest, exc: AuthFailed) -> HttpResponse:
    response = _error(request, 401, exc.message)
    response["WWW-Authenticate"] = 'Bearer, Basic realm="hark"'
    return response


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "Missing or invalid API key")


@api.exception_handler(RateLimited)
def _rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = _error(request, 429, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, f"Request body larger than {MAX_BODY_BYTES:,} bytes", field="body")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, RequestDataTooBig):
        return _too_big(request, cause)
    if isinstance(cause, DjangoValidationError):
        return _service_validation_error(request, cause)
    if exc.status_code == 400 and cause is not None:
        return _error(request, 400, "Body is not valid JSON", field="body")
    return _error(request, exc.status_code, exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, str(exc) or "Not found")


class NotFound(Http404):
    pass


def _iso_only(value: Any) -> Any:
    """Dates and times as ISO-8601 strings, as documented (pydantic would also take numbers)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_START.match(value.strip()):
        raise ValueError("must be an ISO-8601 date or date-time (YYYY-MM-DD...)")
    return value


_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
# A user id is a string or an integer (not a boolean or a float, which pydantic would coerce).
UserId = StrictStr | StrictInt

ERRORS: dict[int, Any] = {400: Error, 401: Error, 413: Error, 429: Error}
ERRORS_404: dict[int, Any] = {**ERRORS, 404: Error}


# --- Helpers ------------------------------------------------------------------------------------


def _aware(value: datetime | None, field: str = "timestamp") -> datetime | None:
    """In UTC (naive means UTC). PostgreSQL refuses offsets beyond ±15:59 that ISO-8601 allows."""
    if value is None:
        return None
    if not timezone.is_aware(value):
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise DjangoValidationError({field: "is out of range"}) from exc


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


def _find_contact(
    environment: Environment, *, id: str | None, email: str | None, uuid: UUID | None
) -> Profile:
    """The environment's contact by uuid, id or email; 404 otherwise (also for another
    environment's uuid: a key never reaches outside its environment)."""
    qs = Profile.objects.filter(environment=environment)
    if uuid is not None:
        qs = qs.filter(uuid=uuid)
    elif id:
        qs = qs.filter(user_id=id.replace("\x00", ""))
    elif email:
        qs = qs.filter(email=canonical_email(email.replace("\x00", ""))).order_by(
            "user_id", "-last_seen_at"
        )
    else:
        raise DjangoValidationError({"id": "send id, email or uuid"})
    profile = qs.first()
    if profile is None:
        raise NotFound("No contact matches")
    return profile


def _segment(environment: Environment, uuid: UUID):
    from segments.models import Segment

    segment = Segment.objects.filter(environment=environment, uuid=uuid).first()
    if segment is None:
        raise NotFound("No segment with this uuid")
    return segment


def _survey(environment: Environment, uuid: UUID):
    from surveys.models import Survey

    survey = Survey.objects.filter(environment=environment, uuid=uuid).first()
    if survey is None:
        raise NotFound("No survey with this uuid")
    return survey


def _day_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value, "date_to" if end else "date_from")
    return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)


# --- Environment --------------------------------------------------------------------------------


class EnvironmentOut(Schema):
    uuid: UUID
    name: str


@api.get("/", response={200: EnvironmentOut, **ERRORS}, summary="Check the API key")
def root(request: HttpRequest) -> dict[str, Any]:
    """The environment the key belongs to."""
    environment = _env(request)
    return {"uuid": environment.uuid, "name": environment.name}


# --- Identify and track -------------------------------------------------------------------------

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


@api.post("/identify-user", response={200: IdentifyOut, 201: IdentifyOut, **ERRORS})
def identify_user(request: HttpRequest, payload: IdentifyIn) -> HttpResponse:
    """Create or update a user (by `id` and/or `email`) and write traits."""
    if payload.id is None and not payload.email:
        raise DjangoValidationError({"id": "id or email is required"})
    traits = dict(payload.model_extra or {})
    for key in IDENTIFY_RESERVED:
        traits.pop(key, None)
    traits.update(payload.traits or {})
    profile = profile_identify(
        environment=_env(request),
        user_id=payload.id,
        email=payload.email,
        anonymous_id=payload.anonymous_id,
        traits=traits,
        mode=payload.mode,
    )
    created = getattr(profile, "created", False)
    return _answer(
        201 if created else 200,
        {
            "message": "User created" if created else "User updated",
            "contact_uuid": str(profile.uuid),
        },
    )


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


@api.post("/track-event", response={200: TrackOut, 201: TrackOut, **ERRORS})
def track_event(request: HttpRequest, payload: TrackIn) -> HttpResponse:
    """Record an event for a user (created if missing)."""
    item = track_item(
        event=payload.event,
        user_id=payload.id,
        email=payload.email,
        anonymous_id=payload.anonymous_id,
        properties=payload.properties,
        timestamp=_aware(payload.timestamp),
        message_id=payload.message_id,
    )
    [item] = events_track(environment=_env(request), items=[item])
    return _answer(
        201 if item.stored else 200,
        {
            "message": "Event tracked" if item.stored else "Already stored (same message_id)",
            "contact_uuid": str(item.profile_uuid),
            "duplicate": not item.stored,
        },
    )


# --- Contacts -----------------------------------------------------------------------------------


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


@api.get("/contacts", response={200: ContactPage, **ERRORS_404})
def contacts(request: HttpRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    """The environment's contacts, newest first, in pages (cursor pagination)."""
    from profiles.selectors import keyset_page, profile_list_queryset, profile_search_q
    from segments.models import SegmentMembership
    from surveys.models import Response

    environment = _env(request)
    qs = profile_list_queryset(environment_id=environment.pk)
    if filters.search:
        qs = qs.filter(
            profile_search_q(environment_id=environment.pk, text=filters.search.replace("\x00", ""))
        )
    if filters.segment:
        segment = _segment(environment, filters.segment)
        qs = qs.filter(
            Exists(SegmentMembership.objects.filter(segment=segment, profile_id=OuterRef("pk")))
        )
    if filters.survey:
        survey = _survey(environment, filters.survey)
        qs = qs.filter(Exists(Response.objects.filter(survey=survey, profile_id=OuterRef("pk"))))
    field = "last_seen_at" if filters.order == "last_seen" else "first_seen_at"
    cursor = filters.cursor.replace("\x00", "") if filters.cursor else None
    page = keyset_page(qs, field, cursor, filters.page_length)
    return {"items": [_contact(p) for p in page.items], "next_cursor": page.next_cursor}


class ContactLookup(Schema):
    id: str | None = None
    email: str | None = None
    uuid: UUID | None = None


@api.get("/contact", response={200: ContactDetailOut, **ERRORS_404})
def contact(request: HttpRequest, lookup: Query[ContactLookup]) -> dict[str, Any]:
    """One contact by `id`, `email` or `uuid`, with its segments."""
    from segments.models import Segment

    profile = _find_contact(_env(request), id=lookup.id, email=lookup.email, uuid=lookup.uuid)
    segments = Segment.objects.filter(memberships__profile=profile).order_by("name")
    return {
        **_contact(profile),
        "segments": [{"uuid": s.uuid, "name": s.name} for s in segments.only("uuid", "name")],
    }


class Message(Schema):
    message: str


@api.delete("/contact", response={200: Message, **ERRORS_404})
def contact_delete(request: HttpRequest, lookup: Query[ContactLookup]) -> dict[str, str]:
    """Erase a contact: every row that refers to it (events, responses, memberships and their
    history, displays...), in one transaction; the erasure is logged with keyed hashes of its
    identifiers (governance.erasure)."""
    from governance.views import erase_contact

    profile = _find_contact(_env(request), id=lookup.id, email=lookup.email, uuid=lookup.uuid)
    erase_contact(request, profile, via="api")
    return {"message": "Contact deleted"}


# --- Responses ----------------------------------------------------------------------------------


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


@api.get("/responses", response={200: ResponsePage, **ERRORS_404})
def responses(request: HttpRequest, filters: Query[ResponseFilters]) -> dict[str, Any]:
    """Survey responses, newest first, in pages (cursor pagination)."""
    from profiles.selectors import keyset_page
    from segments.models import SegmentMembership
    from surveys.models import Response

    environment = _env(request)
    qs = Response.objects.filter(environment=environment).select_related("survey", "profile")
    if filters.survey:
        qs = qs.filter(survey=_survey(environment, filters.survey))
    if filters.segment:
        segment = _segment(environment, filters.segment)
        qs = qs.filter(
            Exists(
                SegmentMembership.objects.filter(segment=segment, profile_id=OuterRef("profile_id"))
            )
        )
    start = _day_bound(filters.date_from, end=False)
    end = _day_bound(filters.date_to, end=True)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lte=end)
    if filters.include == "completed":
        qs = qs.filter(completed_at__isnull=False)
    elif filters.include == "partials":
        qs = qs.filter(completed_at__isnull=True).exclude(data={})
    else:
        qs = qs.filter(Q(completed_at__isnull=False) | ~Q(data={}))
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


@api.post("/responses", response={200: ResponseStoredOut, 201: ResponseStoredOut, **ERRORS_404})
def response_create(request: HttpRequest, payload: ResponseIn) -> Status:
    """Store a response collected elsewhere; `external_id` prevents duplicates."""
    from surveys.services import response_import, response_import_check

    environment = _env(request)
    survey = _survey(environment, payload.survey)
    if payload.id is None and not payload.email and not payload.anonymous_id:
        raise DjangoValidationError({"id": "id, email or anonymous_id is required"})
    # Everything is checked before the respondent is identified: a rejected call writes
    # nothing (no profile, no month of activity). The writes share one transaction, so a
    # failure past the checks cannot leave half of them either.
    response_import_check(survey=survey, answers=payload.answers, context=payload.context)
    completed_at = _aware(payload.completed_at, "completed_at")
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


# --- Forms and segments -------------------------------------------------------------------------


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
    try:
        path = reverse("surveys:link", kwargs={"public_id": public_id})
    except NoReverseMatch:
        path = f"/s/{public_id}/"
    return request.build_absolute_uri(path)


@api.get("/forms", response={200: list[FormOut], **ERRORS})
def forms(request: HttpRequest, filters: Query[FormFilters]) -> list[dict[str, Any]]:
    """The environment's surveys with their questions and public link."""
    from surveys.models import Survey

    qs = (
        Survey.objects.filter(environment=_env(request))
        .prefetch_related("questions")
        .order_by("-created_at", "-id")
    )
    if filters.status:
        qs = qs.filter(status=filters.status)
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
        for s in qs
    ]


class SegmentOut(Schema):
    uuid: UUID
    name: str
    kind: str
    description: str
    member_count: int
    computed_at: datetime | None


@api.get("/segments", response={200: list[SegmentOut], **ERRORS})
def segments(request: HttpRequest) -> list[dict[str, Any]]:
    """The environment's segments (sync-segment works on the manual ones)."""
    from segments.models import Segment

    return [
        {
            "uuid": s.uuid,
            "name": s.name,
            "kind": s.kind,
            "description": s.description,
            "member_count": s.member_count,
            "computed_at": s.computed_at,
        }
        for s in Segment.objects.filter(environment=_env(request)).order_by("name")
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


def _sync_target(request: HttpRequest, payload: SyncSegmentIn, *, create: bool):
    from segments.models import SegmentKind

    environment = _env(request)
    segment = _segment(environment, payload.segment)
    if payload.uuid is None and payload.id is None and not payload.email:
        raise DjangoValidationError({"id": "id, email or uuid is required"})
    if segment.kind != SegmentKind.MANUAL:
        # Checked before the user is identified (and created): a refused call writes nothing.
        raise DjangoValidationError({"segment": "Only manual segments take members by hand."})
    if create and payload.uuid is None:
        profile = profile_identify(environment=environment, user_id=payload.id, email=payload.email)
    else:
        profile = _find_contact(
            environment,
            id=None if payload.id is None else str(payload.id),
            email=payload.email,
            uuid=payload.uuid,
        )
    return segment, profile


def _manual_only(call: Any, **kwargs: Any) -> bool:
    try:
        return call(**kwargs)
    except DjangoValidationError as exc:
        raise DjangoValidationError({"segment": " ".join(exc.messages)}) from exc


@api.post("/sync-segment", response={200: SyncSegmentOut, **ERRORS_404})
def sync_segment_add(request: HttpRequest, payload: SyncSegmentIn) -> dict[str, Any]:
    """Add a user to a manual segment (the user is created if new)."""
    from segments.services import segment_member_add

    with transaction.atomic():
        segment, profile = _sync_target(request, payload, create=True)
        added = _manual_only(segment_member_add, segment=segment, profile=profile)
    return {
        "message": "Added to segment" if added else "Already a member",
        "contact_uuid": profile.uuid,
        "changed": added,
    }


@api.delete("/sync-segment", response={200: SyncSegmentOut, **ERRORS_404})
def sync_segment_remove(request: HttpRequest, payload: Query[SyncSegmentIn]) -> dict[str, Any]:
    """Remove a user from a manual segment."""
    from segments.services import segment_member_remove

    segment, profile = _sync_target(request, payload, create=False)
    removed = _manual_only(segment_member_remove, segment=segment, profile=profile)
    return {
        "message": "Removed from segment" if removed else "Not a member",
        "contact_uuid": profile.uuid,
        "changed": removed,
    }


# --- Mounted routers ----------------------------------------------------------------------------
# The client API (public key, CORS): delivery/api.py, documented in delivery/CONTRACT.md.
from delivery.api import rest_router as delivery_rest_router  # noqa: E402
from delivery.api import router as client_router  # noqa: E402

api.add_router("/client/", client_router)
api.add_router("/forms/", delivery_rest_router)

# Webhook endpoints and their deliveries (webhooks/api.py); the document's `webhooks` section
# describes each event's payload.
from webhooks.api import router as webhooks_router  # noqa: E402
from webhooks.openapi import install as install_webhooks_openapi  # noqa: E402

api.add_router("/webhooks/", webhooks_router)
install_webhooks_openapi(api)
from governance.api import router as governance_router  # noqa: E402

api.add_router("/contact/", governance_router)
