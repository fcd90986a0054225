"""Template helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def eurl(context: template.Context, name: str, **kwargs: Any) -> str:
    """{% eurl "profiles:detail" pk=profile.pk %}: a dashboard URL in the current environment."""
    request = context["request"]
    return reverse(name, kwargs={"env": request.environment.slug, **kwargs})
