"""Segments under live data: deleting a segment something else uses, names that differ only in
case, rules JSON no builder sends (Infinity, the last day of the calendar), imports and the
sync API across environments. Each refusal is a clear error that writes nothing, never a 500."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertSubscription
from delivery.factories import web_survey
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments import services
from segments.models import Segment, SegmentMembership
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(environment):
    return services.segment_create(environment=environment, name="Beta", kind="manual")


# --- Deleting a segment that is used ------------------------------------------------------------


@pytest.mark.parametrize("field", ["segments_include", "segments_exclude"])
def test_delete_refused_while_a_surveys_targeting_uses_it(owner_client, environment, manual, field):
    survey = web_survey(environment, name="Onboarding NPS", targeting={field: [manual.pk]})
    confirm = owner_client.get(eurl(environment, "segments:delete", uuid=manual.uuid))
    assert confirm.status_code == 200 and "Onboarding NPS" in confirm.content.decode()
    response = owner_client.post(
        eurl(environment, "segments:delete", uuid=manual.uuid), {"confirm": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert Segment.objects.filter(pk=manual.pk).exists()
    assert "Onboarding NPS" in response.content.decode()
    # The survey's targeting page still shows the segment.
    page = owner_client.get(eurl(environment, "delivery:targeting", uuid=survey.uuid))
    assert page.status_code == 200


def test_delete_refused_while_an_alert_subscription_uses_it(
    owner_client, owner, environment, manual
):
    alert = AlertSubscriptionFactory(
        environment=environment,
        user=owner.user,
        name="Beta sign-ups",
        trigger="segment_entered",
        segment=manual,
    )
    response = owner_client.post(
        eurl(environment, "segments:delete", uuid=manual.uuid), {"confirm": "yes"}, follow=True
    )
    assert Segment.objects.filter(pk=manual.pk).exists()
    assert AlertSubscription.objects.filter(pk=alert.pk).exists()
    assert "Beta sign-ups" in response.content.decode()


def test_delete_of_an_unused_segment_leaves_other_surveys_and_alerts_alone(
    owner_client, owner, environment, manual
):
    other = services.segment_create(environment=environment, name="Other", kind="manual")
    web_survey(environment, targeting={"segments_include": [other.pk]})
    AlertSubscriptionFactory(environment=environment, user=owner.user, segment=other)
    owner_client.post(eurl(environment, "segments:delete", uuid=manual.uuid), {"confirm": "yes"})
    assert not Segment.objects.filter(pk=manual.pk).exists()


def test_reports_with_a_deleted_segment_in_the_url_do_not_fail(owner_client, environment, manual):
    key = manual.pk
    owner_client.post(eurl(environment, "segments:delete", uuid=manual.uuid), {"confirm": "yes"})
    for name in ("surveys:overview", "surveys:responses"):
        assert owner_client.get(eurl(environment, name) + f"?segment={key}").status_code == 200


# --- Names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["beta", "BETA", "  Beta  ", "bEtA"])
def test_a_name_differing_only_in_case_is_refused(owner_client, environment, manual, name):
    other = services.segment_create(environment=environment, name="Gamma", kind="manual")
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=other.uuid), {"name": name, "kind": "manual"}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    other.refresh_from_db()
    assert other.name == "Gamma"
    created = owner_client.post(eurl(environment, "segments:new"), {"name": name, "kind": "manual"})
    assert created.status_code == 400
    assert Segment.objects.filter(environment=environment).count() == 2


def test_a_segment_may_change_the_case_of_its_own_name(owner_client, environment, manual):
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=manual.uuid), {"name": "BETA", "kind": "manual"}
    )
    assert response.status_code == 302
    manual.refresh_from_db()
    assert manual.name == "BETA"


# --- Hostile rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_in_rules_are_a_form_error(owner_client, environment, constant):
    text = (
        '{"op": "and", "conditions": [{"type": "trait", "key": "n", "data_type": "number",'
        f' "operator": "gt", "value": {constant}}}]}}'
    )
    response = owner_client.post(
        eurl(environment, "segments:new"), {"name": "X", "kind": "dynamic", "rules": text}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    assert not Segment.objects.filter(name="X").exists()
    preview = owner_client.post(
        eurl(environment, "segments:preview"), {"rules": text}, headers=HTMX
    )
    assert preview.status_code == 200 and "not valid JSON" in preview.content.decode()


def test_an_infinite_number_given_to_the_service_is_a_validation_error(environment):
    rules = {
        "op": "and",
        "conditions": [
            {
                "type": "trait",
                "key": "n",
                "data_type": "number",
                "operator": "lt",
                "value": float("inf"),
            }
        ],
    }
    with pytest.raises(services.ValidationError) as caught:
        services.segment_create(environment=environment, name="X", rules=rules)
    assert "conditions[0].value" in caught.value.message_dict
    assert not Segment.objects.filter(name="X").exists()


def _date_rule(kind: str, operator: str, value: object) -> dict:
    condition: dict[str, object]
    if kind == "trait":
        condition = {"type": "trait", "key": "d", "data_type": "date"}
    elif kind == "profile":
        condition = {"type": "profile", "field": "last_seen_at"}
    else:
        condition = {"type": "answer", "survey": None, "question": "q", "data_type": "date"}
    return {"op": "and", "conditions": [{**condition, "operator": operator, "value": value}]}


LAST_DAY = "9999-12-31"
FIRST_DAY = "0001-01-01"


@pytest.mark.parametrize("kind", ["trait", "profile", "answer"])
@pytest.mark.parametrize(
    ("operator", "value", "matches"),
    [
        ("on", LAST_DAY, False),
        ("after", LAST_DAY, False),
        ("before", LAST_DAY, True),
        ("between", [FIRST_DAY, LAST_DAY], True),
        ("on", FIRST_DAY, False),
        ("before", FIRST_DAY, False),
        ("after", FIRST_DAY, True),
    ],
)
def test_dates_at_the_ends_of_the_calendar_compute(
    owner_client, environment, django_capture_on_commit_callbacks, kind, operator, value, matches
):
    profile = ProfileFactory(environment=environment, traits={"d": "2026-01-01T10:00:00Z"})
    rules = json.dumps(_date_rule(kind, operator, value))
    preview = owner_client.post(
        eurl(environment, "segments:preview"), {"rules": rules}, headers=HTMX
    )
    assert preview.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # the recompute, inline
        response = owner_client.post(
            eurl(environment, "segments:new"), {"name": "Ends", "kind": "dynamic", "rules": rules}
        )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Ends")
    assert segment.status == "idle", segment.error
    # (Nobody has answered a survey: an answer condition matches nobody.)
    expected = matches and kind != "answer"
    assert SegmentMembership.objects.filter(segment=segment, profile=profile).exists() is expected


# --- Manual imports -----------------------------------------------------------------------------


def _import(client, environment, segment, **data):
    return client.post(eurl(environment, "segments:import", uuid=segment.uuid), data, follow=True)


def _members(segment) -> set[int]:
    return set(SegmentMembership.objects.filter(segment=segment).values_list("profile", flat=True))


@pytest.mark.parametrize(
    "text",
    [
        "u1\ru2\ru3",  # classic Mac OS line endings (Excel's "CSV (Macintosh)")
        "u1\r\nu2\ru3\n",  # mixed
        "u1,u2\ru3\r",
    ],
)
def test_import_with_lone_carriage_returns(owner_client, environment, manual, text):
    ids = {ProfileFactory(environment=environment, user_id=f"u{n}").pk for n in (1, 2, 3)}
    response = _import(owner_client, environment, manual, ids=text)
    assert response.status_code == 200
    assert _members(manual) == ids
    upload = SimpleUploadedFile("members.csv", ("\ufeff" + text).encode(), "text/csv")
    assert _import(owner_client, environment, manual, file=upload).status_code == 200


def test_import_matches_emails_in_any_case_and_ignores_duplicates(
    owner_client, environment, manual
):
    alice = ProfileFactory(environment=environment, email="alice@acme.test")
    response = _import(
        owner_client, environment, manual, ids="ALICE@acme.test\nalice@ACME.test\nalice@acme.test"
    )
    assert "1 added." in response.content.decode()
    assert _members(manual) == {alice.pk}
    manual.refresh_from_db()
    assert manual.member_count == 1


def test_import_never_adds_another_environments_users(
    owner_client, environment, other_environment, manual
):
    ProfileFactory(environment=other_environment, user_id="theirs", email="them@globex.test")
    response = _import(owner_client, environment, manual, ids="theirs,them@globex.test")
    assert _members(manual) == set()
    assert "2 not found" in response.content.decode()


def test_an_import_longer_than_the_limit_is_refused_not_cut(owner_client, environment, manual):
    last = ProfileFactory(environment=environment, user_id="last")
    first = ProfileFactory(environment=environment, user_id="first")
    values = ["first", *(f"nobody-{n}" for n in range(services.IMPORT_LIMIT - 1)), "last"]
    response = _import(owner_client, environment, manual, ids="\n".join(values))
    assert response.status_code == 200
    assert "100,000" in response.content.decode()
    assert _members(manual) == set()  # nothing written, rather than all but the end
    # At the limit, every value is read.
    services.segment_members_import(segment=manual, data="\n".join(values[1:]))
    assert _members(manual) == {last.pk}
    assert first.pk not in _members(manual)


# --- The sync-segment API -----------------------------------------------------------------------


def test_sync_with_another_environments_segment_is_404_and_writes_nothing(
    api, environment, other_environment
):
    theirs = services.segment_create(environment=other_environment, name="Theirs", kind="manual")
    mine = ProfileFactory(environment=environment, user_id="known")
    added = api.post("/api/v1/sync-segment", {"segment": str(theirs.uuid), "id": "brand-new"})
    assert added.status_code == 404
    known = api.post("/api/v1/sync-segment", {"segment": str(theirs.uuid), "id": "known"})
    assert known.status_code == 404
    removed = api.delete("/api/v1/sync-segment", {"segment": str(theirs.uuid), "id": "known"})
    assert removed.status_code == 404
    assert not Profile.objects.filter(user_id="brand-new").exists()
    assert not SegmentMembership.objects.exists()
    theirs.refresh_from_db()
    assert theirs.member_count == 0 and mine.segment_memberships.count() == 0


# --- Kind ---------------------------------------------------------------------------------------


def test_changing_a_segments_kind_is_a_form_error_not_a_silent_save(
    owner_client, environment, manual
):
    rules = {
        "op": "and",
        "conditions": [{"type": "profile", "field": "identified", "operator": "is_true"}],
    }
    response = owner_client.post(
        eurl(environment, "segments:edit", uuid=manual.uuid),
        {"name": "Beta", "kind": "dynamic", "rules": json.dumps(rules)},
    )
    assert response.status_code == 400
    assert "kind cannot be changed" in response.content.decode()
    manual.refresh_from_db()
    assert manual.kind == "manual" and manual.rules == {}
