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
run (_tables_tidy) and are never read (reads join nothing and filter by environment and
survey).

The survey results page (surveys/results.py) reads two more daily tables, written by the same
runs in the same transaction ("Results page" below): answer distributions and response paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.periodic import for_each_environment
from core.querysql import queryset_sql
from environments.models import Environment

from . import logic
from .models import Question, QuestionKind, Response
from .scores import KeySpec, grouped_figures

DAILY_TABLE = "surveys_response_daily"
STATE_TABLE = "surveys_response_rollup"
# Figures of erased responses (governance.erasure): a roll-up (or a live read) adds them, so an
# erasure removes the person, not their part of the totals.
ERASED_TABLE = "surveys_response_erased"
RECENT_DAYS = 3
# The results page's tables (see "Results page" below).
RESULT_ANSWERS_TABLE = "surveys_result_answers"
RESULT_PATHS_TABLE = "surveys_result_paths"
# Question kinds whose answers are counted value by value on the results page (a few values
# each); the others (free text, email) only as "answered".
DISTRIBUTED_KINDS = (
    QuestionKind.NPS,
    QuestionKind.CSAT,
    QuestionKind.CES,
    QuestionKind.RATING,
    QuestionKind.SINGLE_CHOICE,
    QuestionKind.MULTIPLE_CHOICE,
    QuestionKind.CTA,
)

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
    _rollup_lock(environment_id)
    requested_since = since
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
    results_rollup(environment_id=environment_id, since=requested_since, through=through)
    return len(rows)


def _rollup_lock(environment_id: int) -> None:
    """One rollup (or erasure) per environment at a time: the delete + insert of the roll-ups
    is not idempotent under concurrency. The lock ends with the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_202_611, environment_id])


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
    (per day and survey), so the Overview and the survey list keep the same totals, and take
    them out of the results page's roll-up (that page counts the responses that exist). Call
    in the erasing transaction. Returns the number of (day, survey) rows touched."""
    qs = Response.objects.filter(environment_id=environment_id, profile_id=profile_id)
    keys = as_score_keys(score_keys(environment_id))
    rows = grouped_figures(
        qs, {"sid": F("survey_id"), "day": TruncDate("created_at")}, keys, overview_counts()
    )
    results_forget_profile(environment_id=environment_id, profile_id=profile_id)
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
    written = sum(
        for_each_environment(
            Environment.objects.values_list("pk", flat=True),
            lambda environment_id: response_stats_rollup(
                environment_id=environment_id, since=since
            ),
            what="response roll-up",
        )
    )
    if full:
        _tables_tidy()
    return written


def _tables_tidy() -> None:
    """After a full run: the rows of environments deleted since go (no foreign key took them),
    and the tables' statistics are brought up to date (a full run rewrites them all; until
    autovacuum's next ANALYZE, the planner read the results page's rows by a wrong estimate,
    ~70 ms instead of ~10)."""
    tables = (DAILY_TABLE, ERASED_TABLE, STATE_TABLE, RESULT_ANSWERS_TABLE, RESULT_PATHS_TABLE)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"DELETE FROM {table} t WHERE NOT EXISTS "
                "(SELECT 1 FROM environments_environment e WHERE e.id = t.environment_id)"
            )
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


# --- Results page: write -------------------------------------------------------------------------
#
# The survey results page (surveys/results.py) counts, for the responses of a period, every
# question's answers value by value, the responses answering each question, and the responses
# grouped by their path through the survey (the keys they answered, completed, dismissed, their
# answers to the questions with logic jumps) for the funnel, the totals and the timeline. All of
# them add up across days, so complete days are rolled up here, per (environment, survey, day),
# into two tables, with their own watermark (results_through_day) beside the Overview's:
#
# - surveys_result_answers (key, value, responses): every key of every response's answers
#   (every key, not only today's questions: a question added or renamed later still finds its
#   answers), with the whole answer as `value` when the key's question counts values (a list is
#   one value, split into its choices by the reader) and NULL when it does not (free text, no
#   question): such a row says only how many responses answered the key.
# - surveys_result_paths (answered, completed, dismissed, logic, logic_spec, responses): the
#   sorted keys of the answers; the answers to the survey's questions with logic, as the funnel
#   groups them (the answer itself when a jump looks at its value, else whether it is blank);
#   logic_spec names those questions, so a reader whose survey's logic changed since knows the
#   rows do not fit it.
#
# Unlike the Overview's daily table these hold the responses that exist, as the results page
# always showed: erased responses are taken out (results_forget_profile), and days whose
# responses retention purged are recomputed (to nothing) rather than frozen; the reader skips
# them meanwhile. Like the Overview's, other changes to days before the last RECENT_DAYS
# (a response imported with an old date, a profile deleted) show after the next full run.


