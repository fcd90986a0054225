"""The login brake (django-axes, configured in settings under "Login throttling").

Failed sign-ins are counted in PostgreSQL (axes' database handler: shared by every web process,
with or without Redis) per account and per client address; past HARK_LOGIN_FAILURE_LIMIT
failures within HARK_LOGIN_COOLOFF_MINUTES, every attempt for that account, or from that address,
is refused with the sign-in page and the message below (429), the right password included, until
the cool-off has passed since the last failure. The client address is core.proxy.client_ip
(X-Forwarded-For only from the trusted proxies).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.http import safe_next


def lockout_message() -> str:
    minutes = settings.HARK_LOGIN_COOLOFF_MINUTES
    return (
        "Too many failed sign-ins for this account or from your network. For your security, "
        f"signing in is paused: try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def username_key(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a failure counts against (AXES_USERNAME_CALLABLE): the submitted email as the
    login form reads it, so `Owner@Acme.test ` and `owner@acme.test` are one account."""
    value = (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("username", "") if request.method == "POST" else ""
    return str(value).strip().lower()[:255]


def locked_out_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page again with the lockout message (AXES_LOCKOUT_CALLABLE); 429."""
    form = AuthenticationForm(request, initial={"username": username_key(request, credentials)})
    context = {"form": form, "lockout_message": lockout_message(), "next": safe_next(request, "")}
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(settings.HARK_LOGIN_COOLOFF_MINUTES * 60)
    return response
