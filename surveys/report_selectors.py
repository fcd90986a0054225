"""Reads for the reports: the Project Overview's figures and charts, the Response List's keyset
pages and the CSV export's rows. A fixed number of queries per page, whatever the data size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from core import spreadsheet
from core.pagination import Page, keyset_page
from core.querysql import queryset_sql
from profiles.models import MonthlyActivity
from profiles.services import mau_zone, month_start
from segments.membership import member_ids

from . import scores
from .answers import CSAT_LABELS, value_label
from .charts import Point, bar_chart, line_chart
from .filters import OverviewFilter
from .models import Question, QuestionKind, Response
from .report_rollup import (
    as_score_keys,
    day_start,
    merge_weeks,
    overview_counts,
    rolled_up_weeks,
    rollup_state,
    score_keys,
)

LATEST_RESPONSES = 10
TIMELINE_MAX_WEEKS = 52
PAGE_SIZES = (25, 50, 100)
EXPORT_CHUNK = 2000
ANSWER_PREVIEW_CHARS = 280

ANSWERED = ~Q(data={})  # the same condition as report_rollup's "responses"
STATUS_LABELS = {
    "completed": "Completed",
    "partial": "Partial",
    "view": "View only",
    "dismissed": "Dismissed",
}

# What a row of the lists needs: the survey's name, the respondent's name (from traits, email,
# user id or uuid) and the response's own columns; the rest of both tables stays on disk.
ROW_FIELDS = (
    "uuid",
    "survey_id",
    "profile_id",
    "channel",
    "data",
    "created_at",
    "completed_at",
    "dismissed_at",
    "context",
    "locale",
    "survey__uuid",
    "survey__name",
    "profile__uuid",
    "profile__user_id",
    "profile__email",
    "profile__anonymous_id",
    "profile__traits",
)


# --- Answers as people read them ---------------------------------------------------------------


@dataclass
class Answer:
    key: str
    title: str
    text: str


CONTEXT_PREVIEW_CHARS = 120


def context_items(context: Any, limit: int | None = CONTEXT_PREVIEW_CHARS) -> list[tuple[str, str]]:
    """A response's context (`response_*` link parameters, API context) as (key, text) pairs
    in key order; each value cut to `limit` characters for the lists (None: whole)."""
    if not isinstance(context, dict):
        return []
    items = []
    for key in sorted(context):
        text = _plain(context[key]) if not isinstance(context[key], dict) else str(context[key])
        if limit is not None and len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        items.append((str(key), text))
    return items


def questions_for(survey_ids: Iterable[int]) -> dict[int, dict[str, Question]]:
    """{survey_id: {key: question}} in one query (for labels and the CSV columns)."""
    by_survey: dict[int, dict[str, Question]] = {}
    ids = set(survey_ids)
    if not ids:
        return by_survey
    for question in Question.objects.filter(survey_id__in=ids).only(
        "survey_id", "key", "kind", "title", "position"
    ):
        by_survey.setdefault(question.survey_id, {})[question.key] = question
    return by_survey


def attach_answers(responses: Sequence[Response]) -> None:
    """Set on each response `answers` ([Answer] in question order), `when_iso` and `when`
    (its local time, formatted here once: Django's date filter costs ~0.1 ms a call, which a
    100-row page would pay several times a row). One query."""
    questions = questions_for(r.survey_id for r in responses if r.data)
    for response in responses:
        local = timezone.localtime(response.created_at)
        response.when_iso = local.isoformat(timespec="seconds")  # type: ignore[attr-defined]
        response.when = f"{local:%b} {local.day}, {local:%Y %H:%M}"  # type: ignore[attr-defined]
        response.status_label = STATUS_LABELS.get(response.status, "")  # type: ignore[attr-defined]
        response.context_items = context_items(response.context)  # type: ignore[attr-defined]
        survey_questions = questions.get(response.survey_id, {})
        order = {key: i for i, key in enumerate(survey_questions)}
        answers = []
        for key, value in (response.data or {}).items():
            question = survey_questions.get(key)
            text = value_label(question, value) if question else _plain(value)
            if len(text) > ANSWER_PREVIEW_CHARS:  # the list previews; the panel shows it all
                text = text[: ANSWER_PREVIEW_CHARS - 1].rstrip() + "…"
            answers.append(Answer(key=key, title=question.title if question else key, text=text))
        answers.sort(key=lambda a: order.get(a.key, len(order)))
        response.answers = answers  # type: ignore[attr-defined]


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    return "" if value is None else str(value)


# --- Keyset pagination --------------------------------------------------------------------------


def response_page(
    qs: QuerySet, *, after: str | None = None, before: str | None = None, size: int = 25
) -> Page:
    """Newest first, keyset on (created_at, id) (core.pagination): one indexed query per page,
    however deep, and no COUNT. `after` is the cursor of the last row seen (older page), `before`
    the first row seen (newer page)."""
    qs = qs.select_related("survey", "profile").only(*ROW_FIELDS)
    page = keyset_page(qs, "created_at", after, size, before=before)
    attach_answers(page.items)
    return page


# --- Project Overview ---------------------------------------------------------------------------


MAU_CACHE_SECONDS = 120


def monthly_active_users(environment_id: int, month: date, segment_id: int | None) -> int:
    """People counted in `month` by the MAU rule (a count over the partial index of counted
    rows), cached for two minutes: a dashboard figure that may lag a little, not a per-request
    count."""
    key = f"hark:mau2:{environment_id}:{month.isoformat()}:{segment_id or ''}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    # By the rule Settings → Usage counts (identified, or shown a survey): the same figure, on
    # the partial index of the counted rows.
    active = MonthlyActivity.objects.filter(environment_id=environment_id, month=month).filter(
        Q(identified=True) | Q(surveyed=True)
    )
    if segment_id is not None:
        active = active.filter(profile_id__in=member_ids(segment=segment_id))
    count = active.count()
    cache.set(key, count, MAU_CACHE_SECONDS)
    return count


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _week_label(week: datetime) -> str:
    return f"{week:%b} {week.day}"


def _overview_figures(
    filterset: OverviewFilter, keys: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(totals, weeks) for the Overview's cards and charts."""
    qs = filterset.qs_every_row
    survey = filterset.form.cleaned_data.get("survey")
    segment = filterset.form.cleaned_data.get("segment")
    span = filterset.date_range
    counts = overview_counts()
    rolled: list[dict[str, Any]] = []
    # The rollup holds every response's figures: a segment (membership is per profile) or
    # "completed only" is computed live.
    # It also holds the figures of erased responses (governance.erasure): added here for the
    # days after the watermark, so totals are the same after an erasure.
    if segment is None and not filterset.form.errors and not filterset.completed_only:
        watermark, erased = rollup_state(filterset.environment.pk)
        end = watermark
        if watermark is not None and span.end is not None:
            end = min(watermark, timezone.localtime(span.end).date())
        if watermark is not None or erased:
            rolled = rolled_up_weeks(
                environment_id=filterset.environment.pk,
                survey_id=survey.pk if survey else None,
                start=span.start_date,
                end=end,
                watermark=watermark,
                last_day=span.end_date,
            )
        if watermark is not None and (span.start is None or span.start < day_start(watermark)):
            qs = qs.filter(created_at__gte=day_start(watermark))
    live = scores.grouped_figures(qs, {"week": TruncWeek("created_at")}, keys, counts)
    weeks = merge_weeks(rolled, live)
    names = list(scores.score_aggregates(keys, counts)[1])
    totals = scores.finalize_figures(scores.add_figures(weeks, names), keys, counts)
    return totals, [{"week": w["week"], **scores.finalize_figures(w, keys, counts)} for w in weeks]


