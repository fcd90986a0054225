"""Survey scores as SQL aggregates over any Response queryset.

Every function takes a queryset of responses (already filtered: environment, survey, dates,
segment...) and the question key whose answers it scores, and runs one query; nothing is
loaded into Python row by row. `report_scores` computes several scores (and any extra
aggregates, such as counts) in a single query for the Project Overview.

A key is either one question key (`"nps"`) or, when the responses span several surveys whose
questions use different keys, a mapping `{survey_id: key}`: each response is then scored on
its own survey's question.

Answers count only when they are JSON numbers, so a text answer stored under the same key by
another survey is never cast and never counted. The counts compare the JSON value itself
(`data -> key`, see `answer_json`) with JSON numbers: jsonb orders every number above strings
and null and below booleans, arrays and objects, so `v >= 0 AND v <= 10` holds for the numbers
0..10 only, with one key lookup per comparison and no type check or cast (the Overview compares
each row's answer several times: a quarter off the cost of its figures). The definitions:

- NPS: % promoters (9-10) minus % detractors (0-6) among answers 0..10.
- CSAT: % satisfied among answers on the stored -2..2 scale; satisfied is 1 or 2
  (see surveys.answers.CSAT_VALUES: every point scale is stored on that one scale).
- CES: the average of answers 1..7.
- Rating: the average of answers (1 up to the scale, at most 10).
- Choice distribution: how often each choice was picked; multiple choice answers are JSON
  lists and each picked choice counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    JSONField,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, TruncWeek
from django.db.models.lookups import Exact

from core.querysql import queryset_sql

from .answers import CSAT_SATISFIED

KeySpec = str | Mapping[int, str]

NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6


class JsonbTypeof(Func):
    function = "jsonb_typeof"
    output_field = TextField()


def _number_at(key: str) -> Expression:
    """(data ->> key)::float when data -> key is a JSON number, else NULL (never a cast error)."""
    return Case(
        When(
            Exact(JsonbTypeof(KeyTransform(key, "data")), Value("number")),
            then=Cast(KeyTextTransform(key, "data"), FloatField()),
        ),
        default=Value(None),
        output_field=FloatField(),
    )


def _per_survey(key: KeySpec, at: Any, output_field: Any) -> Expression:
    """at(key) for a question key, or each response's own survey's key of {survey_id: key}."""
    if isinstance(key, str):
        return at(key)
    if not key:
        return Value(None, output_field=output_field)
    return Case(
        *[When(survey_id=survey_id, then=at(k)) for survey_id, k in key.items()],
        default=Value(None),
        output_field=output_field,
    )


def answer_number(key: KeySpec) -> Expression:
    """The numeric answer of a response for `key` (a question key or {survey_id: key})."""
    return _per_survey(key, _number_at, FloatField())


def answer_json(key: KeySpec) -> Expression:
    """The answer of a response for `key` as JSON (`data -> key`), for comparing with JSON
    numbers (see the module docstring): only numbers fall inside a numeric range."""
    return _per_survey(key, lambda k: KeyTransform(k, "data"), JSONField())


def _percent(part: int, total: int) -> float | None:
    return round(part * 100 / total, 1) if total else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# Each score: the aggregates it needs (named with a prefix; counted over an alias holding the
# answer as JSON, summed over `value`, the answer as a number) and how to turn the aggregated
# row into its result.


def _nps_aggregates(
    alias: str, prefix: str, value: Expression | None = None
) -> dict[str, Aggregate]:
    in_range = Q(**{f"{alias}__gte": 0, f"{alias}__lte": 10})
    return {
        f"{prefix}total": Count("pk", filter=in_range),
        f"{prefix}promoters": Count(
            "pk", filter=Q(**{f"{alias}__gte": NPS_PROMOTER_MIN, f"{alias}__lte": 10})
        ),
        f"{prefix}detractors": Count(
            "pk", filter=Q(**{f"{alias}__gte": 0, f"{alias}__lte": NPS_DETRACTOR_MAX})
        ),
    }


def _nps_result(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    total = row[f"{prefix}total"] or 0
    promoters = row[f"{prefix}promoters"] or 0
    detractors = row[f"{prefix}detractors"] or 0
    score = round((promoters - detractors) * 100 / total, 1) if total else None
    return {
        "score": score,
        "promoters": promoters,
        "passives": total - promoters - detractors,
        "detractors": detractors,
        "total": total,
        "promoters_pct": _percent(promoters, total),
        "passives_pct": _percent(total - promoters - detractors, total),
        "detractors_pct": _percent(detractors, total),
    }


def _csat_aggregates(
    alias: str, prefix: str, value: Expression | None = None
) -> dict[str, Aggregate]:
    return {
        f"{prefix}total": Count("pk", filter=Q(**{f"{alias}__gte": -2, f"{alias}__lte": 2})),
        f"{prefix}satisfied": Count("pk", filter=Q(**{f"{alias}__in": list(CSAT_SATISFIED)})),
    }


def _csat_result(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    total = row[f"{prefix}total"] or 0
    satisfied = row[f"{prefix}satisfied"] or 0
    return {"score": _percent(satisfied, total), "satisfied": satisfied, "total": total}


def _average_aggregates(low: int, high: int) -> Any:
    def aggregates(alias: str, prefix: str, value: Expression) -> dict[str, Aggregate]:
        in_range = Q(**{f"{alias}__gte": low, f"{alias}__lte": high})
        # A sum and a count rather than Avg(), so weekly rows add up to the period's figure.
        # The sum reads the number (evaluated only for the rows its filter keeps).
        return {
            f"{prefix}total": Count("pk", filter=in_range),
            f"{prefix}sum": Sum(value, filter=in_range),
        }

    return aggregates


def _average_result(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    total = row[f"{prefix}total"] or 0
    average = (row[f"{prefix}sum"] or 0) / total if total else None
    return {"average": _round(average), "total": total}


_ces_aggregates = _average_aggregates(1, 7)
_rating_aggregates = _average_aggregates(1, 10)

_SCORES = {
    "nps": (_nps_aggregates, _nps_result),
    "csat": (_csat_aggregates, _csat_result),
    "ces": (_ces_aggregates, _average_result),
    "rating": (_rating_aggregates, _average_result),
}


def report_scores(
    qs: QuerySet,
    *,
    nps: KeySpec | None = None,
    csat: KeySpec | None = None,
    ces: KeySpec | None = None,
    rating: KeySpec | None = None,
    extra: Mapping[str, Aggregate] | None = None,
) -> dict[str, Any]:
    """Several scores (and `extra` aggregates, returned under their own names) in one query.

    A score whose key is None is left out of the result."""
    keys = {"nps": nps, "csat": csat, "ces": ces, "rating": rating}
    aliases, aggregates = score_aggregates(keys, extra)
    if not aggregates:
        return {}
    row = qs.order_by().alias(**aliases).aggregate(**aggregates)
    result: dict[str, Any] = {name: row[name] for name in (extra or {})}
    for name, key in keys.items():
        if key is not None:
            result[name] = _SCORES[name][1](row, f"{name}__")
    return result


def nps(qs: QuerySet, key: KeySpec) -> dict[str, Any]:
    """{"score", "promoters", "passives", "detractors", "total"} (+ the three percentages);
    score is None when nobody answered."""
    return report_scores(qs, nps=key)["nps"]


def csat(qs: QuerySet, key: KeySpec) -> dict[str, Any]:
    """{"score": % satisfied, "satisfied", "total"}."""
    return report_scores(qs, csat=key)["csat"]


def ces(qs: QuerySet, key: KeySpec) -> dict[str, Any]:
    """{"average", "total"} over answers 1..7."""
    return report_scores(qs, ces=key)["ces"]


def rating_average(qs: QuerySet, key: KeySpec) -> dict[str, Any]:
    """{"average", "total"} over answers 1..10."""
    return report_scores(qs, rating=key)["rating"]


SCORE_NAMES = ("nps", "csat", "ces", "rating")


def score_aggregates(
    keys: Mapping[str, KeySpec | None], extra: Mapping[str, Aggregate] | None = None
) -> tuple[dict[str, Expression], dict[str, Aggregate]]:
    """(aliases, aggregates) computing the raw figures of the scores whose key is not None
    ({"nps": ..., "csat": ...}) plus `extra`: the raw columns are named "<score>__total",
    "nps__promoters", "csat__satisfied", "ces__sum"... and add up across groups."""
    aliases: dict[str, Expression] = {}
    aggregates: dict[str, Aggregate] = dict(extra or {})
    for name, key in keys.items():
        if key is None:
            continue
        alias = f"_score_{name}"
        aliases[alias] = answer_json(key)
        aggregates.update(_SCORES[name][0](alias, f"{name}__", answer_number(key)))
    return aliases, aggregates


def grouped_figures(
    qs: QuerySet,
    group: Mapping[str, Expression | F],
    keys: Mapping[str, KeySpec | None],
    extra: Mapping[str, Aggregate] | None = None,
) -> list[dict[str, Any]]:
    """The raw figures (see score_aggregates) per group, e.g. {"week": TruncWeek(...)}:
    one grouped query."""
    aliases, aggregates = score_aggregates(keys, extra)
    return list(
        qs.order_by()
        .alias(**aliases)
        .annotate(**group)
        .values(*group)
        .annotate(**aggregates)
        .order_by(*group)
    )


def add_figures(rows: Iterable[Mapping[str, Any]], names: Iterable[str]) -> dict[str, Any]:
    """The sum of raw figure rows, column by column."""
    names = list(names)
    total: dict[str, Any] = dict.fromkeys(names, 0)
    for row in rows:
        for name in names:
            total[name] += row.get(name) or 0
    return total


def finalize_figures(
    row: Mapping[str, Any], keys: Mapping[str, KeySpec | None], extra_names: Iterable[str]
) -> dict[str, Any]:
    """Raw figures -> {<extra name>: value, "nps": {...}, "csat": {...}, ...}."""
    result: dict[str, Any] = {name: row.get(name) or 0 for name in extra_names}
    for name, key in keys.items():
        if key is not None:
            prefix = f"{name}__"
            raw = {k: v for k, v in row.items() if k.startswith(prefix)}
            result[name] = _SCORES[name][1](_Zeroes(raw), prefix)
    return result


class _Zeroes(dict):
    def __missing__(self, key: str) -> int:
        return 0


def report_weekly(
    qs: QuerySet,
    *,
    nps: KeySpec | None = None,
    csat: KeySpec | None = None,
    ces: KeySpec | None = None,
    rating: KeySpec | None = None,
    extra: Mapping[str, Aggregate] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The same figures as report_scores, per week and for the whole queryset, from ONE grouped
    query (the Overview reads its cards and its charts from a single scan of the range).

    Returns (totals, weeks): totals as report_scores returns them; weeks in order, each
    {"week": Monday (current time zone), <extra names>: ..., <score names>: {...}}. The
    `extra` aggregates must add up across weeks (counts, sums)."""
    keys = {"nps": nps, "csat": csat, "ces": ces, "rating": rating}
    rows = grouped_figures(qs, {"week": TruncWeek("created_at")}, keys, extra)
    names = score_aggregates(keys, extra)[1].keys()
    extra_names = list(extra or {})
    weeks = [{"week": row["week"], **finalize_figures(row, keys, extra_names)} for row in rows]
    return finalize_figures(add_figures(rows, names), keys, extra_names), weeks


