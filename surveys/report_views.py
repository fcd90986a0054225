"""The reports: Project Overview, Response List and its CSV export. Read-only pages (every
role may see them); thin views over surveys.filters and surveys.report_selectors."""

from __future__ import annotations

from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.http import HarkRequest
from core.totals import capped_total

from .filters import ANSWER_OPERATORS, PERIODS, VALUELESS_OPERATORS, OverviewFilter, ResponseFilter
from .report_selectors import (
    PAGE_SIZES,
    export_csv_lines,
    export_label_keys,
    export_question_keys,
    overview_report,
    response_page,
)


def _fragment(request: HarkRequest) -> bool:
    """An htmx request for this page's own fragment (not a history restore, which needs the
    whole page, nor a boosted navigation)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def _page_size(request: HarkRequest) -> int:
    try:
        size = int(request.GET.get("size", PAGE_SIZES[0]))
    except ValueError:
        return PAGE_SIZES[0]
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def _toggle_completed(query: QueryDict) -> str:
    """The same query with "completed only" switched (for the scores note's link)."""
    query = query.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    if query.get("completed") in ("true", "on", "1", "True"):
        query.pop("completed")
    else:
        query["completed"] = "true"
    return query.urlencode()


@require_GET
def overview(request: HarkRequest) -> HttpResponse:
    filterset = OverviewFilter(request.GET, environment=request.environment)
    context = {
        "filter": filterset,
        "periods": PERIODS,
        # The Response List link carries the same survey, segment and (defaulted) period.
        "responses_query": filterset.data.urlencode(),
        "toggle_completed_query": _toggle_completed(filterset.data),
        **overview_report(filterset),
    }
    template = "surveys/overview.html#report" if _fragment(request) else "surveys/overview.html"
    return render(request, template, context)


@require_GET
def responses(request: HarkRequest) -> HttpResponse:
    filterset = ResponseFilter(request.GET, environment=request.environment)
    page = response_page(
        filterset.qs,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        size=_page_size(request),
    )
    # The query string without the cursor, for pagination and export links.
    query = request.GET.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    context = {
        "filter": filterset,
        "page": page,
        # How many responses match, exact up to COUNT_CAP (one bounded count, core.totals).
        "total": capped_total(filterset.qs),
        "toggle_completed_query": _toggle_completed(request.GET),
        "periods": PERIODS,
        "operators": ANSWER_OPERATORS,
        "valueless_operators": sorted(VALUELESS_OPERATORS),
        "page_sizes": PAGE_SIZES,
        "query": query.urlencode(),
    }
    template = "surveys/responses.html#results" if _fragment(request) else "surveys/responses.html"
    return render(request, template, context)


@require_GET
def responses_export(request: HarkRequest) -> StreamingHttpResponse:
    """The filtered responses as CSV, streamed: one column per question key of the selected
    survey (or of all surveys)."""
    filterset = ResponseFilter(request.GET, environment=request.environment)
    qs = filterset.qs
    survey = filterset.form.cleaned_data.get("survey")
    keys = export_question_keys(request.environment.pk, survey.pk if survey else None)
    labelled = export_label_keys(request.environment.pk, survey.pk if survey else None)
    name = f"{request.environment.slug}-responses-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(export_csv_lines(qs, keys, labelled), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
