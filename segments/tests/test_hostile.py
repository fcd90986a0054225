"""Hostile input to the segment pages: rules nested thousands deep, very long rules, ids that
are not uuids. Each is a 4xx or a form error naming what is wrong, writes nothing, and is
never a 500."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from profiles.factories import ProfileFactory
from segments import services
from segments.models import Segment, SegmentMembership
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    return '{"op": "and", "conditions": [' * depth + "]}" * depth


@pytest.fixture
def manual(environment):
    return services.segment_create(environment=environment, name="Beta", kind="manual")


@pytest.mark.parametrize("depth", [2000, 900, 7])
def test_deeply_nested_rules_are_a_form_error(owner_client, environment, depth):
    response = owner_client.post(
        eurl(environment, "segments:new"),
        {"name": "Deep", "kind": "dynamic", "rules": nested(depth)},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "nested" in content and "at most 5 deep" in content
    assert not Segment.objects.filter(name="Deep").exists()
    preview = owner_client.post(
        eurl(environment, "segments:preview"), {"rules": nested(depth)}, headers=HTMX
    )
    assert preview.status_code == 200
    assert "at most 5 deep" in preview.content.decode()
    assert "match now" not in preview.content.decode()  # nothing counted


def test_deep_rules_on_edit_keep_the_stored_rules(owner_client, environment):
    segment = services.segment_create(environment=environment, name="S", kind="dynamic")
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=segment.uuid),
        {"name": "S", "kind": "dynamic", "rules": nested(3000)},
    )
    assert response.status_code == 400
    segment.refresh_from_db()
    assert segment.rules == {"op": "and", "conditions": []}


def test_rules_too_long_or_not_json(owner_client, environment):
    long = json.dumps({"op": "and", "conditions": [], "pad": "x" * 200_000})
    for rules, message in [(long, "longer than"), ("{not json", "not valid JSON")]:
        response = owner_client.post(
            eurl(environment, "segments:preview"), {"rules": rules}, headers=HTMX
        )
        assert response.status_code == 200
        assert message in response.content.decode()


def test_stored_rules_nested_deep_do_not_break_pages_or_recompute(owner_client, environment):

    segment = services.segment_create(environment=environment, name="S", kind="dynamic")
    with connection.cursor() as cursor:  # around the builder (the admin, a script)
        cursor.execute(
            "UPDATE segments_segment SET rules = %s::jsonb WHERE id = %s", [nested(300), segment.pk]
        )
    ProfileFactory(environment=environment)
    result = services.segment_recompute(segment_id=segment.pk)
    assert result.member_count == 0
    response = owner_client.get(eurl(environment, "segments:detail", uuid=segment.uuid))
    assert response.status_code == 200
    assert "nested at most 5 deep" in response.content.decode()
    assert (
        owner_client.get(eurl(environment, "segments:edit", uuid=segment.uuid)).status_code == 200
    )


@pytest.mark.parametrize(
    "value",
    ["not-a-uuid", "", pytest.param("1" * 5000, id="5000-digits"), "00000000-0000-0000-0000"],
)
def test_panel_post_with_a_segment_that_is_not_a_uuid(owner_client, environment, manual, value):
    profile = ProfileFactory(environment=environment)
    target = eurl(environment, "segments:profile_segments", profile_uuid=profile.uuid)
    for headers in ({}, HTMX):
        response = owner_client.post(target, {"action": "add", "segment": value}, headers=headers)
        assert response.status_code == 404
    assert not SegmentMembership.objects.exists()


def test_panel_post_with_an_unknown_action(owner_client, environment, manual):
    profile = ProfileFactory(environment=environment)
    target = eurl(environment, "segments:profile_segments", profile_uuid=profile.uuid)
    response = owner_client.post(target, {"action": "steal", "segment": str(manual.uuid)})
    assert response.status_code == 400
    assert not SegmentMembership.objects.exists()


@pytest.mark.parametrize(
    "value", ["not-a-uuid", pytest.param("1" * 5000, id="5000-digits"), "' OR 1=1 --"]
)
def test_members_post_with_a_profile_that_is_not_a_uuid(owner_client, environment, manual, value):
    good = ProfileFactory(environment=environment)
    response = owner_client.post(
        eurl(environment, "segments:members", uuid=manual.uuid),
        {"action": "add", "profile": [str(good.uuid), value]},
    )
    assert response.status_code == 400
    assert response.content.decode().startswith("profile:")
    assert not SegmentMembership.objects.exists()
    response = owner_client.post(
        eurl(environment, "segments:members", uuid=manual.uuid),
        {"action": "nope", "profile": [str(good.uuid)]},
    )
    assert response.status_code == 400
    assert not SegmentMembership.objects.exists()


def test_preview_with_a_segment_that_is_not_a_uuid(owner_client, environment):
    response = owner_client.post(
        eurl(environment, "segments:preview"), {"segment": "nope", "rules": ""}, headers=HTMX
    )
    assert response.status_code == 404


# --- NUL characters (PostgreSQL text and jsonb cannot hold one: each was a 500) ---------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": "Seg\x00x"}, "name"),
        ({"name": "Seg", "description": "d\x00"}, "description"),
    ],
)
def test_nul_in_a_new_segments_text_is_a_form_error(owner_client, environment, fields, named):
    for kind in ("manual", "dynamic"):
        response = owner_client.post(eurl(environment, "segments:new"), {"kind": kind, **fields})
        assert response.status_code == 400
        assert f'data-path="{named}"' in response.content.decode()
        assert f"The {named} cannot contain a NUL character." in response.content.decode()
    assert not Segment.objects.exists()


def test_nul_in_a_renamed_segment_is_a_form_error_and_changes_nothing(
    owner_client, environment, manual
):
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=manual.uuid),
        {"name": "Renamed\x00", "description": "new"},
    )
    assert response.status_code == 400
    assert "The name cannot contain a NUL character." in response.content.decode()
    manual.refresh_from_db()
    assert (manual.name, manual.description) == ("Beta", "")


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (
            {
                "op": "and",
                "conditions": [
                    {"type": "trait", "key": "plan", "operator": "equals", "value": "pro\x00"}
                ],
            },
            "conditions[0].value",
        ),
        (
            {
                "op": "and",
                "conditions": [{"type": "trait", "key": "pl\x00an", "operator": "is_set"}],
            },
            "conditions[0].key",
        ),
        ({"op": "and", "conditions": [], "x\x00": 1}, "rules"),
    ],
)
def test_nul_in_rules_is_a_form_error_naming_the_condition(owner_client, environment, rules, path):
    response = owner_client.post(
        eurl(environment, "segments:new"),
        {"name": "S", "kind": "dynamic", "rules": json.dumps(rules)},
    )
    assert response.status_code == 400
    assert f'data-path="{path}"' in response.content.decode()
    assert not Segment.objects.exists()
    preview = owner_client.post(
        eurl(environment, "segments:preview"), {"rules": json.dumps(rules)}, headers=HTMX
    )
    assert preview.status_code == 200
    assert "A rule cannot contain a NUL character." in preview.content.decode()


def test_nul_in_imported_ids_refuses_the_import_naming_the_line(owner_client, environment, manual):
    ProfileFactory(environment=environment, user_id="u1")
    response = owner_client.post(
        eurl(environment, "segments:import", uuid=manual.uuid), {"ids": "u1\nu2\x00"}, follow=True
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        "Nothing was imported: a NUL character is not allowed in an id or email (line 2)." in text
    )
    assert not SegmentMembership.objects.exists()


def test_an_error_on_the_segments_name_is_labelled_name_not_rules(owner_client, environment):
    """The builder's error list put every error without a place in the rules under "Rules"
    ("Rules: Enter a name.")."""
    response = owner_client.post(eurl(environment, "segments:new"), {"kind": "manual", "name": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<li data-path="name" data-message="Enter a name.">Name: Enter a name.</li>' in html
