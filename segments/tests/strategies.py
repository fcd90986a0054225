"""Hypothesis strategies: small worlds (profiles, events, responses, segments) and rule trees,
and the code that writes a world into the database."""

from __future__ import annotations

import datetime as dt
import uuid as uuid_module

from hypothesis import strategies as st

from events.models import Event, EventDefinition
from profiles.models import Profile
from segments import rules as R
from segments.models import Segment, SegmentMembership
from surveys.models import Response, Survey
from traits.models import Trait

from .pyeval import PyEvent, PyProfile, PyResponse, PySegment, World

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)
ALPHABET = "abAB%_ 1é"
TRAIT_TYPES = {"s": R.STRING, "n": R.NUMBER, "b": R.BOOLEAN, "d": R.DATE}
TRAIT_KEYS = [*TRAIT_TYPES, "u"]  # "u" has no definition: the condition's data_type applies
ANSWER_TYPES = {"nps": R.NUMBER, "comment": R.STRING, "when": R.DATE, "ok": R.BOOLEAN}
ANSWER_KEYS = [*ANSWER_TYPES, "x"]
EVENTS = ["signup", "login"]
SURVEY_UUIDS = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
UNKNOWN_UUID = "00000000-0000-4000-8000-0000000000ff"
MANUAL_UUID = "00000000-0000-4000-8000-00000000a001"
DYNAMIC_UUID = "00000000-0000-4000-8000-00000000a002"

# Narrow ranges, so that generated values often fall on the boundaries of the conditions.
moments = st.one_of(
    st.integers(-4 * 24 * 60, 2 * 24 * 60),
    st.integers(-90 * 24 * 60, 10 * 24 * 60),
    st.sampled_from([0, -24 * 60, -3 * 24 * 60, -60]),
).map(lambda m: NOW + dt.timedelta(minutes=m))
days = st.integers(-4, 1).map(lambda d: (NOW + dt.timedelta(days=d)).date().isoformat())
texts = st.text(ALPHABET, max_size=4)
numbers = st.one_of(
    st.integers(-20, 20), st.floats(-20, 20, allow_nan=False).map(lambda x: round(x, 2))
)
date_strings = st.one_of(
    days,
    moments.map(lambda m: m.isoformat()),
    moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
    moments.map(lambda m: m.strftime("%Y-%m-%d %H:%M")),
    moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%f+0530")),
    st.sampled_from(["2025-02-30", "2025-13-01", "soon", "2025-06-15T24:00", "20250615"]),
)
json_values = st.one_of(
    texts,
    numbers,
    numbers.map(str),
    st.booleans(),
    date_strings,
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
)


@st.composite
def typed_operator_value(draw, data_type: str) -> tuple[str, object]:
    operator = draw(st.sampled_from(list(R.OPERATORS[data_type])))
    return operator, draw(value_for(data_type, operator))


def value_for(data_type: str, operator: str) -> st.SearchStrategy:
    if operator in R.SET_OPERATORS or data_type == R.BOOLEAN:
        return st.none()
    if operator in R.TIME_WINDOW_DATE_OPERATORS:
        return st.one_of(st.integers(0, 4), st.integers(0, 60))
    if data_type == R.STRING:
        if operator == "in":
            return st.lists(texts, min_size=1, max_size=3)
        if operator in ("equals", "not_equals"):
            return texts
        return st.text(ALPHABET, min_size=1, max_size=2)
    if data_type == R.NUMBER:
        if operator == "between":
            return st.lists(numbers, min_size=2, max_size=2).map(sorted)
        return numbers
    if operator == "between":
        return st.lists(days, min_size=2, max_size=2).map(sorted)
    return days


@st.composite
def trait_conditions(draw, key=None, operator=None) -> dict:
    key = key or draw(st.sampled_from(TRAIT_KEYS))
    data_type = TRAIT_TYPES.get(key) or draw(st.sampled_from(R.DATA_TYPES))
    operator = operator or draw(st.sampled_from(list(R.OPERATORS[data_type])))
    condition = {"type": "trait", "key": key, "operator": operator}
    if key not in TRAIT_TYPES:
        condition["data_type"] = data_type
    value = draw(value_for(data_type, operator))
    if value is not None:
        condition["value"] = value
    return condition