def nps_weekly(
    qs: QuerySet, key: KeySpec | None, *, answered: Q | None = None
) -> list[dict[str, Any]]:
    """Per week (Monday, in the current time zone), in order: {"week", "responses", "views",
    "nps": {...}} in one grouped query. `responses` counts rows matching `answered` (by default
    rows with any answer); `views` counts every row."""
    answered = answered if answered is not None else Q(first_data_at__isnull=False)
    aggregates: dict[str, Aggregate] = {
        "views": Count("pk"),
        "responses": Count("pk", filter=answered),
    }
    aliases: dict[str, Expression] = {}
    if key is not None:
        aliases["_score_nps"] = answer_json(key)
        aggregates.update(_nps_aggregates("_score_nps", "nps__"))
    rows = (
        qs.order_by()
        .alias(**aliases)
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(**aggregates)
        .order_by("week")
    )
    series: list[dict[str, Any]] = []
    for row in rows:
        week: datetime = row["week"]
        series.append(
            {
                "week": week,
                "views": row["views"],
                "responses": row["responses"],
                "nps": _nps_result(row, "nps__") if key is not None else None,
            }
        )
    return series


def choice_distribution(
    qs: QuerySet, key: str, choices: Sequence[str] | None = None
) -> list[tuple[str, int]]:
    """[(choice, count)] over the answers under `key`: a list (multiple choice) counts each
    picked choice, a single value counts itself. With `choices` (the question's, in order) every
    choice is listed, also with 0, in that order, followed by any other value found (a choice
    since removed); without, the most picked come first. One query."""
    inner = qs.order_by().filter(data__has_key=key).values("data")
    inner_sql, inner_params = queryset_sql(inner)
    sql = (
        "SELECT elem, COUNT(*) FROM ("
        + inner_sql
        + ") AS r(data) CROSS JOIN LATERAL jsonb_array_elements_text("
        "CASE jsonb_typeof(r.data -> %s) WHEN 'array' THEN r.data -> %s "
        "ELSE jsonb_build_array(r.data -> %s) END) AS elem "
        "WHERE elem IS NOT NULL GROUP BY elem ORDER BY COUNT(*) DESC, elem"
    )
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, [*inner_params, key, key, key])
        counted = [(str(value), int(count)) for value, count in cursor.fetchall()]
    if choices is None:
        return counted
    found = dict(counted)
    ordered = [(choice, found.pop(choice, 0)) for choice in choices]
    return ordered + [(value, count) for value, count in counted if value in found]


__all__ = [
    "answer_json",
    "answer_number",
    "ces",
    "choice_distribution",
    "csat",
    "nps",
    "nps_weekly",
    "rating_average",
    "report_scores",
    "report_weekly",
]
