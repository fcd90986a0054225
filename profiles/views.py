"""The Users list and the User Detail Panel (a slide-over fragment, or a full page)."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch
from django.views.decorators.http import require_GET

from core.http import HarkRequest
from core.totals import capped_total
from core.urls import env_reverse

from .filters import ProfileFilter
from .models import Profile
from .selectors import (
    TRIGRAM_MIN_LENGTH,
    profile_events_page,
    profile_list_queryset,
    profile_page,
    profile_responses,
    profile_segment_memberships,
    profile_trait_rows,
)


def _is_fragment(request: HarkRequest) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
def user_list(request: HarkRequest) -> HttpResponse:
    filterset = ProfileFilter(
        request.GET or None,
        environment=request.environment,
        queryset=profile_list_queryset(environment_id=request.environment.pk),
    )
    # A filter that does not validate (say, a segment of another environment) lists nobody
    # rather than silently listing everyone; the page says which filter was not understood.
    qs = (
        filterset.qs
        if not filterset.is_bound or filterset.is_valid()
        else filterset.queryset.none()
    )
    page = profile_page(qs, sort=filterset.sort_value, cursor=request.GET.get("after"))
    query = (request.GET.get("q") or "").strip()
    params = request.GET.copy()
    params.pop("after", None)
    next_url = None
    if page.next_cursor:
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    params.pop("after", None)
    context = {
        "filter": filterset,
        # How many users match, exact up to COUNT_CAP (one bounded count, core.totals).
        "total": capped_total(qs),
        "sort": filterset.sort_value,
        "page": page,
        "profiles": page.items,
        "next_url": next_url,
        "first_url": ("?" + params.urlencode()) if request.GET.get("after") else None,
        "is_filtered": any(request.GET.get(k) for k in ("q", "segment", "identity")),
        "short_query": 0 < len(query) < TRIGRAM_MIN_LENGTH,
    }
    template = "profiles/list.html#results" if _is_fragment(request) else "profiles/list.html"
    return render(request, template, context)


def _panel_context(request: HarkRequest, profile: Profile, events_cursor: str | None) -> dict:
    try:
        segments_url = env_reverse(request, "segments:profile_segments", profile_uuid=profile.uuid)
        memberships = None
    except NoReverseMatch:
        # The segments app's fragment (with add/remove controls) is not installed: list the
        # memberships read-only.
        segments_url = None
        memberships = profile_segment_memberships(profile=profile)
    return {
        "profile": profile,
        "trait_rows": profile_trait_rows(profile=profile),
        "responses": profile_responses(profile=profile),
        "events": profile_events_page(profile=profile, cursor=events_cursor),
        "segments_url": segments_url,
        "memberships": memberships,
        "events_cursor": events_cursor,
    }


@require_GET
def user_detail(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """The panel's fragment for htmx (into <dialog id="panel">), the full page otherwise."""
    profile = get_object_or_404(Profile, uuid=uuid, environment=request.environment)
    context = _panel_context(request, profile, None)
    if _is_fragment(request):
        return render(request, "profiles/detail.html#panel-content", context)
    context["as_page"] = True
    return render(request, "profiles/detail.html", context)


@require_GET
def user_events(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """The next page of the profile's events ("Load more" in the panel): the rows for htmx,
    the full page from that point otherwise (the link's plain fallback)."""
    profile = get_object_or_404(Profile, uuid=uuid, environment=request.environment)
    cursor = request.GET.get("after")
    if _is_fragment(request):
        context = {
            "profile": profile,
            "events": profile_events_page(profile=profile, cursor=cursor),
        }
        return render(request, "profiles/detail.html#event-rows", context)
    context = _panel_context(request, profile, cursor)
    context["as_page"] = True
    return render(request, "profiles/detail.html", context)
