"""The API's error body, `{"error": ..., "field": ...}` (validation errors also list `errors`),
and the exception handlers that answer with it; `add_error_handlers` installs them on the
NinjaAPI (config/api.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from .auth import AuthFailed
from .body import MAX_BODY_BYTES
from .ratelimit import RateLimited


class FieldError(Schema):
    field: str
    message: str


class Error(Schema):
    error: str
    field: str | None = None
    errors: list[FieldError] | None = None


# The error statuses every key-authenticated endpoint declares (and 404 for those with a lookup).
ERRORS: dict[int, Any] = {400: Error, 401: Error, 413: Error, 429: Error}
ERRORS_404: dict[int, Any] = {**ERRORS, 404: Error}

# The NinjaAPI's renderer (the default one): the answers below render exactly as ninja would.
_renderer = JSONRenderer()
CONTENT_TYPE = f"{_renderer.media_type}; charset={_renderer.charset}"


def error_response(request: HttpRequest, status: int, message: str, **extra: Any) -> HttpResponse:
    """The error body with `status`; `extra` adds `field` and `errors`."""
    content = _renderer.render(request, {"error": message, **extra}, response_status=status)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPE)


def json_answer(status: int, body: dict[str, Any]) -> HttpResponse:
    """A JSON answer the hot ingestion endpoints build themselves: what ninja would render for
    the declared response model, without validating a value the endpoint just made (about a
    tenth of a tracking call's CPU in the process). The OpenAPI fuzz test checks these answers
    against the declared models."""
    return HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)


# Pydantic names the members of a union in the error location ("id.str", "id.int"): not fields.
_UNION_TAG = re.compile(
    r"^(str|int|float|bool|bytes|date|datetime|time|uuid|none|is-instance\[.*\]|"
    r"(dict|list|literal|function-\w+|lax-or-strict|json-or-python|nullable|tagged-union)\[.*\])$"
)


def _ninja_field(loc: list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
        if parts and parts[0] in ("payload", "filters", "params"):
            parts = parts[1:]
    # A union's tag follows the field it qualifies: the first part is always a field (a query
    # parameter called `uuid` is not the tag of a union).
    parts = parts[:1] + [p for p in parts[1:] if not _UNION_TAG.match(p)]
    return ".".join(parts) or "body"


def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _ninja_field(e.get("loc", [])), "message": e.get("msg", "")} for e in exc.errors
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return error_response(
        request,
        400,
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


def _service_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": key, "message": " ".join(str(m) for m in messages)}
            for key, messages in exc.message_dict.items()
        ]
    else:
        errors = [{"field": "body", "message": " ".join(exc.messages)}]
    first = errors[0]
    return error_response(
        request, 400, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
    )


def _auth_failed(request: HttpRequest, exc: AuthFailed) -> HttpResponse:
    response = error_response(request, 401, exc.message)
    response["WWW-Authenticate"] = 'Bearer, Basic realm="hark"'
    return response


def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "Missing or invalid API key")


def _rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = error_response(request, 429, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(
        request, 413, f"Request body larger than {MAX_BODY_BYTES:,} bytes", field="body"
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, RequestDataTooBig):
        return _too_big(request, cause)
    if isinstance(cause, DjangoValidationError):
        return _service_validation_error(request, cause)
    if exc.status_code == 400 and cause is not None:
        return error_response(request, 400, "Body is not valid JSON", field="body")
    return error_response(request, exc.status_code, exc.message)


def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, str(exc) or "Not found")


def add_error_handlers(api: NinjaAPI) -> None:
    """Answer every error of `api`'s endpoints with the error body: request validation and
    service validation (400 naming the field), authentication (401), rate limit (429 with
    Retry-After), a body too large (413), a lookup that found nothing (404)."""
    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (NinjaValidationError, _validation_error),
        (DjangoValidationError, _service_validation_error),
        (AuthFailed, _auth_failed),
        (AuthenticationError, _authentication_error),
        (RateLimited, _rate_limited),
        (RequestDataTooBig, _too_big),
        (HttpError, _http_error),
        (Http404, _not_found),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


# Paths whose callers are programs: a request Django refuses before any view (a Host header
# that is not valid, or not in ALLOWED_HOSTS) is answered there in JSON too.
API_PREFIXES = ("/api/", "/segment/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's handler400 (config/urls.py): Django answers a request it refuses before
    any view runs (DisallowedHost and the other SuspiciousOperations) with it. An API path gets
    the API's error body (with `detail`, which the client API's errors also carry); the
    dashboard keeps Django's page. `request.get_host()` is not called: it is what raised."""
    if request.path.startswith(API_PREFIXES):
        return error_response(
            request, 400, "bad_request", detail="The request was refused (its Host header?)"
        )
    return defaults.bad_request(request, exception)
