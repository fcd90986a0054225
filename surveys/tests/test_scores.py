"""Scores against hand-computed values, one query each."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from profiles.factories import ProfileFactory
from surveys import scores
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Response


@pytest.fixture
def survey(environment):
    return SurveyFactory(environment=environment)


def _answers(survey, key, values):
    profile = ProfileFactory(environment=survey.environment)
    for value in values:
        ResponseFactory(survey=survey, profile=profile, data={key: value}, completed=True)


def test_nps_counts_promoters_passives_detractors(survey, django_assert_num_queries):
    # 3 promoters (9, 10, 10), 2 passives (7, 8), 5 detractors (0, 3, 5, 6, 6): 10 answers.
    _answers(survey, "nps", [9, 10, 10, 7, 8, 0, 3, 5, 6, 6])
    ResponseFactory(survey=survey, data={})  # a view: not counted
    ResponseFactory(survey=survey, data={"nps": "great"})  # text under the key: not counted
    with django_assert_num_queries(1):
        result = scores.nps(Response.objects.filter(survey=survey), "nps")
    assert result["total"] == 10
    assert (result["promoters"], result["passives"], result["detractors"]) == (3, 2, 5)
    assert result["score"] == -20.0  # 30% - 50%
    assert result["promoters_pct"] == 30.0
    assert result["detractors_pct"] == 50.0


def test_only_json_numbers_count_whatever_else_is_stored(survey):
    # Counted: 10, 9.5 (promoters), 6 (detractor), 7 (passive). Not: out of range, text,
    # booleans, null, lists, objects (jsonb orders them apart from numbers).
    _answers(survey, "nps", [10, 9.5, 6, 7, 10.5, -1, "9", True, False, None, [10], {"a": 9}])
    _answers(survey, "csat", [1.0, 2, 1.5, -2, 3, "1", True])
    _answers(survey, "ces", [1, 7, 7.5, 0, "4", True])
    qs = Response.objects.filter(survey=survey)
    result = scores.report_scores(qs, nps="nps", csat="csat", ces="ces")
    assert (result["nps"]["promoters"], result["nps"]["detractors"]) == (2, 1)
    assert result["nps"]["total"] == 4
    assert result["csat"] == {"score": 50.0, "satisfied": 2, "total": 4}  # 1.0 and 2 of 4
    assert result["ces"] == {"average": 4.0, "total": 2}


def test_nps_of_no_answers_is_none(survey):
    result = scores.nps(Response.objects.filter(survey=survey), "nps")
    assert result["score"] is None
    assert result["total"] == 0


def test_nps_rounds_to_one_decimal(survey):
    _answers(survey, "nps", [10, 10, 0])  # 66.7% - 33.3%
    assert scores.nps(Response.objects.filter(survey=survey), "nps")["score"] == 33.3


def test_csat_is_percent_satisfied_on_the_stored_scale(survey, django_assert_num_queries):
    # satisfied: 1, 2, 2; not: -2, -1, 0, 0 -> 3 of 7
    _answers(survey, "csat", [1, 2, 2, -2, -1, 0, 0])
    with django_assert_num_queries(1):
        result = scores.csat(Response.objects.filter(survey=survey), "csat")
    assert result == {"score": 42.9, "satisfied": 3, "total": 7}


def test_ces_average(survey, django_assert_num_queries):
    _answers(survey, "ces", [1, 2, 7, 6])
    with django_assert_num_queries(1):
        result = scores.ces(Response.objects.filter(survey=survey), "ces")
    assert result == {"average": 4.0, "total": 4}


def test_rating_average(survey):
    _answers(survey, "stars", [5, 4, 4])
    result = scores.rating_average(Response.objects.filter(survey=survey), "stars")
    assert result == {"average": 4.33, "total": 3}


def test_choice_distribution_counts_each_picked_choice(survey, django_assert_num_queries):
    _answers(
        survey,
        "features",
        [["Reports", "Export"], ["Export"], ["Reports", "Export", "Alerts"], []],
    )
    with django_assert_num_queries(1):
        result = scores.choice_distribution(Response.objects.filter(survey=survey), "features")
    assert result == [("Export", 3), ("Reports", 2), ("Alerts", 1)]


def test_choice_distribution_in_question_order_with_zero_counts(survey):
    _answers(survey, "color", ["Red", "Blue", "Red", "Mauve"])
    result = scores.choice_distribution(
        Response.objects.filter(survey=survey), "color", choices=["Blue", "Red", "Green"]
    )
    # Mauve is no longer a choice but was picked: it follows the current choices.
    assert result == [("Blue", 1), ("Red", 2), ("Green", 0), ("Mauve", 1)]


def test_scores_follow_the_queryset_filters(survey):
    early = timezone.now() - timedelta(days=40)
    profile = ProfileFactory(environment=survey.environment)
    ResponseFactory(survey=survey, profile=profile, data={"nps": 0}, created_at=early)
    _answers(survey, "nps", [10])
    recent = Response.objects.filter(created_at__gte=timezone.now() - timedelta(days=30))
    assert scores.nps(recent, "nps")["score"] == 100.0
    assert scores.nps(Response.objects.all(), "nps")["score"] == 0.0


def test_key_per_survey_scores_each_response_on_its_own_question(environment):
    a = SurveyFactory(environment=environment)
    b = SurveyFactory(environment=environment)
    _answers(a, "nps", [10, 10])
    _answers(b, "recommend", [0])
    # In survey b, "nps" holds a CES-like answer that must not count as NPS.
    ResponseFactory(survey=b, data={"nps": 10, "recommend": 0}, completed=True)
    result = scores.nps(Response.objects.all(), {a.pk: "nps", b.pk: "recommend"})
    assert (result["promoters"], result["detractors"], result["total"]) == (2, 2, 4)
    assert result["score"] == 0.0


def test_report_scores_computes_several_in_one_query(survey, django_assert_num_queries):
    nps_q = QuestionFactory(survey=survey, kind="nps", key="nps")
    csat_q = QuestionFactory(survey=survey, kind="csat", key="csat")
    profile = ProfileFactory(environment=survey.environment)
    ResponseFactory(survey=survey, profile=profile, data={"nps": 9, "csat": 2}, completed=True)
    ResponseFactory(survey=survey, profile=profile, data={"nps": 3}, completed=False)
    ResponseFactory(survey=survey, profile=profile, data={})

    with django_assert_num_queries(1):
        result = scores.report_scores(
            Response.objects.filter(survey=survey),
            nps=nps_q.key,
            csat=csat_q.key,
            ces="ces",
            extra={"views": Count("pk"), "completed": Count("pk", Q(completed_at__isnull=False))},
        )
    assert result["views"] == 3
    assert result["completed"] == 1
    assert result["nps"]["score"] == 0.0
    assert result["csat"]["score"] == 100.0
    assert result["ces"] == {"average": None, "total": 0}


def test_nps_weekly_groups_by_week(survey):
    profile = ProfileFactory(environment=survey.environment)
    monday = timezone.make_aware(datetime(2026, 3, 2, 12, 0))
    for days, value in [(0, 10), (1, 0), (7, 9), (8, None)]:
        data = {} if value is None else {"nps": value}
        ResponseFactory(
            survey=survey, profile=profile, data=data, created_at=monday + timedelta(days=days)
        )
    series = scores.nps_weekly(Response.objects.filter(survey=survey), "nps")
    assert [row["week"].date().isoformat() for row in series] == ["2026-03-02", "2026-03-09"]
    assert [row["views"] for row in series] == [2, 2]
    assert [row["responses"] for row in series] == [2, 1]
    assert [row["nps"]["score"] for row in series] == [0.0, 100.0]


def test_report_weekly_totals_match_report_scores(survey, django_assert_num_queries):

    profile = ProfileFactory(environment=survey.environment)
    monday = timezone.make_aware(datetime(2026, 3, 2, 12, 0))
    answers = [(0, 10, 2, 1), (1, 0, -2, 7), (7, 9, 1, 4), (8, 6, None, None), (15, None, 0, 2)]
    for days, nps_value, csat_value, ces_value in answers:
        data = {
            k: v
            for k, v in {"nps": nps_value, "csat": csat_value, "ces": ces_value}.items()
            if v is not None
        }
        ResponseFactory(
            survey=survey, profile=profile, data=data, created_at=monday + timedelta(days=days)
        )
    qs = Response.objects.filter(survey=survey)
    keys = {"nps": "nps", "csat": "csat", "ces": "ces"}
    with django_assert_num_queries(1):
        totals, weeks = scores.report_weekly(qs, **keys, extra={"views": Count("pk")})
    expected = scores.report_scores(qs, **keys, extra={"views": Count("pk")})
    assert totals == expected
    assert totals["ces"] == {"average": 3.5, "total": 4}  # (1 + 7 + 4 + 2) / 4
    assert [w["views"] for w in weeks] == [2, 2, 1]
    assert [w["nps"]["score"] for w in weeks] == [0.0, 0.0, None]
    assert [w["csat"]["score"] for w in weeks] == [50.0, 100.0, 0.0]
