"""CORS for the client API: the web client calls from customers' origins.

Every answer under the client prefix (errors included) allows the calling origin, without
credentials; a preflight (`OPTIONS`, sent for `application/json` bodies or the `X-Hark-Key`
header) is answered here at once. Which origins a public key is accepted from is decided by
the endpoint (the environment's allowed origins), not here: the preflight does not carry the
key in a header, and granting a preflight reveals nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CLIENT_PREFIX = "/api/v1/client/"


class ClientCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(CLIENT_PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Content-Type, X-Hark-Key"
            response["Access-Control-Max-Age"] = "86400"
        else:
            response = self.get_response(request)
        origin = request.headers.get("Origin")
        response["Access-Control-Allow-Origin"] = origin or "*"
        response["Vary"] = "Origin"
        return response
