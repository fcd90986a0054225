"""The SQL compiler against a plain-Python evaluation of the same rules (hypothesis)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments import rules as R
from segments.compiler import profiles_matching
from segments.evaluation import environment_evaluation
from segments.models import Segment

from . import pyeval
from .strategies import (
    DYNAMIC_UUID,
    NOW,
    answer_conditions,
    event_conditions,
    profile_conditions,
    rule_trees,
    segment_conditions,
    survey_conditions,
    trait_conditions,
    worlds,
    write_world,
)

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PER_OPERATOR = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(environment, world, rules) -> None:
    """Write the world, compare SQL with Python, roll back."""
    world.zone = django_settings.TIME_ZONE
    with transaction.atomic():
        write_world(world, environment)
        R.validate_rules(rules, environment_id=environment.pk)
        sql = set(
            profiles_matching(rules, environment_id=environment.pk, now=NOW).values_list(
                "pk", flat=True
            )
        )
        expected = pyeval.matching(rules, world)
        assert sql == expected, (rules, world)
        transaction.set_rollback(True)


def one(condition: dict) -> dict:
    return {"op": "and", "conditions": [condition]}


@PROPERTY
@given(world=worlds(), rules=rule_trees)
def test_sql_matches_python_for_random_rule_trees(environment, world, rules):
    check(environment, world, rules)


TRAIT_CASES = [(t, op) for t in R.DATA_TYPES for op in R.OPERATORS[t]]


@pytest.mark.parametrize(("data_type", "operator"), TRAIT_CASES)
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_every_trait_operator(environment, data_type, operator, world, data):
    key = {"string": "s", "number": "n", "boolean": "b", "date": "d"}[data_type]
    # Declared key, and an undeclared key typed by the condition.
    chosen = data.draw(st.sampled_from([key, "u"]))
    condition = data.draw(trait_conditions(key=chosen, operator=operator))
    if chosen == "u":
        condition = (
            data.draw(trait_conditions(key="u", operator=None))
            if (condition.get("data_type") != data_type)
            else condition
        )
    check(environment, world, one(condition))


@pytest.mark.parametrize(("data_type", "operator"), TRAIT_CASES)
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_every_answer_operator(environment, data_type, operator, world, data):
    condition = data.draw(answer_conditions(operator=operator, data_type=data_type))
    check(environment, world, one(condition))


DATE_CASES = [
    (zone, kind, op)
    for zone in ("America/New_York", "Pacific/Auckland")
    for kind in ("trait", "answer", "profile")
    for op in R.DATE_VALUE_OPERATORS
]


@pytest.mark.parametrize(("zone", "kind", "operator"), DATE_CASES)
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_date_operators_west_and_east_of_utc(
    settings, environment, zone, kind, operator, world, data
):
    """Calendar days in the site's zone (dates alone), rolling windows (date-times)."""
    settings.TIME_ZONE = zone
    if kind == "trait":
        condition = data.draw(trait_conditions(key="d", operator=operator))
    elif kind == "answer":
        condition = data.draw(answer_conditions(operator=operator, data_type=R.DATE))
    else:
        field = data.draw(st.sampled_from(R.PROFILE_DATE_FIELDS))
        condition = data.draw(profile_conditions(field=field, operator=operator))
    check(environment, world, one(condition))


@pytest.mark.parametrize(
    ("field", "operator"),
    [(f, op) for f in R.PROFILE_DATE_FIELDS for op in R.DATE_VALUE_OPERATORS]
    + [(f, op) for f in R.PROFILE_FLAG_FIELDS for op in ("is_true", "is_false")],
)
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_every_profile_operator(environment, field, operator, world, data):
    check(environment, world, one(data.draw(profile_conditions(field=field, operator=operator))))


@pytest.mark.parametrize("operator", list(R.EVENT_OPERATORS))
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_every_event_operator(environment, operator, world, data):
    check(environment, world, one(data.draw(event_conditions(operator=operator))))


@pytest.mark.parametrize(
    ("action", "operator"), [(a, op) for a in R.SURVEY_ACTIONS for op in ("has", "has_not")]
)
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_every_survey_action(environment, action, operator, world, data):
    check(environment, world, one(data.draw(survey_conditions(action=action, operator=operator))))


@pytest.mark.parametrize("operator", ["in", "not_in"])
@PER_OPERATOR
@given(data=st.data(), world=worlds())
def test_segment_conditions(environment, operator, world, data):
    check(environment, world, one(data.draw(segment_conditions(operator=operator))))


@settings(PROPERTY, max_examples=40)
@given(world=worlds(), trees=st.lists(rule_trees, min_size=1, max_size=4))
def test_incremental_evaluation_agrees_with_full_query(environment, world, trees):
    """The incremental path (every dynamic segment of the environment in one prepared
    statement, for a few profiles) == each segment's own full query == Python."""
    with transaction.atomic():
        write_world(world, environment)
        segments = [
            Segment.objects.create(environment=environment, name=f"T{i}", rules=rules)
            for i, rules in enumerate(trees)
        ]
        ids = [p.id for p in world.profiles]
        for _ in range(2):  # the second run reuses the prepared statement
            evaluation = environment_evaluation(
                environment_id=environment.pk, profile_ids=ids, now=NOW
            )
        for segment in [*segments, Segment.objects.get(uuid=DYNAMIC_UUID)]:
            full = set(
                profiles_matching(
                    segment.rules,
                    environment_id=environment.pk,
                    now=NOW,
                    self_uuid=str(segment.uuid),
                ).values_list("pk", flat=True)
            )
            incremental = {pid for pid, sids in evaluation.flags.items() if segment.pk in sids}
            assert incremental == full
            assert full == pyeval.matching(segment.rules, world, self_uuid=str(segment.uuid))
        for pid in ids:  # one profile at a time: the prepared single-profile statement
            for _ in range(2):
                single = environment_evaluation(
                    environment_id=environment.pk, profile_ids=[pid], now=NOW
                )
            assert single.flags == {pid: evaluation.flags[pid]}
            assert single.current == {pid: evaluation.current[pid]}
        transaction.set_rollback(True)