@st.composite
def answer_conditions(draw, operator=None, data_type=None) -> dict:
    keys = [k for k, t in ANSWER_TYPES.items() if data_type in (None, t)] + ["x"]
    key = draw(st.sampled_from(keys))
    data_type = ANSWER_TYPES.get(key) or data_type or draw(st.sampled_from(R.DATA_TYPES))
    operator = operator or draw(st.sampled_from(list(R.OPERATORS[data_type])))
    condition = {
        "type": "answer",
        "question": key,
        "survey": draw(st.sampled_from([None, *SURVEY_UUIDS, UNKNOWN_UUID])),
        "operator": operator,
    }
    if key not in ANSWER_TYPES:
        condition["data_type"] = data_type
    value = draw(value_for(data_type, operator))
    if value is not None:
        condition["value"] = value
    return condition


@st.composite
def profile_conditions(draw, field=None, operator=None) -> dict:
    field = field or draw(st.sampled_from(R.PROFILE_DATE_FIELDS + R.PROFILE_FLAG_FIELDS))
    if field in R.PROFILE_FLAG_FIELDS:
        return {
            "type": "profile",
            "field": field,
            "operator": operator or draw(st.sampled_from(["is_true", "is_false"])),
        }
    operator = operator or draw(st.sampled_from(R.DATE_VALUE_OPERATORS))
    return {
        "type": "profile",
        "field": field,
        "operator": operator,
        "value": draw(value_for(R.DATE, operator)),
    }


within = st.one_of(st.none(), st.integers(0, 4), st.integers(0, 60))


@st.composite
def event_conditions(draw, operator=None) -> dict:
    operator = operator or draw(st.sampled_from(list(R.EVENT_OPERATORS)))
    condition = {
        "type": "event",
        "event": draw(st.sampled_from([*EVENTS, "never_tracked"])),
        "operator": operator,
    }
    if operator in R.EVENT_COUNT_OPERATORS:
        condition["count"] = draw(st.integers(0, 3))
        condition["within_days"] = draw(within)
    elif operator == "not_performed":
        condition["within_days"] = draw(within)
    else:
        date_operator = draw(st.sampled_from(R.DATE_VALUE_OPERATORS))
        condition["date_operator"] = date_operator
        condition["value"] = draw(value_for(R.DATE, date_operator))
    return condition


@st.composite
def survey_conditions(draw, action=None, operator=None) -> dict:
    return {
        "type": "survey",
        "survey": draw(st.sampled_from([None, *SURVEY_UUIDS, UNKNOWN_UUID])),
        "operator": operator or draw(st.sampled_from(["has", "has_not"])),
        "action": action or draw(st.sampled_from(list(R.SURVEY_ACTIONS))),
        "within_days": draw(within),
    }


@st.composite
def segment_conditions(draw, operator=None) -> dict:
    return {
        "type": "segment",
        "segment": draw(st.sampled_from([MANUAL_UUID, DYNAMIC_UUID, UNKNOWN_UUID])),
        "operator": operator or draw(st.sampled_from(["in", "not_in"])),
    }


leaf_conditions = st.one_of(
    trait_conditions(),
    profile_conditions(),
    event_conditions(),
    survey_conditions(),
    answer_conditions(),
    segment_conditions(),
)


