"""Compile a segment's rules (see segments.rules) to ONE queryset over Profile.

Every condition becomes a boolean SQL expression: trait and profile conditions read the profile
row (JSONB traits cast safely by declared type: a value of the wrong JSON type is "not set",
never a cast error); event, survey and segment conditions are EXISTS or IN subqueries, which
PostgreSQL runs as hash semi/anti-joins over the whole table; when the evaluation is restricted
to a few profiles (`profile_ids`: incremental re-evaluation) event counts become correlated
per-profile index probes instead, so one generic plan serves any ids. Nothing is filtered in
Python. segments.evaluation assembles these expressions, one per dynamic segment, into the one
prepared statement of the incremental path.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    F,
    Func,
    JSONField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    Regex,
)
from django.utils import timezone

from core.http import parse_uuid
from events.models import Event, EventDefinition
from profiles.models import Profile
from surveys.models import Response, Survey

from . import rules as R
from .membership import members_filter
from .models import Segment

logger = logging.getLogger(__name__)

NUMERIC_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
MATCH_ALL = Q(pk__isnull=False)
MATCH_NONE = Q(pk__isnull=True)


class JsonbTypeof(Func):
    function = "jsonb_typeof"
    output_field = CharField()


class SafeTimestamp(Func):
    """hark_safe_timestamptz(text): NULL for anything that is not a valid ISO 8601 date/time
    (created by migration 0002; never raises)."""

    function = "hark_safe_timestamptz"
    output_field = DateTimeField()


@dataclass
class CompileContext:
    """Lookups shared by every condition of one evaluation (a few queries, done once)."""

    environment_id: int
    now: dt.datetime = field(default_factory=timezone.now)
    profile_ids: list[int] | None = None
    _types: R.TypeResolver | None = None
    # Conditions of stored rules that no longer fit (a trait's type changed, rules edited
    # outside the builder): {path: messages}. They match nobody; they are never an error.
    problems: dict[str, list[str]] = field(default_factory=dict)
    _events: dict[str, int | None] = field(default_factory=dict)
    _surveys: dict[str, int | None] = field(default_factory=dict)
    _segments: dict[str, Any] = field(default_factory=dict)

    @property
    def types(self) -> R.TypeResolver:
        if self._types is None:
            self._types = R.TypeResolver(self.environment_id)
        return self._types

    def preload(self, trees: Iterable[Any]) -> None:
        """Resolve the names and ids used by these rule trees in one query per kind."""

        events: set[str] = set()
        surveys: set[str] = set()
        segments: set[str] = set()
        pending = list(trees)
        seen_segments: set[str] = set()
        while pending:
            tree = pending.pop()
            for _, c in R.iter_conditions(tree):
                kind = c.get("type")
                if kind == "event" and isinstance(c.get("event"), str):
                    events.add(c["event"])
                elif kind in ("survey", "answer") and c.get("survey"):
                    surveys.add(str(c["survey"]))
                elif kind == "segment" and c.get("segment"):
                    segments.add(str(c["segment"]))
            new = segments - seen_segments - set(self._segments)
            if new:
                seen_segments |= new
                for seg in self._load_segments(new):
                    if seg.kind == "dynamic":
                        pending.append(seg.rules)
        events -= set(self._events)
        if events:
            found = dict(
                EventDefinition.objects.filter(
                    environment_id=self.environment_id, name__in=events, deleting=False
                ).values_list("name", "id")
            )
            for name in events:
                self._events[name] = found.get(name)
        surveys -= set(self._surveys)
        if surveys:
            valid = {s for s in surveys if parse_uuid(s)}
            found = {
                str(u): i
                for u, i in Survey.objects.filter(
                    environment_id=self.environment_id, uuid__in=valid
                ).values_list("uuid", "id")
            }
            for key in surveys:
                self._surveys[key] = found.get(key)

    def _load_segments(self, uuids: set[str]) -> list[Any]:

        valid = {u for u in uuids if parse_uuid(u)}
        rows = list(
            Segment.objects.filter(environment_id=self.environment_id, uuid__in=valid).only(
                "id", "uuid", "kind", "rules"
            )
        )
        for u in uuids:
            self._segments[u] = None
        for seg in rows:
            self._segments[str(seg.uuid)] = seg
        return rows

    def add_segments(self, segments: Iterable[Any]) -> None:
        for seg in segments:
            self._segments[str(seg.uuid)] = seg

    def event_id(self, name: str) -> int | None:
        if name not in self._events:
            self.preload([{"op": "and", "conditions": [{"type": "event", "event": name}]}])
        return self._events.get(name)

    def survey_id(self, key: str) -> int | None:
        if key not in self._surveys:
            self.preload([{"op": "and", "conditions": [{"type": "survey", "survey": key}]}])
        return self._surveys.get(key)

    def segment(self, key: str) -> Any:
        if key not in self._segments:
            self._load_segments({key})
        return self._segments.get(key)


# --- Typed values ------------------------------------------------------------------------------


class JsonGet(Func):
    """jsonb -> 'key' (the key always as text: Django's KeyTransform reads "123" as an index)."""

    arg_joiner = " -> "
    template = "(%(expressions)s)"

    def __init__(self, field_name: str, key: str, output_field: Any = None) -> None:
        super().__init__(
            F(field_name), Cast(Value(key), TextField()), output_field=output_field or JSONField()
        )


class JsonGetText(JsonGet):
    arg_joiner = " ->> "

    def __init__(self, field_name: str, key: str) -> None:
        super().__init__(field_name, key, output_field=TextField())


class InIds(Func):
    """column = ANY(%s::bigint[]): one array parameter for a list of ids, so the SQL text does
    not depend on how many there are (and a compiled statement can be reused)."""

    output_field = BooleanField()

    def __init__(self, column: str, ids: Any) -> None:
        super().__init__(F(column), Value(ids, output_field=ArrayField(BigIntegerField())))

    # Narrower than Func.as_sql (no function/template arguments): only Django's compiler calls it.
    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple]:
        column_sql, column_params = compiler.compile(self.source_expressions[0])
        ids_sql, ids_params = compiler.compile(self.source_expressions[1])
        return f"({column_sql} = ANY({ids_sql}::bigint[]))", (*column_params, *ids_params)


