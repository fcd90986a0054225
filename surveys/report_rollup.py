"""Daily response figures per survey, rolled up in the background for the Project Overview.

Why: the Overview's cards and charts aggregate every response of the period. Live, that is a
scan of ~100,000 rows for 30 days of a large environment (400-500 ms on 2 cores), far from
its 100 ms budget. So complete days are rolled up into one row per (environment, day, survey)
holding the same raw figures the live query computes (views, responses, completed,
dismissed, NPS/CSAT/CES counts and sums, see surveys.scores.score_aggregates), and the
Overview adds up those rows for the days before the watermark and computes only the days
after it live (today, and any day not rolled up yet). The result is the same number either
way; tests check that.

The periodic task recomputes the last few days (a response can be continued, answered or
completed for a while after it starts) and a daily run recomputes everything (responses
deleted with their profile). A segment filter is always computed live: membership is per
profile, not per day.

The two tables are created by a RunSQL migration (surveys/migrations/*_report_rollup.py)
without foreign keys, so Django's flush in transactional tests (TRUNCATE of its own tables)
never trips over them; rows of deleted environments or surveys are dropped on the next full
run and are never read (reads join nothing and filter by environment and survey).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.periodic import for_each_environment
from environments.models import Environment

from .models import Question, QuestionKind, Response
from .scores import KeySpec, grouped_figures

DAILY_TABLE = "surveys_response_daily"
STATE_TABLE = "surveys_response_rollup"
# Figures of erased responses (governance.erasure): a roll-up (or a live read) adds them, so an
# erasure removes the person, not their part of the totals.
ERASED_TABLE = "surveys_response_erased"
RECENT_DAYS = 3

ANSWERED = ~Q(data={})


def overview_counts() -> dict[str, Aggregate]:
    """The counts of the Overview's cards (they add up across days and weeks).

    They partition as the cards read them: every row is a view; a view with an answer is a
    response, and a response is either completed or partial (responses - completed), so
    "completed" counts only completed rows with an answer (a completion with every optional
    question skipped is a view, not a response). "dismissed" is a view closed before it was
    completed, with or without answers."""
    return {
        "views": Count("pk"),
        "responses": Count("pk", filter=ANSWERED),
        "completed": Count("pk", filter=Q(completed_at__isnull=False) & ANSWERED),
        "dismissed": Count("pk", filter=Q(completed_at__isnull=True, dismissed_at__isnull=False)),
    }


# Raw figure name (as surveys.scores names it) -> column of the daily table.
COLUMNS = {
    "views": "views",
    "responses": "responses",
    "completed": "completed",
    "dismissed": "dismissed",
    "nps__total": "nps_total",
    "nps__promoters": "nps_promoters",
    "nps__detractors": "nps_detractors",
    "csat__total": "csat_total",
    "csat__satisfied": "csat_satisfied",
    "ces__total": "ces_total",
    "ces__sum": "ces_sum",
}


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def score_keys(environment_id: int, survey_id: int | None = None) -> dict[str, dict[int, str]]:
    """{kind: {survey_id: key}} of the NPS, CSAT and CES questions (the first of each kind per
    survey): every response is scored on its own survey's question. One query."""
    questions = Question.objects.filter(
        survey__environment_id=environment_id,
        kind__in=[QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES],
    )
    if survey_id is not None:
        questions = questions.filter(survey_id=survey_id)
    keys: dict[str, dict[int, str]] = {"nps": {}, "csat": {}, "ces": {}}
    for survey, kind, key in questions.order_by("survey_id", "position", "id").values_list(
        "survey_id", "kind", "key"
    ):
        keys[kind].setdefault(survey, key)
    return keys


def as_score_keys(keys: Mapping[str, dict[int, str]]) -> dict[str, KeySpec | None]:
    return {"nps": keys["nps"] or None, "csat": keys["csat"] or None, "ces": keys["ces"] or None}


# --- Write ---------------------------------------------------------------------------------------


def responses_purged_before(environment_id: int) -> date | None:
    """Responses created before this day were purged by retention (retention/models.py)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT responses_purged_before FROM retention_retentionpolicy "
            "WHERE environment_id = %s",
            [environment_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def rollup_watermark(environment_id: int) -> date | None:
    """Days before this one are rolled up; None when nothing is."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT through_day FROM {STATE_TABLE} WHERE environment_id = %s", [environment_id]
        )
        row = cursor.fetchone()
    return row[0] if row else None