def overview_report(filterset: OverviewFilter) -> dict[str, Any]:
    """Cards, charts and the latest responses for the Overview: five queries whatever the range
    or the data size: the question keys, one grouped scan of the range (an index range on
    (environment, created_at)) for every card and both charts, MAU, the latest rows and their
    question titles."""
    environment = filterset.environment
    qs = filterset.qs
    survey = filterset.form.cleaned_data.get("survey")
    segment = filterset.form.cleaned_data.get("segment")
    span = filterset.date_range
    keys = as_score_keys(score_keys(environment.pk, survey.pk if survey else None))

    # 1. Counts, scores and their weekly series: complete days from the daily rollup (when
    # no segment is chosen), the rest live from one grouped scan; both give raw figures that
    # add up.
    figures, series = _overview_figures(filterset, keys)
    series = series[-TIMELINE_MAX_WEEKS:]
    views = figures["views"]
    figures["completion_rate"] = round(figures["completed"] * 100 / views, 1) if views else None
    # Responses = completed + partial (see report_rollup.overview_counts): the card's parts add
    # up, and the scores say how many partial responses they include.
    figures["partial"] = max(figures["responses"] - figures["completed"], 0)

    # 2. MAU: profiles active in the month the range ends in (stored rows, an index range).
    month = (
        _month_start(span.end_date)
        if span.end_date
        else month_start(timezone.now(), mau_zone(environment))
    )
    mau = monthly_active_users(environment.pk, month, segment.pk if segment else None)

    nps_points = [
        Point(
            label=_week_label(row["week"]),
            value=row["nps"]["score"] if row.get("nps") else None,
            title=(
                f"Week of {_week_label(row['week'])}: NPS {row['nps']['score']:.0f} "
                f"({row['nps']['total']} answers)"
                if row.get("nps") and row["nps"]["score"] is not None
                else ""
            ),
        )
        for row in series
    ]
    volume_points = [
        Point(
            label=_week_label(row["week"]),
            value=row["responses"],
            title=(
                f"Week of {_week_label(row['week'])}: {row['responses']} responses, "
                f"{row['views']} views"
            ),
        )
        for row in series
    ]
    has_nps_points = any(p.value is not None for p in nps_points)

    # 3-4. The latest responses with their answers (one query for the rows, one for labels).
    latest = list(
        qs.filter(ANSWERED)
        .select_related("survey", "profile")
        .only(*ROW_FIELDS)
        .order_by("-created_at", "-id")[:LATEST_RESPONSES]
    )
    attach_answers(latest)

    return {
        "figures": figures,
        "completed_only": filterset.completed_only,
        "has_scores": any(keys[name] is not None for name in ("nps", "csat", "ces")),
        "has_nps": keys["nps"] is not None,
        "has_csat": keys["csat"] is not None,
        "has_ces": keys["ces"] is not None,
        "mau": mau,
        "mau_month": month,
        "span": span,
        "nps_chart": line_chart(
            nps_points,
            low=-100,
            high=100,
            ticks=[-100, -50, 0, 50, 100],
            aria_label="NPS by week",
            zero_line=True,
        )
        if has_nps_points
        else "",
        "volume_chart": bar_chart(volume_points, aria_label="Responses by week") if series else "",
        "latest": latest,
    }