def in_ids(column: str, ids: Any) -> Q:
    return Q(InIds(column, ids))


def typed_value(json_field: str, key: str, data_type: str) -> Any:
    """The value under `key` of a JSONB column, as SQL of `data_type`, or NULL when it is missing
    or of another JSON type. Never raises on bad data. (Dates: see `date_value`.)"""
    node = JsonGet(json_field, key)
    text = JsonGetText(json_field, key)
    typeof = JsonbTypeof(node)
    if data_type == R.STRING:
        return Case(
            When(Exact(typeof, "string"), then=text), default=None, output_field=CharField()
        )
    if data_type == R.NUMBER:
        number = Func(text, template="(%(expressions)s)::numeric", output_field=DecimalField())
        return Case(
            When(Exact(typeof, "number"), then=number),
            When(Q(Exact(typeof, "string")) & Q(Regex(text, NUMERIC_PATTERN)), then=number),
            default=None,
            output_field=DecimalField(),
        )
    if data_type == R.BOOLEAN:
        boolean = Func(text, template="(%(expressions)s)::boolean", output_field=BooleanField())
        return Case(
            When(Exact(typeof, "boolean"), then=boolean), default=None, output_field=BooleanField()
        )
    return date_value(json_field, key).moment


@dataclass
class DateValue:
    """A date-typed JSONB value: `moment`, the instant (NULL when the value is not a valid ISO
    8601 date or date-time); `day`, the calendar date when the value is a date alone
    ("2026-11-04"), else NULL. A date alone is a calendar day, never an instant: it is compared
    with calendar days, whatever the time zone."""

    moment: Any
    day: Any


DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def date_value(json_field: str, key: str) -> DateValue:
    text = JsonGetText(json_field, key)
    is_string: Exact[Any] = Exact(JsonbTypeof(JsonGet(json_field, key)), "string")
    moment = Case(
        When(is_string, then=SafeTimestamp(text)), default=None, output_field=DateTimeField()
    )
    # hark_safe_timestamptz reads a date alone as midnight in the session's zone, and ::date
    # reads it back in that same zone: the written date, in any session zone.
    day = Case(
        When(
            Q(is_string) & Q(Regex(text, DAY_PATTERN)), then=Cast(SafeTimestamp(text), DateField())
        ),
        default=None,
        output_field=DateField(),
    )
    return DateValue(moment=moment, day=day)


def site_zone() -> dt.tzinfo:
    """The zone of calendar days: settings.TIME_ZONE (the dashboard's dates use it too)."""
    return timezone.get_default_timezone()


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), site_zone())


def day_end(day: dt.date) -> dt.datetime | None:
    """The start of the next day; None after the last day of the calendar (9999-12-31, which
    rules may hold: the day after it is no date Python has, and was a 500)."""
    if day == dt.date.max:
        return None
    return day_start(day + dt.timedelta(days=1))


