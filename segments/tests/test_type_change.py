"""A trait's type changes under segments that use it: nothing crashes, the Traits page says
which segments change and how, the segment page reports conditions that no longer fit (they
match nobody), and the segments are recomputed."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from profiles.factories import ProfileFactory
from profiles.services import profile_identify
from segments import services
from segments.compiler import profiles_matching
from segments.evaluation import environment_evaluation
from segments.models import RecomputeStatus, Segment
from tests.helpers import HTMX
from traits.factories import TraitFactory
from traits.models import Trait
from traits.services import trait_update

pytestmark = pytest.mark.django_db

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}
RICH = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "revenue", "operator": "gt", "value": 100}],
}


@pytest.fixture
def plan(environment):
    return TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")


@pytest.fixture
def pro(environment, plan, django_capture_on_commit_callbacks):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    with django_capture_on_commit_callbacks(execute=True):
        segment = services.segment_create(environment=environment, name="Pro", rules=PRO)
    segment.refresh_from_db()
    assert segment.member_count == 1
    return segment


def to_number(plan) -> None:
    # As a type change used to be made: the definition alone.
    Trait.objects.filter(pk=plan.pk).update(data_type="number")


def test_a_condition_that_no_longer_fits_matches_nobody_and_is_reported(environment, pro, plan):
    pro.refresh_from_db()
    assert pro.member_count == 1
    to_number(plan)
    result = services.segment_recompute(segment_id=pro.pk, version=pro.version)
    pro.refresh_from_db()
    assert result is not None and not result.superseded
    assert pro.member_count == 0 and pro.status == RecomputeStatus.IDLE
    qs = profiles_matching(PRO, environment_id=environment.pk)
    assert list(qs) == []


def test_recompute_now_after_a_type_change_is_not_a_500(
    owner_client, environment, pro, plan, django_capture_on_commit_callbacks
):
    to_number(plan)
    target = reverse("segments:recompute", kwargs={"env": environment.slug, "uuid": pro.uuid})
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(target, headers=HTMX)
    assert response.status_code == 200
    pro.refresh_from_db()
    assert pro.status == RecomputeStatus.IDLE and pro.member_count == 0


def test_segment_page_reports_the_condition_in_words(owner_client, environment, pro, plan):
    to_number(plan)
    detail = reverse("segments:detail", kwargs={"env": environment.slug, "uuid": pro.uuid})
    content = owner_client.get(detail).content.decode()
    assert 'id="rule-problems"' in content
    assert "Condition 1: operator" in content
    assert "Choose an operator for a number" in content
    assert "match" in content and "nobody" in content


def test_one_broken_segment_does_not_stop_the_others_updating(environment, pro, plan):
    TraitFactory(environment=environment, key="revenue", data_type="number", scope="profile")
    rich = services.segment_create(environment=environment, name="Rich", rules=RICH)
    to_number(plan)
    profile = profile_identify(environment=environment, user_id="u1", traits={"revenue": 500})
    evaluation = environment_evaluation(environment_id=environment.pk, profile_ids=[profile.pk])
    assert evaluation.flags[profile.pk] == {rich.pk}
    services.segment_profiles_evaluate(environment_id=environment.pk, profile_ids=[profile.pk])
    assert Segment.objects.get(pk=rich.pk).memberships.filter(profile=profile).exists()


def test_trait_update_recomputes_the_segments_that_use_it(
    environment, pro, plan, django_capture_on_commit_callbacks
):
    version = pro.version
    with django_capture_on_commit_callbacks(execute=True):
        trait_update(trait=plan, label="", description="", data_type="number", hidden=False)
    pro.refresh_from_db()
    assert pro.version == version + 1
    assert pro.member_count == 0  # tasks run inline in tests: recomputed already


def edit_url(environment, trait) -> str:
    return reverse("traits:edit", kwargs={"env": environment.slug, "pk": trait.pk})


@pytest.mark.parametrize("htmx", [False, True])
def test_traits_page_shows_the_segments_a_type_change_affects_before_making_it(
    owner_client, environment, pro, plan, htmx, django_capture_on_commit_callbacks
):
    TraitFactory(environment=environment, key="revenue", data_type="number", scope="profile")
    services.segment_create(
        environment=environment,
        name="Pro or rich",
        rules={"op": "or", "conditions": [*PRO["conditions"], *RICH["conditions"]]},
    )
    headers = HTMX if htmx else {}
    data = {"label": "", "description": "", "data_type": "number"}
    response = owner_client.post(edit_url(environment, plan), data, headers=headers)
    content = response.content.decode()
    assert response.status_code == 200
    plan.refresh_from_db()
    assert plan.data_type == "string"  # not changed yet
    assert "changes 2 segments" in content
    assert "Pro or rich" in content and ">Pro<" in content
    assert "will match nobody" in content
    assert "Condition 1: operator" in content
    assert 'name="confirm_type" value="number"' in content
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            edit_url(environment, plan), {**data, "confirm_type": "number"}, headers=headers
        )
    assert response.status_code in (200, 302)
    plan.refresh_from_db()
    assert plan.data_type == "number"
    pro.refresh_from_db()
    assert pro.member_count == 0


def test_edit_form_lists_the_segments_using_the_trait(owner_client, environment, pro, plan):
    content = owner_client.get(edit_url(environment, plan)).content.decode()
    assert "Used by 1 segment" in content and "Pro" in content


def test_a_type_change_nobody_uses_is_saved_at_once(owner_client, environment):
    lonely = TraitFactory(environment=environment, key="x", data_type="string", scope="profile")
    response = owner_client.post(
        edit_url(environment, lonely), {"label": "", "description": "", "data_type": "number"}
    )
    assert response.status_code == 302
    lonely.refresh_from_db()
    assert lonely.data_type == "number"


def test_answer_conditions_are_found_by_question_key(owner_client, environment):
    nps = TraitFactory(environment=environment, key="nps", data_type="number", scope="response")
    rules = {
        "op": "and",
        "conditions": [
            {"type": "answer", "survey": None, "question": "nps", "operator": "lte", "value": 6}
        ],
    }
    services.segment_create(environment=environment, name="Detractors", rules=rules)
    response = owner_client.post(
        edit_url(environment, nps), {"label": "", "description": "", "data_type": "string"}
    )
    assert "Detractors" in response.content.decode()
    assert json.dumps(rules)  # the rules are untouched
    assert Segment.objects.get(name="Detractors").rules == rules
