"""The Traits page: access and roles, inline edit, delete with values, background counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.factories import ProfileFactory
from profiles.models import Profile
from surveys.factories import ResponseFactory, SurveyFactory
from surveys.models import Response
from tests.helpers import HTMX, eurl
from traits.factories import TraitFactory
from traits.models import Trait
from traits.tasks import count_trait_profiles

pytestmark = pytest.mark.django_db


def test_traits_page_anonymous_outsider_analyst(
    client, outsider_client, analyst_client, environment
):
    trait = TraitFactory(environment=environment, key="plan")
    assert client.get(eurl(environment, "traits:list"))["Location"].startswith("/login/")
    assert outsider_client.get(eurl(environment, "traits:list")).status_code == 404
    assert outsider_client.get(eurl(environment, "traits:edit", pk=trait.pk)).status_code == 404
    response = analyst_client.get(eurl(environment, "traits:list"))
    assert response.status_code == 200
    assert b"plan" in response.content
    # No edit controls for a read-only role.
    assert eurl(environment, "traits:edit", pk=trait.pk).encode() not in response.content
    assert b"data-dialog-open" not in response.content


def test_analyst_gets_403_on_every_post(analyst_client, environment):
    trait = TraitFactory(environment=environment, key="plan")
    data = {"label": "x", "description": "", "data_type": "string"}
    assert (
        analyst_client.post(eurl(environment, "traits:edit", pk=trait.pk), data).status_code == 403
    )
    assert (
        analyst_client.post(
            eurl(environment, "traits:edit", pk=trait.pk), data, headers=HTMX
        ).status_code
        == 403
    )
    delete = eurl(environment, "traits:delete", pk=trait.pk)
    assert analyst_client.post(delete, {"confirm": "yes"}).status_code == 403
    assert Trait.objects.filter(pk=trait.pk, label="").exists()


def test_trait_of_another_environment_is_404(owner_client, environment, other_environment):
    foreign = TraitFactory(environment=other_environment, key="plan")
    assert owner_client.get(eurl(environment, "traits:edit", pk=foreign.pk)).status_code == 404
    foreign_delete = eurl(environment, "traits:delete", pk=foreign.pk)
    assert owner_client.post(foreign_delete, {"confirm": "yes"}).status_code == 404
    assert Trait.objects.filter(pk=foreign.pk).exists()


def test_inline_edit_returns_rows_and_saves(owner_client, environment):
    trait = TraitFactory(environment=environment, key="seats", data_type="string")
    edit_row = owner_client.get(eurl(environment, "traits:edit", pk=trait.pk), headers=HTMX)
    assert edit_row.status_code == 200
    assert b"<html" not in edit_row.content and b'name="label"' in edit_row.content
    saved = owner_client.post(
        eurl(environment, "traits:edit", pk=trait.pk),
        {
            "label": "Seats bought",
            "description": "Paid seats",
            "data_type": "number",
            "hidden": "on",
        },
        headers=HTMX,
    )
    assert saved.status_code == 200
    assert saved.content.lstrip().startswith(f'<tr id="trait-{trait.pk}"'.encode())
    assert b"Seats bought" in saved.content
    trait.refresh_from_db()
    assert (trait.label, trait.description, trait.data_type, trait.hidden) == (
        "Seats bought",
        "Paid seats",
        "number",
        True,
    )
    # Reloaded, the page shows the new label.
    assert b"Seats bought" in owner_client.get(eurl(environment, "traits:list")).content
    # Cancel gives the display row back.
    assert (
        b"Seats bought"
        in owner_client.get(eurl(environment, "traits:row", pk=trait.pk), headers=HTMX).content
    )


def test_edit_without_javascript_is_a_page_and_a_redirect(owner_client, environment):
    trait = TraitFactory(environment=environment, key="plan")
    page = owner_client.get(eurl(environment, "traits:edit", pk=trait.pk))
    assert b"<html" in page.content
    response = owner_client.post(
        eurl(environment, "traits:edit", pk=trait.pk), {"label": "Plan", "data_type": "string"}
    )
    assert response.status_code == 302
    trait.refresh_from_db()
    assert trait.label == "Plan"


def test_invalid_type_is_refused(owner_client, environment):
    trait = TraitFactory(environment=environment, key="plan")
    response = owner_client.post(
        eurl(environment, "traits:edit", pk=trait.pk),
        {"label": "x", "data_type": "blob"},
        headers=HTMX,
    )
    assert response.status_code == 200 and b"errorlist" in response.content
    trait.refresh_from_db()
    assert trait.data_type == "string"


def test_delete_profile_trait_removes_its_values(owner_client, environment, other_environment):
    trait = TraitFactory(environment=environment, key="plan")
    keep = ProfileFactory(environment=environment, traits={"plan": "pro", "seats": 3})
    ProfileFactory(environment=environment, traits={"seats": 1})
    foreign = ProfileFactory(environment=other_environment, traits={"plan": "pro"})
    confirm = owner_client.get(eurl(environment, "traits:delete", pk=trait.pk))
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    unconfirmed = owner_client.post(eurl(environment, "traits:delete", pk=trait.pk))
    assert b"Nothing was changed" in unconfirmed.content
    assert Profile.objects.get(pk=keep.pk).traits == {"plan": "pro", "seats": 3}
    response = owner_client.post(
        eurl(environment, "traits:delete", pk=trait.pk), {"confirm": "yes"}
    )
    assert response.status_code == 302
    assert not Trait.objects.filter(pk=trait.pk).exists()
    assert Profile.objects.get(pk=keep.pk).traits == {"seats": 3}
    assert Profile.objects.get(pk=foreign.pk).traits == {"plan": "pro"}


def test_delete_response_trait_removes_the_answers(owner_client, environment):
    trait = TraitFactory(environment=environment, key="q_nps", scope="response")
    profile = ProfileFactory(environment=environment, traits={"q_nps": "profile value"})
    survey = SurveyFactory(environment=environment)
    response = ResponseFactory(
        survey=survey, profile=profile, environment=environment, data={"q_nps": 9, "q_text": "hi"}
    )
    owner_client.post(eurl(environment, "traits:delete", pk=trait.pk), {"confirm": "yes"})
    assert Response.objects.get(pk=response.pk).data == {"q_text": "hi"}
    # The profile trait of the same key is another definition: untouched.
    assert Profile.objects.get(pk=profile.pk).traits == {"q_nps": "profile value"}


def test_profile_counts_are_computed_in_the_background(owner_client, environment):
    plan = TraitFactory(environment=environment, key="plan")
    unused = TraitFactory(environment=environment, key="unused")
    answer = TraitFactory(environment=environment, key="q1", scope="response")
    a = ProfileFactory(environment=environment, traits={"plan": "pro"})
    ProfileFactory(environment=environment, traits={"plan": "free"})
    survey = SurveyFactory(environment=environment)
    ResponseFactory(survey=survey, profile=a, environment=environment, data={"q1": 1})
    ResponseFactory(survey=survey, profile=a, environment=environment, data={"q1": 2})
    # Not on page load:
    owner_client.get(eurl(environment, "traits:list"))
    plan.refresh_from_db()
    assert plan.profile_count is None
    assert count_trait_profiles.delay(environment.pk).get() == 1
    for trait, expected in ((plan, 2), (unused, 0), (answer, 1)):
        trait.refresh_from_db()
        assert trait.profile_count == expected
        assert trait.profile_count_at is not None
    assert count_trait_profiles() >= 1  # every environment (the beat entry)


def test_traits_list_query_count_is_constant(owner_client, environment):
    def count(n: int) -> int:
        for _ in range(n):
            TraitFactory(environment=environment)
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(eurl(environment, "traits:list")).status_code == 200
        return len(ctx.captured_queries)

    assert count(1) == count(25) <= 8


def test_labels_and_descriptions_render_as_text(owner_client, environment):
    payload = '<img src=x onerror="window.__pwned=1">'
    TraitFactory(environment=environment, key="bio", label=payload, description=payload)
    html = owner_client.get(eurl(environment, "traits:list")).content.decode()
    assert "<img src=x" not in html
    assert html.count("&lt;img src=x") >= 2
    assert not re.search(r"<[^>]*\son[a-z]+=", html)


def test_scope_tabs_filter_the_list(owner_client, environment):
    TraitFactory(environment=environment, key="plan")
    TraitFactory(environment=environment, key="q_answer", scope="response")
    html = owner_client.get(
        eurl(environment, "traits:list"), {"scope": "response"}
    ).content.decode()
    assert "q_answer" in html and ">plan<" not in html
