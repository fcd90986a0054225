"""The client API (`/api/v1/client/`): what the web client (and a mobile app) calls with the
environment's public key. The contract is delivery/CONTRACT.md; the README documents it.

No cookie, no CSRF token: the calls come from customers' origins (CORS headers are added by
delivery.middleware.ClientCorsMiddleware). Bodies are read as JSON whatever their content
type, so the client can send `text/plain` (a CORS simple request, and what sendBeacon sends).
Every problem answers `{"error": code, "field": name, "detail": words}` with a 4xx status, and
is found before anything is written. A call returns survey content only: never a profile,
trait, response or segment name.
"""

from __future__ import annotations

import inspect
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field as NinjaField
from ninja import Query, Router, Schema
from pydantic import BaseModel, Field

from api.auth import key_environment
from core.fastjson import dumps_orjson
from core.ingest import lone_surrogate_field, may_hold_surrogate
from core.ratelimit import Append, hit_many, hit_many_append
from environments.models import Environment
from surveys.models import Response, Survey, SurveyStatus

from . import content, selectors, services
from .models import DeliverySettings
from .services import Identity, NotEligible, Refused
from .targeting import Decision

router = Router(tags=["Client API (public key)"], auth=None)

BODY_MAX_BYTES = 65_536
KEY_CACHE_SECONDS = 5.0
# The client API's windows in the cache: hark:crl:ip:<address>:<window>, hark:crl:key:<env>:...
RATE_PREFIX = "crl"
_key_cache: dict[str, KeyState] = {}


# --- Documentation models (the OpenAPI document; the endpoints read bodies themselves) ---------


class UserIn(BaseModel):
    id: str | int | None = None
    email: str | None = None
    traits: dict[str, Any] | None = None


class IdentityIn(BaseModel):
    anonymous_id: str = Field(description="The device id the client made (16-64 characters)")
    user: UserIn | None = None
    signature: str | None = Field(
        None, description="HMAC-SHA256 hex of user.id (or lower-cased email), under verification"
    )


class PageIn(IdentityIn):
    url: str
    referrer: str | None = None
    locale: str | None = None
    title: str | None = None


class EventIn(IdentityIn):
    name: str
    properties: dict[str, Any] | None = None
    url: str | None = None
    count: int | None = Field(None, description="Anonymous: times this device sent the event")
    locale: str | None = None


class ClaimIn(IdentityIn):
    survey_id: str
    url: str | None = None
    locale: str | None = None
    force: bool = False


class AnswerIn(IdentityIn):
    idempotency_key: str
    question: str
    value: Any = None


class ContextIn(IdentityIn):
    data: dict[str, Any]
    idempotency_key: str | None = None


class ClientError(BaseModel):
    error: str
    field: str | None = None
    detail: str


class SurveysOut(BaseModel):
    surveys: list[dict[str, Any]]
    theme: dict[str, Any] | None = None
    strings: dict[str, str] | None = None
    locale: str | None = None
    settings: dict[str, Any] | None = None


class ClaimOut(BaseModel):
    display_id: str
    survey: dict[str, Any]
    theme: dict[str, Any]
    strings: dict[str, str]
    locale: str


class StepOut(BaseModel):
    next: str | None
    completed: bool


def _doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "text/plain": {"schema": schema},
            },
        }
    }


ERRORS: dict[int, Any] = {
    400: ClientError,
    401: ClientError,
    403: ClientError,
    404: ClientError,
    409: ClientError,
    413: ClientError,
    429: ClientError,
}