class LocalToday(Func):
    """The date of `now` in the site's zone, minus `days`: SQL computed from the clock parameter
    (compiled statements swap the clock at execution, so it cannot be computed in Python)."""

    output_field = DateField()

    def __init__(self, now: dt.datetime, days: int = 0) -> None:
        self.days = int(days)
        super().__init__(
            Value(str(settings.TIME_ZONE), output_field=TextField()),
            Value(now, output_field=DateTimeField()),
        )

    # Narrower than Func.as_sql (no function/template arguments): only Django's compiler calls it.
    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple]:
        zone_sql, zone_params = compiler.compile(self.source_expressions[0])
        now_sql, now_params = compiler.compile(self.source_expressions[1])
        sql = f"(timezone({zone_sql}, ({now_sql})::timestamptz)::date - {self.days})"
        return sql, (*zone_params, *now_params)


def day_q(day: Any, operator: str, value: Any, now: dt.datetime) -> Q:
    """A date operator over a calendar-date expression (a date-only value): whole days, and the
    windows count days back from today in the site's zone ("within the last 0 days": today)."""
    if operator == "within_last_days":
        return Q(GreaterThanOrEqual(day, LocalToday(now, value))) & Q(
            LessThanOrEqual(day, LocalToday(now))
        )
    if operator == "more_than_days_ago":
        return Q(LessThan(day, LocalToday(now, value)))
    if operator == "between":
        return Q(GreaterThanOrEqual(day, R.parse_day(value[0]))) & Q(
            LessThanOrEqual(day, R.parse_day(value[1]))
        )
    target = R.parse_day(value)
    if operator == "before":
        return Q(LessThan(day, target))
    if operator == "after":
        return Q(GreaterThan(day, target))
    return Q(Exact(day, target))  # "on"


def _day(value: Any) -> dt.date:
    """A validated rule's calendar day (validation refuses rules without one)."""
    day = R.parse_day(value)
    if day is None:
        raise ValueError(f"not a day: {value!r}")
    return day


def date_q(expr: Any, operator: str, value: Any, now: dt.datetime) -> Q:
    """A date operator (other than set/not set) over a timestamp expression: days are calendar
    days in the site's zone; the windows roll (the last N x 24 hours before now)."""
    if operator == "within_last_days":
        since = now - dt.timedelta(days=int(value))
        return Q(GreaterThanOrEqual(expr, since)) & Q(LessThanOrEqual(expr, now))
    if operator == "more_than_days_ago":
        return Q(LessThan(expr, now - dt.timedelta(days=int(value))))
    if operator == "between":
        low, high = _day(value[0]), day_end(_day(value[1]))
        from_low = Q(GreaterThanOrEqual(expr, day_start(low)))
        return from_low if high is None else from_low & Q(LessThan(expr, high))
    day = _day(value)
    start, end = day_start(day), day_end(day)
    if operator == "before":
        return Q(LessThan(expr, start))
    if operator == "after":
        # Nothing is after the last day of the calendar (NULL-safe: no match either way).
        return MATCH_NONE if end is None else Q(GreaterThanOrEqual(expr, end))
    on = Q(GreaterThanOrEqual(expr, start))  # "on"
    return on if end is None else on & Q(LessThan(expr, end))


def value_date_q(value: DateValue, operator: str, target: Any, now: dt.datetime) -> Q:
    """A date operator over a stored value: a date alone by calendar days, a date-time as an
    instant (NULL-safe when the value is set: the two branches exclude each other)."""
    return (Q(IsNull(value.day, False)) & day_q(value.day, operator, target, now)) | (
        Q(IsNull(value.day, True)) & date_q(value.moment, operator, target, now)
    )


def _decimal(value: Any) -> Any:

    return Decimal(str(value))


def typed(json_field: str, key: str, data_type: str) -> Any:
    """The value under `key` for `data_type`: an expression, or a DateValue for dates."""
    if data_type == R.DATE:
        return date_value(json_field, key)
    return typed_value(json_field, key, data_type)


def _present(value: Any) -> Any:
    """The expression that is NULL exactly when the value is not set."""
    return value.moment if isinstance(value, DateValue) else value