def results_watermark(environment_id: int) -> date | None:
    """Days before this one are in the results page's roll-up; None when nothing is."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT results_through_day FROM {STATE_TABLE} WHERE environment_id = %s",
            [environment_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def logic_spec(pairs: Iterable[tuple[str, bool]]) -> str:
    """What the funnel's rows hold of the answers: (key, whether its jumps read the value) of
    each question with logic, as one comparable string."""
    return json.dumps(sorted([key, bool(value)] for key, value in pairs))


def results_rollup(
    *, environment_id: int, since: date | None = None, through: date | None = None
) -> None:
    """Recompute the results page's rows of the days [since, through) (None: every day) and
    move its watermark to `through` (the state row exists: response_stats_rollup, which calls
    this in its transaction, wrote it). A partial run on an environment whose results were
    never rolled up (or not up to `since`) becomes a full run."""
    through = through or timezone.localdate()
    watermark = results_watermark(environment_id)
    if since is not None and (watermark is None or watermark < since):
        since = None
    _results_write(environment_id=environment_id, since=since, through=through)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STATE_TABLE} SET results_through_day = %s WHERE environment_id = %s",
            [through, environment_id],
        )


def results_forget_profile(*, environment_id: int, profile_id: int) -> None:
    """Take a profile's responses (about to be erased, in this transaction) out of the results
    page's rolled-up days: those days of their surveys are recomputed without them."""
    _rollup_lock(environment_id)
    watermark = results_watermark(environment_id)
    if watermark is None:
        return
    spans = (
        Response.objects.filter(
            environment_id=environment_id,
            profile_id=profile_id,
            created_at__lt=day_start(watermark),
        )
        .annotate(day=TruncDate("created_at"))
        .values("survey_id")
        .annotate(first=Min("day"), last=Max("day"))
        .order_by("survey_id")
    )
    for span in spans:
        _results_write(
            environment_id=environment_id,
            since=span["first"],
            through=min(span["last"] + timedelta(days=1), watermark),
            survey_id=span["survey_id"],
            exclude_profile_id=profile_id,
        )


