"""The dashboard navigation: only entries whose page exists are shown."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, URL name). An app adds its page to the navigation by defining the URL name.
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
    """(label, URL name, URL) of every navigation entry whose page exists."""
    pages = []
    for label, name in NAVIGATION:
        try:
            pages.append((label, name, reverse(name, kwargs={"env": slug})))
        except NoReverseMatch:
            continue
    return pages


def _active_name(current: str, names: list[str]) -> str | None:
    if current in names:
        return current
    namespace = current.split(":")[0]
    return next((name for name in names if name.split(":")[0] == namespace), None)


def navigation(request: HttpRequest) -> dict[str, Any]:
    environment = getattr(request, "environment", None)
    if environment is None:
        return {}
    pages = available_pages(environment.slug)
    current = request.resolver_match.view_name if request.resolver_match else ""
    active = _active_name(current, [name for _, name, _ in pages])
    items = [{"label": label, "url": url, "active": name == active} for label, name, url in pages]
    memberships = request.user.memberships.select_related("environment").order_by(
        "environment__name"
    )
    return {"nav_items": items, "nav_memberships": memberships}
