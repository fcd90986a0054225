"""The typed request every dashboard view receives, and helpers shared by the apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

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
