"""The dashboard navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

# (label, URL name), in the order the navigation shows them.
NAVIGATION = [
    ("Overview", "surveys:overview"),
    ("Responses", "surveys:responses"),
    ("Users", "profiles:list"),
    ("Segments", "segments:list"),
    ("Surveys", "surveys:list"),
    ("Traits", "traits:list"),
    ("Events", "events:list"),
    ("Settings", "environments:settings"),
]


def available_pages(slug: str) -> list[tuple[str, str, str]]:
    """(label, URL name, URL) of every navigation entry."""
    return [(label, name, reverse(name, kwargs={"env": slug})) for label, name in NAVIGATION]


def _active_url(path: str, urls: list[str]) -> str | None:
    """The entry whose URL is the longest prefix of the current path (`/e/x/surveys/<id>/` is
    under Surveys, `/e/x/users/<id>/` under Users)."""
    matches = [url for url in urls if path.startswith(url)]
    return max(matches, key=len) if matches else None


def navigation(request: HttpRequest) -> dict[str, Any]:
    environment = getattr(request, "environment", None)
    if environment is None or not request.user.is_authenticated:
        return {}
    pages = available_pages(environment.slug)
    active = _active_url(request.path, [url for _, _, url in pages])
    items = [{"label": label, "url": url, "active": url == active} for label, _, url in pages]
    memberships = request.user.memberships.select_related("environment").order_by(
        "environment__name"
    )
    return {"nav_items": items, "nav_memberships": memberships}
