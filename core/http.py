"""The typed request every dashboard view receives, and helpers shared by the apps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

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


def confirmed(request: HttpRequest) -> bool:
    """A POST carrying confirm=yes: sent by the confirmation <dialog> (_confirm_dialog.html) and
    by the confirmation page (confirm.html). A destructive view acts only then."""
    return request.method == "POST" and request.POST.get("confirm") == "yes"


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
        },
    )