def groups(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(
        lambda op, conditions: {"op": op, "conditions": conditions},
        st.sampled_from(["and", "or"]),
        st.lists(children, max_size=3),
    )


rule_trees = groups(st.recursive(leaf_conditions, groups, max_leaves=5))
simple_trees = groups(st.one_of(trait_conditions(), event_conditions(), profile_conditions()))


@st.composite
def worlds(draw, max_profiles: int = 6) -> World:
    n = draw(st.integers(1, max_profiles))
    profiles = []
    for index in range(n):
        first = draw(moments)
        profiles.append(
            PyProfile(
                id=index,  # replaced by the database id when written
                traits=draw(
                    st.dictionaries(st.sampled_from([*TRAIT_KEYS, "name"]), json_values, max_size=5)
                ),
                first_seen_at=first,
                last_seen_at=max(first, draw(moments)),
                user_id=draw(st.one_of(st.none(), st.just(f"u{index}"))),
                email=draw(st.one_of(st.none(), st.just(f"p{index}@x.test"), st.just(""))),
            )
        )
    events = [
        PyEvent(
            profile_id=draw(st.integers(0, n - 1)),
            name=draw(st.sampled_from(EVENTS)),
            timestamp=draw(moments),
        )
        for _ in range(draw(st.integers(0, 10)))
    ]
    responses = []
    for _ in range(draw(st.integers(0, 6))):
        created = draw(moments)
        later = st.one_of(st.none(), moments)
        responses.append(
            PyResponse(
                profile_id=draw(st.integers(0, n - 1)),
                survey=draw(st.sampled_from(SURVEY_UUIDS)),
                created_at=created,
                last_shown_at=draw(later),
                dismissed_at=draw(later),
                completed_at=draw(later),
                last_data_at=draw(later),
                data=draw(st.dictionaries(st.sampled_from(ANSWER_KEYS), json_values, max_size=3)),
            )
        )
    segments = {
        MANUAL_UUID: PySegment(
            uuid=MANUAL_UUID,
            kind="manual",
            rules={},
            members=set(draw(st.lists(st.integers(0, n - 1), max_size=n))),
        ),
        DYNAMIC_UUID: PySegment(uuid=DYNAMIC_UUID, kind="dynamic", rules=draw(simple_trees)),
    }
    return World(
        profiles=profiles,
        events=events,
        responses=responses,
        segments=segments,
        trait_types=dict(TRAIT_TYPES),
        answer_types=dict(ANSWER_TYPES),
        surveys=set(SURVEY_UUIDS),
        now=NOW,
    )


def write_world(world: World, environment) -> World:
    """Insert the world into the database (for `environment`); returns it with database ids."""

    Trait.objects.bulk_create(
        [
            Trait(environment=environment, key=k, data_type=t, scope="profile")
            for k, t in world.trait_types.items()
        ]
        + [
            Trait(environment=environment, key=k, data_type=t, scope="response")
            for k, t in world.answer_types.items()
        ]
    )
    rows = Profile.objects.bulk_create(
        [
            Profile(
                environment=environment,
                traits=p.traits,
                first_seen_at=p.first_seen_at,
                last_seen_at=p.last_seen_at,
                user_id=p.user_id,
                email=p.email,
                anonymous_id=f"a{i}-{uuid_module.uuid4().hex[:8]}",
            )
            for i, p in enumerate(world.profiles)
        ]
    )
    ids = {p.id: row.pk for p, row in zip(world.profiles, rows, strict=True)}
    for p in world.profiles:
        p.id = ids[p.id]
    definitions = {
        name: EventDefinition.objects.create(environment=environment, name=name) for name in EVENTS
    }
    for e in world.events:
        e.profile_id = ids.get(e.profile_id, e.profile_id)
    Event.objects.bulk_create(
        [
            Event(
                environment=environment,
                profile_id=e.profile_id,
                definition=definitions[e.name],
                timestamp=e.timestamp,
            )
            for e in world.events
        ]
    )
    surveys = {
        u: Survey.objects.create(environment=environment, name=f"S{i}", uuid=u)
        for i, u in enumerate(SURVEY_UUIDS)
    }
    for r in world.responses:
        r.profile_id = ids.get(r.profile_id, r.profile_id)
    written = Response.objects.bulk_create(
        [
            Response(
                environment=environment,
                survey=surveys[r.survey],
                profile_id=r.profile_id,
                created_at=r.created_at,
                last_shown_at=r.last_shown_at,
                dismissed_at=r.dismissed_at,
                completed_at=r.completed_at,
                last_data_at=r.last_data_at,
                data=r.data,
            )
            for r in world.responses
        ]
    )
    for r, row in zip(world.responses, written, strict=True):
        r.id = row.pk
    for seg in world.segments.values():
        seg.members = {ids.get(m, m) for m in seg.members}
        segment = Segment.objects.create(
            environment=environment,
            uuid=seg.uuid,
            name=f"seg {seg.uuid[-4:]}",
            kind=seg.kind,
            rules=seg.rules,
        )
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, profile_id=m) for m in seg.members]
        )
    return world
