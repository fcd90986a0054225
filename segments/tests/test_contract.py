"""Segments' contract: create with validation, manual membership, the panel fragment."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from profiles.factories import ProfileFactory
from segments import services
from segments.models import Segment, SegmentMembership, SegmentMembershipChange
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db


def fragment_url(environment, profile) -> str:
    return reverse(
        "segments:profile_segments", kwargs={"env": environment.slug, "profile_uuid": profile.uuid}
    )


def test_create_rejects_invalid_rules_naming_the_condition(environment):
    rules = {
        "op": "and",
        "conditions": [
            {"type": "trait", "key": "plan", "operator": "equals", "value": "pro"},
            {"type": "trait", "key": "age", "data_type": "number", "operator": "gt", "value": "x"},
        ],
    }
    with pytest.raises(ValidationError) as info:
        services.segment_create(environment=environment, name="Bad", kind="dynamic", rules=rules)
    assert "conditions[1].value" in info.value.message_dict
    assert not Segment.objects.exists()


def test_create_nested_error_path(environment):
    rules = {
        "op": "or",
        "conditions": [
            {"op": "and", "conditions": [{"type": "event", "event": "", "operator": "at_least"}]}
        ],
    }
    with pytest.raises(ValidationError) as info:
        services.segment_create(environment=environment, name="Bad", kind="dynamic", rules=rules)
    assert "conditions[0].conditions[0].event" in info.value.message_dict
    assert "conditions[0].conditions[0].count" in info.value.message_dict


def test_manual_member_add_and_remove_record_history(environment):
    segment = services.segment_create(environment=environment, name="VIP", kind="manual")
    profile = ProfileFactory(environment=environment)
    assert services.segment_member_add(segment=segment, profile=profile) is True
    assert services.segment_member_add(segment=segment, profile=profile) is False
    segment.refresh_from_db()
    assert segment.member_count == 1
    assert services.segment_member_remove(segment=segment, profile=profile) is True
    assert services.segment_member_remove(segment=segment, profile=profile) is False
    segment.refresh_from_db()
    assert segment.member_count == 0
    changes = list(
        SegmentMembershipChange.objects.filter(segment=segment).values_list("change", flat=True)
    )
    assert sorted(changes) == ["entered", "left"]


def test_member_add_refuses_other_environment(environment, other_environment):
    segment = services.segment_create(environment=environment, name="VIP", kind="manual")
    stranger = ProfileFactory(environment=other_environment)
    with pytest.raises(ValidationError):
        services.segment_member_add(segment=segment, profile=stranger)


def test_profile_segments_fragment_lists_and_adds(owner_client, environment):
    segment = services.segment_create(environment=environment, name="VIP", kind="manual")
    profile = ProfileFactory(environment=environment)
    url = fragment_url(environment, profile)
    response = owner_client.get(url, headers=HTMX)
    assert response.status_code == 200
    assert b"Not in any segment" in response.content
    assert b"Add to segment" in response.content
    response = owner_client.post(url, {"action": "add", "segment": str(segment.uuid)}, headers=HTMX)
    assert response.status_code == 200
    assert b"VIP" in response.content and b"Remove" in response.content
    assert "segmentMembershipChanged" in response["HX-Trigger"]
    assert SegmentMembership.objects.filter(segment=segment, profile=profile).exists()
    response = owner_client.post(
        url, {"action": "remove", "segment": str(segment.uuid)}, headers=HTMX
    )
    assert not SegmentMembership.objects.filter(segment=segment, profile=profile).exists()


def test_profile_segments_fragment_permissions(
    client, analyst_client, outsider_client, environment
):
    segment = services.segment_create(environment=environment, name="VIP", kind="manual")
    profile = ProfileFactory(environment=environment)
    url = fragment_url(environment, profile)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    assert outsider_client.get(url).status_code == 404
    assert analyst_client.get(url).status_code == 200
    response = analyst_client.post(url, {"action": "add", "segment": str(segment.uuid)})
    assert response.status_code == 403
    assert not SegmentMembership.objects.exists()
