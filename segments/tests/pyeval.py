"""A plain-Python evaluator of segment rules: the reference the SQL compiler is tested against.

Written from the rule format's documentation (segments/rules.py), not from the compiler.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from segments import rules as R

NUMERIC = re.compile(r"-?[0-9]+(\.[0-9]+)?")
ISO = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?"
)
UTC = dt.UTC


@dataclass
class PyProfile:
    id: int
    traits: dict
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    user_id: str | None = None
    email: str | None = None


@dataclass
class PyEvent:
    profile_id: int
    name: str
    timestamp: dt.datetime


@dataclass
class PyResponse:
    profile_id: int
    survey: str  # uuid
    created_at: dt.datetime
    last_shown_at: dt.datetime | None = None
    dismissed_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    last_data_at: dt.datetime | None = None
    data: dict = field(default_factory=dict)
    id: int = 0  # the database id once written: the tie-break between equal times


@dataclass
class PySegment:
    uuid: str
    kind: str
    rules: dict
    members: set[int] = field(default_factory=set)


@dataclass
class World:
    profiles: list[PyProfile]
    events: list[PyEvent]
    responses: list[PyResponse]
    segments: dict[str, PySegment]
    trait_types: dict[str, str]  # profile scope
    answer_types: dict[str, str]  # response scope
    surveys: set[str]
    now: dt.datetime
    zone: str = "UTC"  # the site's TIME_ZONE: calendar days of dates


def parse_iso(text: str) -> dt.datetime | None:
    if not ISO.fullmatch(text):
        return None
    value = text.replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    match = re.search(r"([+-])(\d{2})(:?)(\d{2})?$", value) if "T" in value else None
    if match and match.group(4) is None:
        value = value + ":00"  # "+05" -> "+05:00"
    elif match and match.group(3) == "":
        value = value[: match.start()] + f"{match.group(1)}{match.group(2)}:{match.group(4)}"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def typed(value: Any, data_type: str) -> Any:
    if data_type == R.STRING:
        return value if isinstance(value, str) else None
    if data_type == R.NUMBER:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return Decimal(str(value))
        if isinstance(value, str) and NUMERIC.fullmatch(value):
            return Decimal(value)
        return None
    if data_type == R.BOOLEAN:
        return value if isinstance(value, bool) else None
    if not isinstance(value, str):
        return None
    moment = parse_iso(value)
    if moment is not None and len(value) == 10:
        return moment.date()  # a date alone: a calendar day, not an instant
    return moment


# The site's zone (settings.TIME_ZONE) while evaluating: calendar days are its days.
_ZONE: list[ZoneInfo] = [ZoneInfo("UTC")]


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=_ZONE[0])


def date_test(v: dt.datetime | dt.date | None, operator: str, value: Any, now: dt.datetime) -> bool:
    """A date alone compares as a calendar day, windows counted from today in the zone; a
    date-time as an instant: its day in the zone, windows rolling back from now."""
    if v is None:
        return False
    if not isinstance(v, dt.datetime):
        today = now.astimezone(_ZONE[0]).date()
        if operator == "within_last_days":
            return today - dt.timedelta(days=value) <= v <= today
        if operator == "more_than_days_ago":
            return v < today - dt.timedelta(days=value)
        if operator == "between":
            return dt.date.fromisoformat(value[0]) <= v <= dt.date.fromisoformat(value[1])
        day = dt.date.fromisoformat(value)
        return {"before": v < day, "after": v > day}.get(operator, v == day)
    if operator == "within_last_days":
        return now - dt.timedelta(days=value) <= v <= now
    if operator == "more_than_days_ago":
        return v < now - dt.timedelta(days=value)
    if operator == "between":
        low = day_start(dt.date.fromisoformat(value[0]))
        high = day_start(dt.date.fromisoformat(value[1]) + dt.timedelta(days=1))
        return low <= v < high
    start = day_start(dt.date.fromisoformat(value))
    end = day_start(dt.date.fromisoformat(value) + dt.timedelta(days=1))
    if operator == "before":
        return v < start
    if operator == "after":
        return v >= end
    return start <= v < end


def positive(v: Any, data_type: str, operator: str, value: Any, now: dt.datetime) -> bool:
    if v is None:
        return False
    if data_type == R.STRING:
        if operator in ("equals", "not_equals"):
            return v == value
        if operator in ("contains", "not_contains"):
            return value.upper() in v.upper()
        if operator == "starts_with":
            return v.upper().startswith(value.upper())
        if operator == "ends_with":
            return v.upper().endswith(value.upper())
        if operator == "in":
            return v in value
    if data_type == R.NUMBER:
        if operator == "between":
            return Decimal(str(value[0])) <= v <= Decimal(str(value[1]))
        target = Decimal(str(value))
        return {
            "eq": v == target,
            "neq": v == target,
            "lt": v < target,
            "lte": v <= target,
            "gt": v > target,
            "gte": v >= target,
        }[operator]
    if data_type == R.BOOLEAN:
        return v is (operator == "is_true")
    return date_test(v, operator, value, now)


def typed_test(v: Any, data_type: str, operator: str, value: Any, now: dt.datetime) -> bool:
    if operator == "is_set":
        return v is not None
    if operator == "is_not_set":
        return v is None
    if operator in R.NEGATIVE_OPERATORS:
        return v is None or not positive(v, data_type, operator, value, now)
    return positive(v, data_type, operator, value, now)


def resolve(types: dict[str, str], key: str, declared: Any) -> str:
    if key in types:
        return types[key]
    return declared if declared in R.DATA_TYPES else R.STRING


def evaluate(rules: Any, profile: PyProfile, world: World, stack: tuple = ()) -> bool:
    if not rules or not rules.get("conditions"):
        return True
    results = (condition(c, profile, world, stack) for c in rules["conditions"])
    return any(results) if rules.get("op") == "or" else all(results)


def _survey_time(r: PyResponse, action: str) -> dt.datetime:
    if action == "viewed":
        return r.last_shown_at or r.created_at
    # _survey_matches kept only responses that have this time.
    if action == "dismissed":
        assert r.dismissed_at is not None
        return r.dismissed_at
    if action == "completed":
        assert r.completed_at is not None
        return r.completed_at
    return r.last_data_at or r.created_at


def _survey_matches(r: PyResponse, action: str) -> bool:
    if action == "viewed":
        return True
    if action == "dismissed":
        return r.dismissed_at is not None
    if action == "completed":
        return r.completed_at is not None
    return r.completed_at is None and r.data != {}


def condition(c: dict, p: PyProfile, world: World, stack: tuple) -> bool:
    if "op" in c or "conditions" in c:
        return evaluate(c, p, world, stack)
    now = world.now
    kind = c["type"]
    if kind == "trait":
        data_type = resolve(world.trait_types, c["key"], c.get("data_type"))
        v = typed(p.traits.get(c["key"]), data_type)
        return typed_test(v, data_type, c["operator"], c.get("value"), now)
    if kind == "profile":
        fld = c["field"]
        if fld in R.PROFILE_DATE_FIELDS:
            return date_test(getattr(p, fld), c["operator"], c.get("value"), now)
        has_email = bool(p.email)
        flag = (bool(p.user_id) or has_email) if fld == "identified" else has_email
        return flag if c["operator"] == "is_true" else not flag
    if kind == "event":
        mine = [e for e in world.events if e.profile_id == p.id and e.name == c["event"]]
        operator = c["operator"]
        if operator in ("first_performed", "last_performed"):
            if not mine:
                return False
            stamps = [e.timestamp for e in mine]
            at = min(stamps) if operator == "first_performed" else max(stamps)
            return date_test(at, c["date_operator"], c.get("value"), now)
        if c.get("within_days") is not None:
            since = now - dt.timedelta(days=c["within_days"])
            mine = [e for e in mine if since <= e.timestamp <= now]
        n = len(mine)
        if operator == "not_performed":
            return n == 0
        count = c["count"]
        return {"at_least": n >= count, "at_most": n <= count, "exactly": n == count}[operator]
    if kind in ("survey", "answer"):
        responses = [r for r in world.responses if r.profile_id == p.id]
        if c.get("survey"):
            responses = [r for r in responses if r.survey == str(c["survey"])]
        if kind == "survey":
            action = c["action"]
            responses = [r for r in responses if _survey_matches(r, action)]
            if c.get("within_days") is not None:
                since = now - dt.timedelta(days=c["within_days"])
                responses = [r for r in responses if since <= _survey_time(r, action) <= now]
            found = bool(responses)
            return not found if c["operator"] == "has_not" else found
        # Each survey's latest answer counts; negatives are the complement of their positive.
        data_type = resolve(world.answer_types, c["question"], c.get("data_type"))
        operator = c["operator"]
        latest: dict[str, tuple] = {}
        for r in responses:
            v = typed(r.data.get(c["question"]), data_type)
            if v is None:
                continue
            order = (r.last_data_at or r.created_at, r.id)
            if r.survey not in latest or order > latest[r.survey][0]:
                latest[r.survey] = (order, v)
        answers = [v for _, v in latest.values()]
        if operator == "is_set":
            return bool(answers)
        if operator == "is_not_set":
            return not answers
        found = any(positive(v, data_type, operator, c.get("value"), now) for v in answers)
        return not found if operator in R.NEGATIVE_OPERATORS else found
    if kind == "segment":
        key = str(c["segment"])
        segment = world.segments.get(key)
        negate = c["operator"] == "not_in"
        if segment is None or key in stack:
            return negate
        if segment.kind == "dynamic":
            inside = evaluate(segment.rules, p, world, (*stack, key))
        else:
            inside = p.id in segment.members
        return not inside if negate else inside
    raise ValueError(kind)


def matching(rules: Any, world: World, self_uuid: str | None = None) -> set[int]:
    stack = (self_uuid,) if self_uuid else ()
    _ZONE[0] = ZoneInfo(world.zone)
    return {p.id for p in world.profiles if evaluate(rules, p, world, stack)}
