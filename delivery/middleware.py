"""The client API's own short path through the middleware, and its CORS headers.

The web client calls from customers' origins: every answer under the client prefix (errors
included) allows the calling origin, without credentials; a preflight (`OPTIONS`, sent for
`application/json` bodies or the `X-Hark-Key` header) is answered here at once. Which origins a
public key is accepted from is decided by the endpoint (the environment's allowed origins), not
here: the preflight does not carry the key in a header, and granting a preflight reveals
nothing.

A client call authenticates with the environment's public key and carries no cookie, so the
dashboard's middleware has nothing to do for it: sessions, authentication, messages, CSRF (the
endpoints are CSRF-exempt), htmx, the environment of a dashboard URL, the audit actor (always
none: no signed-in user), the sign-in lockout and static files. Calls under the prefix skip
them and go through the middleware that shapes every answer's headers only
(`CLIENT_MIDDLEWARE`: security headers, frame options, the content security policy built once),
then straight to the endpoint: the skipped middleware was about a third of a call's CPU.
delivery/tests/test_middleware.py keeps a client answer's headers equal to the dashboard's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver
from django.utils.module_loading import import_string

CLIENT_PREFIX = "/api/v1/client/"

# What a client call still goes through, outermost first (the order of settings.MIDDLEWARE).
CLIENT_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "delivery.middleware.ClientCspMiddleware",
)


class ClientCspMiddleware:
    """The content security policy headers exactly as csp.middleware.CSPMiddleware writes them,
    built once per process: a client answer is JSON that never uses a nonce, so they are the
    same for every call (CSPMiddleware builds them anew for each: a tenth of a call's CPU)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers: dict[str, str] | None = None

    def _headers(self, request: HttpRequest) -> dict[str, str]:

        probe = HttpResponse()
        CSPMiddleware(lambda r: probe).process_response(request, probe)
        return {name: value for name, value in probe.items() if "security-policy" in name.lower()}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # CSPMiddleware leaves a debug page's 404 and 500 alone.
        if settings.DEBUG and response.status_code in (404, 500):
            return response
        if self.headers is None:
            self.headers = self._headers(request)
        for name, value in self.headers.items():
            if name not in response:
                response[name] = value
        return response


def _dispatch(request: HttpRequest) -> HttpResponse:
    """The endpoint of a client path (URL resolution as Django's handler does it; the fixed
    paths, every call but a display's steps, resolved once per process)."""
    path = request.path_info
    match = _resolved.get(path)
    if match is None:
        match = get_resolver().resolve(path)
        if not match.args and not match.kwargs and len(_resolved) < 64:
            _resolved[path] = match
    request.resolver_match = match
    return match.func(request, *match.args, **match.kwargs)


_resolved: dict[str, Any] = {}


def _client_chain() -> Callable[[HttpRequest], Any]:
    handler = convert_exception_to_response(_dispatch)
    for path in reversed(CLIENT_MIDDLEWARE):
        handler = convert_exception_to_response(import_string(path)(handler))
    return handler


class ClientCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.client_response = _client_chain()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(CLIENT_PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Content-Type, X-Hark-Key"
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.client_response(request)
        origin = request.META.get("HTTP_ORIGIN")
        response["Access-Control-Allow-Origin"] = origin or "*"
        response["Vary"] = "Origin"
        return response