def rollup_state(environment_id: int) -> tuple[date | None, bool]:
    """(the watermark, whether any response of the environment was erased): what a read needs
    to know to add rolled-up and erased figures. One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT through_day FROM {STATE_TABLE} WHERE environment_id = %s), "
            f"EXISTS (SELECT 1 FROM {ERASED_TABLE} WHERE environment_id = %s)",
            [environment_id, environment_id],
        )
        watermark, erased = cursor.fetchone()
    return watermark, bool(erased)


@transaction.atomic
def response_stats_rollup(
    *, environment_id: int, since: date | None = None, through: date | None = None
) -> int:
    """Recompute the daily rows of the days [since, through) (since None: every day) and move
    the watermark to `through` (default today: every complete day). A partial run on an
    environment that was never rolled up (or not up to `since`) becomes a full run. Returns
    the number of daily rows written."""
    through = through or timezone.localdate()
    # One rollup per environment at a time (the delete + insert below is not idempotent
    # under concurrency); the lock ends with the transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_202_611, environment_id])
    watermark = rollup_watermark(environment_id)
    if since is not None and (watermark is None or watermark < since):
        since = None
    # Days whose responses retention purged are frozen: their rows are all that is left of
    # them (retention/services.py rolls them up before it deletes).
    frozen = responses_purged_before(environment_id)
    if frozen is not None and (since is None or since < frozen):
        since = frozen
    qs = Response.objects.filter(environment_id=environment_id, created_at__lt=day_start(through))
    if since is not None:
        qs = qs.filter(created_at__gte=day_start(since))
    keys = as_score_keys(score_keys(environment_id))
    rows = grouped_figures(
        qs, {"sid": F("survey_id"), "day": TruncDate("created_at")}, keys, overview_counts()
    )
    rows = _with_erased(rows, environment_id=environment_id, since=since, through=through)
    columns = list(COLUMNS.values())
    with connection.cursor() as cursor:
        delete = f"DELETE FROM {DAILY_TABLE} WHERE environment_id = %s AND day < %s"
        params: list[Any] = [environment_id, through]
        if since is not None:
            delete += " AND day >= %s"
            params.append(since)
        cursor.execute(delete, params)
        if rows:
            cursor.executemany(
                f"INSERT INTO {DAILY_TABLE} (environment_id, day, survey_id, {', '.join(columns)}) "
                f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(columns))})",
                [
                    [environment_id, row["day"], row["sid"]]
                    + [row.get(name) or 0 for name in COLUMNS]
                    for row in rows
                ],
            )
        cursor.execute(
            f"INSERT INTO {STATE_TABLE} (environment_id, through_day, computed_at) "
            "VALUES (%s, %s, now()) ON CONFLICT (environment_id) "
            "DO UPDATE SET through_day = EXCLUDED.through_day, computed_at = now()",
            [environment_id, through],
        )
    return len(rows)


def _with_erased(
    rows: list[dict[str, Any]], *, environment_id: int, since: date | None, through: date
) -> list[dict[str, Any]]:
    """The days' figures plus those of the responses erased on them. One query."""
    sql = f"SELECT survey_id, day, {', '.join(COLUMNS.values())} FROM {ERASED_TABLE} "
    sql += "WHERE environment_id = %s AND day < %s"
    params: list[Any] = [environment_id, through]
    if since is not None:
        sql += " AND day >= %s"
        params.append(since)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        erased = cursor.fetchall()
    if not erased:
        return rows
    merged = {(row["sid"], row["day"]): dict(row) for row in rows}
    for sid, day, *values in erased:
        target = merged.setdefault((sid, day), {"sid": sid, "day": day})
        for name, value in zip(COLUMNS, values, strict=True):
            target[name] = (target.get(name) or 0) + (value or 0)
    return list(merged.values())


def response_stats_erase(*, profile_id: int, environment_id: int) -> int:
    """A profile's responses are about to be erased: add their figures to the erased roll-up
    (per day and survey), so the Overview and the survey list keep the same totals. Call in
    the erasing transaction. Returns the number of (day, survey) rows touched."""
    qs = Response.objects.filter(environment_id=environment_id, profile_id=profile_id)
    keys = as_score_keys(score_keys(environment_id))
    rows = grouped_figures(
        qs, {"sid": F("survey_id"), "day": TruncDate("created_at")}, keys, overview_counts()
    )
    if not rows:
        return 0
    columns = list(COLUMNS.values())
    updates = ", ".join(f"{c} = {ERASED_TABLE}.{c} + EXCLUDED.{c}" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {ERASED_TABLE} (environment_id, day, survey_id, {', '.join(columns)}) "
            f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT (environment_id, day, survey_id) DO UPDATE SET {updates}",
            [
                [environment_id, row["day"], row["sid"]] + [row.get(name) or 0 for name in COLUMNS]
                for row in rows
            ],
        )
    return len(rows)


