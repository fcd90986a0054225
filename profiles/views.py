"""The Users list and the User Detail Panel (a slide-over fragment, or a full page)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.http import HarkRequest, htmx_fragment, parse_id
from core.spreadsheet import CsvLines
from core.totals import capped_total, page_total

from .filters import ProfileFilter
from .models import ActivitySource, Profile
from .selectors import (
    TRIGRAM_MIN_LENGTH,
    USAGE_CSV_CHUNK,
    profile_events_page,
    profile_list_queryset,
    profile_page,
    profile_responses,
    profile_trait_rows,
    usage_counted_page,
    usage_months,
)
from .services import mau_zone, month_start


def _filtered(request: HarkRequest) -> tuple[ProfileFilter, QuerySet[Profile]]:
    """The Users list's filters and the profiles they select. A filter that does not validate
    (say, a segment of another environment) selects nobody rather than silently everyone; the
    page says which filter was not understood."""
    filterset = ProfileFilter(
        request.GET or None,
        environment=request.environment,
        queryset=profile_list_queryset(environment_id=request.environment.pk),
    )
    valid = not filterset.is_bound or filterset.is_valid()
    return filterset, filterset.qs if valid else filterset.queryset.none()


@require_GET
def user_list(request: HarkRequest) -> HttpResponse:
    filterset, qs = _filtered(request)
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
        # Loaded after the list when it takes a count (core.totals.page_total); `?count=1`
        # counts in the page, without JavaScript.
        "total": page_total(page, qs, count_now=request.GET.get("count") == "1"),
        "count_query": params.urlencode(),
        "sort": filterset.sort_value,
        "page": page,
        "profiles": page.items,
        "next_url": next_url,
        "first_url": ("?" + params.urlencode()) if request.GET.get("after") else None,
        "is_filtered": _is_filtered(request),
        "short_query": 0 < len(query) < TRIGRAM_MIN_LENGTH,
    }
    template = "profiles/list.html#results" if htmx_fragment(request) else "profiles/list.html"
    return render(request, template, context)


@require_GET
def user_count(request: HarkRequest) -> HttpResponse:
    """The Users list's count for its filters (the page's query string), exact up to COUNT_CAP
    (one bounded count, core.totals): the fragment that replaces "Counting…"."""
    _, qs = _filtered(request)
    context = {"total": capped_total(qs), "is_filtered": _is_filtered(request)}
    return render(request, "profiles/list.html#total", context)


def _is_filtered(request: HarkRequest) -> bool:
    return any(request.GET.get(k) for k in ("q", "segment", "identity"))


def _panel_context(request: HarkRequest, profile: Profile, events_cursor: str | None) -> dict:
    return {
        "profile": profile,
        "trait_rows": profile_trait_rows(profile=profile),
        "responses": profile_responses(profile=profile),
        "events": profile_events_page(profile=profile, cursor=events_cursor),
        "events_cursor": events_cursor,
    }


@require_GET
def user_detail(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """The panel's fragment for htmx (into <dialog id="panel">), the full page otherwise."""
    profile = get_object_or_404(Profile, uuid=uuid, environment=request.environment)
    context = _panel_context(request, profile, None)
    if htmx_fragment(request):
        return render(request, "profiles/detail.html#panel-content", context)
    context["as_page"] = True
    return render(request, "profiles/detail.html", context)


@require_GET
def user_events(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """The next page of the profile's events ("Load more" in the panel): the rows for htmx,
    the full page from that point otherwise (the link's plain fallback)."""
    profile = get_object_or_404(Profile, uuid=uuid, environment=request.environment)
    cursor = request.GET.get("after")
    if htmx_fragment(request):
        context = {
            "profile": profile,
            "events": profile_events_page(profile=profile, cursor=cursor),
        }
        return render(request, "profiles/detail.html#event-rows", context)
    context = _panel_context(request, profile, cursor)
    context["as_page"] = True
    return render(request, "profiles/detail.html", context)


# --- Usage (Settings -> Usage) ------------------------------------------------------------------


def _usage_month(value: str | None) -> date | None:
    """A `YYYY-MM` parameter as the month's first day; Http404 for anything else."""
    if not value:
        return None
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise Http404("no such month") from None


@require_GET
def usage(request: HarkRequest) -> HttpResponse:
    """MAU per month (identified / anonymous, and per source), and with `?month=YYYY-MM` the
    people who counted that month, in keyset pages (the `counted` partial for htmx)."""
    month = _usage_month(request.GET.get("month"))
    fragment = htmx_fragment(request) and month is not None
    context: dict[str, Any] = {"sources": ActivitySource.choices, "month": month}
    if not fragment:
        zone = mau_zone(request.environment)
        current = month_start(timezone.now(), zone)
        context["months"] = usage_months(environment_id=request.environment.pk, current=current)
        context["zone"] = zone
    if month is not None:
        # The cursor is a profile id. A malformed one ("²", which str.isdigit() accepts and
        # int() refuses; thousands of digits) reads as none, the first page, as every cursor
        # does (core.pagination): it was a 500.
        after = parse_id(request.GET.get("after"))
        rows, next_after = usage_counted_page(
            environment_id=request.environment.pk, month=month, after=after
        )
        context.update(
            rows=[(row, _source_labels(row.sources)) for row in rows],
            month_param=month.strftime("%Y-%m"),
            next_after=next_after,
            is_later_page=after is not None,
        )
    if fragment:
        return render(request, "profiles/usage.html#counted", context)
    return render(request, "profiles/usage.html", context)


def _source_labels(bits: int) -> list[str]:
    return [str(label) for value, label in ActivitySource.choices if bits & value]


@require_GET
def usage_csv(request: HarkRequest) -> StreamingHttpResponse:
    """Who counted in `?month=YYYY-MM` (this month by default), as CSV, streamed: keyset
    chunks of USAGE_CSV_CHUNK rows, so memory stays constant whatever the month's MAU."""
    month = _usage_month(request.GET.get("month")) or month_start(
        timezone.now(), mau_zone(request.environment)
    )
    environment_id = request.environment.pk

    def lines() -> Iterator[str]:
        out = CsvLines()
        yield out.line(["uuid", "user_id", "email", "anonymous_id", "counted_as", "sources"])
        after = None
        while True:
            rows, after = usage_counted_page(
                environment_id=environment_id, month=month, after=after, size=USAGE_CSV_CHUNK
            )
            for row in rows:
                p = row.profile
                yield out.line(
                    [
                        p.uuid,
                        p.user_id or "",
                        p.email or "",
                        p.anonymous_id or "",
                        "identified" if row.identified else "anonymous, surveyed",
                        ";".join(_source_labels(row.sources)),
                    ]
                )
            if after is None:
                return

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = f"mau-{request.environment.slug}-{month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