def positive_q(expr: Any, data_type: str, operator: str, value: Any, now: dt.datetime) -> Q:
    """The operator's test over a typed value (NULL-safe: NULL is no match). Negative operators
    give the test they negate ("neq": the value equals)."""
    if data_type == R.STRING:
        if operator in ("equals", "not_equals"):
            return Q(Exact(expr, value))
        if operator in ("contains", "not_contains"):
            return Q(IContains(expr, value))
        if operator == "starts_with":
            return Q(IStartsWith(expr, value))
        if operator == "ends_with":
            return Q(IEndsWith(expr, value))
        if operator == "in":
            return Q(In(expr, list(value)))
    elif data_type == R.NUMBER:
        if operator == "between":
            return Q(GreaterThanOrEqual(expr, _decimal(value[0]))) & Q(
                LessThanOrEqual(expr, _decimal(value[1]))
            )
        lookup = {
            "eq": Exact,
            "neq": Exact,
            "lt": LessThan,
            "lte": LessThanOrEqual,
            "gt": GreaterThan,
            "gte": GreaterThanOrEqual,
        }[operator]
        return Q(lookup(expr, _decimal(value)))
    elif data_type == R.BOOLEAN:
        return Q(Exact(expr, operator == "is_true"))
    elif isinstance(expr, DateValue):
        return value_date_q(expr, operator, value, now)
    else:
        return date_q(expr, operator, value, now)
    raise ValueError(f"unknown operator {operator!r} for {data_type}")


def typed_q(expr: Any, data_type: str, operator: str, value: Any, now: dt.datetime) -> Q:
    """Full semantics on one typed value: set/not set, and negative operators also match
    when the value is not set. The result is TRUE or FALSE, never NULL."""
    present = _present(expr)
    if operator == "is_set":
        return Q(IsNull(present, False))
    if operator == "is_not_set":
        return Q(IsNull(present, True))
    if operator in R.NEGATIVE_OPERATORS:
        return Q(IsNull(present, True)) | ~positive_q(expr, data_type, operator, value, now)
    # "IS NOT NULL AND ..." keeps the result two-valued (never NULL): a NULL would turn the
    # NOT of an enclosing "not in segment" into NULL too, and drop the row.
    return Q(IsNull(present, False)) & positive_q(expr, data_type, operator, value, now)


# --- Conditions --------------------------------------------------------------------------------


def _trait_q(c: Mapping, ctx: CompileContext) -> Q:
    data_type = ctx.types.resolve("profile", c["key"], c.get("data_type"))
    operator = c["operator"]
    if data_type == R.STRING and operator in ("equals", "not_equals", "in"):
        # traits @> {"key": "value"} holds exactly when the trait is that string: the same
        # test, one JSONB operation, and the GIN index on traits can serve it.
        values = c["value"] if operator == "in" else [c["value"]]
        found = Q()
        for value in values:
            found |= Q(traits__contains={c["key"]: value})
        return ~found if operator == "not_equals" else found
    expr = typed("traits", c["key"], data_type)
    return typed_q(expr, data_type, operator, c.get("value"), ctx.now)


def _profile_q(c: Mapping, ctx: CompileContext) -> Q:
    fld, operator = c["field"], c["operator"]
    if fld in R.PROFILE_DATE_FIELDS:
        return date_q(F(fld), operator, c.get("value"), ctx.now)
    has_email = Q(email__isnull=False) & ~Q(email="")
    if fld == "identified":
        flag = (Q(user_id__isnull=False) & ~Q(user_id="")) | has_email
    else:
        flag = has_email
    return flag if operator == "is_true" else ~flag


