"""Export (right of access) and erasure (right to erasure) of one contact."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.test import Client, RequestFactory

from alerts.models import AlertSent
from delivery.models import AnswerReceipt
from governance.erasure import erase_contact, erasures_matching, identifier_hash
from governance.models import AuditEntry, ErasureLog
from imports.models import RejectedRow
from profiles.models import Profile
from segments.models import DirtyProfile, Segment
from surveys.report_rollup import response_stats_rollup
from tests.api_helpers import ApiClient, new_key
from tests.helpers import HTMX, eurl
from webhooks.factories import WebhookEndpointFactory
from webhooks.models import Delivery, OutboxEvent


def _export(client, environment, profile) -> dict:
    response = client.get(eurl(environment, "governance:contact_export", uuid=profile.uuid))
    assert response.status_code == 200
    assert response.streaming
    assert "attachment" in response["Content-Disposition"]
    return json.loads(b"".join(response.streaming_content))


def _foreign_keys_to_profile() -> list[tuple[Any, Any]]:
    """Every (model, field) with a foreign key to Profile, from the app registry (not a list)."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if (
                field.concrete
                and field.is_relation
                and (field.many_to_one or field.one_to_one)
                and field.related_model is Profile
            ):
                found.append((model, field))
    return found


def _database_foreign_keys_to_profile() -> list[tuple[str, str]]:
    """(table, column) of every foreign-key constraint on profiles_profile in PostgreSQL,
    including tables Django does not model."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, a.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'f' AND c.confrelid = 'profiles_profile'::regclass
            """
        )
        return cursor.fetchall()


# --- Export ---------------------------------------------------------------------------------------


def test_export_contains_everything_held_on_the_contact(owner_client, environment, contact):
    profile = contact["profile"]
    document = _export(owner_client, environment, profile)

    assert document["format"] == "hark.contact-export/1"
    assert document["profile"]["uuid"] == str(profile.uuid)
    assert document["profile"]["email"] == "lee@example.com"
    assert document["traits"] == {"name": "Lee Example", "plan": "pro"}
    assert sorted(e["properties"]["n"] for e in document["events"]) == [0, 1, 2]
    assert {e["event"] for e in document["events"]} == {"signed_in"}
    # Responses: question titles and answer labels (as the Response List reads them), and the
    # survey displays (the view-only response, show counts).
    by_uuid = {r["uuid"]: r for r in document["responses"]}
    answered = by_uuid[str(contact["responses"][0].uuid)]
    answers = {a["question_key"]: a for a in answered["answers"]}
    assert answers["score"]["question_title"] == "How likely?"
    assert answers["score"]["value"] == 9 and answers["score"]["label"] == "9"
    assert answers["why"] == {
        "question_key": "why",
        "question_title": "Why?",
        "value": "Speed",
        "label": "Speed",
    }
    assert answered["survey_name"] == "NPS survey" and answered["status"] == "completed"
    displayed = by_uuid[str(contact["responses"][1].uuid)]
    assert displayed["status"] == "view" and displayed["display"]["show_count"] == 2
    # Memberships and their history.
    assert [m["segment_name"] for m in document["segment_memberships"]] == ["Beta"]
    history = [(h["segment_name"], h["change"]) for h in document["segment_membership_history"]]
    assert ("Beta", "entered") in history
    assert ("Was beta", "entered") in history and ("Was beta", "left") in history
    # Every other table that refers to the contact, found by foreign key: receipts (via the
    # response), monthly activity, the pending webhook.
    other = document["other_records"]
    assert other["profiles.MonthlyActivity"][0]["month"]
    assert other["governance.PendingWebhook"][0]["payload"]["event"] == "segment.entered"
    receipts = next(v for k, v in other.items() if k.startswith("delivery.AnswerReceipt"))
    assert receipts[0]["key"] == "k-1"
    assert document["other_references"]["test.webhook_payloads"][0]["payload"]["event"] == (
        "contact.deleted"
    )
    alerts = document["other_references"]["alerts.AlertSent"]
    assert [a["object_id"] for a in alerts] == [contact["responses"][0].pk]
    rejected = document["other_references"]["imports.RejectedRow (values naming the contact)"]
    assert [r["row"] for r in rejected] == [1, 2]
    # Nothing about the bystander.
    assert "sam@example.com" not in json.dumps(document)