def _results_write(
    *,
    environment_id: int,
    since: date | None,
    through: date,
    survey_id: int | None = None,
    exclude_profile_id: int | None = None,
) -> None:
    """Delete and insert the results rows of [since, through) (of one survey, without one
    profile's responses when given): two set-based statements per table, nothing through
    Python."""
    qs = Response.objects.filter(environment_id=environment_id, created_at__lt=day_start(through))
    where = "environment_id = %s AND day < %s"
    where_params: list[Any] = [environment_id, through]
    if since is not None:
        qs = qs.filter(created_at__gte=day_start(since))
        where += " AND day >= %s"
        where_params.append(since)
    if survey_id is not None:
        qs = qs.filter(survey_id=survey_id)
        where += " AND survey_id = %s"
        where_params.append(survey_id)
    if exclude_profile_id is not None:
        qs = qs.exclude(profile_id=exclude_profile_id)
    # The day in TIME_ZONE, as the Overview's rows (and the page's periods, which start at
    # midnight there).
    inner_sql, inner_params = queryset_sql(
        qs.order_by()
        .annotate(day=TruncDate("created_at"))
        .values("survey_id", "day", "data", "completed_at", "dismissed_at")
    )
    # The questions with logic of the environment's surveys (of this one), for the paths.
    questions = Question.objects.filter(survey__environment_id=environment_id)
    if survey_id is not None:
        questions = questions.filter(survey_id=survey_id)
    with_logic: dict[int, list[tuple[str, bool]]] = {}
    for question in questions.exclude(logic=[]).only("survey_id", "key", "logic"):
        if question.logic:
            with_logic.setdefault(question.survey_id, []).append(
                (question.key, logic.needs_value(question))
            )
    logic_rows = [(sid, key, needs) for sid, pairs in with_logic.items() for key, needs in pairs]
    object_data = "CASE WHEN jsonb_typeof(r.data) = 'object' THEN r.data ELSE '{}'::jsonb END"
    with connection.cursor() as cursor:
        for table in (RESULT_ANSWERS_TABLE, RESULT_PATHS_TABLE):
            cursor.execute(f"DELETE FROM {table} WHERE {where}", where_params)
        # Every key of every response, its value kept when its question counts values.
        cursor.execute(
            f"INSERT INTO {RESULT_ANSWERS_TABLE} "
            "(environment_id, survey_id, day, key, value, responses) "
            "SELECT %s, r.survey_id, r.day, e.key, CASE WHEN q.id IS NOT NULL THEN e.value END, "
            f"COUNT(*) FROM ({inner_sql}) AS r "
            f"CROSS JOIN LATERAL jsonb_each({object_data}) AS e(key, value) "
            "LEFT JOIN surveys_question q ON q.survey_id = r.survey_id AND q.key = e.key "
            "AND q.kind = ANY(%s::text[]) GROUP BY 2, 3, 4, 5",
            [environment_id, *inner_params, [str(kind) for kind in DISTRIBUTED_KINDS]],
        )
        # Every response's path: the funnel's groups (surveys.results._funnel_groups) per day.
        cursor.execute(
            "WITH logic_keys AS (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::boolean[]) "
            "AS l(survey_id, key, needs_value)), "
            "specs AS (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS s(survey_id, spec)) "
            f"INSERT INTO {RESULT_PATHS_TABLE} (environment_id, survey_id, day, answered, "
            "completed, dismissed, logic, logic_spec, responses) "
            "SELECT %s, survey_id, day, answered, completed, dismissed, logic, spec, COUNT(*) "
            "FROM (SELECT r.survey_id, r.day, "
            f"ARRAY(SELECT jsonb_object_keys({object_data}) ORDER BY 1) AS answered, "
            "r.completed_at IS NOT NULL AS completed, r.dismissed_at IS NOT NULL AS dismissed, "
            "COALESCE((SELECT jsonb_object_agg(l.key, CASE WHEN l.needs_value "
            "THEN r.data -> l.key WHEN r.data -> l.key IN ('null', '\"\"', '[]') "
            "THEN r.data -> l.key ELSE 'true'::jsonb END) FROM logic_keys l "
            "WHERE l.survey_id = r.survey_id AND r.data ? l.key), '{}'::jsonb) AS logic, "
            "COALESCE(s.spec, %s) AS spec "
            f"FROM ({inner_sql}) AS r LEFT JOIN specs s ON s.survey_id = r.survey_id) AS x "
            "GROUP BY 2, 3, 4, 5, 6, 7, 8",
            [
                [row[0] for row in logic_rows],
                [row[1] for row in logic_rows],
                [row[2] for row in logic_rows],
                list(with_logic),
                [logic_spec(pairs) for pairs in with_logic.values()],
                environment_id,
                logic_spec([]),
                *inner_params,
            ],
        )


# --- Results page: read -------------------------------------------------------------------------


