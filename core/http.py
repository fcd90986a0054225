"""The typed request every dashboard view receives, and helpers shared by the apps."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.once import once_repeated

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from environments.models import Environment, Membership


class HarkRequest(HttpRequest):
    """Filled by middleware: django-htmx sets `htmx`; EnvironmentMiddleware sets the rest."""

    user: User
    htmx: HtmxDetails
    environment: Environment
    membership: Membership


_ID_RE = re.compile(r"[0-9]{1,19}")
BIGINT_MAX = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """A database id (bigint) from a query or form value, or None. Not `str.isdigit()` with
    `int()`: "²" is a digit to the first and not to the second, and int() refuses more than
    4,300 digits; both were 500s."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= BIGINT_MAX else None


def parse_uuid(value: Any) -> str | None:
    """A uuid from a query or form value (as given), or None when it is not one: a form error or
    a 404, never a 500 from the database."""
    if not isinstance(value, str):
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def htmx_fragment(request: HarkRequest, target: str | None = None) -> bool:
    """True when the page should answer with its fragment: an htmx request that swaps part of
    the page. Not a history restore (htmx asks for the whole page when its history cache
    misses) nor a boosted navigation (which swaps the whole body). With `target`, only a
    request whose HX-Target is that element id (a page with several fragments)."""
    htmx = request.htmx
    if not htmx or htmx.history_restore_request or htmx.boosted:
        return False
    return target is None or htmx.target == target


def confirmed(request: HttpRequest) -> bool:
    """A POST carrying confirm=yes: sent by the confirmation <dialog> (_confirm_dialog.html) and
    by the confirmation page (confirm.html). A destructive view acts only then, and once: the
    same confirmation sent again (its one-time token, core/once.py) is not confirmed, and the
    confirmation page it gets says it was done already. Decided once per request."""
    decided = getattr(request, "_hark_confirmed", None)
    if decided is None:
        decided = request.method == "POST" and request.POST.get("confirm") == "yes"
        if decided and once_repeated(request):
            decided = False
            request._hark_repeated = True  # type: ignore[attr-defined]
        request._hark_confirmed = decided  # type: ignore[attr-defined]
    return decided


def confirm_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, back: str, back_label: str
) -> HttpResponse:
    """The action's confirmation page (a template extending confirm.html), posting back to this
    URL: what a GET shows (the path without JavaScript) and what a POST without confirm=yes
    gets, with a message that nothing was changed."""
    return render(
        request,
        template,
        {
            **context,
            "action": request.path,
            "back": back,
            "back_label": back_label,
            "unconfirmed": request.method == "POST",
            "repeated": getattr(request, "_hark_repeated", False),
        },
    )


def safe_next(request: HttpRequest, default: str) -> str:
    """Where to go after a form post: the request's `next` (POST, else GET) when it is a path on
    this site, else `default`. The one check for every `next` in Hark (the login and logout
    views use it too).

    Only an absolute path passes (Hark's own `next` values all are): a leading "/", and Django's
    url_has_allowed_host_and_scheme on top, which refuses `//evil.example`, `/\\evil.example`,
    `///evil` and control characters. So other hosts (`https://evil.example/`, `\\\\evil`),
    other schemes (`javascript:…`, `https:evil`, `foo:bar`) and bare words (which
    shortcuts.redirect() would look up as URL pattern names: a 500) never pass. Call it before
    writing anything, and redirect with HttpResponseRedirect (it percent-encodes CR/LF)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # Surrounding whitespace is dropped (browsers drop it too when they follow a Location), so
    # what is checked is what the browser would follow.
    candidate = candidate.strip()
    if any(unicodedata.category(char)[0] == "C" for char in candidate):
        # A control character inside (CR/LF, NUL, tab): no page of Hark has one in its path.
        return default
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
