"""Reads for a survey's results page: a card per question, the drop-off funnel, the timeline and
a side-by-side comparison of segments, for the responses the Response List's filters select.

A fixed number of queries whatever the number of questions or responses:
1. the totals of the period and of the previous period of the same length (one aggregate);
2. every question's answer distribution in both periods (one statement over the responses:
   each answer is a JSON value, a list is counted once per picked choice);
3. the funnel: responses grouped by which questions they answered and by their answers to the
   questions that carry logic jumps (a handful of groups), walked in Python along the path the
   survey's logic gives each group, so a question skipped by a jump is never counted as a drop;
4. the latest free-text answers of each text question (one LATERAL query on the survey's
   (survey, created_at) index, stopping after a few rows per question);
5. the timeline: responses and the headline score per day or week (one grouped query);
6. with segments to compare: every distribution per segment (one statement).

With only a period chosen (ResultsFilter.whole_period), 1, 2, 3 and 5 read the days before the
results roll-up's watermark from its daily tables (surveys/report_rollup.py, "Results page")
and only the responses after it: four small queries more, and no scan of the period.

The figures are computed from the distributions in Python (a distribution has at most a few
dozen values), with the same definitions as surveys.scores (NPS 9-10 vs 0-6 over answers
0..10; CSAT satisfied = 1 or 2 on the stored -2..2 scale; CES and rating as means).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDay, TruncWeek
from django.http import QueryDict
from django.utils import timezone

from core.querysql import queryset_sql
from profiles.models import Profile
from segments.models import Segment

from . import logic, scores
from .answers import CSAT_LABELS, CSAT_SATISFIED, CSAT_VALUES, csat_points, rating_scale
from .answers import choices as question_choices
from .charts import Point, bar_chart, line_chart
from .filters import VALUELESS_OPERATORS, DateRange, ResponseFilter
from .models import Question, QuestionKind, Response, Survey
from .report_rollup import (
    DISTRIBUTED_KINDS,
    as_score_keys,
    day_start,
    logic_spec,
    overview_counts,
    results_rollup_state,
    rolled_up_answer_buckets,
    rolled_up_answers,
    rolled_up_by_survey,
    rolled_up_counts,
    rolled_up_paths,
    rollup_state,
    score_keys,
)
from .scores import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN

LATEST_TEXT_ANSWERS = 8
MAX_COMPARED_SEGMENTS = 3
# Below this many answers on either side, a change is shown but flagged as too small to read.
MIN_SAMPLE = 30
Z_95 = 1.96
TIMELINE_DAYS_MAX = 62  # a longer range is drawn per week

SCORED_KINDS = (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES, QuestionKind.RATING)
CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
# Kinds whose answer values are few and are counted value by value: DISTRIBUTED_KINDS (defined
# beside the roll-up that keeps their values, surveys.report_rollup).
HEADLINE_KINDS = (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES)


class ResultsFilter(ResponseFilter):
    """The Response List's filters with the survey fixed by the page's URL (30 days by
    default, as the Overview)."""

    default_period = "30d"

    def __init__(self, data: Any = None, *, environment: Any, survey: Survey, **kwargs: Any):
        data = data.copy() if data is not None else QueryDict(mutable=True)
        data["survey"] = str(survey.uuid)
        super().__init__(data, environment=environment, **kwargs)
        self.survey = survey

    @property
    def active(self) -> bool:
        self.form.errors  # noqa: B018
        data = getattr(self.form, "cleaned_data", {})
        return any(
            data.get(name)
            for name in ("segment", "status", "answer", "trait", "q", "channel", "start", "end")
        ) or data.get("period") not in (None, "", self.default_period)

    @property
    def whole_period(self) -> bool:
        """Whether the filters select every response of the survey in the date range, and no
        other filter narrows them: what the results roll-up holds (surveys.report_rollup).
        Precisely the filters that change `qs`: a segment, status, channel, "completed only",
        a trait, a search, or an answer condition (a question chosen with a value, or with an
        operator that needs none: without either it selects nothing, see answer_condition).
        A filter that does not validate matches nothing, so it is not the whole period."""
        if self.form.errors:
            return False
        data = self.form.cleaned_data
        if any(data.get(name) for name in ("segment", "status", "channel", "completed", "trait")):
            return False
        if (data.get("q") or "").strip():
            return False
        if data.get("answer"):
            operator = data.get("op") or "eq"
            if operator in VALUELESS_OPERATORS or (data.get("value") or "").strip():
                return False
        return True

    def previous(self) -> ResultsFilter | None:
        """The same filters over the period of the same length (in days) just before this one.
        None when nothing comes before it: "all time" or a range open at the start; an empty
        range (a start after the end, or in the future with no end, which runs to today);
        a period that would begin before year 1, the first a date can hold (the subtraction
        was a 500)."""
        span = self.date_range
        first = span.start_date
        if first is None:
            return None
        days = ((span.end_date or timezone.localdate()) - first).days + 1
        if days <= 0 or (first - date.min).days < days:
            return None
        data = self.data.copy()
        data["period"] = "custom"
        data["start"] = (first - timedelta(days=days)).isoformat()
        data["end"] = (first - timedelta(days=1)).isoformat()
        return ResultsFilter(data, environment=self.environment, survey=self.survey)


# --- Comparisons -------------------------------------------------------------------------------


@dataclass
class Change:
    """A figure against the previous period: the delta, both sample sizes and whether the
    difference is larger than chance would make it (95%, normal approximation)."""

    delta: float
    n: int
    previous_n: int
    significant: bool

    @property
    def readable(self) -> bool:
        return self.n >= MIN_SAMPLE and self.previous_n >= MIN_SAMPLE

    @property
    def sign(self) -> str:
        return "+" if self.delta > 0 else ("\u2212" if self.delta < 0 else "\u00b1")

    @property
    def magnitude(self) -> float:
        return abs(self.delta)


def _change(value: float | None, var: float | None, n: int, prev: Score | None) -> Change | None:
    """`var` is the variance of one answer's contribution to `value` (so the standard error
    of `value` is sqrt(var / n))."""
    if prev is None or value is None or prev.value is None or not n or not prev.n:
        return None
    delta = round(value - prev.value, 1)
    se = math.sqrt((var or 0) / n + (prev.var or 0) / prev.n)
    significant = se > 0 and abs(value - prev.value) > Z_95 * se
    return Change(delta=delta, n=n, previous_n=prev.n, significant=significant)


@dataclass
class Score:
    value: float | None
    n: int
    var: float | None = None


def _mean_score(counts: Mapping[Any, int], low: float, high: float) -> Score:
    # In value order: the variance's float sum is then the same whatever order the counts were
    # added in (live rows, or rolled-up days and live ones).
    values = sorted((float(v), c) for v, c in counts.items() if _in_range(v, low, high))
    n = sum(c for _, c in values)
    if not n:
        return Score(None, 0)
    mean = sum(v * c for v, c in values) / n
    var = sum(c * (v - mean) ** 2 for v, c in values) / n
    return Score(round(mean, 2), n, var)


def _in_range(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def nps_score(counts: Mapping[Any, int]) -> Score:
    n = sum(c for v, c in counts.items() if _in_range(v, 0, 10))
    if not n:
        return Score(None, 0)
    promoters = sum(c for v, c in counts.items() if _in_range(v, NPS_PROMOTER_MIN, 10))
    detractors = sum(c for v, c in counts.items() if _in_range(v, 0, NPS_DETRACTOR_MAX))
    p, d = promoters / n, detractors / n
    # Each answer contributes +100, 0 or -100: its variance, for the standard error.
    var = (p + d - (p - d) ** 2) * 100 * 100
    return Score(round((p - d) * 100, 1), n, var)


def csat_score(counts: Mapping[Any, int]) -> Score:
    n = sum(c for v, c in counts.items() if _in_range(v, -2, 2))
    if not n:
        return Score(None, 0)
    satisfied = sum(c for v, c in counts.items() if v in CSAT_SATISFIED and _in_range(v, 1, 2))
    p = satisfied / n
    return Score(round(p * 100, 1), n, p * (1 - p) * 100 * 100)


# --- Cards ---------------------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    count: int
    percent: float | None
    value: Any = None
    tone: str = ""  # "good", "neutral", "bad" for NPS groups


@dataclass
class Card:
    question: Question
    kind: str
    answered: int
    previous_answered: int | None
    score: Score | None = None
    change: Change | None = None
    bars: list[Bar] = field(default_factory=list)
    others: list[Bar] = field(default_factory=list)  # choice answers outside the options
    groups: list[Bar] = field(default_factory=list)  # NPS promoters/passives/detractors
    texts: list[dict[str, Any]] = field(default_factory=list)
    unit: str = ""
    scale_max: int | None = None


def _percent(part: int, total: int) -> float | None:
    return round(part * 100 / total, 1) if total else None


def _bars(values: Sequence[Any], counts: Mapping[Any, int], total: int, label: Any) -> list[Bar]:
    return [
        Bar(label=label(v), count=n, percent=_percent(n, total), value=v)
        for v, n in ((v, counts.get(v, 0)) for v in values)
    ]


def build_card(
    question: Question,
    counts: Mapping[Any, int],
    answered: int,
    previous: Mapping[Any, int] | None,
    previous_answered: int | None,
) -> Card:
    """The card of one question from its answer distribution ({value: count}) and the number
    of responses answering it, in this period and (optionally) the previous one."""
    kind = question.kind
    card = Card(
        question=question, kind=kind, answered=answered, previous_answered=previous_answered
    )
    if kind == QuestionKind.NPS:
        card.score = nps_score(counts)
        prev = nps_score(previous) if previous is not None else None
        total = card.score.n
        card.bars = _bars(list(range(11)), counts, total, str)
        for bar in card.bars:
            bar.tone = (
                "good"
                if bar.value >= NPS_PROMOTER_MIN
                else "bad"
                if bar.value <= NPS_DETRACTOR_MAX
                else "neutral"
            )
        promoters = sum(b.count for b in card.bars if b.tone == "good")
        detractors = sum(b.count for b in card.bars if b.tone == "bad")
        passives = total - promoters - detractors
        card.groups = [
            Bar("Promoters", promoters, _percent(promoters, total), tone="good"),
            Bar("Passives", passives, _percent(passives, total), tone="neutral"),
            Bar("Detractors", detractors, _percent(detractors, total), tone="bad"),
        ]
        card.scale_max = 100
    elif kind == QuestionKind.CSAT:
        card.score = csat_score(counts)
        prev = csat_score(previous) if previous is not None else None
        card.bars = _bars(
            list(CSAT_VALUES[csat_points(question)]), counts, card.score.n, CSAT_LABELS.get
        )
        card.unit = "%"
    elif kind in (QuestionKind.CES, QuestionKind.RATING):
        high = 7 if kind == QuestionKind.CES else rating_scale(question)
        card.score = _mean_score(counts, 1, high)
        prev = _mean_score(previous, 1, high) if previous is not None else None
        card.bars = _bars(list(range(1, high + 1)), counts, card.score.n, str)
        card.scale_max = high
    elif kind in CHOICE_KINDS:
        options = question_choices(question)
        # Percent of the respondents who answered (a multiple choice adds up past 100%).
        card.bars = _bars(options, counts, answered, str)
        card.others = sorted(
            (
                Bar(label=str(v), count=c, percent=_percent(c, answered), value=v)
                for v, c in counts.items()
                if v not in options
            ),
            key=lambda bar: (-bar.count, bar.label),
        )
        prev = None
    elif kind == QuestionKind.CTA:
        clicked = sum(c for v, c in counts.items() if v is True)
        card.bars = [Bar("Clicked", clicked, _percent(clicked, answered), True)]
        prev = None
    else:
        prev = None
    if card.score is not None:
        card.change = _change(card.score.value, card.score.var, card.score.n, prev)
    elif previous_answered is not None:
        card.change = Change(
            delta=answered - previous_answered,
            n=answered,
            previous_n=previous_answered,
            significant=False,
        )
    return card


# --- Funnel --------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    label: str
    reached: int
    answered: int | None = None
    dropped: int = 0
    question: Question | None = None

    percent: float | None = None  # of the responses shown


def funnel_from_groups(
    questions: Sequence[Question], groups: Iterable[tuple[frozenset, dict, bool, bool, int]]
) -> tuple[list[FunnelStep], int, int, int]:
    """(steps, shown, completed, dismissed) from groups of responses (answered keys, the answers
    to the questions with logic, completed, dismissed, count).

    Each group's path is walked with the survey's own logic (surveys.logic.next_question): a
    question is *reached* when it lies on the path before the point the respondent stopped,
    *answered* when its key is in the response, and a response that stopped (neither
    completed nor past it) *dropped* at the first question of its path it did not answer
    after its last answer. An optional question left blank on the way is reached, not a drop.
    A question a jump skipped is not on that path at all."""
    reached = {q.key: 0 for q in questions}
    answered = {q.key: 0 for q in questions}
    dropped = {q.key: 0 for q in questions}
    shown = completed = dismissed = 0
    # A path depends only on the answers to the questions with logic: walked once per distinct
    # set of those (groups can be tens of thousands: one per combination of answered questions,
    # while the logic answers take a few values).
    logic_keys = [q.key for q in questions if q.logic]
    paths: dict[tuple, list[Question]] = {}
    for keys, values, done, gone, count in groups:
        shown += count
        completed += count if done else 0
        dismissed += count if gone and not done else 0
        followed = {key: values.get(key) if key in keys else None for key in logic_keys}
        path_key = tuple(_typed_key(followed[key]) for key in logic_keys)
        path = paths.get(path_key)
        if path is None:
            path = paths[path_key] = logic.path(questions, followed)
        answered_at = [i for i, q in enumerate(path) if q.key in keys]
        if done:
            stop = len(path)
        else:
            stop = (answered_at[-1] + 1 if answered_at else 0) + 1
            stop = min(stop, len(path))
        for index, q in enumerate(path[:stop]):
            reached[q.key] += count
            if q.key in keys:
                answered[q.key] += count
            elif not done and index == stop - 1:
                dropped[q.key] += count
    steps = [
        FunnelStep(
            label=q.title,
            question=q,
            reached=reached[q.key],
            answered=answered[q.key],
            dropped=dropped[q.key],
            percent=_percent(answered[q.key], shown),
        )
        for q in questions
    ]
    return steps, shown, completed, dismissed


# --- The page ------------------------------------------------------------------------------------


def _inner(qs: QuerySet, *fields: str) -> tuple[str, tuple]:
    """The SQL of a queryset's rows (for the raw statements below). A queryset Django knows
    to be empty (a filter that did not validate) has no SQL: it becomes one matching no row."""
    return queryset_sql(qs.order_by().values(*fields))


Distribution = tuple[dict[Any, dict[str, dict[Any, int]]], dict[Any, dict[str, int]]]


def _distributions(
    rows_sql: str, params: Sequence[Any], *, keys: Sequence[str], distributed: Sequence[str]
) -> Distribution:
    """({group: {key: {value: count}}}, {group: {key: responses answering}}) in one statement
    (see _distribution_rows)."""
    rows = _distribution_rows(rows_sql, params, keys=keys, distributed=distributed)
    return _count_distributions(rows, distributed)


def _distribution_rows(
    rows_sql: str, params: Sequence[Any], *, keys: Sequence[str], distributed: Sequence[str]
) -> list[tuple[Any, str, str | None, int]]:
    """(group, key, answer as JSON text, count) rows, in one statement.

    `rows_sql` selects (g, data): each response's group (the period, a segment) and answers.
    Every key in `keys` is counted (responses answering it); the keys in `distributed` also
    value by value (free text is not: its values are as many as its answers).

    Each response is read once and turned into one row per answered key by a LATERAL VALUES
    list of `data -> key` lookups, then grouped by (group, key, value): measured on 53,000
    responses of 10 questions, a quarter of the time of expanding `jsonb_each(data)`, and a
    fifth of GROUPING SETS (which sorts per set). A multiple-choice answer is grouped by the
    whole list and split into its choices here (a few distinct lists), not with
    jsonb_array_elements per row."""
    pairs = []
    pair_params: list[Any] = []
    for key in keys:
        if key in distributed:
            pairs.append("(%s, r.data -> %s)")
        else:  # answered or not: the value itself is not grouped
            pairs.append("(%s, CASE WHEN r.data ? %s THEN 'true'::jsonb END)")
        pair_params += [key, key]
    if not pairs:
        return []
    sql = (
        f"SELECT r.g, v.key, v.value, COUNT(*) FROM ({rows_sql}) AS r "
        f"CROSS JOIN LATERAL (VALUES {', '.join(pairs)}) AS v(key, value) "
        "WHERE v.value IS NOT NULL GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *pair_params])
        return list(cursor.fetchall())


def _count_distributions(rows: Iterable[Sequence[Any]], distributed: Sequence[str]) -> Distribution:
    """_distributions' result from its rows (group, key, answer as JSON text, count), which
    may come from several sources (rolled-up days and live ones): they add up."""
    counts: dict[Any, dict[str, dict[Any, int]]] = {}
    answered: dict[Any, dict[str, int]] = {}
    for group, key, text, count in rows:
        answered.setdefault(group, {})[key] = answered.get(group, {}).get(key, 0) + count
        if key not in distributed:
            continue
        value = _json(text)
        by_value = counts.setdefault(group, {}).setdefault(key, {})
        for item in value if isinstance(value, list) else [value]:
            item = _as_key(item)
            by_value[item] = by_value.get(item, 0) + count
    return counts, answered


def _json(text: str | None) -> Any:
    """A jsonb column read through a raw cursor (Django loads jsonb as text)."""
    return None if text is None else json.loads(text)


def _typed_key(value: Any) -> Any:
    """A hashable key for an answer that keeps its type (True, 1 and "1" may take different
    jumps, and True == 1 in Python)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return (type(value), value)
    return json.dumps(value, sort_keys=True)