def results_rollup_state(environment_id: int) -> tuple[date | None, date | None]:
    """(the results watermark, the first day retention left responses of): the rolled-up days
    a read may use are [purged, watermark). One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT results_through_day FROM {STATE_TABLE} WHERE environment_id = %s), "
            "(SELECT responses_purged_before FROM retention_retentionpolicy "
            "WHERE environment_id = %s)",
            [environment_id, environment_id],
        )
        watermark, purged = cursor.fetchone()
    return watermark, purged


def _results_where(
    environment_id: int, survey_id: int, start: date | None, end: date
) -> tuple[str, list[Any]]:
    where = "environment_id = %s AND survey_id = %s AND day < %s"
    params: list[Any] = [environment_id, survey_id, end]
    if start is not None:
        where += " AND day >= %s"
        params.append(start)
    return where, params


def _period(split: date | None) -> tuple[str, list[Any]]:
    """The group of a row: whether its day is in the current period (from `split`)."""
    return ("day >= %s", [split]) if split is not None else ("TRUE", [])


def _bucket(by_week: bool) -> str:
    return "date_trunc('week', day)::date" if by_week else "day"


def rolled_up_answers(
    *,
    environment_id: int,
    survey_id: int,
    start: date | None,
    end: date,
    split: date | None,
    keys: Sequence[str],
    distributed: Sequence[str],
) -> list[tuple[bool, str, str | None, int]]:
    """(in the current period, key, answer as JSON text, responses) of the days [start, end),
    the current period starting at `split` (None: every day is in it): the rows
    surveys.results._distributions reads from the responses. The answer is None for a key
    not in `distributed`, and for one whose values were not kept (its question counted no
    values when its day was rolled up): the caller then reads live. One query."""
    group, group_params = _period(split)
    where, params = _results_where(environment_id, survey_id, start, end)
    sql = (
        f"SELECT {group}, key, CASE WHEN key = ANY(%s::text[]) THEN value END, SUM(responses) "
        f"FROM {RESULT_ANSWERS_TABLE} WHERE {where} AND key = ANY(%s::text[]) GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*group_params, list(distributed), *params, list(keys)])
        return [(g, key, text, int(n)) for g, key, text, n in cursor.fetchall()]


def rolled_up_answer_buckets(
    *, environment_id: int, survey_id: int, key: str, start: date | None, end: date, by_week: bool
) -> list[tuple[date, str, int]]:
    """(day or week, whole answer as JSON text, responses) of one key's kept values on the
    days [start, end). One query."""
    where, params = _results_where(environment_id, survey_id, start, end)
    sql = (
        f"SELECT {_bucket(by_week)}, value, SUM(responses) FROM {RESULT_ANSWERS_TABLE} "
        f"WHERE {where} AND key = %s AND value IS NOT NULL GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, key])
        return [(bucket, text, int(n)) for bucket, text, n in cursor.fetchall()]


def rolled_up_counts(
    *,
    environment_id: int,
    survey_id: int,
    start: date | None,
    end: date,
    split: date | None,
    by_week: bool,
) -> list[dict[str, Any]]:
    """Shown, responses (with an answer), completed and dismissed (before completing) per
    (period, day or week) of the days [start, end). One query."""
    group, group_params = _period(split)
    where, params = _results_where(environment_id, survey_id, start, end)
    sql = (
        f"SELECT {group}, {_bucket(by_week)}, SUM(responses), "
        "SUM(responses) FILTER (WHERE cardinality(answered) > 0), "
        "SUM(responses) FILTER (WHERE completed), "
        "SUM(responses) FILTER (WHERE dismissed AND NOT completed) "
        f"FROM {RESULT_PATHS_TABLE} WHERE {where} GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*group_params, *params])
        return [
            {
                "current": g,
                "bucket": bucket,
                "shown": int(shown or 0),
                "responses": int(responses or 0),
                "completed": int(completed or 0),
                "dismissed": int(dismissed or 0),
            }
            for g, bucket, shown, responses, completed, dismissed in cursor.fetchall()
        ]


def rolled_up_paths(
    *, environment_id: int, survey_id: int, start: date | None, end: date
) -> list[tuple[list[str], bool, bool, str, str, int]]:
    """(answered keys, completed, dismissed, answers to the questions with logic as JSON text,
    logic_spec, responses) of the days [start, end). One query."""
    where, params = _results_where(environment_id, survey_id, start, end)
    sql = (
        "SELECT answered, completed, dismissed, logic, logic_spec, SUM(responses) "
        f"FROM {RESULT_PATHS_TABLE} WHERE {where} GROUP BY 1, 2, 3, 4, 5"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(list(a), c, d, lg, spec, int(n)) for a, c, d, lg, spec, n in cursor.fetchall()]


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