def test_export_covers_every_table_that_references_profiles(owner_client, environment, contact):
    """A table with a foreign key to profiles (any, found in the registry) is in the export."""
    document = _export(owner_client, environment, contact["profile"])
    sections = {
        "events.Event": "events",
        "surveys.Response": "responses",
        "segments.SegmentMembership": "segment_memberships",
        "segments.SegmentMembershipChange": "segment_membership_history",
    }
    for model, _field in _foreign_keys_to_profile():
        label = model._meta.label
        assert sections.get(label) in document or label in document["other_records"], label


def test_export_is_audited(owner_client, owner, environment, contact):
    _export(owner_client, environment, contact["profile"])
    entry = AuditEntry.objects.get(action="contact.export")
    assert entry.actor == owner.user and entry.environment == environment
    assert entry.ip == "127.0.0.1"


def test_analyst_may_export_but_not_erase(analyst_client, environment, contact):
    _export(analyst_client, environment, contact["profile"])
    url = eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid)
    assert analyst_client.get(url).status_code == 403
    assert analyst_client.post(url, {"confirm": "yes"}).status_code == 403
    assert Profile.objects.filter(pk=contact["profile"].pk).exists()


def test_other_environment_contact_is_404(outsider_client, environment, other_environment, contact):
    profile = contact["profile"]
    for name in ("governance:contact_export", "governance:contact_erase"):
        # The outsider's own environment with this environment's contact: 404.
        url = eurl(other_environment, name, uuid=profile.uuid)
        assert outsider_client.get(url).status_code == 404
        if name.endswith("erase"):
            assert outsider_client.post(url, {"confirm": "yes"}).status_code == 404
        # This environment: not a member, 404.
        assert outsider_client.get(eurl(environment, name, uuid=profile.uuid)).status_code == 404
    assert Profile.objects.filter(pk=profile.pk).exists()


# --- Export API ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["id", "email", "uuid"])
def test_api_export_by_each_identifier(environment, contact, by):
    api = ApiClient(new_key(environment))
    profile = contact["profile"]
    value = {"id": profile.user_id, "email": "LEE@example.com", "uuid": str(profile.uuid)}[by]
    response = api.get("/api/v1/contact/export", {by: value})
    assert response.status_code == 200
    document = json.loads(b"".join(response.streaming_content))
    assert document["profile"]["uuid"] == str(profile.uuid)
    assert len(document["events"]) == 3
    entry = AuditEntry.objects.get(action="contact.export")
    assert entry.actor is None and entry.actor_label.startswith("API key hark_sk_")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "id"),
        ({"id": "u-42", "email": "lee@example.com"}, "email"),
        ({"id": "u-42", "uuid": "00000000-0000-0000-0000-000000000000"}, "uuid"),
        ({"uuid": "not-a-uuid"}, "uuid"),
    ],
)
def test_api_export_needs_exactly_one_identifier(environment, contact, params, field):
    api = ApiClient(new_key(environment))
    response = api.get("/api/v1/contact/export", params)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field
    assert not AuditEntry.objects.filter(action="contact.export").exists()


def test_api_export_of_another_environments_contact_is_404(other_environment, contact):
    api = ApiClient(new_key(other_environment))
    response = api.get("/api/v1/contact/export", {"uuid": str(contact["profile"].uuid)})
    assert response.status_code == 404
    assert api.get("/api/v1/contact/export", {"email": "lee@example.com"}).status_code == 404


def test_api_export_needs_a_key(contact):

    response = Client().get("/api/v1/contact/export", {"id": "u-42"})
    assert response.status_code == 401


# --- Erasure ------------------------------------------------------------------------------------


def _overview_and_list(client, environment) -> tuple[dict, dict]:
    overview = client.get(eurl(environment, "surveys:overview"))
    surveys = client.get(eurl(environment, "surveys:list"))
    assert overview.status_code == 200 and surveys.status_code == 200
    figures = overview.context["figures"]
    listed = {
        s.pk: {k: s.figures[k] for k in ("views", "responses", "completed", "dismissed")}
        for s in surveys.context["surveys"]
    }
    cards = {k: figures[k] for k in ("views", "responses", "completed", "dismissed", "nps")}
    return cards, listed


