"""The rule format of dynamic segments, and its validation.

A segment's rules are a tree of groups; a group combines conditions (or nested groups) with
AND or OR:

    {"op": "and", "conditions": [ <condition or group>, ... ]}

An empty group matches every profile; groups nest at most MAX_DEPTH (5) deep, with at most
MAX_CONDITIONS (100) conditions in all. Conditions (values in JSON; "days" are integers >= 0):

Trait of the profile (typed by the trait's declared type, traits.Trait with scope "profile";
"data_type" in the condition is used only while no definition exists):
    {"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}
  string  equals, not_equals, contains, not_contains, starts_with, ends_with (value: string;
          contains/starts/ends ignore case), in (value: list of strings), is_set, is_not_set
  number  eq, neq, lt, lte, gt, gte (value: number), between (value: [low, high], inclusive),
          is_set, is_not_set
  boolean is_true, is_false, is_set, is_not_set
  date    before, after, on (value: "YYYY-MM-DD"), between (value: [from, to], inclusive days),
          within_last_days, more_than_days_ago (value: days), is_set, is_not_set
  A stored value of another JSON type counts as "not set" (numbers also accept numeric strings,
  dates accept ISO 8601 strings); negative operators (not_equals, not_contains, neq) also match
  profiles where the trait is not set: each is the exact complement of its positive.

Dates and time zones. Days are calendar days in the site's zone (settings.TIME_ZONE, the zone
of the dashboard's dates). A condition's date ("YYYY-MM-DD") is such a day.
  - A stored date alone ("2026-11-04") is a calendar day, not an instant: it is "on 2026-11-04"
    in every zone. within_last_days N: from today - N to today (today in TIME_ZONE; 0 means
    today); more_than_days_ago N: before today - N.
  - A stored date-time ("2026-11-04T02:00:00Z"; without an offset it is read as UTC), and the
    times of profiles, events and responses, are instants: on/before/after/between use the day
    the instant falls on in TIME_ZONE; within_last_days N and more_than_days_ago N, like the
    "within_days" of events and surveys, are rolling windows of N x 24 hours back from now.

Profile metadata:
    {"type": "profile", "field": "first_seen_at" | "last_seen_at", "operator": <date op>,
     "value": ...}
    {"type": "profile", "field": "identified" | "has_email", "operator": "is_true" | "is_false"}
  identified: has a user_id or an email; has_email: has a non-empty email.

Events (by event name):
    {"type": "event", "event": "signup", "operator": "at_least" | "at_most" | "exactly",
     "count": 3, "within_days": 30 | null}
    {"type": "event", "event": "signup", "operator": "not_performed", "within_days": 30 | null}
    {"type": "event", "event": "signup", "operator": "first_performed" | "last_performed",
     "date_operator": <date op other than is_set/is_not_set>, "value": ...}

Survey interactions ("survey": a survey's uuid, or null for any survey):
    {"type": "survey", "survey": "<uuid>" | null, "operator": "has" | "has_not",
     "action": "viewed" | "dismissed" | "completed" | "partial", "within_days": 7 | null}
  viewed: any response (time: last shown, else created); dismissed: dismissed_at;
  completed: completed_at; partial: answered without completing (time: last data received).
    {"type": "answer", "survey": "<uuid>" | null, "question": "<question key>",
     "operator": <operator of the answer's type>, "value": ...}
  The answer's type is the response-scope trait of that key (NPS, rating: number). What counts
  is each survey's LATEST answer to the question (by when the response's answers arrived): a
  user who answered 10, then 3, has answered 3. With "survey": null, a profile matches when
  the latest answer of any one survey does. is_set: has answered; is_not_set: never answered.
  Negative operators are the exact complement of their positive, as for traits: "NPS neq 10"
  matches everyone whose latest answer is not 10, including users who never answered.

Another segment:
    {"type": "segment", "segment": "<uuid>", "operator": "in" | "not_in"}
  A dynamic segment is evaluated through its own rules (always consistent); a manual one
  through its member list. Cycles are refused.

`validate_rules` raises a ValidationError whose message_dict is keyed by the path of the
condition at fault, e.g. {"conditions[2].value": ["Enter a number."]}; `path_label` puts a
path in words ("Condition 3: value") for pages.

Stored rules that no longer fit (a trait's type changed after the segment was saved, or rules
written around the builder) never make the compiler raise: a condition that fails validation
matches nobody (so an AND group containing it matches nobody, an OR group goes on without
it), and the segment's page lists it in words until the rules are edited.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from traits.models import Trait

STRING, NUMBER, BOOLEAN, DATE = "string", "number", "boolean", "date"
DATA_TYPES = (STRING, NUMBER, BOOLEAN, DATE)

# operator -> label, per type; the builder shows these.
OPERATORS: dict[str, dict[str, str]] = {
    STRING: {
        "equals": "equals",
        "not_equals": "does not equal",
        "contains": "contains",
        "not_contains": "does not contain",
        "starts_with": "starts with",
        "ends_with": "ends with",
        "in": "is one of",
        "is_set": "is set",
        "is_not_set": "is not set",
    },
    NUMBER: {
        "eq": "=",
        "neq": "≠",
        "lt": "<",
        "lte": "≤",
        "gt": ">",
        "gte": "≥",
        "between": "between",
        "is_set": "is set",
        "is_not_set": "is not set",
    },
    BOOLEAN: {
        "is_true": "is true",
        "is_false": "is false",
        "is_set": "is set",
        "is_not_set": "is not set",
    },
    DATE: {
        "before": "before",
        "after": "after",
        "on": "on",
        "between": "between",
        "within_last_days": "within the last … days",
        "more_than_days_ago": "more than … days ago",
        "is_set": "is set",
        "is_not_set": "is not set",
    },
}
SET_OPERATORS = ("is_set", "is_not_set")
NEGATIVE_OPERATORS = ("not_equals", "not_contains", "neq")
DATE_VALUE_OPERATORS = tuple(op for op in OPERATORS[DATE] if op not in SET_OPERATORS)
TIME_WINDOW_DATE_OPERATORS = ("within_last_days", "more_than_days_ago")

PROFILE_DATE_FIELDS = ("first_seen_at", "last_seen_at")
PROFILE_FLAG_FIELDS = ("identified", "has_email")
EVENT_COUNT_OPERATORS = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}
EVENT_OPERATORS = {
    **EVENT_COUNT_OPERATORS,
    "not_performed": "has not performed",
    "first_performed": "first performed",
    "last_performed": "last performed",
}
SURVEY_ACTIONS = {
    "viewed": "viewed",
    "dismissed": "dismissed",
    "completed": "completed",
    "partial": "answered without completing",
}
CONDITION_TYPES = ("trait", "profile", "event", "survey", "answer", "segment")
GROUP_OPS = ("and", "or")
MAX_DEPTH = 5
MAX_CONDITIONS = 100


@dataclass
class RulesInfo:
    """What validation learned about a rule tree."""

    has_time_window: bool = False
    segment_uuids: set[str] = field(default_factory=set)
    condition_count: int = 0


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "rules", []).append(message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def empty_rules() -> dict[str, Any]:
    return {"op": "and", "conditions": []}


def parse_day(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    """A finite number: NaN and infinities have no JSON (jsonb refused them: a 500)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _is_days(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 36500


def validate_value(
    errors: _Errors, path: str, data_type: str, operator: str, value: Any, *, info: RulesInfo
) -> None:
    """Check `value` for `operator` of `data_type`; errors name `<path>.value`."""
    where = _join(path, "value")
    if operator in SET_OPERATORS or data_type == BOOLEAN:
        return
    if operator in TIME_WINDOW_DATE_OPERATORS:
        info.has_time_window = True
        if not _is_days(value):
            errors.add(where, "Enter a whole number of days (0 or more).")
        return
    if operator == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            errors.add(where, "Enter two values: from and to.")
            return
        low, high = value
        if data_type == NUMBER:
            if not (_is_number(low) and _is_number(high)):
                errors.add(where, "Enter two numbers.")
            elif low > high:
                errors.add(where, "The first number must not exceed the second.")
        else:
            d1, d2 = parse_day(low), parse_day(high)
            if d1 is None or d2 is None:
                errors.add(where, "Enter two dates (YYYY-MM-DD).")
            elif d1 > d2:
                errors.add(where, "The first date must not be after the second.")
        return
    if data_type == STRING:
        if operator == "in":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                errors.add(where, "Enter one or more text values.")
        elif not isinstance(value, str) or (
            operator not in ("equals", "not_equals") and value == ""
        ):
            errors.add(where, "Enter a text value.")
    elif data_type == NUMBER:
        if not _is_number(value):
            errors.add(where, "Enter a number.")
    elif data_type == DATE and parse_day(value) is None:
        errors.add(where, "Enter a date (YYYY-MM-DD).")


def _check_uuid(errors: _Errors, path: str, value: Any, *, allow_null: bool) -> None:
    if value is None and allow_null:
        return
    try:
        uuid_module.UUID(str(value))
    except (ValueError, TypeError):
        errors.add(path, "Choose one." if value in (None, "") else "Not a valid id.")


def _check_days_or_null(errors: _Errors, path: str, condition: Mapping, info: RulesInfo) -> None:
    days = condition.get("within_days")
    if days is None:
        return
    if not _is_days(days):
        errors.add(_join(path, "within_days"), "Enter a whole number of days, or leave empty.")
    else:
        info.has_time_window = True


class TypeResolver:
    """Declared trait types, looked up lazily (one query per scope). `overrides`
    ({(scope, key): type}) answer "what if this trait had another type" (the Traits page)."""

    def __init__(
        self, environment_id: int | None, overrides: Mapping[tuple[str, str], str] | None = None
    ) -> None:
        self.environment_id = environment_id
        self._cache: dict[str, dict[str, str]] = {}
        self.overrides = dict(overrides or {})

    def types(self, scope: str) -> dict[str, str]:
        if scope not in self._cache:
            if self.environment_id is None:
                self._cache[scope] = {}
            else:
                self._cache[scope] = dict(
                    Trait.objects.filter(environment_id=self.environment_id, scope=scope)
                    .values_list("key", "data_type")
                    .iterator()
                )
        return self._cache[scope]

    def resolve(self, scope: str, key: str, declared: Any) -> str:
        data_type = self.overrides.get((scope, key)) or self.types(scope).get(key)
        if data_type in DATA_TYPES:
            return data_type
        return declared if declared in DATA_TYPES else STRING


def _validate_typed(
    errors: _Errors,
    path: str,
    condition: Mapping,
    *,
    scope: str,
    key: Any,
    resolver: TypeResolver,
    info: RulesInfo,
) -> None:
    if not isinstance(key, str) or not key.strip():
        errors.add(_join(path, "key" if scope == "profile" else "question"), "Choose one.")
        return
    data_type = resolver.resolve(scope, key, condition.get("data_type"))
    operator = condition.get("operator")
    if operator not in OPERATORS[data_type]:
        errors.add(
            _join(path, "operator"),
            f"Choose an operator for a {data_type} ({', '.join(OPERATORS[data_type])}).",
        )
        return
    validate_value(errors, path, data_type, operator, condition.get("value"), info=info)


def _validate_condition(
    errors: _Errors, path: str, node: Any, depth: int, resolver: TypeResolver, info: RulesInfo
) -> None:
    if not isinstance(node, Mapping):
        errors.add(path, "Must be a condition or a group.")
        return
    if "op" in node or "conditions" in node:
        _validate_group(errors, path, node, depth + 1, resolver, info)
        return
    info.condition_count += 1
    kind = node.get("type")
    if kind not in CONDITION_TYPES:
        errors.add(_join(path, "type"), f"Unknown condition type {kind!r}.")
        return
    operator = node.get("operator")
    if kind == "trait":
        _validate_typed(
            errors, path, node, scope="profile", key=node.get("key"), resolver=resolver, info=info
        )
    elif kind == "answer":
        _check_uuid(errors, _join(path, "survey"), node.get("survey"), allow_null=True)
        _validate_typed(
            errors,
            path,
            node,
            scope="response",
            key=node.get("question"),
            resolver=resolver,
            info=info,
        )
    elif kind == "profile":
        fld = node.get("field")
        if fld in PROFILE_DATE_FIELDS:
            if operator not in DATE_VALUE_OPERATORS:
                errors.add(_join(path, "operator"), "Choose a date operator.")
            else:
                validate_value(errors, path, DATE, operator, node.get("value"), info=info)
        elif fld in PROFILE_FLAG_FIELDS:
            if operator not in ("is_true", "is_false"):
                errors.add(_join(path, "operator"), "Choose is true or is false.")
        else:
            errors.add(_join(path, "field"), "Choose a profile field.")
    elif kind == "event":
        name = node.get("event")
        if not isinstance(name, str) or not name.strip():
            errors.add(_join(path, "event"), "Choose an event.")
        if operator not in EVENT_OPERATORS:
            errors.add(_join(path, "operator"), "Choose an event operator.")
        elif operator in EVENT_COUNT_OPERATORS:
            count = node.get("count")
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10**9:
                errors.add(_join(path, "count"), "Enter a whole number of times (0 or more).")
            _check_days_or_null(errors, path, node, info)
        elif operator == "not_performed":
            _check_days_or_null(errors, path, node, info)
        else:
            date_operator = node.get("date_operator")
            if date_operator not in DATE_VALUE_OPERATORS:
                errors.add(_join(path, "date_operator"), "Choose a date operator.")
            else:
                validate_value(errors, path, DATE, date_operator, node.get("value"), info=info)
    elif kind == "survey":
        _check_uuid(errors, _join(path, "survey"), node.get("survey"), allow_null=True)
        if operator not in ("has", "has_not"):
            errors.add(_join(path, "operator"), "Choose has or has not.")
        if node.get("action") not in SURVEY_ACTIONS:
            errors.add(_join(path, "action"), "Choose viewed, dismissed, completed or partial.")
        _check_days_or_null(errors, path, node, info)
    elif kind == "segment":
        if operator not in ("in", "not_in"):
            errors.add(_join(path, "operator"), "Choose in or not in.")
        _check_uuid(errors, _join(path, "segment"), node.get("segment"), allow_null=False)
        if node.get("segment"):
            info.segment_uuids.add(str(node["segment"]))


def _validate_group(
    errors: _Errors, path: str, node: Mapping, depth: int, resolver: TypeResolver, info: RulesInfo
) -> None:
    if depth > MAX_DEPTH:
        errors.add(path, f"Groups may be nested at most {MAX_DEPTH} deep.")
        return
    if node.get("op") not in GROUP_OPS:
        errors.add(_join(path, "op"), "Choose and or or.")
    conditions = node.get("conditions")
    if not isinstance(conditions, list):
        errors.add(_join(path, "conditions"), "Must be a list.")
        return
    for index, child in enumerate(conditions):
        child_path = f"{path}.conditions[{index}]" if path else f"conditions[{index}]"
        _validate_condition(errors, child_path, child, depth, resolver, info)


def validate_rules(
    rules: Any,
    *,
    environment_id: int | None,
    type_overrides: Mapping[tuple[str, str], str] | None = None,
) -> RulesInfo:
    """Validate a rule tree (raises ValidationError keyed by path); returns what it found.

    Cross-segment checks (the referenced segment exists, no cycle) are done by
    `segments.services.segment_validate_rules`, which needs the database.
    """
    errors = _Errors()
    info = RulesInfo()
    if rules in (None, {}):
        return info
    if not isinstance(rules, Mapping):
        raise ValidationError({"rules": ["Rules must be a group: {op, conditions}."]})
    _validate_group(errors, "", rules, 1, TypeResolver(environment_id, type_overrides), info)
    if info.condition_count > MAX_CONDITIONS:
        errors.add("rules", f"At most {MAX_CONDITIONS} conditions.")
    if errors.errors:
        raise ValidationError(errors.errors)
    return info


def condition_errors(node: Mapping, resolver: TypeResolver, path: str) -> dict[str, list[str]]:
    """The problems of one leaf condition (the compiler's check of stored rules)."""
    errors = _Errors()
    _validate_condition(errors, path, node, 0, resolver, RulesInfo())
    return errors.errors


def group_errors(node: Any, path: str, depth: int) -> dict[str, list[str]]:
    """The problems of a group's own shape (not its children's)."""
    errors = _Errors()
    if not isinstance(node, Mapping):
        errors.add(path, "Must be a condition or a group.")
    elif depth > MAX_DEPTH:
        errors.add(path, f"Groups may be nested at most {MAX_DEPTH} deep.")
    else:
        if node.get("op") not in GROUP_OPS:
            errors.add(_join(path, "op"), "Choose and or or.")
        if not isinstance(node.get("conditions"), list):
            errors.add(_join(path, "conditions"), "Must be a list.")
    return errors.errors


# --- Rules as sent by a form ------------------------------------------------------------------

MAX_RULES_LENGTH = 100_000
# JSON containers one inside another: a group is two (the object and its list of conditions),
# a condition one, a "between" value one more. Deeper input is refused before anything walks it.
MAX_JSON_NESTING = 2 * MAX_DEPTH + 6
TOO_DEEP = f"Rules are nested too deeply: groups may be nested at most {MAX_DEPTH} deep."


def json_nesting(value: Any, limit: int = MAX_JSON_NESTING) -> int:
    """How deep JSON containers nest in `value` (no recursion; stops counting past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def rules_from_json(text: Any) -> Any:
    """Rules sent as JSON text (the builder's form and preview): parsed, and refused with a
    ValidationError naming "rules" when too long, not JSON, or nested deeper than any valid
    tree (a recursion error, or a 500, in whatever walks it next)."""

    if text is None or text == "":
        return empty_rules()
    if not isinstance(text, str):
        raise ValidationError({"rules": ["Rules are not valid JSON."]})
    if len(text) > MAX_RULES_LENGTH:
        raise ValidationError(
            {"rules": [f"Rules are longer than {MAX_RULES_LENGTH:,} characters."]}
        )
    try:
        # NaN and Infinity are no JSON (Python reads them; jsonb refuses them).
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValidationError({"rules": [TOO_DEEP]}) from None
    except ValueError:
        raise ValidationError({"rules": ["Rules are not valid JSON."]}) from None
    if json_nesting(value) > MAX_JSON_NESTING:
        raise ValidationError({"rules": [TOO_DEEP]})
    return value


# --- Paths in words ---------------------------------------------------------------------------

_PATH_STEP = re.compile(r"conditions\[(\d+)\]")
SEGMENT_FIELD_WORDS = {"name": "Name", "description": "Description", "kind": "Kind"}
FIELD_WORDS = {
    "value": "value",
    "operator": "operator",
    "key": "trait",
    "question": "question",
    "event": "event",
    "count": "number of times",
    "within_days": "days",
    "survey": "survey",
    "segment": "segment",
    "date_operator": "date operator",
    "field": "property",
    "type": "condition type",
    "op": "all or any",
    "conditions": "conditions",
}


def path_label(path: str) -> str:
    """A validation path in words: "conditions[1].conditions[0].value" -> "Condition 1 of
    group 2: value"; "rules" -> "Rules"."""
    if not path or path == "rules":
        return "Rules"
    if path in SEGMENT_FIELD_WORDS:  # the segment's own fields, not a place in its rules
        return SEGMENT_FIELD_WORDS[path]
    steps = [int(n) + 1 for n in _PATH_STEP.findall(path)]
    last = path.rsplit(".", 1)[-1] if "." in path else ""
    field_name = FIELD_WORDS.get(last, last) if not last.startswith("conditions[") else ""
    if not steps:
        where = "Rules"
    elif len(steps) == 1:
        where = f"Condition {steps[0]}"
    else:
        where = f"Condition {steps[-1]} of group {'.'.join(str(n) for n in steps[:-1])}"
    return f"{where}: {field_name}" if field_name else where


def condition_at(rules: Any, path: str) -> Mapping | None:
    """The node a validation path points into (None when the path leads nowhere)."""
    node: Any = rules
    for index in _PATH_STEP.findall(path or ""):
        children = node.get("conditions") if isinstance(node, Mapping) else None
        if not isinstance(children, list) or int(index) >= len(children):
            return None
        node = children[int(index)]
    return node if isinstance(node, Mapping) else None


def error_items(
    message_dict: Mapping[str, list[str]], rules: Any = None, names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Validation errors for a page: the path (for the builder to place them), the place in
    words, the messages, and the condition as a sentence when there is one."""
    items = []
    for path, messages in message_dict.items():
        node = condition_at(rules, path) if path not in ("", "rules") else None
        leaf = node is not None and not ("op" in node or "conditions" in node)
        items.append(
            {
                "path": path,
                "label": path_label(path),
                "messages": list(messages),
                "condition": describe_condition(node, names) if node is not None and leaf else "",
            }
        )
    return items


def trait_paths(rules: Any, *, scope: str, key: str) -> list[str]:
    """Paths of the conditions on a trait: profile scope (trait conditions) or response scope
    (answer conditions, by question key)."""
    kind, attr = ("trait", "key") if scope == "profile" else ("answer", "question")
    return [
        path for path, c in iter_conditions(rules) if c.get("type") == kind and c.get(attr) == key
    ]


def iter_conditions(rules: Any, path: str = "") -> Iterable[tuple[str, Mapping]]:
    """(path, condition) for every leaf condition of a tree, in order. No recursion: stored
    rules are walked before they are checked, and may be nested anyhow."""
    # A stack of iterators over (index, child) of the groups being walked.
    if not isinstance(rules, Mapping) or not isinstance(rules.get("conditions"), list):
        return
    stack = [(path, iter(enumerate(rules["conditions"])))]
    while stack:
        at, children = stack[-1]
        step = next(children, None)
        if step is None:
            stack.pop()
            continue
        index, child = step
        child_path = f"{at}.conditions[{index}]" if at else f"conditions[{index}]"
        if isinstance(child, Mapping) and ("op" in child or "conditions" in child):
            if isinstance(child.get("conditions"), list):
                stack.append((child_path, iter(enumerate(child["conditions"]))))
        elif isinstance(child, Mapping):
            yield child_path, child


def referenced_segment_uuids(rules: Any) -> set[str]:
    return {
        str(c.get("segment"))
        for _, c in iter_conditions(rules)
        if c.get("type") == "segment" and c.get("segment")
    }


def _describe_value(value: Any) -> str:
    if isinstance(value, list):
        return (
            " and ".join(f"“{v}”" for v in value)
            if len(value) == 2
            else ", ".join(f"“{v}”" for v in value)
        )
    return f"“{value}”"


def _describe_typed(subject: str, data_type: str, operator: str, value: Any) -> str:
    label = OPERATORS.get(data_type, {}).get(operator, operator)
    if operator in SET_OPERATORS or data_type == BOOLEAN:
        return f"{subject} {label}"
    if operator in TIME_WINDOW_DATE_OPERATORS:
        return f"{subject} {label.replace('…', str(value))}"
    if operator == "in" and isinstance(value, list):
        return f"{subject} is one of " + ", ".join(f"“{v}”" for v in value)
    return f"{subject} {label} {_describe_value(value)}"


def _guess_type(c: Mapping) -> str:
    if c.get("data_type") in DATA_TYPES:
        return c["data_type"]
    op = c.get("operator")
    if op == "between" and isinstance(c.get("value"), list) and c["value"]:
        return NUMBER if _is_number(c["value"][0]) else DATE
    return next((t for t in DATA_TYPES if op in OPERATORS[t]), STRING)


def describe_condition(c: Mapping, names: Mapping[str, str] | None = None) -> str:
    """A sentence for one condition, for the segment page."""
    names = names or {}
    kind = c.get("type")
    if kind == "trait":
        return _describe_typed(
            str(c.get("key")), _guess_type(c), c.get("operator", ""), c.get("value")
        )
    if kind == "profile":
        fld = str(c.get("field", "")).replace("_", " ")
        if c.get("field") in PROFILE_FLAG_FIELDS:
            return f"{fld} {OPERATORS[BOOLEAN].get(c.get('operator', ''), '')}"
        return _describe_typed(fld, DATE, c.get("operator", ""), c.get("value"))
    if kind == "event":
        op = c.get("operator")
        within = f" in the last {c['within_days']} days" if c.get("within_days") is not None else ""
        if op in EVENT_COUNT_OPERATORS:
            n = c.get("count")
            times = f"{EVENT_COUNT_OPERATORS[op]} {n} time{'' if n == 1 else 's'}"
            return f"performed {c.get('event')} {times}{within}"
        if op == "not_performed":
            return f"has not performed {c.get('event')}{within}"
        return _describe_typed(
            f"{EVENT_OPERATORS.get(str(op), op)} {c.get('event')}",
            DATE,
            c.get("date_operator", ""),
            c.get("value"),
        )
    if kind == "survey":
        survey = names.get(str(c.get("survey")), "a survey") if c.get("survey") else "any survey"
        within = f" in the last {c['within_days']} days" if c.get("within_days") is not None else ""
        verb = "has not" if c.get("operator") == "has_not" else "has"
        return f"{verb} {SURVEY_ACTIONS.get(c.get('action', ''), '')} {survey}{within}"
    if kind == "answer":
        survey = names.get(str(c.get("survey")), "a survey") if c.get("survey") else "any survey"
        return _describe_typed(
            f"answer to {c.get('question')} ({survey})",
            _guess_type(c),
            c.get("operator", ""),
            c.get("value"),
        )
    if kind == "segment":
        target = names.get(str(c.get("segment")), "a deleted segment")
        return f"{'not ' if c.get('operator') == 'not_in' else ''}in segment “{target}”"
    return str(dict(c))


def describe_rules(rules: Any, names: Mapping[str, str] | None = None, *, depth: int = 1) -> str:
    """The whole tree as one line: conditions joined by AND/OR, nested groups in brackets."""
    if not isinstance(rules, Mapping) or not rules.get("conditions"):
        return "every user"
    if depth > MAX_DEPTH or not isinstance(rules["conditions"], list):
        return "…"
    joiner = " OR " if rules.get("op") == "or" else " AND "
    parts = []
    for child in rules["conditions"]:
        if isinstance(child, Mapping) and ("op" in child or "conditions" in child):
            parts.append(f"({describe_rules(child, names, depth=depth + 1)})")
        elif isinstance(child, Mapping):
            parts.append(describe_condition(child, names))
    return joiner.join(parts)