def _event_q(c: Mapping, ctx: CompileContext) -> Q:

    definition_id = ctx.event_id(c["event"])
    operator = c["operator"]
    days = c.get("within_days")
    since = ctx.now - dt.timedelta(days=days) if days is not None else None

    def events() -> QuerySet:
        qs = Event.objects.filter(definition_id=definition_id)
        if since is not None and operator in ("at_least", "at_most", "exactly", "not_performed"):
            qs = qs.filter(timestamp__gte=since, timestamp__lte=ctx.now)
        return qs

    def performed() -> Q:
        return Q(Exists(events().filter(profile_id=OuterRef("pk"))))

    def count_in(lookup: str, n: int) -> Q:
        if ctx.profile_ids is not None:
            # A few profiles: count each one's events by index (correlated), which also keeps
            # the plan good for any number of ids (the statement is prepared once).
            per_profile = (
                events()
                .filter(profile_id=OuterRef("pk"))
                .order_by()
                .values("profile_id")
                .annotate(n=Count("*"))
                .values("n")
            )
            count = Coalesce(Subquery(per_profile), 0)
            test = {"gte": GreaterThanOrEqual, "lte": LessThanOrEqual, "exact": Exact}[lookup]
            return Q(test(count, n))
        # The whole environment: one pass over the event index, grouped (a hash semi-join).
        grouped = (
            events()
            .values("profile_id")
            .annotate(n=Count("*"))
            .filter(**{f"n__{lookup}": n})
            .values("profile_id")
        )
        return Q(pk__in=grouped)

    if definition_id is None:
        # An event never tracked: nobody performed it.
        if operator == "not_performed":
            return MATCH_ALL
        if operator == "at_most" or (operator == "exactly" and c.get("count") == 0):
            return MATCH_ALL
        if operator == "at_least" and c.get("count") == 0:
            return MATCH_ALL
        return MATCH_NONE
    if operator == "not_performed":
        return ~performed()
    if operator in ("first_performed", "last_performed"):
        agg = Min("timestamp") if operator == "first_performed" else Max("timestamp")
        grouped = Event.objects.filter(definition_id=definition_id)
        if ctx.profile_ids is not None:
            at = Subquery(
                grouped.filter(profile_id=OuterRef("pk"))
                .order_by()
                .values("profile_id")
                .annotate(at=agg)
                .values("at")
            )
            return Q(IsNull(at, False)) & date_q(at, c["date_operator"], c.get("value"), ctx.now)
        per_profile = grouped.values("profile_id").annotate(at=agg)
        cond = date_q(F("at"), c["date_operator"], c.get("value"), ctx.now)
        return Q(pk__in=per_profile.filter(cond).values("profile_id"))
    count = int(c["count"])
    if operator == "at_least":
        if count <= 0:
            return MATCH_ALL
        return performed() if count == 1 else count_in("gte", count)
    if operator == "exactly":
        return ~performed() if count == 0 else count_in("exact", count)
    # at_most: never performed, or performed between 1 and N times.
    if count <= 0:
        return ~performed()
    return ~performed() | count_in("lte", count)


SURVEY_ACTION_FILTERS = {
    "viewed": (Q(), Coalesce("last_shown_at", "created_at")),
    "dismissed": (Q(dismissed_at__isnull=False), F("dismissed_at")),
    "completed": (Q(completed_at__isnull=False), F("completed_at")),
    "partial": (
        Q(completed_at__isnull=True) & ~Q(data={}),
        Coalesce("last_data_at", "created_at"),
    ),
}


def _responses(c: Mapping, ctx: CompileContext) -> QuerySet | None:

    qs = Response.objects.filter(environment_id=ctx.environment_id)
    if c.get("survey"):
        survey_id = ctx.survey_id(str(c["survey"]))
        if survey_id is None:
            return None
        qs = qs.filter(survey_id=survey_id)
    return qs


def _survey_q(c: Mapping, ctx: CompileContext) -> Q:
    qs = _responses(c, ctx)
    negate = c["operator"] == "has_not"
    if qs is None:
        return MATCH_ALL if negate else MATCH_NONE
    action_filter, time_expr = SURVEY_ACTION_FILTERS[c["action"]]
    qs = qs.filter(action_filter)
    if c.get("within_days") is not None:
        since = ctx.now - dt.timedelta(days=c["within_days"])
        qs = qs.alias(t=time_expr).filter(t__gte=since, t__lte=ctx.now)
    found = Q(Exists(qs.filter(profile_id=OuterRef("pk"))))
    return ~found if negate else found


def _answer_q(c: Mapping, ctx: CompileContext) -> Q:
    """Each survey's latest answer to the question counts (a user who answered 10, then 3, has
    answered 3); with no survey chosen, a profile matches when one survey's latest answer does.
    Negative operators are the exact complement of their positive ("NPS ≠ 10": no latest answer
    is 10, which includes users who never answered), as for traits."""

    qs = _responses(c, ctx)
    operator = c["operator"]
    negate = operator in R.NEGATIVE_OPERATORS or operator == "is_not_set"
    if qs is None:
        return MATCH_ALL if negate else MATCH_NONE
    question = c["question"]
    data_type = ctx.types.resolve("response", question, c.get("data_type"))
    answered = Q(IsNull(_present(typed("data", question, data_type)), False))
    qs = qs.filter(answered)
    if operator not in ("is_set", "is_not_set"):
        # The latest answered response per (profile, survey): no later one answers too. The
        # time is when its answers arrived (last_data_at; created_at before any), then the id.
        later = (
            Response.objects.filter(
                environment_id=ctx.environment_id,
                profile_id=OuterRef("profile_id"),
                survey_id=OuterRef("survey_id"),
            )
            .filter(answered)
            .alias(t=Coalesce("last_data_at", "created_at"))
            .filter(Q(t__gt=OuterRef("t")) | Q(t=OuterRef("t"), id__gt=OuterRef("id")))
        )
        qs = (
            qs.alias(t=Coalesce("last_data_at", "created_at"))
            .filter(~Exists(later))
            .filter(
                positive_q(
                    typed("data", question, data_type), data_type, operator, c.get("value"), ctx.now
                )
            )
        )
    found = Q(Exists(qs.filter(profile_id=OuterRef("pk"))))
    return ~found if negate else found