def test_erasure_confirmation_names_what_goes(owner_client, environment, contact):
    url = eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid)
    page = owner_client.get(url)
    assert page.status_code == 200
    counts = dict(page.context["plan"].rows())
    assert counts["events.Event"] == 3
    assert counts["surveys.Response"] == 2
    assert counts["segments.SegmentMembership"] == 1
    assert counts["segments.SegmentMembershipChange"] == 3
    assert counts["governance.PendingWebhook"] == 1
    assert counts["webhooks.OutboxEvent"] == 1
    assert counts["test.webhook_payloads"] == 1
    assert b"Erase this contact" in page.content
    # A POST without the confirmation changes nothing.
    assert owner_client.post(url).status_code == 200
    assert Profile.objects.filter(pk=contact["profile"].pk).exists()


@pytest.mark.parametrize("rolled_up", [False, True])
def test_erasure_leaves_no_reference_and_keeps_the_totals(
    owner_client, owner, environment, contact, rolled_up
):
    profile = contact["profile"]
    pk, email = profile.pk, profile.email
    response_ids = [r.pk for r in contact["responses"]]
    if rolled_up:
        response_stats_rollup(environment_id=environment.pk)
    before = _overview_and_list(owner_client, environment)
    members_before = Segment.objects.get(pk=contact["segment"].pk).member_count

    url = eurl(environment, "governance:contact_erase", uuid=profile.uuid)
    answer = owner_client.post(url, {"confirm": "yes"})
    assert answer.status_code == 302

    # No row of any table with a foreign key to profiles refers to the contact (the registry
    # walk, then PostgreSQL's own constraints, which also see tables Django does not model).
    checked = set()
    for model, field in _foreign_keys_to_profile():
        assert not model._base_manager.filter(**{field.attname: pk}).exists(), model
        checked.add(model._meta.label)
    assert {
        "events.Event",
        "surveys.Response",
        "segments.SegmentMembershipChange",
        "governance.PendingWebhook",
        "webhooks.OutboxEvent",
        "profiles.MonthlyActivity",
    } <= checked
    # The pending webhook delivery went with its event (nothing about the contact goes out).
    assert not Delivery.objects.filter(pk=contact["outbox_delivery"].pk).exists()
    with connection.cursor() as cursor:
        for table, column in _database_foreign_keys_to_profile():
            cursor.execute(f'SELECT count(*) FROM {table} WHERE "{column}" = %s', [pk])
            assert cursor.fetchone()[0] == 0, table
    # Rows that refer to the contact's rows (receipts of its responses), non-FK references.

    assert not AnswerReceipt.objects.filter(response_id__in=response_ids).exists()
    assert not DirtyProfile.objects.filter(profile_id=pk).exists()
    assert not contact["webhook"].objects.filter(pk=contact["detached"].pk).exists()
    assert not Profile.objects.filter(pk=pk).exists()
    assert not AlertSent.objects.filter(profile_id=pk).exists()
    # Rejected import rows that named the contact (its id, its email in another case) are gone.
    assert sorted(RejectedRow.objects.values_list("row", flat=True)) == [3, 4]
    # The bystander keeps everything.
    bystander = contact["bystander"]
    assert Profile.objects.filter(pk=bystander.pk).exists()
    assert AlertSent.objects.filter(profile_id=bystander.pk).exists()
    assert bystander.events.count() == 1 and bystander.responses.count() == 1

    # The report totals are unchanged, now and after a full roll-up.
    assert _overview_and_list(owner_client, environment) == before
    response_stats_rollup(environment_id=environment.pk)
    assert _overview_and_list(owner_client, environment) == before
    # The segment lost a member (the person is no longer in it).
    assert Segment.objects.get(pk=contact["segment"].pk).member_count == members_before - 1

    # The erasure log: who and when, hashes only, verifiable from an identifier.
    entry = ErasureLog.objects.get()
    assert entry.erased_by == owner.user and entry.via == "dashboard"
    assert email not in json.dumps([entry.hashes, entry.counts])
    assert entry.counts["events.Event"] == 3
    assert list(erasures_matching(kind="email", value="Lee@Example.com")) == [entry]
    assert list(erasures_matching(kind="id", value="u-42")) == [entry]
    assert not erasures_matching(kind="email", value="sam@example.com").exists()
    audit = AuditEntry.objects.get(action="contact.erase")
    assert audit.actor == owner.user and audit.target_id == str(entry.pk)
    assert "lee@example.com" not in json.dumps([audit.before, audit.after, audit.target_label])


