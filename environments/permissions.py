"""Role checks for dashboard views. Analysts read; every other role may change things.

An analyst who opens an edit form by URL (a bookmark, a link shared by a colleague) is sent to
the read-only page of the same thing with a note, rather than shown a form whose submit can
only fail; a write they send anyway gets the styled 403 page (templates/403.html)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from core.http import HarkRequest, htmx_fragment

from .models import Role

View = Callable[..., HttpResponse]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
READ_ONLY_NOTE = "Your role in this environment is read-only: this is the read-only page."


def _read_only_redirect(request: HarkRequest, name: str, kwargs: dict[str, Any]) -> HttpResponse:
    """A redirect to the read-only page `name`, with the view's URL arguments when that page
    takes them (segments:detail takes the uuid segments:edit had), else with the uuid alone
    (surveys:detail for a question's page), else without."""
    env = {"env": request.environment.slug}
    uuid_only = {key: value for key, value in kwargs.items() if key == "uuid"}
    for arguments in (kwargs, uuid_only):
        try:
            url = reverse(name, kwargs={**env, **arguments})
            break
        except NoReverseMatch:
            continue
    else:
        url = reverse(name, kwargs=env)
    messages.info(request, READ_ONLY_NOTE)
    return HttpResponseRedirect(url)


def _role_required(allowed: Callable[[HarkRequest], bool], message: str) -> Callable[..., Any]:
    def decorator(view: View | None = None, *, read_only: str | None = None) -> Any:
        """Unsafe methods need the role, else 403. With `read_only` (a URL name), a GET by
        someone without the role (an edit form, a confirmation page) is sent there instead."""

        def wrap(view: View) -> View:
            @wraps(view)
            def wrapper(request: HarkRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                if allowed(request):
                    return view(request, *args, **kwargs)
                if request.method not in SAFE_METHODS:
                    raise PermissionDenied(message)
                if read_only is not None and not htmx_fragment(request):
                    return _read_only_redirect(request, read_only, kwargs)
                if read_only is not None:
                    raise PermissionDenied(message)  # an htmx edit row: never for analysts
                return view(request, *args, **kwargs)

            return wrapper

        return wrap(view) if view is not None else wrap

    return decorator


editor_required = _role_required(
    lambda request: request.membership.can_edit, "Your role is read-only in this environment."
)
editor_required.__doc__ = """Unsafe methods (POST, PUT, PATCH, DELETE) need a role other than
analyst, else 403; `@editor_required(read_only="app:page")` also sends an analyst's GET of the
form to that read-only page."""

admin_required = _role_required(
    lambda request: request.membership.role == Role.ADMIN, "Only admins can change this."
)
admin_required.__doc__ = """Unsafe methods need the admin role (settings, API keys, team
members); `@admin_required(read_only="app:page")` as for editor_required."""


__all__ = ["Role", "admin_required", "editor_required"]
