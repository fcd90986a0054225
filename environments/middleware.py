"""Resolve the environment of a dashboard URL (`/e/<env>/...`) and check membership.

Every dashboard URL carries the environment's slug as the `env` keyword. This middleware takes
it out of the view's arguments, looks the environment up among the user's memberships and sets
`request.environment` and `request.membership`; a user who is not a member gets 404, the same
answer as for an environment that does not exist, so slugs do not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from .models import Membership


class EnvironmentMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable,
        view_args: tuple,
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        slug = view_kwargs.pop("env", None)
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = (
            Membership.objects.select_related("environment")
            .filter(user=request.user, environment__slug=slug)
            .first()
        )
        if membership is None:
            raise Http404("No such environment")
        request.environment = membership.environment  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        # Remember the last environment for "/" (written only when it changes: a session write
        # is an UPDATE and a commit, which a page view should not pay every time).
        if request.session.get("environment") != slug:
            request.session["environment"] = slug
        return None