def test_erasure_blanks_the_contact_in_earlier_audit_entries(owner_client, environment, contact):
    _export(owner_client, environment, contact["profile"])
    url = eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid)
    owner_client.post(url, {"confirm": "yes"})
    export_entry = AuditEntry.objects.get(action="contact.export")
    assert export_entry.target_id == "" and "Lee" not in export_entry.target_label


def test_api_erase_logs_and_removes_everything(environment, contact):
    api = ApiClient(new_key(environment))
    profile = contact["profile"]
    WebhookEndpointFactory(environment=environment, event_types=["contact.deleted"])
    response = api.client.delete(
        f"/api/v1/contact?uuid={profile.uuid}", HTTP_AUTHORIZATION=f"Bearer {api.secret}"
    )
    assert response.status_code == 200
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not contact["webhook"].objects.filter(profile_id=profile.pk).exists()
    entry = ErasureLog.objects.get()
    assert entry.via == "api" and entry.erased_by_label.startswith("API key")
    assert AuditEntry.objects.filter(
        action="contact.erase", actor_label__startswith="API key"
    ).exists()
    # Receivers are told to erase the contact too (the only event about it left to send),
    # with the identifiers they need to find it.
    told = OutboxEvent.objects.get(event_type="contact.deleted")
    assert told.profile_id is None and told.data["contact"]["id"] == "u-42"
    assert told.data["contact"]["uuid"] == str(profile.uuid)


def test_verify_erasure_command(owner_client, environment, contact):
    owner_client.post(
        eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid),
        {"confirm": "yes"},
    )
    out = StringIO()
    call_command("verify_erasure", "--email", "lee@example.com", stdout=out)
    assert "Erased: erasure #" in out.getvalue()
    call_command(
        "verify_erasure", "--user-id", "u-42", "--environment", environment.slug, stdout=out
    )
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_erasure", "--email", "sam@example.com", stdout=StringIO())
    assert exit_info.value.code == 1


def test_identifier_hash_is_keyed(settings):
    settings.HARK_ERASURE_SECRET = "one"
    first = identifier_hash("email", "lee@example.com")
    settings.HARK_ERASURE_SECRET = "two"
    assert identifier_hash("email", "lee@example.com") != first
    assert identifier_hash("email", " LEE@example.com ") == identifier_hash(
        "email", "lee@example.com"
    )


def test_panel_offers_export_to_members_and_erase_to_admins(
    owner_client, analyst_client, environment, contact
):
    url = eurl(environment, "profiles:detail", uuid=contact["profile"].uuid)
    export_url = eurl(environment, "governance:contact_export", uuid=contact["profile"].uuid)
    erase_url = eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid)
    for headers in ({}, HTMX):
        owner_page = owner_client.get(url, **headers).content.decode()
        analyst_page = analyst_client.get(url, **headers).content.decode()
        assert export_url in owner_page and erase_url in owner_page
        assert export_url in analyst_page and erase_url not in analyst_page


def test_erasing_twice_is_404_and_logs_once(owner_client, owner, environment, contact):
    profile = contact["profile"]
    url = eurl(environment, "governance:contact_erase", uuid=profile.uuid)
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 302
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 404
    # A request that found the contact just before another erased it.

    request = RequestFactory().post("/")
    request.user = owner.user
    with pytest.raises(Http404):
        erase_contact(request, profile, via="dashboard")
    assert ErasureLog.objects.count() == 1
    assert AuditEntry.objects.filter(action="contact.erase").count() == 1


def test_erasures_page_verifies_an_identifier(owner_client, analyst_client, environment, contact):
    owner_client.post(
        eurl(environment, "governance:contact_erase", uuid=contact["profile"].uuid),
        {"confirm": "yes"},
    )
    url = eurl(environment, "governance:erasures")
    page = owner_client.get(url)
    assert page.status_code == 200 and len(page.context["erasures"]) == 1
    assert b"lee@example.com" not in page.content
    found = owner_client.get(url, {"kind": "email", "value": "LEE@example.com"})
    assert len(found.context["matches"]) == 1 and b"Erased" in found.content
    missing = owner_client.get(url, {"kind": "email", "value": "sam@example.com"})
    assert missing.context["matches"] == [] and b"No match" in missing.content
    bad = owner_client.get(url, {"kind": "phone", "value": " "})
    assert bad.status_code == 200 and bad.context["form"].errors
    assert analyst_client.get(url).status_code == 403
