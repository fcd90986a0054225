"""The audit log: each audited change records who, when, from where and what changed; the
Settings → Audit log page (filters, keyset pages, admins only, tenancy); its retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from delivery.factories import web_survey
from delivery.services import targeting_update
from environments.models import Membership, Role
from environments.services import api_key_create, member_add
from events.factories import EventDefinitionFactory
from governance import audit
from governance.models import AuditEntry
from governance.services import audit_log_purge
from governance.tasks import purge_audit_log
from imports.services import import_create, import_start, mapping_default
from segments.factories import SegmentFactory
from segments.services import segment_create, segment_update
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.services import question_update, survey_create, survey_update
from tests.api_helpers import ApiClient
from tests.helpers import HTMX, eurl
from traits.factories import TraitFactory
from traits.services import trait_update
from webhooks import services as webhook_services

pytestmark = pytest.mark.django_db

CLIENT_IP = "203.0.113.9"


# Each case: (action, a function (client, environment, owner) making the change; through the
# dashboard where a page does it, else the service as the owner, from CLIENT_IP), and what the
# entry's before/after must hold.


def _publish(client, environment, owner):
    survey = SurveyFactory(environment=environment, status="draft")
    QuestionFactory(survey=survey)
    client.post(eurl(environment, "surveys:status", uuid=survey.uuid), {"status": "live"})


def _archive(client, environment, owner):
    survey = SurveyFactory(environment=environment, status="live")
    client.post(eurl(environment, "surveys:status", uuid=survey.uuid), {"status": "archived"})


def _survey_edit(client, environment, owner):
    survey = SurveyFactory(environment=environment, name="Old name")
    with audit.acting(owner.user, ip=CLIENT_IP):
        survey_update(survey=survey, name="New name")


def _question_edit(client, environment, owner):
    question = QuestionFactory(survey=SurveyFactory(environment=environment), title="Before?")
    with audit.acting(owner.user, ip=CLIENT_IP):
        question_update(question=question, title="After?", key=question.key)


def _targeting_edit(client, environment, owner):

    survey = web_survey(environment)
    with audit.acting(owner.user, ip=CLIENT_IP):
        targeting_update(survey=survey, values={"sample_percent": 60})


def _survey_create(client, environment, owner):
    with audit.acting(owner.user, ip=CLIENT_IP):
        survey_create(environment=environment, name="Fresh", created_by=owner.user)


def _segment_create(client, environment, owner):
    with audit.acting(owner.user, ip=CLIENT_IP):
        segment_create(environment=environment, name="Fans", kind="manual", created_by=owner.user)


def _segment_edit(client, environment, owner):
    segment = SegmentFactory(environment=environment, name="Old")
    with audit.acting(owner.user, ip=CLIENT_IP):
        segment_update(segment=segment, name="New")


def _segment_delete(client, environment, owner):
    segment = SegmentFactory(environment=environment, name="Doomed")
    client.post(eurl(environment, "segments:delete", uuid=segment.uuid), {"confirm": "yes"})


def _trait_type(client, environment, owner):
    trait = TraitFactory(environment=environment, key="age", data_type="string")
    with audit.acting(owner.user, ip=CLIENT_IP):
        trait_update(
            trait=trait, label=trait.label, description="", data_type="number", hidden=False
        )


def _trait_delete(client, environment, owner):
    trait = TraitFactory(environment=environment, key="legacy")
    client.post(eurl(environment, "traits:delete", pk=trait.pk), {"confirm": "yes"})


def _key_create(client, environment, owner):
    client.post(eurl(environment, "environments:api_key_create"), {"name": "ci"})


def _key_revoke(client, environment, owner):
    key, _ = api_key_create(environment=environment, name="old")
    AuditEntry.objects.all().delete()  # the creation (by "system") is not this case
    client.post(eurl(environment, "environments:api_key_revoke", pk=key.pk), {"confirm": "yes"})


def _member_add(client, environment, owner):
    client.post(
        eurl(environment, "environments:member_add"),
        {"email": "new@acme.test", "role": "analyst"},
    )


def _member_role(client, environment, owner):
    colleague = member_add(environment=environment, email="c@acme.test", role=Role.ANALYST)
    AuditEntry.objects.all().delete()
    client.post(eurl(environment, "environments:member_role", pk=colleague.pk), {"role": "manager"})


def _member_remove(client, environment, owner):
    colleague = member_add(environment=environment, email="c@acme.test", role=Role.ANALYST)
    AuditEntry.objects.all().delete()
    client.post(
        eurl(environment, "environments:member_remove", pk=colleague.pk), {"confirm": "yes"}
    )


def _identity_on(client, environment, owner):
    client.post(eurl(environment, "environments:identity_verification"), {"enabled": "on"})


def _identity_off(client, environment, owner):
    environment.identity_verification = True
    environment.save(update_fields=["identity_verification"])
    client.post(eurl(environment, "environments:identity_verification"), {})


def _identity_secret(client, environment, owner):
    client.post(eurl(environment, "environments:identity_secret_regenerate"), {"confirm": "yes"})


def _webhook_create(client, environment, owner):
    client.post(
        eurl(environment, "webhooks:new"),
        {
            "kind": "webhook",
            "url": "http://127.0.0.1:9/hooks",
            "event_types": ["response.completed"],
            "description": "CRM",
        },
    )


def _webhook_endpoint(environment, owner):
    with audit.acting(owner.user, ip=CLIENT_IP):
        endpoint = webhook_services.endpoint_create(
            environment=environment,
            url="http://127.0.0.1:9/hooks",
            event_types=["response.completed"],
            description="CRM",
        )
    AuditEntry.objects.all().delete()
    return endpoint


def _webhook_edit(client, environment, owner):
    endpoint = _webhook_endpoint(environment, owner)
    client.post(
        eurl(environment, "webhooks:edit", uuid=endpoint.uuid),
        {
            "kind": "webhook",
            "url": "http://127.0.0.1:9/hooks",
            "event_types": ["response.completed", "survey.published"],
            "description": "CRM",
        },
    )


def _webhook_rotate(client, environment, owner):
    endpoint = _webhook_endpoint(environment, owner)
    client.post(eurl(environment, "webhooks:rotate", uuid=endpoint.uuid), {"confirm": "yes"})


def _webhook_delete(client, environment, owner):
    endpoint = _webhook_endpoint(environment, owner)
    client.post(eurl(environment, "webhooks:delete", uuid=endpoint.uuid), {"confirm": "yes"})


def _retention(client, environment, owner):
    client.post(
        eurl(environment, "retention:settings"),
        {"events_days": "90", "responses_days": "", "anonymous_profiles_days": ""},
    )


def _import_start(client, environment, owner):
    upload = SimpleUploadedFile("crm.csv", b"user_id,email\nu1,a@acme.test\n", "text/csv")
    with audit.acting(owner.user, ip=CLIENT_IP):
        contact_import = import_create(environment=environment, user=owner.user, upload=upload)
        import_start(contact_import=contact_import, mapping=mapping_default(contact_import))


def _event_delete(client, environment, owner):
    definition = EventDefinitionFactory(environment=environment, name="Old event")
    client.post(eurl(environment, "events:delete", pk=definition.pk), {"confirm": "yes"})


CASES = [
    ("survey.publish", _publish, {"status": "draft"}, {"status": "live"}),
    ("survey.archive", _archive, {"status": "live"}, {"status": "archived"}),
    ("survey.update", _survey_edit, {"name": "Old name"}, {"name": "New name"}),
    ("survey.update", _question_edit, {"title": "Before?"}, {"title": "After?"}),
    ("survey.update", _targeting_edit, {}, {"targeting": {"sample_percent": 60}}),
    ("survey.create", _survey_create, None, {"name": "Fresh"}),
    ("segment.create", _segment_create, None, {"name": "Fans", "kind": "manual"}),
    ("segment.update", _segment_edit, {"name": "Old"}, {"name": "New"}),
    ("segment.delete", _segment_delete, {"name": "Doomed"}, None),
    ("trait.update", _trait_type, {"data_type": "string"}, {"data_type": "number"}),
    ("trait.delete", _trait_delete, {"key": "legacy"}, {}),
    ("api_key.create", _key_create, None, {"name": "ci"}),
    ("api_key.revoke", _key_revoke, {"revoked_at": None}, {}),
    ("member.add", _member_add, None, {"role": "analyst"}),
    ("member.role", _member_role, {"role": "analyst"}, {"role": "manager"}),
    ("member.remove", _member_remove, {"role": "analyst"}, None),
    ("identity_verification.on", _identity_on, {"identity_verification": False}, {}),
    ("identity_verification.off", _identity_off, {"identity_verification": True}, {}),
    ("identity_verification.secret", _identity_secret, None, None),
    ("webhook.create", _webhook_create, None, {"url": "http://127.0.0.1:9/hooks"}),
    (
        "webhook.update",
        _webhook_edit,
        {"event_types": ["response.completed"]},
        {"event_types": ["response.completed", "survey.published"]},
    ),
    ("webhook.update", _webhook_rotate, {"secret": "(previous)"}, {"secret": "rotated"}),
    ("webhook.delete", _webhook_delete, {"url": "http://127.0.0.1:9/hooks"}, None),
    ("retention.update", _retention, {"events_days": None}, {"events_days": 90}),
    ("import.start", _import_start, None, {"file": "crm.csv"}),
    ("event.delete", _event_delete, {"name": "Old event"}, None),
]


@pytest.mark.parametrize(
    ("action", "change", "before", "after"), CASES, ids=[c[1].__name__[1:] for c in CASES]
)
def test_each_change_is_audited(
    owner_client, owner, environment, settings, action, change, before, after
):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True  # the webhook cases' endpoint is on 127.0.0.1
    AuditEntry.objects.all().delete()
    # The client's address as the trusted proxy in front of Hark reports it.
    owner_client.defaults["HTTP_X_FORWARDED_FOR"] = CLIENT_IP
    change(owner_client, environment, owner)
    entry = AuditEntry.objects.get(action=action)
    assert entry.environment == environment
    assert entry.actor == owner.user and entry.actor_label == "owner@acme.test"
    assert entry.ip == CLIENT_IP
    assert timezone.now() - entry.at < timedelta(minutes=1)
    assert entry.target_type and entry.target_label
    if before is None:
        assert entry.before is None
    else:
        assert before.items() <= (entry.before or {}).items(), entry.before
    if after is None:
        assert entry.after is None
    else:
        assert after.items() <= (entry.after or {}).items(), entry.after
    # Never a secret in the log.
    assert "hark_sk_" not in str(entry.after).replace(str((entry.after or {}).get("prefix")), "")
    assert "whsec_" not in str(entry.before) + str(entry.after)


def test_a_change_that_changes_nothing_is_not_recorded(owner, environment):
    survey = SurveyFactory(environment=environment, name="Same")
    AuditEntry.objects.all().delete()
    survey_update(survey=survey, name="Same")
    assert not AuditEntry.objects.exists()


def test_a_change_through_the_rest_api_is_recorded_as_the_keys(environment, settings):
    """A change made with an API key (here a webhook endpoint created through the REST API) is
    the key's, from the caller's address; not "system"."""
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    api_key, secret = api_key_create(environment=environment, name="deploy bot")
    AuditEntry.objects.all().delete()
    answer = ApiClient(secret).post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/hooks", "event_types": ["response.completed"]},
        REMOTE_ADDR="198.51.100.7",
    )
    assert answer.status_code == 201, answer.content
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.actor is None and entry.environment == environment
    assert entry.actor_label == f"API key {api_key.prefix}… (deploy bot)"
    assert entry.ip == "198.51.100.7"


def test_a_command_line_change_is_recorded_as_system(environment):
    member_add(environment=environment, email="cli@acme.test", role=Role.ANALYST)
    entry = AuditEntry.objects.get(action="member.add")
    assert entry.actor is None and entry.actor_label == "system" and entry.ip is None


def test_record_api_for_other_apps(owner, environment):
    """The call the webhooks branch makes: a user or a request, an action, a target."""
    entry = audit.record(
        owner.user,
        "webhook.create",
        ("webhook", 7, "https://hooks.example/x"),
        None,
        {"url": "https://hooks.example/x"},
        environment=environment,
    )
    assert entry.action == "webhook.create" and entry.target_id == "7"
    assert entry.actor == owner.user


# --- The page ------------------------------------------------------------------------------------


@pytest.fixture
def entries(environment, owner, analyst) -> list[AuditEntry]:
    AuditEntry.objects.all().delete()  # the members' additions
    now = timezone.now()
    rows = []
    for i in range(120):
        rows.append(
            AuditEntry(
                environment=environment,
                at=now - timedelta(days=i),
                actor=owner.user if i % 2 else analyst.user,
                actor_label="owner@acme.test" if i % 2 else "analyst@acme.test",
                action="segment.update" if i % 3 else "api_key.create",
                target_type="segment",
                target_id=str(i),
                target_label=f"Segment {i}",
                after={"i": i},
            )
        )
    return AuditEntry.objects.bulk_create(rows)


def _page(client, environment, params=None, **headers):
    response = client.get(eurl(environment, "governance:audit_log"), params or {}, **headers)
    assert response.status_code == 200
    return response


def test_page_lists_newest_first_in_keyset_pages(
    owner_client, environment, entries, django_assert_num_queries
):
    first = _page(owner_client, environment)
    items = first.context["entries"]
    assert [e.target_id for e in items] == [str(i) for i in range(50)]
    seen = [e.pk for e in items]
    url = first.context["next_url"]
    while url:
        # One page whatever its depth: session, user, membership, the entries, the navigation's
        # environments, the actor filter's choices.
        with django_assert_num_queries(6):
            page = owner_client.get(eurl(environment, "governance:audit_log") + url)
        seen += [e.pk for e in page.context["entries"]]
        url = page.context["next_url"]
    assert sorted(seen) == sorted(e.pk for e in entries) and len(set(seen)) == 120


def test_page_filters_by_actor_action_and_dates(owner_client, owner, environment, entries):
    today = timezone.localdate()
    by_actor = _page(owner_client, environment, {"actor": owner.user.pk}).context["entries"]
    assert by_actor and all(e.actor_id == owner.user.pk for e in by_actor)
    by_action = _page(owner_client, environment, {"action": "api_key.create"}).context["entries"]
    assert by_action and all(e.action == "api_key.create" for e in by_action)
    dated = _page(
        owner_client,
        environment,
        {
            "start": (today - timedelta(days=10)).isoformat(),
            "end": (today - timedelta(days=5)).isoformat(),
        },
    ).context["entries"]
    assert sorted(int(e.target_id) for e in dated) == [5, 6, 7, 8, 9, 10]
    both = _page(
        owner_client, environment, {"actor": owner.user.pk, "action": "api_key.create"}
    ).context["entries"]
    assert all(e.actor_id == owner.user.pk and e.action == "api_key.create" for e in both)
    # The htmx fragment.
    fragment = _page(owner_client, environment, {"action": "api_key.create"}, headers=HTMX)
    assert b'id="results"' in fragment.content and b"<html" not in fragment.content


@pytest.mark.parametrize(
    "params",
    [
        {"action": "nope"},
        {"actor": "999999"},
        {"actor": "x"},
        {"start": "2026-13-01"},
        {"start": "2026-02-01", "end": "2026-01-01"},
    ],
)
def test_bad_filters_are_a_form_error_not_a_500(owner_client, environment, entries, params):
    response = _page(owner_client, environment, params)
    assert response.context["form"].errors
    assert response.context["entries"] == []
    assert b"form-error" in response.content


def test_dates_at_the_ends_of_the_calendar_filter_without_a_500(owner_client, environment, entries):
    """The day after 9999-12-31 (the exclusive end) cannot be computed: it was a 500. Up to
    the end of the last day leaves nothing out."""
    for params in ({"end": "9999-12-31"}, {"start": "0001-01-01", "end": "9999-12-31"}):
        assert len(_page(owner_client, environment, params).context["entries"]) == 50
    assert _page(owner_client, environment, {"start": "9999-12-31"}).context["entries"] == []


def test_a_member_of_another_environment_is_not_an_actor_choice(
    owner_client, environment, outsider, entries
):
    response = _page(owner_client, environment, {"actor": outsider.user.pk})
    assert "actor" in response.context["form"].errors


def test_page_is_for_admins_only(analyst_client, environment, entries):
    url = eurl(environment, "governance:audit_log")
    assert analyst_client.get(url).status_code == 403
    manager = member_add(environment=environment, email="m@acme.test", role=Role.MANAGER)

    client = Client()
    client.force_login(manager.user)
    assert client.get(url).status_code == 403


def test_other_environment_is_404_and_its_entries_never_show(
    owner_client, outsider_client, environment, other_environment, entries
):
    assert outsider_client.get(eurl(environment, "governance:audit_log")).status_code == 404
    AuditEntry.objects.create(environment=other_environment, action="segment.delete")
    listed = _page(owner_client, environment, {"action": "segment.delete"}).context["entries"]
    assert listed == []


def test_settings_links_the_audit_log_for_admins(owner_client, analyst_client, environment):
    url = eurl(environment, "governance:audit_log")
    settings_url = eurl(environment, "environments:settings")
    assert url.encode() in owner_client.get(settings_url).content
    assert url.encode() not in analyst_client.get(settings_url).content


# --- Retention -----------------------------------------------------------------------------------


def test_retention_purges_old_entries_in_batches(settings, environment, entries):
    settings.HARK_AUDIT_RETENTION_DAYS = 30
    # Entries of days 0-29 stay; day 30 and older go.
    assert audit_log_purge(batch=7) == 90
    left = AuditEntry.objects.filter(environment=environment)
    assert left.count() == 30
    assert all(timezone.now() - e.at <= timedelta(days=30, minutes=1) for e in left)
    # The beat task (eager without a broker) finds nothing more.
    assert purge_audit_log.delay().get() == 0


def test_membership_model_is_untouched_by_audit(environment, owner):
    """Recording never changes the audited object (the entry is a separate row)."""
    before = list(Membership.objects.values_list())
    audit.record(owner.user, "member.role", ("member", owner.pk, "x"), {"role": "a"}, {"role": "b"})
    assert list(Membership.objects.values_list()) == before