def _as_key(value: Any) -> Any:
    """Scalars as themselves, anything else (an object) as its JSON text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return json.dumps(value, sort_keys=True)


def _funnel_groups(
    qs: QuerySet, keys: Sequence[str], logic_questions: Sequence[Question]
) -> list[tuple[frozenset, dict, bool, bool, int]]:
    """Responses grouped by which of `keys` they answered (a string of 0/1 for `data ? key`), their
    answers to the questions with logic, completed and dismissed: a handful of groups, from
    plain per-row expressions (no set-returning function per row).

    A question whose jumps only ask "is answered" / "is skipped" is grouped by whether its
    answer is blank, not by the answer (`true` stands for any other): grouping a free-text
    question by its text made one group per response."""
    inner_sql, inner_params = _inner(qs, "data", "completed_at", "dismissed_at")
    mask = " || ".join("(CASE WHEN r.data ? %s THEN '1' ELSE '0' END)" for _ in keys) or "''"
    logic_columns = ""
    logic_params: list[str] = []
    for question in logic_questions:
        if logic.needs_value(question):
            logic_columns += ", r.data -> %s"
            logic_params.append(question.key)
        else:
            logic_columns += (
                ", CASE WHEN r.data -> %s IN ('null', '\"\"', '[]') THEN r.data -> %s"
                " WHEN r.data ? %s THEN 'true'::jsonb END"
            )
            logic_params += [question.key] * 3
    logic_keys = [question.key for question in logic_questions]
    sql = (
        f"SELECT {mask}, r.completed_at IS NOT NULL, r.dismissed_at IS NOT NULL"
        f"{logic_columns}, COUNT(*) FROM ({inner_sql}) AS r "
        f"GROUP BY {', '.join(str(i) for i in range(1, 4 + len(logic_keys)))}"
    )
    groups = []
    # The same masks and answers recur across groups: each is decoded once.
    masks: dict[str, frozenset] = {}
    parsed: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*keys, *logic_params, *inner_params])
        for bits, done, gone, *rest in cursor.fetchall():
            *values, count = rest
            answered = masks.get(bits)
            if answered is None:
                answered = masks[bits] = frozenset(
                    key for key, bit in zip(keys, bits, strict=True) if bit == "1"
                )
            answers = {}
            for key, text in zip(logic_keys, values, strict=True):
                if text is not None:
                    if text not in parsed:
                        parsed[text] = _json(text)
                    answers[key] = parsed[text]
            groups.append((answered, answers, done, gone, count))
    return groups


def _latest_texts(qs: QuerySet, keys: Sequence[str], search: str) -> dict[str, list[dict]]:
    """The newest answers of each text question (matching `search` when given), with the
    respondent: for each key, the survey's (survey, created_at) index walked newest first and
    left after LATEST_TEXT_ANSWERS rows."""
    if not keys:
        return {}
    inner_sql, inner_params = _inner(qs, "id", "created_at", "data", "profile_id")
    condition = ""
    params: list[Any] = [list(keys), *inner_params]
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = "AND r.data ->> k.key ILIKE %s "
        params.append(f"%{escaped}%")
    params.append(LATEST_TEXT_ANSWERS)
    # The whole condition is one `CASE ... END IS NOT NULL`: the planner estimates that as
    # matching most rows, so it walks the (environment, created_at) index newest first and
    # stops after a few rows (0.7 ms on a survey of 80,000 responses). Written as
    # `data ? key AND ...` it was estimated to match almost nothing, and the planner read and
    # sorted every response of the period instead (240 ms).
    sql = (
        "SELECT k.key, x.text, x.created_at, p.uuid, p.user_id, p.email, p.traits "
        "FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL ("
        f"SELECT r.data ->> k.key AS text, r.created_at, r.profile_id FROM ({inner_sql}) AS r "
        "WHERE (CASE WHEN jsonb_typeof(r.data -> k.key) = 'string' "
        f"{condition}THEN TRUE END) IS NOT NULL "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT %s) AS x "
        "JOIN profiles_profile p ON p.id = x.profile_id"
    )
    found: dict[str, list[dict]] = {key: [] for key in keys}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, text, created_at, profile_uuid, user_id, email, traits in cursor.fetchall():
            # Enough of the profile for {% user_link %} (its name and the panel's URL).
            who = Profile(uuid=profile_uuid, user_id=user_id, email=email, traits=_json(traits))
            found[key].append({"text": text, "created_at": created_at, "profile": who})
    return found


_TOTALS = ("shown", "responses", "completed", "dismissed")


def _totals(qs: QuerySet, current_start: datetime | None) -> dict[str, dict[str, int]]:
    """Shown, answered, completed and dismissed in this period (and the previous one when
    `current_start` splits the rows)."""
    aggregates = {}
    periods = (
        {"current": Q()}
        if current_start is None
        else {
            "current": Q(created_at__gte=current_start),
            "previous": Q(created_at__lt=current_start),
        }
    )
    for name, where in periods.items():
        aggregates[f"{name}__shown"] = Count("pk", filter=where)
        aggregates[f"{name}__responses"] = Count("pk", filter=where & ~Q(data={}))
        aggregates[f"{name}__completed"] = Count("pk", filter=where & Q(completed_at__isnull=False))
        aggregates[f"{name}__dismissed"] = Count(
            "pk", filter=where & Q(completed_at__isnull=True, dismissed_at__isnull=False)
        )
    row = qs.order_by().aggregate(**aggregates)
    result: dict[str, dict[str, int]] = {}
    for name, value in row.items():
        period, _, figure = name.partition("__")
        result.setdefault(period, {})[figure] = value or 0
    return result


def _rate(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _by_week(span: DateRange) -> bool:
    """Whether the timeline is drawn per week (a range longer than TIMELINE_DAYS_MAX days)."""
    start, end = span.start, span.end or timezone.now()
    return start is None or (end - start).days > TIMELINE_DAYS_MAX


def _timeline_data(
    qs: QuerySet, by_week: bool, headline: Question | None
) -> tuple[dict[datetime, int], dict[datetime, dict[Any, int]]]:
    """({bucket: responses}, {bucket: the headline's answers {value: count}}) per day or week
    (local midnight, aware): a bucket is there when it has any row, a view or a response. Two
    grouped queries."""
    trunc = TruncWeek("created_at") if by_week else TruncDay("created_at")
    per_bucket = (
        qs.order_by()
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(responses=Count("pk", filter=~Q(data={})))
    )
    responses = {row["bucket"]: row["responses"] for row in per_bucket}
    counts = _bucket_distribution(qs, headline.key, trunc) if headline is not None else {}
    return responses, counts


def _timeline(
    by_week: bool,
    responses: Mapping[datetime, int],
    counts_by_bucket: Mapping[datetime, Mapping[Any, int]],
    headline: Question | None,
) -> dict[str, Any]:
    unit = "week" if by_week else "day"
    scores_by_bucket: dict[Any, Score] = {}
    if headline is not None:
        for bucket, counts in counts_by_bucket.items():
            scores_by_bucket[bucket] = _headline_score(headline, counts)

    def label(bucket: datetime) -> str:
        return f"{bucket:%b} {bucket.day}"

    buckets = sorted(responses)
    volume = [
        Point(
            label=label(timezone.localtime(b)),
            value=responses[b],
            title=f"{'Week of ' if by_week else ''}{label(timezone.localtime(b))}: "
            f"{responses[b]} responses",
        )
        for b in buckets
    ]
    score_points = []
    for b in buckets:
        score = scores_by_bucket.get(b)
        value = score.value if score else None
        score_points.append(
            Point(
                label=label(timezone.localtime(b)),
                value=value,
                title=f"{label(timezone.localtime(b))}: {value:g} ({score.n} answers)"
                if score and value is not None
                else "",
            )
        )
    chart = ""
    if headline is not None and any(p.value is not None for p in score_points):
        low, high, ticks = _headline_bounds(headline)
        chart = line_chart(
            score_points,
            low=low,
            high=high,
            ticks=ticks,
            aria_label=f"{headline.get_kind_display()} by {unit}",
            zero_line=low < 0,
        )
    return {
        "by_week": by_week,
        "volume_chart": bar_chart(volume, aria_label=f"Responses by {unit}") if volume else "",
        "score_chart": chart,
    }


def _bucket_distribution(qs: QuerySet, key: str, trunc: Any) -> dict[Any, dict[Any, int]]:
    counts: dict[Any, dict[Any, int]] = {}
    rows = (
        qs.order_by()
        .filter(data__has_key=key)
        .annotate(bucket=trunc)
        .values("bucket", f"data__{key}")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        value = row[f"data__{key}"]
        counts.setdefault(row["bucket"], {})[_as_key(value)] = row["n"]
    return counts


def _headline_score(question: Question, counts: Mapping[Any, int]) -> Score:
    if question.kind == QuestionKind.NPS:
        return nps_score(counts)
    if question.kind == QuestionKind.CSAT:
        return csat_score(counts)
    return _mean_score(counts, 1, 7)


def _headline_bounds(question: Question) -> tuple[float, float, list[float]]:
    if question.kind == QuestionKind.NPS:
        return -100, 100, [-100, -50, 0, 50, 100]
    if question.kind == QuestionKind.CSAT:
        return 0, 100, [0, 25, 50, 75, 100]
    return 1, 7, [1, 2, 3, 4, 5, 6, 7]


def headline_question(questions: Sequence[Question]) -> Question | None:
    """The question a survey is summed up by: its first NPS, else CSAT, else CES question."""
    for kind in HEADLINE_KINDS:
        for question in questions:
            if question.kind == kind:
                return question
    return None


@dataclass
class _Rolled:
    """The rolled-up days a read uses, [start, end) (start None: from the first), and the
    instant from which responses are read live (the watermark's midnight). Days before
    `purged` (retention deleted their responses) are in neither part."""

    start: date | None
    end: date
    live_from: datetime
    purged: date | None

    def clip(self, day: date | None) -> date | None:
        if self.purged is not None and (day is None or day < self.purged):
            return self.purged
        return day


class _StaleRollup(Exception):
    """The rolled-up rows do not fit the survey's questions as they are now (a question that
    counts values was free text, or its logic changed, when the days were rolled up): the
    page is read live until the next run recomputes them."""


def _rolled(filterset: ResultsFilter, first: datetime | None) -> _Rolled | None:
    """The rolled-up days of the page's rows (from `first`, to the range's end): None when
    the filters select less than the whole period, or no day of it is rolled up."""
    if not filterset.whole_period:
        return None
    watermark, purged = results_rollup_state(filterset.environment.pk)
    if watermark is None:
        return None
    span = filterset.date_range
    end = watermark
    if span.end is not None:
        end = min(end, timezone.localtime(span.end).date())
    rolled = _Rolled(start=None, end=end, live_from=day_start(watermark), purged=purged)
    rolled.start = rolled.clip(timezone.localtime(first).date() if first is not None else None)
    if rolled.start is not None and rolled.start >= end:
        return None
    return rolled


@dataclass
class _Figures:
    totals: dict[str, dict[str, int]]
    counts: dict[Any, dict[str, dict[Any, int]]]
    answered: dict[Any, dict[str, int]]
    groups: list[tuple[frozenset, dict, bool, bool, int]]
    bucket_responses: dict[datetime, int]
    bucket_counts: dict[datetime, dict[Any, int]]


def _add_counts(into: dict[Any, int], counts: Mapping[Any, int]) -> None:
    """Add `counts` into `into`, key by key (rolled-up days and live ones add up)."""
    for key, count in counts.items():
        into[key] = into.get(key, 0) + count


def _figures(
    filterset: ResultsFilter,
    questions: Sequence[Question],
    *,
    qs: QuerySet,
    both: QuerySet,
    current_start: datetime | None,
    by_week: bool,
    headline: Question | None,
    rolled: _Rolled | None,
) -> _Figures:
    """Every figure of the page that adds up over responses: the totals, the answer
    distributions, the funnel's groups and the timeline's buckets. With `rolled`, the
    rolled-up days from the roll-up and the responses from its watermark live: the same
    numbers as all live (surveys/tests/test_results_rollup.py checks it)."""
    keys = [q.key for q in questions]
    distributed = [q.key for q in questions if q.kind in DISTRIBUTED_KINDS]
    logic_questions = [q for q in questions if q.logic]
    rolled_rows: list[tuple[Any, str, str | None, int]] = []
    groups: list[tuple[frozenset, dict, bool, bool, int]] = []
    totals: dict[str, dict[str, int]] = {}
    bucket_responses: dict[datetime, int] = {}
    bucket_counts: dict[datetime, dict[Any, int]] = {}
    if rolled is not None:
        survey_id = filterset.survey.pk
        environment_id = filterset.environment.pk
        split = timezone.localtime(current_start).date() if current_start is not None else None
        rolled_rows = rolled_up_answers(
            environment_id=environment_id,
            survey_id=survey_id,
            start=rolled.start,
            end=rolled.end,
            split=split,
            keys=keys,
            distributed=distributed,
        )
        if any(key in distributed and text is None for _, key, text, _ in rolled_rows):
            raise _StaleRollup
        # The funnel and the timeline read the current period only.
        current = rolled.clip(filterset.date_range.start_date)
        spec = logic_spec((q.key, logic.needs_value(q)) for q in logic_questions)
        logic_keys = [q.key for q in logic_questions]
        for answered_keys, done, gone, logic_text, row_spec, count in rolled_up_paths(
            environment_id=environment_id, survey_id=survey_id, start=current, end=rolled.end
        ):
            if row_spec != spec:
                raise _StaleRollup
            present = set(answered_keys)
            answers = _json(logic_text)
            groups.append(
                (
                    frozenset(key for key in keys if key in present),
                    {key: answers[key] for key in logic_keys if key in answers},
                    done,
                    gone,
                    count,
                )
            )
        for row in rolled_up_counts(
            environment_id=environment_id,
            survey_id=survey_id,
            start=rolled.start,
            end=rolled.end,
            split=split,
            by_week=by_week,
        ):
            period = "current" if row["current"] else "previous"
            _add_counts(totals.setdefault(period, {}), {name: row[name] for name in _TOTALS})
            if row["current"]:
                _add_counts(bucket_responses, {day_start(row["bucket"]): row["responses"]})
        if headline is not None:
            for day, text, count in rolled_up_answer_buckets(
                environment_id=environment_id,
                survey_id=survey_id,
                key=headline.key,
                start=current,
                end=rolled.end,
                by_week=by_week,
            ):
                by_value = bucket_counts.setdefault(day_start(day), {})
                _add_counts(by_value, {_as_key(_json(text)): count})
        # The rest live: the responses from the watermark on.
        qs = qs.filter(created_at__gte=rolled.live_from)
        both = both.filter(created_at__gte=rolled.live_from)

    for name, live_totals in _totals(both, current_start).items():
        _add_counts(totals.setdefault(name, {}), live_totals)
    inner_sql, inner_params = _inner(both, "created_at", "data")
    if current_start is not None:
        rows_sql = f"SELECT (r0.created_at >= %s) AS g, r0.data FROM ({inner_sql}) AS r0"
        rows_params: list[Any] = [current_start, *inner_params]
    else:
        rows_sql = f"SELECT TRUE AS g, r0.data FROM ({inner_sql}) AS r0"
        rows_params = list(inner_params)
    live_rows = _distribution_rows(rows_sql, rows_params, keys=keys, distributed=distributed)
    counts, answered = _count_distributions([*rolled_rows, *live_rows], distributed)
    groups += _funnel_groups(qs, keys, logic_questions)
    live_responses, live_counts = _timeline_data(qs, by_week, headline)
    _add_counts(bucket_responses, live_responses)
    for bucket, by_value in live_counts.items():
        _add_counts(bucket_counts.setdefault(bucket, {}), by_value)
    return _Figures(totals, counts, answered, groups, bucket_responses, bucket_counts)


def survey_results(
    filterset: ResultsFilter,
    *,
    compare: Sequence[Segment] = (),
    text_search: str = "",
    use_rollup: bool = True,
) -> dict[str, Any]:
    """Everything the results page shows. When the filters select the whole date range (no
    other filter), the days the results roll-up holds are read from it and only the days after
    its watermark from the responses (surveys.report_rollup, "Results page"); `use_rollup`
    False reads every response (the tests compare both)."""
    survey = filterset.survey
    questions = list(survey.questions.all())
    span = filterset.date_range
    previous = filterset.previous()
    qs = filterset.qs
    both = qs
    current_start = None
    first = span.start
    if previous is not None and not filterset.form.errors and not previous.form.errors:
        both = qs | previous.qs
        current_start = span.start
        first = previous.date_range.start
    headline = headline_question(questions)
    by_week = _by_week(span)
    rolled = _rolled(filterset, first) if use_rollup else None
    arguments = {
        "qs": qs,
        "both": both,
        "current_start": current_start,
        "by_week": by_week,
        "headline": headline,
    }
    try:
        figures = _figures(filterset, questions, rolled=rolled, **arguments)
    except _StaleRollup:
        figures = _figures(filterset, questions, rolled=None, **arguments)
    current = figures.totals.get("current") or dict.fromkeys(_TOTALS, 0)
    prior = None
    if current_start is not None:
        prior = figures.totals.get("previous") or dict.fromkeys(_TOTALS, 0)
    cur_counts, prev_counts = figures.counts.get(True, {}), figures.counts.get(False, {})
    cur_answered, prev_answered = figures.answered.get(True, {}), figures.answered.get(False, {})
    texts = _latest_texts(
        qs, [q.key for q in questions if q.kind == QuestionKind.TEXT], text_search
    )
    cards = []
    for question in questions:
        card = build_card(
            question,
            cur_counts.get(question.key, {}) if question.kind in DISTRIBUTED_KINDS else {},
            cur_answered.get(question.key, 0),
            (prev_counts.get(question.key, {}) if question.kind in DISTRIBUTED_KINDS else {})
            if prior is not None
            else None,
            prev_answered.get(question.key, 0) if prior is not None else None,
        )
        card.texts = texts.get(question.key, [])
        cards.append(card)

    steps, shown, completed, dismissed = funnel_from_groups(questions, figures.groups)
    headline_card = next((c for c in cards if headline and c.question.pk == headline.pk), None)

    comparison = (
        segment_comparison(qs, questions, compare[:MAX_COMPARED_SEGMENTS]) if compare else []
    )
    return {
        "survey": survey,
        "questions": questions,
        "span": span,
        "previous_span": previous.date_range if previous is not None else None,
        "totals": current,
        "previous_totals": prior,
        "response_rate": _rate(current["completed"], current["shown"]),
        "previous_response_rate": _rate(prior["completed"], prior["shown"]) if prior else None,
        "cards": cards,
        "headline": headline_card,
        "funnel": steps,
        "funnel_shown": shown,
        "funnel_completed": completed,
        "funnel_dismissed": dismissed,
        "funnel_completed_pct": _percent(completed, shown),
        "funnel_dismissed_pct": _percent(dismissed, shown),
        "comparison": comparison,
        **_timeline(by_week, figures.bucket_responses, figures.bucket_counts, headline),
    }


@dataclass
class ComparedQuestion:
    question: Question
    columns: list[Card]


def segment_comparison(
    qs: QuerySet, questions: Sequence[Question], segments: Sequence[Segment]
) -> list[ComparedQuestion]:
    """Each question's card per segment, side by side, from stored membership: one statement
    groups every answer by the segments its respondent belongs to."""
    compared_kinds = [q for q in questions if q.kind in DISTRIBUTED_KINDS]
    inner_sql, inner_params = _inner(qs, "data", "profile_id")
    # A respondent in two of the segments counts in both columns.
    rows_sql = (
        f"SELECT m.segment_id AS g, r0.data FROM ({inner_sql}) AS r0 "
        "JOIN segments_segmentmembership m ON m.profile_id = r0.profile_id "
        "AND m.segment_id = ANY(%s)"
    )
    keys = [q.key for q in compared_kinds]
    counts, answered = _distributions(
        rows_sql, [*inner_params, [s.pk for s in segments]], keys=keys, distributed=keys
    )
    compared = []
    for question in compared_kinds:
        columns = []
        for segment in segments:
            card = build_card(
                question,
                counts.get(segment.pk, {}).get(question.key, {}),
                answered.get(segment.pk, {}).get(question.key, 0),
                None,
                None,
            )
            card.segment = segment  # type: ignore[attr-defined]
            columns.append(card)
        compared.append(ComparedQuestion(question=question, columns=columns))
    return compared


def compared_segments(environment: Any, values: Sequence[str]) -> list[Segment]:
    """Up to three of this environment's segments named by uuid (others are ignored)."""
    ids = []
    for value in values[: MAX_COMPARED_SEGMENTS * 2]:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    if not ids:
        return []
    by_uuid = {s.uuid: s for s in Segment.objects.filter(environment=environment, uuid__in=ids)}
    return [by_uuid[i] for i in dict.fromkeys(ids) if i in by_uuid][:MAX_COMPARED_SEGMENTS]


__all__ = [
    "ResultsFilter",
    "build_card",
    "compared_segments",
    "funnel_from_groups",
    "headline_question",
    "survey_list_figures",
    "survey_results",
]


# --- The survey list's figures -------------------------------------------------------------------


def survey_list_figures(
    *, environment_id: int, survey_ids: Sequence[int], span: DateRange
) -> dict[int, dict[str, Any]]:
    """{survey_id: {"views", "responses", "completed", "dismissed", "rate", "headline": (kind,
    score) or None}} over the period, for the survey list: the complete days from the daily
    roll-up, the days after its watermark live (one grouped query over those days only, on the
    (environment, created_at) index), so no survey's responses are scanned per row."""
    if not survey_ids:
        return {}
    keys = as_score_keys(score_keys(environment_id))
    names = list(scores.score_aggregates(keys, overview_counts())[1])
    watermark, erased = rollup_state(environment_id)
    live = Response.objects.filter(environment_id=environment_id, survey_id__in=survey_ids)
    if span.start is not None:
        live = live.filter(created_at__gte=span.start)
    if span.end is not None:
        live = live.filter(created_at__lt=span.end)
    rows: list[dict[str, Any]] = []
    # The roll-up, and the figures of erased responses after it (governance.erasure).
    end = watermark
    if watermark is not None and span.end is not None:
        end = min(watermark, timezone.localtime(span.end).date())
    if watermark is not None or erased:
        rows += rolled_up_by_survey(
            environment_id=environment_id,
            start=span.start_date,
            end=end,
            watermark=watermark,
            last_day=span.end_date,
        )
    if watermark is not None and (span.start is None or span.start < day_start(watermark)):
        live = live.filter(created_at__gte=day_start(watermark))
    rows += scores.grouped_figures(live, {"sid": F("survey_id")}, keys, overview_counts())
    by_survey: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_survey.setdefault(row["sid"], []).append(row)
    figures = {}
    for survey_id in survey_ids:
        total = scores.finalize_figures(
            scores.add_figures(by_survey.get(survey_id, []), names), keys, overview_counts()
        )
        headline = None
        for kind in ("nps", "csat", "ces"):
            if keys[kind] is not None and survey_id in keys[kind]:  # type: ignore[operator]
                result = total[kind]
                value = result.get("score", result.get("average"))
                headline = (kind.upper(), value, result["total"])
                break
        total["rate"] = _rate(total["completed"], total["views"])
        total["headline"] = headline
        figures[survey_id] = total
    return figures
