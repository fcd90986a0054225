"""Reads for the builder and the survey link."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from segments.membership import members_filter
from segments.models import Segment

from .models import Question, Response, Survey, SurveyStatus

PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def survey_list(*, environment: Any, status: str = "", search: str = "") -> QuerySet[Survey]:
    """The environment's surveys, newest first, with their question count (one query: surveys
    are few per environment, so a count of questions per row is cheap; responses are not
    counted here, the Overview does that)."""
    qs = (
        Survey.objects.filter(environment=environment)
        .select_related("published_by")
        .annotate(question_count=Count("questions"))
        .order_by("-created_at", "-id")
    )
    if status in SurveyStatus.values:
        qs = qs.filter(status=status)
    else:
        qs = qs.exclude(status=SurveyStatus.ARCHIVED)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs


def survey_for_builder(*, environment: Any, uuid: Any) -> Survey:
    """A survey of this environment (404 otherwise) with its questions loaded in order."""
    return get_object_or_404(
        Survey.objects.select_related("published_by", "created_by").prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("position", "id"))
        ),
        uuid=uuid,
        environment=environment,
    )


def survey_for_link(*, public_id: str) -> Survey | None:
    """The survey behind a public link, with its environment and ordered questions."""
    if not PUBLIC_ID_RE.match(public_id or ""):
        return None  # also keeps NUL and other odd bytes away from the database
    return (
        Survey.objects.select_related("environment")
        .prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("position", "id"))
        )
        .filter(public_id=public_id)
        .first()
    )


def response_for_link(*, survey: Survey, token: str) -> Response | None:
    """The response a survey page continues: its uuid travels in the page, and it must belong
    to this very survey (never another survey's or environment's)."""

    try:
        value = uuid.UUID(str(token))
    except (TypeError, ValueError, AttributeError):
        return None
    response = Response.objects.filter(
        uuid=value, survey=survey, environment_id=survey.environment_id
    ).first()
    if response is not None:
        response.survey = survey  # shares the survey's loaded questions
    return response


RESPONSE_COUNT_CAP = 10_000


def survey_response_count(*, survey: Survey) -> tuple[int, str]:
    """How many responses (answers or a completion; views are not responses) the survey has,
    for the builder's "live with N responses" notice, and how to write it: exact up to
    RESPONSE_COUNT_CAP, then "10,000+" (a LIMITed count, never a count of the whole table)."""
    count = (
        Response.objects.filter(survey=survey)
        .exclude(data={}, completed_at__isnull=True)[: RESPONSE_COUNT_CAP + 1]
        .count()
    )
    return count, f"{RESPONSE_COUNT_CAP:,}+" if count > RESPONSE_COUNT_CAP else f"{count:,}"


# --- The REST API --------------------------------------------------------------------------------


def survey_by_uuid(*, environment: Any, uuid: Any) -> Survey:
    """The environment's survey with this uuid; 404 otherwise (another environment's too)."""
    survey = Survey.objects.filter(environment=environment, uuid=uuid).first()
    if survey is None:
        raise Http404("No survey with this uuid")
    return survey


def survey_forms(*, environment: Any, status: str | None = None) -> QuerySet[Survey]:
    """The environment's surveys newest first, with their questions (one more query)."""
    qs = (
        Survey.objects.filter(environment=environment)
        .prefetch_related("questions")
        .order_by("-created_at", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def response_list(
    *,
    environment: Any,
    survey: Survey | None = None,
    segment: Segment | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    include: str = "completed",
) -> QuerySet[Response]:
    """The environment's responses with their survey and profile (unordered: the caller pages
    them): of `survey`, of `segment`'s members, received between `start` and `end`;
    `include` "completed", "partials" (answers but no completion) or "all" (either)."""
    qs = Response.objects.filter(environment=environment).select_related("survey", "profile")
    if survey is not None:
        qs = qs.filter(survey=survey)
    if segment is not None:
        qs = qs.filter(members_filter(segment, profile="profile_id"))
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lte=end)
    if include == "completed":
        qs = qs.filter(completed_at__isnull=False)
    elif include == "partials":
        qs = qs.filter(completed_at__isnull=True).exclude(data={})
    else:
        qs = qs.filter(Q(completed_at__isnull=False) | ~Q(data={}))
    return qs


def survey_names(
    *, environment_id: int, uuids: list[str] | None = None, limit: int = 500
) -> dict[str, str]:
    """uuid (as text) -> name of the environment's surveys, by name, at most `limit` of them;
    with `uuids` (valid uuids), all of those. For pickers, and for naming surveys in words."""
    qs = Survey.objects.filter(environment_id=environment_id).values_list("uuid", "name")
    qs = qs.filter(uuid__in=uuids) if uuids is not None else qs.order_by("name")[:limit]
    return {str(u): n for u, n in qs}
