"""Segment pages: access (anonymous, outsider, analyst), htmx fragments, query counts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments import services
from segments.membership import member_ids, members_filter
from segments.models import Segment, SegmentMembership, SegmentMembershipChange
from surveys.factories import ResponseFactory, SurveyFactory
from surveys.models import Response
from tests.helpers import HTMX, eurl
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db

PRO = {
    "op": "and",
    "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
}


@pytest.fixture
def plan(environment):
    return TraitFactory(environment=environment, key="plan", data_type="string", scope="profile")


@pytest.fixture
def dynamic(environment, plan):
    return services.segment_create(environment=environment, name="Pro", kind="dynamic", rules=PRO)


@pytest.fixture
def manual(environment):
    return services.segment_create(environment=environment, name="Beta", kind="manual")


def test_pages_need_login_and_membership(client, outsider_client, environment, dynamic):
    for name, kwargs in [("list", {}), ("new", {}), ("detail", {"uuid": dynamic.uuid})]:
        target = eurl(environment, f"segments:{name}", **kwargs)
        assert client.get(target).status_code == 302
        assert outsider_client.get(target).status_code == 404


def test_outsider_cannot_reach_a_segment_through_own_environment(
    outsider_client, outsider, dynamic
):
    target = reverse(
        "segments:detail", kwargs={"env": outsider.environment.slug, "uuid": dynamic.uuid}
    )
    assert outsider_client.get(target).status_code == 404


def test_list_shows_counts_with_constant_queries(
    owner_client, environment, plan, django_assert_max_num_queries
):
    for i in range(3):
        services.segment_create(environment=environment, name=f"S{i}", kind="dynamic", rules=PRO)
    owner_client.get(eurl(environment, "segments:list"))  # warm the session
    with django_assert_max_num_queries(8):
        response = owner_client.get(eurl(environment, "segments:list"))
    assert response.status_code == 200
    assert b"S0" in response.content and b"S2" in response.content
    for i in range(10):
        services.segment_create(environment=environment, name=f"T{i}", kind="manual")
    with django_assert_max_num_queries(8):
        owner_client.get(eurl(environment, "segments:list"))


def test_detail_lists_members_with_panel_links(
    owner_client, environment, manual, django_assert_max_num_queries
):
    profiles = [ProfileFactory(environment=environment) for _ in range(5)]
    services.segment_members_add(segment=manual, profile_ids=[p.pk for p in profiles])
    owner_client.get(eurl(environment, "segments:detail", uuid=manual.uuid))
    with django_assert_max_num_queries(9):
        response = owner_client.get(eurl(environment, "segments:detail", uuid=manual.uuid))
    content = response.content.decode()
    assert response.status_code == 200
    for p in profiles:
        assert str(p.uuid) in content
    assert 'hx-target="#panel"' in content
    # The members fragment alone (htmx reload after "segmentRecomputed").
    response = owner_client.get(
        eurl(environment, "segments:detail", uuid=manual.uuid),
        headers={**HTMX, "HX-Target": "members"},
    )
    assert response.content.decode().lstrip().startswith('<div id="members"')


def test_members_pagination_is_keyset(owner_client, environment, manual):

    profiles = [ProfileFactory(environment=environment) for _ in range(60)]
    base = timezone.now()
    SegmentMembership.objects.bulk_create(
        [
            SegmentMembership(segment=manual, profile=p, since=base - dt.timedelta(minutes=i))
            for i, p in enumerate(profiles)
        ]
    )
    first = owner_client.get(eurl(environment, "segments:detail", uuid=manual.uuid))
    cursor = first.context["next_cursor"]
    assert cursor and len(first.context["members"]) == 50
    second = owner_client.get(
        eurl(environment, "segments:detail", uuid=manual.uuid), {"after": cursor}
    )
    assert len(second.context["members"]) == 10
    assert not second.context["next_cursor"]
    shown = {m.profile_id for m in first.context["members"]} | {
        m.profile_id for m in second.context["members"]
    }
    assert shown == {p.pk for p in profiles}


@pytest.mark.parametrize(
    "cursor", ["garbage", "2026-01-01T00:00:00_1", "1.99999999999999999999", "9" * 5000]
)
def test_members_page_with_a_bad_cursor_is_the_first_page(
    owner_client, environment, manual, cursor
):
    profile = ProfileFactory(environment=environment)
    services.segment_members_add(segment=manual, profile_ids=[profile.pk])
    response = owner_client.get(
        eurl(environment, "segments:detail", uuid=manual.uuid), {"after": cursor}
    )
    assert response.status_code == 200
    assert [m.profile_id for m in response.context["members"]] == [profile.pk]


def test_create_dynamic_segment_from_builder(owner_client, environment, plan):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    response = owner_client.get(eurl(environment, "segments:new"))
    assert response.status_code == 200
    assert b'id="segment-builder-data"' in response.content
    assert b"<script>" not in response.content  # CSP: data by json_script, code from static
    response = owner_client.post(
        eurl(environment, "segments:new"),
        {"name": "Pros", "kind": "dynamic", "rules": json.dumps(PRO), "description": ""},
    )
    segment = Segment.objects.get(environment=environment, name="Pros")
    assert response.status_code == 302
    assert response["Location"] == eurl(environment, "segments:detail", uuid=segment.uuid)
    assert segment.rules == PRO


def test_builder_reports_the_condition_at_fault(owner_client, environment, plan):
    bad = {"op": "and", "conditions": [PRO["conditions"][0], {"type": "event", "event": "x"}]}
    response = owner_client.post(
        eurl(environment, "segments:new"),
        {"name": "Bad", "kind": "dynamic", "rules": json.dumps(bad)},
    )
    assert response.status_code == 400
    assert b"conditions[1].operator" in response.content
    assert not Segment.objects.filter(name="Bad").exists()


def test_analyst_reads_but_cannot_change(analyst_client, environment, dynamic, manual):
    assert analyst_client.get(eurl(environment, "segments:list")).status_code == 200
    assert (
        analyst_client.get(eurl(environment, "segments:detail", uuid=dynamic.uuid)).status_code
        == 200
    )
    posts = [
        eurl(environment, "segments:new"),
        eurl(environment, "segments:preview"),
        eurl(environment, "segments:recompute", uuid=dynamic.uuid),
        eurl(environment, "segments:delete", uuid=dynamic.uuid),
        eurl(environment, "segments:edit", uuid=dynamic.uuid),
        eurl(environment, "segments:import", uuid=manual.uuid),
        eurl(environment, "segments:members", uuid=manual.uuid),
    ]
    for target in posts:
        assert analyst_client.post(target, {"name": "x", "confirm": "yes"}).status_code == 403, (
            target
        )
    assert Segment.objects.filter(pk=dynamic.pk).exists()


def test_preview_counts_and_samples(owner_client, environment, plan):
    a = ProfileFactory(environment=environment, traits={"plan": "pro"})
    ProfileFactory(environment=environment, traits={"plan": "free"})
    response = owner_client.post(
        eurl(environment, "segments:preview"), {"rules": json.dumps(PRO)}, headers=HTMX
    )
    assert response.status_code == 200
    content = response.content.decode()
    # The content only: the page's #preview element stays and takes it (innerHTML).
    assert 'id="preview"' not in content and "user match now" in content
    assert '<span class="value">1</span> <span class="muted">user match now' in content
    assert str(a.uuid) in content
    response = owner_client.post(
        eurl(environment, "segments:preview"),
        {"rules": json.dumps({"op": "xor", "conditions": []})},
        headers=HTMX,
    )
    assert b'data-path="op"' in response.content


def test_recompute_now_updates_status_and_triggers_event(owner_client, environment, dynamic):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    response = owner_client.post(
        eurl(environment, "segments:recompute", uuid=dynamic.uuid), headers=HTMX
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="status"')
    dynamic.refresh_from_db()
    assert dynamic.version >= 2


def test_status_polls_while_queued_and_announces_the_end(owner_client, environment, dynamic):
    Segment.objects.filter(pk=dynamic.pk).update(status="queued")
    response = owner_client.get(
        eurl(environment, "segments:status", uuid=dynamic.uuid), headers=HTMX
    )
    assert b'hx-trigger="every 2s"' in response.content
    Segment.objects.filter(pk=dynamic.pk).update(status="idle")
    response = owner_client.get(
        eurl(environment, "segments:status", uuid=dynamic.uuid), {"was": "queued"}, headers=HTMX
    )
    assert b"every 2s" not in response.content
    assert "segmentRecomputed" in response["HX-Trigger"]


def test_import_csv_file(owner_client, environment, manual):

    a = ProfileFactory(environment=environment, user_id="u-1")
    b = ProfileFactory(environment=environment, email="b@example.test", user_id="zz")
    upload = SimpleUploadedFile("ids.csv", b"u-1\nb@example.test\nnobody\n", "text/csv")
    response = owner_client.post(
        eurl(environment, "segments:import", uuid=manual.uuid), {"file": upload}
    )
    assert response.status_code == 302
    assert set(manual.memberships.values_list("profile_id", flat=True)) == {a.pk, b.pk}


def test_users_list_bulk_add_and_remove(owner_client, environment, manual, other_environment):
    mine = [ProfileFactory(environment=environment) for _ in range(2)]
    foreign = ProfileFactory(environment=other_environment)
    target = eurl(environment, "segments:members", uuid=manual.uuid)
    response = owner_client.post(
        target, {"action": "add", "profile": [str(p.uuid) for p in [*mine, foreign]]}, headers=HTMX
    )
    assert response.status_code == 200
    assert "segmentMembershipChanged" in response["HX-Trigger"]
    assert set(manual.memberships.values_list("profile_id", flat=True)) == {p.pk for p in mine}
    owner_client.post(target, {"action": "remove", "profile": [str(mine[0].uuid)]})
    assert set(manual.memberships.values_list("profile_id", flat=True)) == {mine[1].pk}


def test_bulk_remove_takes_the_same_queries_for_one_member_or_many(
    owner_client, environment, manual
):

    target = eurl(environment, "segments:members", uuid=manual.uuid)

    def remove(n: int) -> int:
        profiles = [ProfileFactory(environment=environment) for _ in range(n)]
        services.segment_members_add(segment=manual, profile_ids=[p.pk for p in profiles])
        uuids = [str(p.uuid) for p in profiles]
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.post(target, {"action": "remove", "profile": uuids})
        assert response.status_code == 302
        assert not manual.memberships.filter(profile__in=profiles).exists()
        left = SegmentMembershipChange.objects.filter(
            segment=manual, profile__in=profiles, change="left"
        )
        assert left.count() == n  # one history row each, as a removal one by one wrote
        return len(queries)

    assert remove(1) == remove(25)
    manual.refresh_from_db()
    assert manual.member_count == 0


def test_delete_refused_while_used_by_another_segment(owner_client, environment, manual):
    services.segment_create(
        environment=environment,
        name="Uses beta",
        kind="dynamic",
        rules={
            "op": "and",
            "conditions": [{"type": "segment", "segment": str(manual.uuid), "operator": "in"}],
        },
    )
    owner_client.post(eurl(environment, "segments:delete", uuid=manual.uuid), {"confirm": "yes"})
    assert Segment.objects.filter(pk=manual.pk).exists()


def test_delete_asks_first_then_deletes(owner_client, analyst_client, environment, manual):
    target = eurl(environment, "segments:delete", uuid=manual.uuid)
    page = owner_client.get(eurl(environment, "segments:detail", uuid=manual.uuid)).content.decode()
    # The opener leads to the confirmation page without JavaScript, the <dialog> with it.
    assert f'href="{target}" data-dialog-open="delete-segment"' in page
    assert '<dialog id="delete-segment"' in page and "data-confirm" not in page
    confirm = owner_client.get(target)
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    unconfirmed = owner_client.post(target)
    assert b"Nothing was changed" in unconfirmed.content
    assert Segment.objects.filter(pk=manual.pk).exists()
    # An analyst's GET goes back to the segment's page.
    assert analyst_client.get(target)["Location"] == eurl(
        environment, "segments:detail", uuid=manual.uuid
    )
    response = owner_client.post(target, {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == eurl(
        environment, "segments:list"
    )
    assert not Segment.objects.filter(pk=manual.pk).exists()


def test_edit_rules_requeues(owner_client, environment, dynamic):
    version = dynamic.version
    rules = {"op": "or", "conditions": PRO["conditions"]}
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=dynamic.uuid),
        {"name": "Pro", "rules": json.dumps(rules), "kind": "dynamic"},
    )
    assert response.status_code == 302
    dynamic.refresh_from_db()
    assert dynamic.rules == rules and dynamic.version == version + 1


def test_members_filter_keeps_the_members_rows(environment, manual):

    inside = ProfileFactory(environment=environment)
    outside = ProfileFactory(environment=environment)
    services.segment_members_add(segment=manual, profile_ids=[inside.pk])
    survey = SurveyFactory(environment=environment)
    mine = ResponseFactory(profile=inside, survey=survey)
    ResponseFactory(profile=outside, survey=survey)
    profiles = Profile.objects.filter(environment=environment)
    assert list(profiles.filter(members_filter(manual))) == [inside]
    assert list(profiles.filter(members_filter(manual.pk))) == [inside]
    assert list(Response.objects.filter(members_filter(manual, profile="profile_id"))) == [mine]
    assert list(member_ids(segment=manual)) == [inside.pk]