def response_stats_rollup_all(*, full: bool = False) -> int:
    """Every environment with responses: the last RECENT_DAYS days (or everything)."""

    since = None if full else timezone.localdate() - timedelta(days=RECENT_DAYS)
    return sum(
        for_each_environment(
            Environment.objects.values_list("pk", flat=True),
            lambda environment_id: response_stats_rollup(
                environment_id=environment_id, since=since
            ),
            what="response roll-up",
        )
    )


# --- Read ----------------------------------------------------------------------------------------


def _rolled_and_erased(
    *,
    environment_id: int,
    survey_id: int | None,
    start: date | None,
    watermark: date | None,
    end: date | None,
    last_day: date | None,
) -> tuple[str, list[Any]]:
    """FROM-clause rows of the rolled-up days [start, end) (none without a watermark) and of
    the responses erased on the days after (from the watermark, or start, to last_day): the
    live part counts the responses that still exist, this adds those erased since."""
    daily = ["environment_id = %s"]
    daily_params: list[Any] = [environment_id]
    if watermark is None:
        daily.append("false")
    else:
        daily.append("day < %s")
        daily_params.append(end)
    erased = ["environment_id = %s"]
    erased_params: list[Any] = [environment_id]
    if watermark is not None:
        erased.append("day >= %s")
        erased_params.append(watermark)
    if last_day is not None:
        erased.append("day <= %s")
        erased_params.append(last_day)
    for where, params in ((daily, daily_params), (erased, erased_params)):
        if start is not None:
            where.append("day >= %s")
            params.append(start)
        if survey_id is not None:
            where.append("survey_id = %s")
            params.append(survey_id)
    columns = ", ".join(["day", "survey_id", *COLUMNS.values()])
    sql = (
        f"(SELECT {columns} FROM {DAILY_TABLE} WHERE {' AND '.join(daily)} "
        f"UNION ALL SELECT {columns} FROM {ERASED_TABLE} WHERE {' AND '.join(erased)}) AS rows"
    )
    return sql, daily_params + erased_params


def rolled_up_weeks(
    *,
    environment_id: int,
    survey_id: int | None,
    start: date | None,
    end: date | None,
    watermark: date | None,
    last_day: date | None = None,
) -> list[dict[str, Any]]:
    """Raw figures per week (Monday, a date) of the rolled-up days [start, end), plus those of
    responses erased after the watermark up to last_day. One query."""
    source, params = _rolled_and_erased(
        environment_id=environment_id,
        survey_id=survey_id,
        start=start,
        watermark=watermark,
        end=end,
        last_day=last_day,
    )
    sums = ", ".join(f"SUM({column})" for column in COLUMNS.values())
    sql = (
        f"SELECT date_trunc('week', day)::date AS week, {sums} FROM {source} GROUP BY 1 ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"week": week, **dict(zip(COLUMNS, values, strict=True))}
            for week, *values in cursor.fetchall()
        ]


def rolled_up_by_survey(
    *,
    environment_id: int,
    start: date | None,
    end: date | None,
    watermark: date | None,
    last_day: date | None = None,
) -> list[dict[str, Any]]:
    """Raw figures per survey ("sid") of the rolled-up days [start, end), plus those of
    responses erased after the watermark up to last_day. One query."""
    source, params = _rolled_and_erased(
        environment_id=environment_id,
        survey_id=None,
        start=start,
        watermark=watermark,
        end=end,
        last_day=last_day,
    )
    sums = ", ".join(f"SUM({column})" for column in COLUMNS.values())
    sql = f"SELECT survey_id, {sums} FROM {source} GROUP BY 1"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"sid": sid, **dict(zip(COLUMNS, values, strict=True))}
            for sid, *values in cursor.fetchall()
        ]


def merge_weeks(*series: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add up raw weekly figures from several sources (rolled up, live), by week."""
    merged: dict[date, dict[str, Any]] = {}
    for rows in series:
        for row in rows:
            week = row["week"]
            if isinstance(week, datetime):
                week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
            target = merged.setdefault(week, {"week": week})
            for name, value in row.items():
                if name != "week":
                    target[name] = (target.get(name) or 0) + (value or 0)
    return [merged[week] for week in sorted(merged)]
