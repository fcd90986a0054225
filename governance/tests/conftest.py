"""A contact with everything Hark holds on a person, for the export and erasure tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils import timezone

from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertSent
from delivery.models import AnswerReceipt
from events.factories import EventFactory
from governance.references import ExtraReference, register_reference, unregister_reference
from imports.models import ContactImport, RejectedRow
from profiles.factories import MonthlyActivityFactory, ProfileFactory
from segments.factories import ManualSegmentFactory
from segments.models import DirtyProfile
from segments.services import segment_member_add, segment_member_remove
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from webhooks.factories import DeliveryFactory, OutboxEventFactory, WebhookEndpointFactory


@pytest.fixture
def webhook_tables(db):
    """Pending webhook rows, as the webhooks branch adds them (an outbox with a nullable
    foreign key to the profile, CASCADE), plus a payload that names the contact only inside
    its JSON (a registered non-FK reference). The model is registered for this test only, so
    the erasure's walk must find it by itself."""

    class PendingWebhook(models.Model):
        profile = models.ForeignKey(
            "profiles.Profile", null=True, on_delete=models.CASCADE, related_name="+"
        )
        payload = models.JSONField(default=dict)

        class Meta:
            app_label = "governance"
            db_table = "governance_test_pending_webhook"

    with connection.schema_editor() as editor:
        editor.create_model(PendingWebhook)

    def _payload_rows(profile: Any) -> models.QuerySet:
        return PendingWebhook._default_manager.filter(
            profile__isnull=True, payload__contact=str(profile.uuid)
        )

    reference = register_reference(
        ExtraReference(
            name="test.webhook_payloads",
            count=lambda p: _payload_rows(p).count(),
            erase=lambda p: _payload_rows(p).delete()[0],
            export=lambda p: list(_payload_rows(p).values("id", "payload")),
        )
    )
    yield PendingWebhook
    unregister_reference(reference.name)
    # The table goes with the test's transaction (DDL is transactional in PostgreSQL).
    del apps.all_models["governance"]["pendingwebhook"]
    apps.clear_cache()


@pytest.fixture
def contact(environment, webhook_tables, owner) -> dict[str, Any]:
    """A contact with traits, events, responses (answers, a display only, a receipt), a segment
    membership and its history, monthly activity, a queued segment check, pending webhooks, a
    team alert about it and rejected import rows naming it; and a bystander in the same
    environment who must survive the erasure untouched."""
    profile = ProfileFactory(
        environment=environment,
        user_id="u-42",
        email="lee@example.com",
        traits={"name": "Lee Example", "plan": "pro"},
    )
    bystander = ProfileFactory(environment=environment, user_id="u-43", email="sam@example.com")
    now = timezone.now()
    for i in range(3):
        EventFactory(
            profile=profile,
            environment=environment,
            timestamp=now - timedelta(hours=i),
            definition__name="signed_in",
            properties={"n": i},
        )
    EventFactory(profile=bystander, environment=environment, definition__name="signed_in")
    survey = SurveyFactory(environment=environment, name="NPS survey")
    QuestionFactory(survey=survey, kind="nps", key="score", title="How likely?")
    QuestionFactory(
        survey=survey, kind="single_choice", key="why", title="Why?", choices=["Price", "Speed"]
    )
    answered = ResponseFactory(
        survey=survey,
        profile=profile,
        data={"score": 9, "why": "Speed"},
        completed_at=now - timedelta(days=2),
        created_at=now - timedelta(days=2),
        first_shown_at=now - timedelta(days=2),
        show_count=1,
    )
    displayed = ResponseFactory(
        survey=survey,
        profile=profile,
        created_at=now - timedelta(days=1),
        first_shown_at=now - timedelta(days=1),
        show_count=2,
    )
    ResponseFactory(survey=survey, profile=bystander, data={"score": 3})
    AnswerReceipt.objects.create(response=answered, key="k-1", result={"ok": True})
    segment = ManualSegmentFactory(environment=environment, name="Beta")
    segment_member_add(segment=segment, profile=profile)
    other_segment = ManualSegmentFactory(environment=environment, name="Was beta")
    segment_member_add(segment=other_segment, profile=profile)
    segment_member_remove(segment=other_segment, profile=profile)
    MonthlyActivityFactory(profile=profile, environment=environment)
    DirtyProfile.objects.create(profile_id=profile.pk, environment_id=environment.pk)
    pending = webhook_tables.objects.create(
        profile=profile, payload={"event": "segment.entered", "contact": str(profile.uuid)}
    )
    detached = webhook_tables.objects.create(
        profile=None, payload={"event": "contact.deleted", "contact": str(profile.uuid)}
    )
    # And the real webhooks outbox: an event for the contact, waiting with its delivery.
    endpoint = WebhookEndpointFactory(environment=environment, event_types=["segment.entered"])
    outbox_event = OutboxEventFactory(
        environment=environment,
        event_type="segment.entered",
        profile=profile,
        contact_key=profile.pk,
        data={"segment_id": segment.pk},
    )
    outbox_delivery = DeliveryFactory(endpoint=endpoint, event=outbox_event)
    # References without a foreign key: an alert about the contact (a bare profile id) and the
    # rejected rows of an import report that hold its id or email (as the file had them).
    subscription = AlertSubscriptionFactory(environment=environment, user=owner.user)
    AlertSent.objects.create(
        subscription=subscription, kind="response", object_id=answered.pk, profile_id=profile.pk
    )
    AlertSent.objects.create(
        subscription=subscription, kind="response", object_id=0, profile_id=bystander.pk
    )
    report = ContactImport.objects.create(environment=environment, filename="crm.csv", path="")
    for row, values in enumerate(
        (
            ["u-42", "not-an-email", "x"],
            ["", " LEE@Example.com ", "y"],
            ["u-43", "sam@example.com", "no"],
            ["", "", "z"],
        ),
        start=1,
    ):
        RejectedRow.objects.create(contact_import=report, row=row, reason="bad", values=values)
    return {
        "outbox_event": outbox_event,
        "outbox_delivery": outbox_delivery,
        "profile": profile,
        "bystander": bystander,
        "survey": survey,
        "responses": [answered, displayed],
        "segment": segment,
        "webhook": webhook_tables,
        "pending": pending,
        "detached": detached,
    }