# --- CSV export ---------------------------------------------------------------------------------

BASE_COLUMNS = [
    "response_id",
    "created_at",
    "survey",
    "status",
    "channel",
    "user_id",
    "email",
    "anonymous_id",
    "completed_at",
    "dismissed_at",
    "locale",
    "context",
]
# A column "<key>_label" follows the value column of every CSAT question key: the value on the
# stored -2..2 scale for formulas, the label ("Very satisfied") for people.
LABEL_SUFFIX = "_label"


def export_question_keys(environment_id: int, survey_id: int | None) -> list[str]:
    """One column per question key of the selected survey (or of every survey), in question
    order; a key shared by several surveys is one column."""
    questions = Question.objects.filter(survey__environment_id=environment_id)
    if survey_id is not None:
        questions = questions.filter(survey_id=survey_id)
    keys: list[str] = []
    seen: set[str] = set()
    for key in questions.order_by("survey__created_at", "survey_id", "position", "id").values_list(
        "key", flat=True
    ):
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


def export_removed_keys(qs: QuerySet, question_keys: Sequence[str]) -> list[str]:
    """Keys found in the exported responses that are no question's key any more (a removed
    question, or a key from before a rename): each gets a column too, so no stored answer is
    left out of the export. One statement over the filtered responses (the same rows the export
    reads), not a scan per row in Python."""
    sql, params = queryset_sql(qs.order_by().values_list("data", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT k FROM ({sql}) AS r(data), jsonb_object_keys(r.data) AS k "
            "WHERE jsonb_typeof(r.data) = 'object' ORDER BY k",
            params,
        )
        found = [row[0] for row in cursor.fetchall()]
    known = set(question_keys)
    return [key for key in found if key not in known]


def export_label_keys(environment_id: int, survey_id: int | None) -> dict[str, set[int]]:
    """{question key: ids of the surveys where it is a CSAT question}: the keys whose CSV
    value column is followed by a label column. One query."""
    questions = Question.objects.filter(
        survey__environment_id=environment_id, kind=QuestionKind.CSAT
    )
    if survey_id is not None:
        questions = questions.filter(survey_id=survey_id)
    labelled: dict[str, set[int]] = {}
    for key, survey in questions.values_list("key", "survey_id"):
        labelled.setdefault(key, set()).add(survey)
    return labelled


def _label(value: Any) -> str:
    return (
        CSAT_LABELS.get(value, "") if isinstance(value, int) and not isinstance(value, bool) else ""
    )


def _context_cell(context: Any) -> str:
    if not context:
        return ""
    return json.dumps(context, ensure_ascii=False, sort_keys=True)


def _cell(value: Any) -> Any:
    """An answer as one cell (CsvLines then makes formula-like text safe)."""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def export_csv_lines(
    qs: QuerySet,
    question_keys: Sequence[str],
    label_keys: Mapping[str, set[int]] | None = None,
    removed_keys: Sequence[str] = (),
) -> Iterator[str]:
    """The CSV, line by line: the header, then the filtered responses newest first, read with
    a server-side cursor in chunks (memory stays flat whatever the row count). A key of
    `label_keys` (see export_label_keys) gets a "<key>_label" column after its value; the
    columns of `removed_keys` come last, headed "<key> (removed question)"."""
    label_keys = label_keys or {}
    out = spreadsheet.CsvLines()
    header = list(BASE_COLUMNS)
    for key in question_keys:
        header.append(key)
        if key in label_keys:
            header.append(key + LABEL_SUFFIX)
    header += [f"{key} (removed question)" for key in removed_keys]
    yield "\ufeff" + out.line(header)
    question_keys = [*question_keys, *removed_keys]
    # Tuples, not model instances: building two models per row was most of the export's time.
    rows = (
        qs.order_by("-created_at", "-id")
        .values_list(
            "uuid",
            "created_at",
            "survey__name",
            "channel",
            "profile__user_id",
            "profile__email",
            "profile__anonymous_id",
            "completed_at",
            "dismissed_at",
            "data",
            "survey_id",
            "locale",
            "context",
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for row in rows:
        uuid, created, survey, channel, user_id, email, anonymous_id, done, gone, data = row[:10]
        survey_id, locale, context = row[10:]
        data = data or {}
        answers: list[Any] = []
        for key in question_keys:
            answers.append(_cell(data.get(key)))
            if key in label_keys:
                labelled = survey_id in label_keys[key]
                answers.append(_label(data.get(key)) if labelled else "")
        yield out.line(
            [
                str(uuid),
                _when(created),
                _cell(survey),
                _status(done, gone, data),
                channel,
                _cell(user_id),
                _cell(email),
                _cell(anonymous_id),
                _when(done),
                _when(gone),
                _cell(locale),
                _cell(_context_cell(context)),
                *answers,
            ]
        )


def _status(completed_at: datetime | None, dismissed_at: datetime | None, data: dict) -> str:
    """Response.status, from the columns (the export reads tuples)."""
    if completed_at:
        return "completed"
    if dismissed_at:
        return "dismissed"
    return "partial" if data else "view"
