"""What a condition means, where the documentation (segments/rules.py) decides it: calendar days
for date-only values in the site's time zone, rolling windows for timestamps, and the latest
answer per survey question for answer conditions. Each case runs through the full query and the
incremental (prepared, cached) statement, and against the Python reference evaluator."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from profiles.factories import ProfileFactory
from segments.compiler import profiles_matching
from segments.evaluation import environment_evaluation
from segments.models import Segment
from surveys.factories import ResponseFactory, SurveyFactory
from traits.factories import TraitFactory

from . import pyeval

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/New_York", "Pacific/Auckland", "Asia/Tokyo"]
# 03:00 UTC on Nov 6: still Nov 5 in New York (22:00), already Nov 6 in Tokyo and Auckland.
NOW = dt.datetime(2026, 11, 6, 3, 0, tzinfo=dt.UTC)


def one(condition: dict) -> dict:
    return {"op": "and", "conditions": [condition]}


def matches(environment, rules: dict, profile) -> bool:
    """The full query and the incremental statement must agree; returns their answer."""
    full = profiles_matching(rules, environment_id=environment.pk, now=NOW).filter(pk=profile.pk)
    segment = Segment.objects.create(environment=environment, name=f"t{Segment.objects.count()}")
    Segment.objects.filter(pk=segment.pk).update(rules=rules)
    flags = environment_evaluation(environment_id=environment.pk, profile_ids=[profile.pk], now=NOW)
    segment_id = segment.pk
    segment.delete()
    assert full.exists() == (segment_id in flags.flags[profile.pk])
    return full.exists()


def trait(key: str, operator: str, value=None) -> dict:
    condition = {"type": "trait", "key": key, "operator": operator}
    if value is not None:
        condition["value"] = value
    return one(condition)


@pytest.fixture
def dated(environment):
    TraitFactory(environment=environment, key="renews", data_type="date", scope="profile")
    return ProfileFactory(environment=environment, traits={"renews": "2026-11-04"})


@pytest.mark.parametrize("zone", ZONES)
def test_date_only_trait_is_a_calendar_day_in_every_zone(settings, environment, dated, zone):
    settings.TIME_ZONE = zone
    assert matches(environment, trait("renews", "on", "2026-11-04"), dated)
    assert not matches(environment, trait("renews", "on", "2026-11-03"), dated)
    assert not matches(environment, trait("renews", "on", "2026-11-05"), dated)
    assert matches(environment, trait("renews", "before", "2026-11-05"), dated)
    assert not matches(environment, trait("renews", "before", "2026-11-04"), dated)
    assert matches(environment, trait("renews", "after", "2026-11-03"), dated)
    assert not matches(environment, trait("renews", "after", "2026-11-04"), dated)
    assert matches(environment, trait("renews", "between", ["2026-11-04", "2026-11-04"]), dated)
    assert not matches(environment, trait("renews", "between", ["2026-11-01", "2026-11-03"]), dated)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("days", [0, 1, 2, 3])
def test_date_only_windows_count_calendar_days_from_today_in_the_zone(
    settings, environment, dated, zone, days
):
    settings.TIME_ZONE = zone
    today = NOW.astimezone(zoneinfo.ZoneInfo(zone)).date()
    renews = dt.date(2026, 11, 4)
    within = today - dt.timedelta(days=days) <= renews <= today
    assert matches(environment, trait("renews", "within_last_days", days), dated) is within
    older = renews < today - dt.timedelta(days=days)
    assert matches(environment, trait("renews", "more_than_days_ago", days), dated) is older


@pytest.mark.parametrize("zone", ZONES)
def test_timestamp_trait_days_are_read_in_the_zone_and_windows_roll(settings, environment, zone):
    settings.TIME_ZONE = zone
    TraitFactory(environment=environment, key="paid_at", data_type="date", scope="profile")
    # 02:00 UTC on Nov 4: Nov 3 in New York, Nov 4 elsewhere here.
    profile = ProfileFactory(environment=environment, traits={"paid_at": "2026-11-04T02:00:00Z"})
    local_day = dt.datetime(2026, 11, 4, 2, tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(zone))
    assert matches(environment, trait("paid_at", "on", local_day.date().isoformat()), profile)
    other = local_day.date() + dt.timedelta(days=1)
    assert not matches(environment, trait("paid_at", "on", other.isoformat()), profile)
    # Rolling: 49 hours ago is within the last 3 days and not within the last 2, in every zone.
    assert matches(environment, trait("paid_at", "within_last_days", 3), profile)
    assert not matches(environment, trait("paid_at", "within_last_days", 2), profile)
    assert matches(environment, trait("paid_at", "more_than_days_ago", 2), profile)


@pytest.mark.parametrize("zone", ZONES)
def test_python_reference_agrees_on_dates_in_every_zone(settings, environment, zone):
    settings.TIME_ZONE = zone
    TraitFactory(environment=environment, key="d", data_type="date", scope="profile")
    values = [
        "2026-11-03",
        "2026-11-04",
        "2026-11-05",
        "2026-11-06",
        "2026-11-04T02:00:00Z",
        "2026-11-05T23:30:00-05:00",
        "2026-11-04 10:00",
        "soon",
    ]
    profiles = [ProfileFactory(environment=environment, traits={"d": v}) for v in values]
    world = pyeval.World(
        profiles=[
            pyeval.PyProfile(p.pk, p.traits, p.first_seen_at, p.last_seen_at) for p in profiles
        ],
        events=[],
        responses=[],
        segments={},
        trait_types={"d": "date"},
        answer_types={},
        surveys=set(),
        now=NOW,
        zone=zone,
    )
    conditions = [
        *[("on", d) for d in ("2026-11-03", "2026-11-04", "2026-11-05")],
        ("before", "2026-11-05"),
        ("after", "2026-11-04"),
        ("between", ["2026-11-04", "2026-11-05"]),
        *[(op, n) for op in ("within_last_days", "more_than_days_ago") for n in (0, 1, 2)],
    ]
    for operator, value in conditions:
        rules = trait("d", operator, value)
        sql = set(
            profiles_matching(rules, environment_id=environment.pk, now=NOW).values_list(
                "pk", flat=True
            )
        )
        assert sql == pyeval.matching(rules, world), (operator, value)


# --- Answers -------------------------------------------------------------------------------------


@pytest.fixture
def nps(environment):
    TraitFactory(environment=environment, key="nps", data_type="number", scope="response")
    return SurveyFactory(environment=environment)


def answer(survey, operator: str, value=None) -> dict:
    condition = {
        "type": "answer",
        "survey": str(survey.uuid) if survey else None,
        "question": "nps",
        "operator": operator,
    }
    if value is not None:
        condition["value"] = value
    return one(condition)


def respond(survey, profile, value, minutes: int):
    at = NOW - dt.timedelta(days=1) + dt.timedelta(minutes=minutes)
    return ResponseFactory(
        survey=survey,
        environment=survey.environment,
        profile=profile,
        data={"nps": value},
        created_at=at,
        last_data_at=at,
    )


def test_answer_conditions_read_the_latest_answer(environment, nps):
    changed = ProfileFactory(environment=environment)
    respond(nps, changed, 10, minutes=0)
    respond(nps, changed, 3, minutes=5)
    for survey in (nps, None):
        assert not matches(environment, answer(survey, "eq", 10), changed)
        assert matches(environment, answer(survey, "neq", 10), changed)
        assert matches(environment, answer(survey, "eq", 3), changed)
        assert matches(environment, answer(survey, "is_set"), changed)


def test_a_later_response_without_that_answer_keeps_the_earlier_answer(environment, nps):
    profile = ProfileFactory(environment=environment)
    respond(nps, profile, 9, minutes=0)
    ResponseFactory(
        survey=nps,
        environment=environment,
        profile=profile,
        data={},
        created_at=NOW - dt.timedelta(hours=1),
    )
    assert matches(environment, answer(nps, "eq", 9), profile)


def test_negative_answer_conditions_include_users_who_never_answered(environment, nps):
    silent = ProfileFactory(environment=environment)
    promoter = ProfileFactory(environment=environment)
    respond(nps, promoter, 10, minutes=0)
    assert matches(environment, answer(nps, "neq", 10), silent)
    assert not matches(environment, answer(nps, "neq", 10), promoter)
    assert matches(environment, answer(None, "neq", 10), silent)
    assert matches(environment, answer(nps, "is_not_set"), silent)


def test_any_survey_matches_when_one_surveys_latest_answer_does(environment, nps):
    other = SurveyFactory(environment=environment)
    profile = ProfileFactory(environment=environment)
    respond(nps, profile, 10, minutes=0)
    respond(other, profile, 4, minutes=10)
    assert matches(environment, answer(None, "eq", 10), profile)
    assert matches(environment, answer(None, "eq", 4), profile)
    assert not matches(environment, answer(None, "neq", 10), profile)
