"""Segment-compatible ingestion: any Segment or RudderStack library pointed at `<hark>/segment`.

Follows Segment's HTTP Tracking API: POST /v1/batch (and /v1/import) with {"batch": [...]},
and the single calls /v1/identify, /track, /page, /screen, /alias, /group (analytics.js's short
forms /v1/i, /t, /p, /s, /a, /g, /b too), with or without /v1 and a trailing slash.

What the libraries send, and what is accepted here:
- the write key as HTTP Basic user name with an empty password (analytics-python, -node,
  RudderStack), or as `writeKey` in the body (analytics.js, analytics-python 2.3+, mobile);
  an OAuth Bearer token that is not one of our keys falls through to the body's writeKey;
- `Content-Encoding: gzip` (analytics-python with gzip=True, rudder-sdk-python by default);
- any Content-Type (analytics.js and React Native send text/plain to avoid a CORS preflight);
- `sentAt` on the batch or message: timestamps are corrected for the sender's clock skew as
  Segment does (timestamp = received_at - (sentAt - timestamp));
- retries: the same `messageId` is stored once; 429 carries Retry-After, which the libraries
  honour. A bad message in a batch is reported by index and the good ones are stored.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from core.ingest import lone_surrogate_field, may_hold_surrogate
from environments.models import Environment
from events.services import TrackItem, events_track, track_item
from profiles.services import profile_alias, profile_identify, profiles_traits_merge
from traits.services import traits_clean

from .auth import AuthFailed, authenticate_request
from .body import MAX_BODY_BYTES, decode_body, loads
from .ratelimit import RateLimited

BATCH_MAX_MESSAGES = 1000
KINDS = {
    "batch": "batch",
    "import": "batch",
    "b": "batch",
    "identify": "identify",
    "i": "identify",
    "track": "track",
    "t": "track",
    "page": "page",
    "p": "page",
    "screen": "screen",
    "s": "screen",
    "alias": "alias",
    "a": "alias",
    "group": "group",
    "g": "group",
}
PAGE_EVENT = "Page Viewed"
SCREEN_EVENT = "Screen Viewed"
# Context keys kept with an event (under properties["context"]): what a team filters on.
CONTEXT_KEYS = (
    "page",
    "userAgent",
    "ip",
    "locale",
    "timezone",
    "campaign",
    "referrer",
    "library",
    "app",
    "device",
    "os",
    "screen",
)
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def _json(status: int, body: dict[str, Any], **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in {**CORS_HEADERS, **headers}.items():
        response[name] = value
    return response


def _fail(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    # `code` and `message` are what Segment's libraries read from an error body.
    return _json(
        status, {"success": False, "error": message, "code": code, "message": message, **extra}
    )


# --- Message parsing ---------------------------------------------------------------------------


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            # Seconds, or milliseconds as JavaScript clocks count.
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError({field: "is not a valid time"}) from exc
    if not isinstance(value, str):
        raise ValidationError({field: "must be an ISO-8601 string"})
    try:
        parsed = parse_datetime(value.strip().replace("\x00", ""))
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({field: "must be an ISO-8601 date-time"})
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _timestamp(
    msg: dict, batch_sent_at: datetime | ValidationError | None, received: datetime
) -> datetime:
    """When it happened, corrected for the sender's clock skew (Segment's own rule).
    `batch_sent_at`: the batch's sentAt, parsed once (or why it could not be), for messages
    without their own."""
    ts = _parse_time(msg.get("timestamp"), "timestamp") or _parse_time(
        msg.get("originalTimestamp"), "originalTimestamp"
    )
    if ts is None:
        return received
    if "sentAt" in msg:
        sent_at = _parse_time(msg["sentAt"], "sentAt")
    elif isinstance(batch_sent_at, ValidationError):
        raise ValidationError({"sentAt": batch_sent_at.messages})  # a new one for each message
    else:
        sent_at = batch_sent_at
    if sent_at is not None:
        # Both came from the sender's clock: their difference is exact, our clock is the truth.
        try:
            ts = received - (sent_at - ts)
        except OverflowError as exc:
            raise ValidationError({"timestamp": "is out of range"}) from exc
    return min(ts, received)


def _object(msg: dict, key: str) -> dict:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({key: "must be an object"})
    return value


def _context(msg: dict) -> dict:
    context = _object(msg, "context")
    return {k: context[k] for k in CONTEXT_KEYS if k in context}


# Keys of context.traits that restate who the message is about (RudderStack's SDKs copy the
# user and device ids there): the message's own userId and anonymousId decide that.
CONTEXT_TRAITS_IDENTITY = ("id", "userId", "anonymousId")


def _context_traits(msg: dict) -> dict:
    """The user traits the spec allows in `context.traits` on any call (RudderStack's identify
    sends them only there; its track and page calls repeat them), cleaned: ValidationError
    naming `context.traits.<key>`."""
    context = _object(msg, "context")
    traits = context.get("traits")
    if traits is None:
        return {}
    if not isinstance(traits, dict):
        raise ValidationError({"context.traits": "must be an object"})
    traits = {k: v for k, v in traits.items() if k not in CONTEXT_TRAITS_IDENTITY}
    return traits_clean(traits, field="context.traits")


def _user_traits(msg: dict) -> dict:
    """identify's traits: `context.traits` with the root `traits` winning on a conflict (the
    root ones are cleaned by profile_identify, which names them `traits.<key>`)."""
    root = _object(msg, "traits")
    extra = _context_traits(msg)
    return {**extra, **root} if extra else root


def _track(msg: dict, kind: str, ts: datetime, received: datetime) -> TrackItem:
    """A track, page or screen call as an event (its `context.traits` are read apart)."""
    properties = dict(_object(msg, "properties"))
    if kind == "track":
        event = msg.get("event")
        if not isinstance(event, str) or not event.strip():
            raise ValidationError({"event": "is required for track"})
    else:
        event = PAGE_EVENT if kind == "page" else SCREEN_EVENT
        for key in ("name", "category"):
            if isinstance(msg.get(key), str) and key not in properties:
                properties[key] = msg[key]
    context = _context(msg)
    if context and "context" not in properties:
        properties["context"] = context
    return track_item(
        event=event,
        user_id=msg.get("userId"),
        anonymous_id=msg.get("anonymousId"),
        properties=properties,
        timestamp=ts,
        message_id=msg.get("messageId"),
        now=received,
    )


def _rename_field(exc: ValidationError) -> ValidationError:
    """Report fields by their Segment names (userId, anonymousId, messageId)."""
    names = {"id": "userId", "anonymous_id": "anonymousId", "message_id": "messageId"}
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({names.get(k, k): v for k, v in exc.message_dict.items()})


def _first_error(exc: ValidationError) -> tuple[str, str]:
    if hasattr(exc, "error_dict"):
        field, messages = next(iter(exc.message_dict.items()))
        return field, " ".join(messages)
    return "message", " ".join(exc.messages)


def process_messages(
    *,
    environment: Environment,
    messages: list[Any],
    kind: str | None,
    batch_sent_at: Any = None,
    batch_context: dict | None = None,
    check_unicode: bool = True,
) -> tuple[int, list[dict[str, Any]]]:
    """Store what is valid; return (accepted count, errors by index).

    Identify-like calls (identify, alias, group) go one by one, in order, before the tracks;
    track/page/screen are stored together in one set-based call.
    """
    received = timezone.now()
    errors: list[dict[str, Any]] = []
    tracks: list[TrackItem] = []
    # context.traits of track/page/screen calls, by the index in `tracks`.
    track_traits: dict[int, dict] = {}
    accepted = 0
    sent_at: datetime | ValidationError | None
    try:
        sent_at = _parse_time(batch_sent_at, "sentAt")
    except ValidationError as exc:
        sent_at = exc  # reported for each message with a timestamp and no sentAt of its own
    for index, msg in enumerate(messages):
        try:
            if not isinstance(msg, dict):
                raise ValidationError({"message": "must be an object"})
            if batch_context and isinstance(msg.get("context", {}), dict):
                msg = {**msg, "context": {**batch_context, **(msg.get("context") or {})}}
            msg_kind = kind or KINDS.get(str(msg.get("type", "")).strip().lower())
            if msg_kind is None or msg_kind == "batch":
                raise ValidationError(
                    {"type": "must be identify, track, page, screen, alias or group"}
                )
            if check_unicode:
                bad = lone_surrogate_field(msg)
                if bad is not None:
                    raise ValidationError({bad: "is not valid Unicode (a lone surrogate)"})
            ts = _timestamp(msg, sent_at, received)
            # Every message is checked whole before it writes anything.
            if msg_kind in ("track", "page", "screen"):
                item = _track(msg, msg_kind, ts, received)
                traits = _context_traits(msg)
                if traits:
                    track_traits[len(tracks)] = traits
                tracks.append(item)
            elif msg_kind == "identify":
                profile_identify(
                    environment=environment,
                    user_id=msg.get("userId"),
                    anonymous_id=msg.get("anonymousId"),
                    traits=_user_traits(msg),
                    seen_at=ts,
                )
            elif msg_kind == "alias":
                traits = _context_traits(msg)
                with transaction.atomic():
                    profile = profile_alias(
                        environment=environment,
                        user_id=msg.get("userId"),
                        previous_id=msg.get("previousId"),
                        seen_at=ts,
                    )
                    if traits:
                        profile_identify(
                            environment=environment,
                            user_id=profile.user_id,
                            traits=traits,
                            seen_at=ts,
                        )
            else:  # group: the user's company, as traits
                group_id = msg.get("groupId")
                if group_id is None or group_id == "":
                    raise ValidationError({"groupId": "is required for group"})
                # Root traits describe the group; context.traits the user (the group's win).
                profile_identify(
                    environment=environment,
                    user_id=msg.get("userId"),
                    anonymous_id=msg.get("anonymousId"),
                    traits={
                        **_context_traits(msg),
                        "group_id": group_id,
                        "group": _object(msg, "traits"),
                    },
                    seen_at=ts,
                )
            if msg_kind not in ("track", "page", "screen"):
                accepted += 1
        except ValidationError as exc:
            field, message = _first_error(_rename_field(exc))
            errors.append({"index": index, "field": field, "error": message})
    if tracks:
        with transaction.atomic() if track_traits else nullcontext():
            events_track(environment=environment, items=tracks)
            if track_traits:
                profiles_traits_merge(
                    environment=environment,
                    updates=[
                        (profile_id, traits, tracks[i].timestamp)
                        for i, traits in track_traits.items()
                        if (profile_id := tracks[i].profile_id) is not None
                    ],
                )
        accepted += len(tracks)
    return accepted, errors


# --- The view ----------------------------------------------------------------------------------


@csrf_exempt
def ingest(request: HttpRequest, kind: str) -> HttpResponse:
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response
    if request.method != "POST":
        return _fail(405, "method_not_allowed", "Use POST")
    kind = KINDS[kind]
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _fail(413, "too_large", f"Body larger than {MAX_BODY_BYTES:,} bytes", field="body")
    try:
        body = decode_body(request)
        payload = loads(body)
    except RequestDataTooBig:
        return _fail(413, "too_large", f"Body larger than {MAX_BODY_BYTES:,} bytes", field="body")
    except (ValueError, UnicodeDecodeError):
        return _fail(400, "invalid_json", "Body is not valid JSON", field="body")
    if not isinstance(payload, dict):
        return _fail(400, "invalid_json", "Body must be a JSON object", field="body")

    write_key = payload.get("writeKey")
    if not isinstance(write_key, str) or lone_surrogate_field(write_key) is not None:
        write_key = None  # not a key (a lone surrogate could not even be hashed): 401 below
    try:
        api_key = authenticate_request(request, body_key=write_key)
    except AuthFailed as exc:
        return _fail(401, "unauthorized", exc.message)
    except RateLimited as exc:
        response = _fail(429, "rate_limited", str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response

    if kind == "batch":
        # Any until checked: the error summary below reads its length (only a list gets there).
        messages: Any = payload.get("batch")
        if not isinstance(messages, list):
            return _fail(400, "invalid_request", "batch must be a list of messages", field="batch")
        if len(messages) > BATCH_MAX_MESSAGES:
            return _fail(
                413,
                "too_large",
                f"batch has {len(messages)} messages; at most {BATCH_MAX_MESSAGES}",
                field="batch",
            )
        context = payload.get("context")
        accepted, errors = process_messages(
            environment=api_key.environment,
            messages=messages,
            kind=None,
            batch_sent_at=payload.get("sentAt"),
            batch_context=context if isinstance(context, dict) else None,
            check_unicode=may_hold_surrogate(body),
        )
    else:
        accepted, errors = process_messages(
            environment=api_key.environment,
            messages=[payload],
            kind=kind,
            check_unicode=may_hold_surrogate(body),
        )
    if errors:
        if kind != "batch":
            return _fail(400, "invalid_request", errors[0]["error"], field=errors[0]["field"])
        return _fail(
            400,
            "invalid_messages",
            f"{len(errors)} of {len(messages)} messages rejected; the others were stored",
            accepted=accepted,
            errors=errors,
        )
    return _json(200, {"success": True, "accepted": accepted})