# --- Plumbing ----------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    # orjson where it writes what json.dumps would (a survey page's content is ~10 kB).
    text = dumps_orjson(body)
    response = HttpResponse(
        text if text is not None else json.dumps(body),
        status=status,
        content_type="application/json",
    )
    response["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _error(exc: Refused) -> HttpResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return _json(exc.status, {"error": exc.code, "field": exc.field, "detail": exc.detail}, headers)


@dataclass
class KeyState:
    """What a web process remembers of a public key: its environment, delivery settings and
    the environment's cache version they were read at (models.CacheVersion)."""

    loaded_at: float
    environment: Environment
    settings: DeliverySettings
    version: int | None


def _environment_cached(key: str, *, checked: bool) -> KeyState | None:
    """The state of a public key as remembered, or None. `checked`: the call reads the cache
    version with the person and starts over when it moved (selectors.Stale), so the state is
    used whatever its age; other calls use it for KEY_CACHE_SECONDS."""
    state = _key_cache.get(key)
    if state is not None and (checked or time.monotonic() - state.loaded_at < KEY_CACHE_SECONDS):
        return state
    return None


def _environment(key: str) -> KeyState | None:
    """The environment of a public key with its delivery settings and cache version (one
    query, the version read first: what is read after it is at least as new)."""
    now = time.monotonic()
    environment = selectors.environment_for_public_key(key)
    if environment is None:
        _key_cache.pop(key, None)
        return None
    try:
        found = environment.delivery_settings
    except DeliverySettings.DoesNotExist:
        found = DeliverySettings(environment=environment)
    if len(_key_cache) > 1000:
        _key_cache.clear()
    # cache_version: annotated by the selector.
    version = environment.cache_version  # type: ignore[attr-defined]
    state = _key_cache[key] = KeyState(now, environment, found, version)
    return state


def _client_ip(request: HttpRequest) -> str:
    # gunicorn rewrites REMOTE_ADDR from X-Forwarded-For for trusted proxies only.
    return request.META.get("REMOTE_ADDR") or "unknown"


class Call:
    """One authenticated client call: its environment, settings and JSON body."""

    def __init__(self, state: KeyState, body: dict, *, checked: bool) -> None:
        self.environment = state.environment
        self.settings = state.settings
        self.body = body
        # The rate-limit buckets a deferred call has yet to count (_admit), or None.
        self.pending: list[tuple[str, int]] | None = None
        # The cache version to check the person's query against (selectors.UNCHECKED: none).
        self.version = state.version if checked else selectors.UNCHECKED


def _open(request: HttpRequest, *, checked: bool, again: bool = False, defer: bool = False) -> Call:
    """Rate limits, the public key, the origin and the JSON body of a client call. `again`:
    the call starts over after its environment changed: read it again, counted once. `defer`:
    a remembered key's windows are left for the view to count (Call.pending, _admit)."""
    key = (request.GET.get("key") or request.META.get("HTTP_X_HARK_KEY") or "").strip()
    if not (key.startswith("pk_") and len(key) < 100):
        key = ""
    if again:
        found = _environment(key)
        if found is None:
            raise Refused("unknown_key", "Missing or unknown public key", status=401, field="key")
        return _checked(request, found, checked=checked)
    ip_bucket = (f"ip:{_client_ip(request)}", settings.HARK_CLIENT_RATE_LIMIT_IP)
    found = _environment_cached(key, checked=checked) if key else None
    if found is None:
        # An unknown (or not yet remembered) key: the IP's limit first, before the database.
        _limit([ip_bucket])
        found = _environment(key) if key else None
        if found is None:
            raise Refused("unknown_key", "Missing or unknown public key", status=401, field="key")
        buckets = [(f"key:{found.environment.pk}", settings.HARK_CLIENT_RATE_LIMIT_KEY)]
    else:
        # A remembered key: both windows counted in one round trip.
        buckets = [ip_bucket, (f"key:{found.environment.pk}", settings.HARK_CLIENT_RATE_LIMIT_KEY)]
        if defer:
            try:
                call = _checked(request, found, checked=checked)
            except Refused:
                _limit(buckets)  # refused for its origin or body: counted all the same
                raise
            call.pending = buckets
            return call
    _limit(buckets)
    return _checked(request, found, checked=checked)


def _limit(buckets: list[tuple[str, int]]) -> None:
    """Count a call in its rate-limit windows: Refused when one is over its limit."""
    retry = hit_many(buckets, prefix=RATE_PREFIX)
    if retry is not None:
        raise _rate_limited(retry)


def _rate_limited(retry: int) -> Refused:
    return Refused(
        "rate_limited", f"Too many calls: retry in {retry} s", status=429, retry_after=retry
    )


def _admit(request: HttpRequest, call: Call, append: Append | None = None) -> bool:
    """Count a deferred call in its rate-limit windows (Refused when over) and queue `append`
    in the same Redis round trip; True when it was queued, by this call or by its first attempt
    (a call started over after selectors.Stale was counted then). Runs before the call reads
    or writes anything."""
    if getattr(request, "_hark_appended", False):
        return True
    if call.pending is None:
        return False
    buckets, call.pending = call.pending, None
    retry, appended = hit_many_append(buckets, prefix=RATE_PREFIX, append=append)
    if retry is not None:
        raise _rate_limited(retry)
    if appended:
        request._hark_appended = True  # type: ignore[attr-defined]
    return appended


def _counted(request: HttpRequest, call: Call | None, exc: Refused) -> Refused:
    """A deferred call refused before it was counted (its body) is counted now: over its
    limit, the caller is told that, as it was before its body was read."""
    if call is not None and call.pending is not None:
        try:
            _admit(request, call)
        except Refused as limited:
            return limited
    return exc


def _checked(request: HttpRequest, found: KeyState, *, checked: bool) -> Call:
    delivery_settings = found.settings
    origin = request.META.get("HTTP_ORIGIN")
    allowed = delivery_settings.allowed_origins
    if origin and allowed and origin.rstrip("/").lower() not in allowed:
        raise Refused(
            "origin_not_allowed", "This public key is not accepted from this origin", status=403
        )
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > BODY_MAX_BYTES:
        raise Refused(
            "body_too_large",
            f"Bodies are at most {BODY_MAX_BYTES} bytes",
            status=413,
            field="body",
        )
    raw = request.body
    if len(raw) > BODY_MAX_BYTES:
        raise Refused(
            "body_too_large",
            f"Bodies are at most {BODY_MAX_BYTES} bytes",
            status=413,
            field="body",
        )
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise Refused("bad_request", "The body is not JSON", field="body") from None
    if not isinstance(body, dict):
        raise Refused("bad_request", "The body is a JSON object", field="body")
    # A lone surrogate ("\ud800") cannot be stored or signed: refused, naming the field,
    # before anything is read or written (as the REST API's parser does).
    if may_hold_surrogate(raw):
        where = lone_surrogate_field(body)
        if where is not None:
            raise Refused(
                "bad_request", f"{where} is not valid Unicode (a lone surrogate)", field=where
            )
    return Call(found, body, checked=checked)


# The calls that read the person (with the cache version) before anything else.
CHECKED_CALLS = frozenset({"page", "event", "claim"})
# The calls that count their rate limits themselves (_admit), once their body is read, so the
# page view they queue travels in the same Redis round trip.
DEFERRED_CALLS = frozenset({"page"})


def client_call(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A client endpoint. One that reads the person first (`checked`: page, event, claim)
    uses the remembered environment whatever its age and checks its cache version in that
    query: when it moved, the call starts over with the environment read again (at most
    twice; nothing is written before that query). The others use it for KEY_CACHE_SECONDS."""
    checked = view.__name__ in CHECKED_CALLS
    defer = view.__name__ in DEFERRED_CALLS

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        call = None
        try:
            for attempt in range(3):
                call = _open(
                    request,
                    checked=checked and attempt < 2,
                    again=attempt > 0,
                    defer=defer and attempt == 0,
                )
                try:
                    return view(request, call, *args, **kwargs)
                except selectors.Stale:
                    continue
            raise AssertionError("unreachable: the last attempt is unchecked")
        except Refused as exc:
            return _error(_counted(request, call, exc))

    # ninja reads the signature for the path parameters: the view's, without `call`.
    signature = inspect.signature(view)
    del wrapper.__wrapped__
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "call"]
    )
    return wrapper


def _text(body: dict, name: str, max_length: int, *, required: bool = False) -> str:
    value = body.get(name)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise Refused("bad_request", f"{name} is required", field=name)
    if len(value) > max_length:
        raise Refused("bad_request", f"{name} is longer than {max_length}", field=name)
    return value.strip()


def _payloads(
    call: Call,
    decisions: list[Decision],
    locale: str,
    snapshot: selectors.Snapshot | None = None,
    surveys: dict[int, Survey] | None = None,
) -> list[dict[str, Any]]:
    """Content for the decided surveys, in `locale`. With a snapshot, content built once per
    survey and locale is reused; otherwise questions cost one query and translations one."""
    if not decisions:
        return []
    key_locale = ",".join(content.locale_candidates(locale))
    wanted = [
        d for d in decisions if snapshot is None or (d.plan.id, key_locale) not in snapshot.content
    ]
    built: dict[int, dict] = {}
    if wanted:
        ids = [d.plan.id for d in wanted]
        if surveys is None:
            with_questions = selectors.surveys_with_questions(survey_ids=ids)
        else:
            with_questions = {i: surveys[i] for i in ids}
            selectors.prefetch_questions(list(with_questions.values()))
        texts = selectors.translations_for(
            survey_ids=ids, locales=content.locale_candidates(locale)
        )
        for d in wanted:
            if d.plan.id in with_questions:
                built[d.plan.id] = content.survey_content(
                    with_questions[d.plan.id], d.plan, texts.get(d.plan.id)
                )
        if snapshot is not None:
            for survey_id, built_item in built.items():
                snapshot.content[(survey_id, key_locale)] = built_item
    out = []
    for d in decisions:
        item = built.get(d.plan.id)
        if item is None and snapshot is not None:
            item = snapshot.content.get((d.plan.id, key_locale))
        if item is not None:
            out.append(item)
    return out


def _framing(call: Call, locale: str) -> dict[str, Any]:
    language = content.ui_language(locale)
    return {
        "theme": content.theme(call.settings),
        "strings": content.ui_strings(language),
        "locale": language,
    }


# --- Endpoints ---------------------------------------------------------------------------------


@router.post(
    "/page",
    response={200: SurveysOut, **ERRORS},
    openapi_extra=_doc(PageIn),
    summary="Start a page: the surveys that could trigger here",
)
@client_call
def page(request: HttpRequest, call: Call) -> HttpResponse:
    """Everything the client needs for this page in one round trip: the surveys that pass
    every gate for this person here (the trigger is armed by the client), their content, the
    theme and the interface's words. Stores a `$pageview` for identified users."""
    identity = services.identity_clean(call.environment, call.body)
    url = services.url_clean(call.body.get("url"))
    referrer = _text(call.body, "referrer", services.URL_MAX_LENGTH)
    title = _text(call.body, "title", 1000)
    locale = _text(call.body, "locale", 20)
    item = None
    if identity.identified and call.settings.pageview_tracking:
        item = services.page_view_item(
            identity=identity, url=url or "", referrer=referrer, title=title
        )
    # The rate limits and the queued page view: one Redis round trip, before anything is read
    # or written (a page view that cannot go with it is stored after identify).
    append = None
    if item is not None:
        append = services.page_view_append(
            environment=call.environment, identity=identity, item=item
        )
    queued = _admit(request, call, append)
    facts = services.client_identify(
        environment=call.environment, identity=identity, version=call.version
    )
    if item is not None and not queued:
        services.page_view_record(environment=call.environment, item=item)
    evaluation = selectors.evaluate_all(
        environment_id=call.environment.pk,
        facts=facts,
        url=url,
        settings=call.settings,
        cached=True,
    )
    decisions = [d for d in evaluation.eligible if d.plan.trigger != "manual"]
    return _json(
        200,
        {
            "surveys": _payloads(call, decisions, locale, evaluation.snapshot, evaluation.surveys),
            **_framing(call, locale),
            "settings": {"pageview_tracking": call.settings.pageview_tracking},
        },
    )


@router.post(
    "/event",
    response={200: SurveysOut, **ERRORS},
    openapi_extra=_doc(EventIn),
    summary="A tracked event: the surveys it makes due now",
)
@client_call
def event(request: HttpRequest, call: Call) -> HttpResponse:
    """Identified users' events are stored; anonymous visitors' are not (their `count` says
    how many times the device sent this event, for "the Nth time")."""
    identity = services.identity_clean(call.environment, call.body)
    name = _text(call.body, "name", 200, required=True)
    url = services.url_clean(call.body.get("url"), required=False)
    locale = _text(call.body, "locale", 20)
    properties = call.body.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise Refused("bad_request", "properties must be an object", field="properties")
    count = call.body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise Refused("bad_request", "count is a whole number from 1", field="count")
    # Checked before anything is written.
    item = services.event_item(identity=identity, name=name, properties=properties)
    facts = services.client_identify(
        environment=call.environment, identity=identity, version=call.version
    )
    if item is not None:
        services.event_store(environment=call.environment, item=item)
    evaluation = selectors.evaluate_all(
        environment_id=call.environment.pk,
        facts=facts,
        url=url,
        settings=call.settings,
        cached=True,
    )
    due = [
        d for d in evaluation.eligible if d.plan.trigger == "event" and d.plan.trigger_event == name
    ]
    if any(d.plan.trigger_nth for d in due):
        if identity.identified and facts.profile_id is not None:
            count = selectors.event_count(
                environment_id=call.environment.pk, profile_id=facts.profile_id, name=name
            )
        due = [d for d in due if not d.plan.trigger_nth or d.plan.trigger_nth == count]
    return _json(
        200,
        {"surveys": _payloads(call, due, locale, evaluation.snapshot, evaluation.surveys)},
    )


@router.post(
    "/identify",
    response={200: dict[str, bool], **ERRORS},
    openapi_extra=_doc(IdentityIn),
    summary="Identify the user of this device",
)
@client_call
def identify(request: HttpRequest, call: Call) -> HttpResponse:
    identity = services.identity_clean(call.environment, call.body)
    if not identity.identified:
        raise Refused("bad_request", "user is required", field="user")
    services._identify(call.environment, identity)
    return _json(200, {"identified": True})


def _survey(call: Call, value: Any) -> Survey:
    """The survey to claim: from the process snapshot when it is a live web survey there (the
    claim checks the snapshot's cache version with the person, twice), else read."""
    try:
        survey_uuid = uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise Refused("bad_request", "survey_id is a survey's id", field="survey_id") from None
    if call.version is not selectors.UNCHECKED:
        snapshot = selectors.live_snapshot(call.environment.pk, call.version)
        found = snapshot.by_uuid.get(str(survey_uuid))
        if found is not None:
            return found
    survey = selectors.survey_with_targeting(environment_id=call.environment.pk, uuid=survey_uuid)
    if survey is None:
        raise Refused("not_found", "No such survey", status=404, field="survey_id")
    return survey


@router.post(
    "/displays",
    response={201: ClaimOut, **ERRORS},
    openapi_extra=_doc(ClaimIn),
    summary="Claim a display before showing a survey",
)
@client_call
def claim(request: HttpRequest, call: Call) -> HttpResponse:
    """The gates are checked again (under a per-person lock) and the view is recorded: two
    tabs, or a stale page, cannot show a survey twice or break the throttle. `force` skips the
    targeting gates (the survey must be live); the display is still recorded."""
    identity = services.identity_clean(call.environment, call.body)
    survey = _survey(call, call.body.get("survey_id"))
    url = services.url_clean(call.body.get("url"), required=False)
    locale = _text(call.body, "locale", 20)
    force = call.body.get("force", False)
    if not isinstance(force, bool):
        raise Refused("bad_request", "force is true or false", field="force")
    try:
        response = services.display_claim(
            environment=call.environment,
            survey=survey,
            identity=identity,
            url=url,
            locale=content.ui_language(locale) if locale else "",
            force=force,
            settings=call.settings,
            version=call.version,
        )
    except NotEligible as exc:
        gate = exc.decision.failed
        # The gate's name only: its reason may name a segment or a person's history.
        refused = _json(
            409,
            {
                "error": "not_eligible",
                "field": gate.name if gate else None,
                "detail": f"Not shown: the {gate.name if gate else 'targeting'} gate says no",
            },
        )
        # A gate saying no is an answer, not a problem: no "Conflict" warning in the log for
        # each one (django.request logs every 4xx otherwise).
        refused._has_been_logged = True  # type: ignore[attr-defined]
        return refused
    # Content from the process snapshot when this survey is in it (built once per locale).
    # Both set on the response by display_claim.
    snapshot = selectors.live_snapshot(call.environment.pk, response.cache_version)  # type: ignore[attr-defined]
    decision = response.decision  # type: ignore[attr-defined]
    [payload] = _payloads(
        call,
        [decision],
        locale,
        snapshot if decision.plan.id in snapshot.surveys else None,
        snapshot.surveys if decision.plan.id in snapshot.surveys else None,
    )
    return _json(
        201, {"display_id": str(response.uuid), "survey": payload, **_framing(call, locale)}
    )


def _display(call: Call, identity: Identity, display_id: str) -> Response:
    """The caller's own web display in this environment, else 404 (another environment's,
    another person's, or no such id: the same answer)."""
    try:
        value = uuid.UUID(display_id)
    except ValueError:
        raise Refused("not_found", "No such display", status=404) from None
    response = selectors.web_display(
        environment_id=call.environment.pk,
        uuid=value,
        user_id=identity.user_id,
        email=identity.email,
        anonymous_id=identity.anonymous_id,
    )
    if response is None:
        raise Refused("not_found", "No such display", status=404)
    if response.survey.status != SurveyStatus.LIVE:
        raise Refused("not_found", "This survey no longer accepts answers", status=404)
    return response


@router.post(
    "/displays/{display_id}/answers",
    response={200: StepOut, **ERRORS},
    openapi_extra=_doc(AnswerIn),
    summary="Save one step's answer (a partial response)",
)
@client_call
def answer(request: HttpRequest, call: Call, display_id: str) -> HttpResponse:
    identity = services.identity_clean(call.environment, call.body)
    key = services.idempotency_key_clean(call.body.get("idempotency_key"), required=True)
    response = _display(call, identity, display_id)
    result = services.display_answer(
        response=response,
        question_key=call.body.get("question"),
        value=call.body.get("value"),
        idempotency_key=key or "",
    )
    return _json(200, result)


@router.post(
    "/displays/{display_id}/dismiss",
    response={200: dict[str, bool], **ERRORS},
    openapi_extra=_doc(IdentityIn),
    summary="The person closed the survey",
)
@client_call
def dismiss(request: HttpRequest, call: Call, display_id: str) -> HttpResponse:
    identity = services.identity_clean(call.environment, call.body)
    services.display_dismiss(response=_display(call, identity, display_id))
    return _json(200, {"dismissed": True})


@router.post(
    "/displays/{display_id}/complete",
    response={200: dict[str, bool], **ERRORS},
    openapi_extra=_doc(IdentityIn),
    summary="Mark the response completed",
)
@client_call
def complete(request: HttpRequest, call: Call, display_id: str) -> HttpResponse:
    identity = services.identity_clean(call.environment, call.body)
    services.display_complete(response=_display(call, identity, display_id))
    return _json(200, {"completed": True})


@router.post(
    "/displays/{display_id}/context",
    response={200: dict[str, bool], **ERRORS},
    openapi_extra=_doc(ContextIn),
    summary="Add contextual data to the response (addToResponse)",
)
@client_call
def add_context(request: HttpRequest, call: Call, display_id: str) -> HttpResponse:
    identity = services.identity_clean(call.environment, call.body)
    response = _display(call, identity, display_id)
    services.display_add_context(response=response, data=call.body.get("data"))
    return _json(200, {"saved": True})


# --- REST (secret key): the decision explained ---------------------------------------------------

rest_router = Router(tags=["Forms"])


class GateOut(BaseModel):
    gate: str
    passed: bool
    verdict: str
    reason: str
    eligible_at: str | None


class EligibilityOut(BaseModel):
    survey: str
    contact: str | None
    url: str | None
    eligible: bool
    eligible_at: str | None
    gates: list[GateOut]


class EligibilityQuery(Schema):
    id: str | None = NinjaField(None, description="The contact's user id")
    email: str | None = None
    uuid: UUID | None = NinjaField(None, description="The contact's uuid")
    url: str | None = NinjaField(None, description="The page (absolute URL); none: unknown")


@rest_router.get(
    "/{survey_id}/eligibility",
    response={200: EligibilityOut, 400: dict, 401: dict, 404: dict, 429: dict},
    summary="Would this contact be shown this survey, and why (not)?",
)
def eligibility(
    request: HttpRequest,
    survey_id: UUID,
    lookup: Query[EligibilityQuery],
) -> HttpResponse:
    """Every gate of the survey's web targeting for one contact (by `id`, `email` or `uuid`),
    on the page `url` when given: the same code that decides in the client API."""
    environment = key_environment(request)
    survey = selectors.survey_of(environment=environment, uuid=survey_id)
    if survey is None:
        return _json(404, {"error": "No survey with this uuid", "field": "survey_id"})
    url = lookup.url
    if not (lookup.uuid or lookup.id or lookup.email):
        return _json(400, {"error": "id: send id, email or uuid", "field": "id"})
    profile = selectors.contact_for_eligibility(
        environment=environment, uuid=lookup.uuid, user_id=lookup.id, email=lookup.email
    )
    if profile is None:
        # Named by what was looked up (the same precedence as contact_for_eligibility).
        by = "uuid" if lookup.uuid else "id" if lookup.id else "email"
        return _json(404, {"error": "No contact matches", "field": by})
    if url is not None:
        try:
            url = services.url_clean(url)
        except Refused as exc:
            return _json(400, {"error": f"url: {exc.detail}", "field": "url"})
    decision = selectors.explain(survey=survey, facts=selectors.facts_for_profile(profile), url=url)
    return _json(
        200,
        {
            "survey": str(survey.uuid),
            "contact": str(profile.uuid),
            "url": url,
            "eligible": decision.eligible,
            "eligible_at": decision.eligible_at.isoformat() if decision.eligible_at else None,
            "gates": [g.as_dict() for g in decision.gates],
        },
    )
