"""The reports: Project Overview, Response List and its CSV export. Read-only pages (every
role may see them); thin views over surveys.filters and surveys.report_selectors."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.http import HarkRequest, htmx_fragment
from core.totals import capped_total, page_total

from .filters import ANSWER_OPERATORS, PERIODS, VALUELESS_OPERATORS, OverviewFilter, ResponseFilter
from .report_selectors import (
    PAGE_SIZES,
    export_csv_lines,
    export_label_keys,
    export_question_keys,
    export_removed_keys,
    overview_report,
    response_page,
)
from .results import MAX_COMPARED_SEGMENTS, ResultsFilter, compared_segments, survey_results
from .selectors import survey_for_builder


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
    template = "surveys/overview.html#report" if htmx_fragment(request) else "surveys/overview.html"
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
        # Loaded after the list when it takes a count (core.totals.page_total); `?count=1`
        # counts in the page, without JavaScript.
        "total": page_total(page, filterset.qs, count_now=request.GET.get("count") == "1"),
        "toggle_completed_query": _toggle_completed(request.GET),
        "periods": PERIODS,
        "operators": ANSWER_OPERATORS,
        "valueless_operators": sorted(VALUELESS_OPERATORS),
        "page_sizes": PAGE_SIZES,
        "query": query.urlencode(),
    }
    template = (
        "surveys/responses.html#results" if htmx_fragment(request) else "surveys/responses.html"
    )
    return render(request, template, context)


@require_GET
def responses_count(request: HarkRequest) -> HttpResponse:
    """The Response List's count for its filters (the page's query string), exact up to
    COUNT_CAP (one bounded count, core.totals): the fragment that replaces "Counting…"."""
    filterset = ResponseFilter(request.GET, environment=request.environment)
    context = {"filter": filterset, "total": capped_total(filterset.qs)}
    return render(request, "surveys/responses.html#total", context)


@require_GET
def responses_export(request: HarkRequest) -> HttpResponseBase:
    """The filtered responses as CSV, streamed: one column per question key of the selected
    survey (or of all surveys), then one per other key found in the responses (removed
    questions)."""
    filterset = ResponseFilter(request.GET, environment=request.environment)
    if not filterset.is_valid():
        # A tampered link (the page's own link carries the filters it shows as valid).
        wrong = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in filterset.errors.items()
        )
        return HttpResponse(
            f"The filters are not valid: {wrong}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    qs = filterset.qs
    survey = filterset.form.cleaned_data.get("survey")
    keys = export_question_keys(request.environment.pk, survey.pk if survey else None)
    removed = export_removed_keys(qs, keys)
    labelled = export_label_keys(request.environment.pk, survey.pk if survey else None)
    name = f"{request.environment.slug}-responses-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(
        export_csv_lines(qs, keys, labelled, removed), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
def results(request: HarkRequest, uuid: Any) -> HttpResponse:
    """A survey's results: a card per question, the drop-off funnel, the timeline and up to
    three segments side by side, for the same filters as the Response List (in the URL)."""
    survey = survey_for_builder(environment=request.environment, uuid=uuid)
    filterset = ResultsFilter(request.GET, environment=request.environment, survey=survey)
    compare = compared_segments(request.environment, request.GET.getlist("compare"))
    # Read here, not by the filter's form: a NUL (PostgreSQL text cannot hold one; searching
    # with it was a 500) is dropped, as in the other free-text searches.
    text_search = request.GET.get("text", "").replace("\x00", "").strip()[:200]
    query = request.GET.copy()
    query["survey"] = str(survey.uuid)
    context = {
        "filter": filterset,
        "periods": PERIODS,
        "compare": compare,
        "compare_ids": {str(s.uuid) for s in compare},
        "max_compared": MAX_COMPARED_SEGMENTS,
        "text_search": text_search,
        "responses_query": query.urlencode(),
        **survey_results(filterset, compare=compare, text_search=text_search),
    }
    template = "surveys/results.html#report" if htmx_fragment(request) else "surveys/results.html"
    return render(request, template, context)