def _segment_q(c: Mapping, ctx: CompileContext, stack: tuple[str, ...]) -> Q:

    key = str(c["segment"])
    segment = ctx.segment(key)
    negate = c["operator"] == "not_in"
    if segment is None or key in stack:
        # Deleted segment (or a cycle, refused when saving): it has no members.
        return MATCH_ALL if negate else MATCH_NONE
    if segment.kind == "dynamic":
        # Its own rules, checked on their own: their problems are reported on that segment.
        inner = group_q(segment.rules, ctx, (*stack, key), path=f"[segment {key}]")
    else:
        inner = Q(members_filter(segment.id))
    return ~inner if negate else inner


def condition_q(
    c: Mapping, ctx: CompileContext, stack: tuple[str, ...] = (), path: str = "", depth: int = 1
) -> Q:
    if isinstance(c, Mapping) and ("op" in c or "conditions" in c):
        return group_q(c, ctx, stack, path=path, depth=depth + 1)
    # Stored rules were valid when saved, but a trait's type may have changed since (an
    # "equals" on what is now a number), or the rules were written around the builder: a
    # condition that does not fit matches nobody, and is reported, never raised.
    problems = (
        R.condition_errors(c, ctx.types, path)
        if isinstance(c, Mapping)
        else {path: ["Must be a condition or a group."]}
    )
    if problems:
        ctx.problems.update(problems)
        return MATCH_NONE
    kind = c.get("type")
    if kind == "trait":
        return _trait_q(c, ctx)
    if kind == "profile":
        return _profile_q(c, ctx)
    if kind == "event":
        return _event_q(c, ctx)
    if kind == "survey":
        return _survey_q(c, ctx)
    if kind == "answer":
        return _answer_q(c, ctx)
    return _segment_q(c, ctx, stack)


def group_q(
    rules: Any, ctx: CompileContext, stack: tuple[str, ...] = (), *, path: str = "", depth: int = 1
) -> Q:
    """A group: its conditions combined with AND/OR (an empty group matches every profile; a
    group that is not one, or nested too deep, matches nobody and is reported)."""
    if not rules:
        return MATCH_ALL
    problems = R.group_errors(rules, path, depth)
    if problems:
        ctx.problems.update(problems)
        return MATCH_NONE
    parts = [
        condition_q(
            c,
            ctx,
            stack,
            f"{path}.conditions[{i}]" if path else f"conditions[{i}]",
            depth,
        )
        for i, c in enumerate(rules["conditions"])
    ]
    if not parts:
        return MATCH_ALL
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if rules.get("op") == "or" else (combined & part)
    return combined


def log_problems(ctx: CompileContext, what: str) -> None:
    """Log the conditions of `what` that did not fit (they matched nobody; never an error)."""
    if ctx.problems:
        logger.warning(
            "segments: %s has conditions that do not fit and match nobody: %s",
            what,
            "; ".join(f"{p}: {' '.join(m)}" for p, m in ctx.problems.items()),
        )


def profiles_matching(
    rules: Any,
    *,
    environment_id: int,
    profile_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    context: CompileContext | None = None,
    self_uuid: str | None = None,
) -> QuerySet:
    """The profiles of the environment that match `rules`: one queryset."""

    ctx = context or CompileContext(environment_id=environment_id, now=now or timezone.now())
    if profile_ids is not None:
        ctx.profile_ids = list(profile_ids)
    ctx.preload([rules])
    qs = Profile.objects.filter(environment_id=environment_id)
    if ctx.profile_ids is not None:
        qs = qs.filter(in_ids("id", ctx.profile_ids))
    stack = (self_uuid,) if self_uuid else ()
    matched = qs.filter(group_q(rules, ctx, stack))
    log_problems(ctx, f"segment {self_uuid}" if self_uuid else "a rule tree")
    return matched
