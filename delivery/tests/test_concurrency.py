"""Claims racing in threads, each on its own connection, against real PostgreSQL: the gates
hold under concurrency (two tabs, two surveys at once)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from delivery.factories import web_survey
from surveys.models import Response
from tests.helpers import race

from .helpers import ANON, call

pytestmark = pytest.mark.django_db(transaction=True)


def _race(workers: list[Callable[[], int]]) -> list[int]:
    results, errors = race(workers)
    assert errors == []
    return results


def _claimer(environment, survey, body):
    def claim() -> int:
        return call(
            Client(), environment, "/displays", {**body, "survey_id": str(survey.uuid)}
        ).status_code

    return claim


@pytest.mark.parametrize("identified", [True, False])
def test_concurrent_claims_for_the_same_person_and_survey_give_one_display(environment, identified):
    survey = web_survey(environment)
    body = {"anonymous_id": ANON, **({"user": {"id": "u1"}} if identified else {})}
    codes = _race([_claimer(environment, survey, body) for _ in range(4)])
    assert sorted(codes) == [201, 409, 409, 409]
    [response] = Response.objects.filter(survey=survey)
    assert response.show_count == 1


def test_throttle_holds_across_two_surveys_claimed_at_once(environment):
    first, second = web_survey(environment), web_survey(environment)
    body = {"anonymous_id": ANON, "user": {"id": "u1"}}
    codes = _race([_claimer(environment, first, body), _claimer(environment, second, body)] * 2)
    assert sorted(codes) == [201, 409, 409, 409]
    assert Response.objects.filter(profile__user_id="u1").count() == 1
