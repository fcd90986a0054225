"""Delivery with a real local HTTP receiver: signatures checked with the `standardwebhooks`
package (an independent implementation of the specification), the retry schedule on a clock the
test controls (services take `at`), per-contact order across failures, leases, replays."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from governance.erasure import profile_erase
from profiles.factories import ProfileFactory
from profiles.models import Profile
from profiles.services import profile_identify
from segments.factories import SegmentFactory
from segments.services import segment_recompute
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.services import (
    response_add_context,
    response_dismiss,
    response_save_answers,
    survey_set_status,
)
from tests.helpers import eurl, resolve_locally
from webhooks import http, services
from webhooks.factories import DeliveryFactory, OutboxEventFactory, WebhookEndpointFactory
from webhooks.models import Delivery, DeliveryStatus, OutboxEvent, WebhookEndpoint
from webhooks.outbox import emit, pending_updates_flush

pytestmark = pytest.mark.django_db


def endpoint_for(environment, receiver, types, **kw) -> WebhookEndpoint:
    return services.endpoint_create(
        environment=environment, url=receiver.url, event_types=types, **kw
    )


def run(at=None, times: int = 1) -> None:
    for _ in range(times):
        services.drain(at=at)


@pytest.fixture
def nps_survey(environment):
    survey = SurveyFactory(environment=environment, name="Onboarding NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="score", title="How likely?")
    QuestionFactory(
        survey=survey, kind="single_choice", key="color", title="Pick one", choices=["Red", "Blue"]
    )
    return survey


def test_completed_response_is_signed_and_carries_survey_and_contact(
    environment, allow_private, receiver, nps_survey
):
    survey = nps_survey
    endpoint = endpoint_for(environment, receiver, ["response.completed"])
    profile = ProfileFactory(environment=environment, user_id="u-1", email="ann@example.com")
    response = ResponseFactory(survey=survey, profile=profile)
    response_save_answers(response=response, answers={"score": 3, "color": "Blue"}, complete=True)

    run()

    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "response.completed"
    data = payload["data"]
    assert data["environment"] == {"id": environment.slug, "name": environment.name}
    assert data["contact"]["id"] == "u-1"
    assert data["contact"]["email"] == "ann@example.com"
    assert data["contact"]["uuid"] == str(profile.uuid)
    assert [q["title"] for q in data["survey"]["questions"]] == ["How likely?", "Pick one"]
    answers = {a["key"]: a for a in data["response"]["answers"]}
    assert answers["score"]["question"] == "How likely?"
    assert answers["color"]["label"] == "Blue"
    event = OutboxEvent.objects.get()
    assert got.headers["webhook-id"] == f"msg_{event.uuid.hex}"
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.http_status == 200
    assert 0 < len(delivery.body_excerpt) <= 4096  # read up to the cap only


def test_no_subscribed_endpoint_writes_no_event(environment, allow_private, receiver, nps_survey):
    survey = nps_survey
    endpoint_for(environment, receiver, ["survey.published"])
    response = ResponseFactory(survey=survey, profile=ProfileFactory(environment=environment))
    response_save_answers(response=response, answers={"score": 9}, complete=True)
    response_dismiss(response=response)
    assert not OutboxEvent.objects.exists()


def test_outbox_event_rolls_back_with_the_change(environment, allow_private, receiver):
    endpoint_for(environment, receiver, ["contact.identified"])

    with pytest.raises(RuntimeError), transaction.atomic():
        emit(environment.pk, "contact.identified", {}, None)
        raise RuntimeError
    assert not OutboxEvent.objects.exists()


def test_retry_schedule_follows_the_specification_then_gives_up(
    environment, allow_private, receiver
):
    receiver.default = 500
    endpoint_for(environment, receiver, ["survey.published"])
    survey = SurveyFactory(environment=environment)
    QuestionFactory(survey=survey)
    survey_set_status(survey=survey, status="live")
    clock = timezone.now()
    delays = []
    for attempt in range(1, services.MAX_ATTEMPTS + 1):
        run(at=clock)
        delivery = Delivery.objects.get()
        assert delivery.attempt == attempt
        assert len(receiver.received) == attempt
        if attempt == services.MAX_ATTEMPTS:
            assert delivery.status == DeliveryStatus.GAVE_UP
            break
        assert delivery.status == DeliveryStatus.FAILED
        delays.append((delivery.next_attempt_at - clock).total_seconds())
        # Not sent again before it is due.
        run(at=clock + timedelta(seconds=delays[-1] * 0.85))
        assert len(receiver.received) == attempt
        clock = delivery.next_attempt_at
    expected = services.RETRY_SCHEDULE[1:]
    assert len(delays) == len(expected)
    for delay, base in zip(delays, expected, strict=True):
        assert base * 0.9 <= delay <= base * 1.1  # jitter of +-10%
    # Every attempt carried the same webhook-id.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_410_disables_the_endpoint(environment, allow_private, receiver):
    receiver.default = 410
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})
    run()
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert Delivery.objects.get().status == DeliveryStatus.GAVE_UP


def test_failing_for_five_days_disables_and_emails_admins(
    environment, owner, allow_private, receiver, django_capture_on_commit_callbacks
):
    receiver.default = 503
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    clock = timezone.now()
    emit(environment.pk, "survey.published", {"survey_id": 0})
    run(at=clock)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == clock
    emit(environment.pk, "survey.published", {"survey_id": 0})
    with django_capture_on_commit_callbacks(execute=True):
        run(at=clock + timedelta(days=5, seconds=1))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "5 days" in endpoint.disabled_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.user.email]
    assert endpoint.url in mail.outbox[0].body


def test_success_clears_failing_since(environment, allow_private, receiver):
    receiver.statuses = [500]
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})
    clock = timezone.now()
    run(at=clock)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    run(at=clock + timedelta(seconds=6))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_success_in_the_batch_that_failed_ends_the_streak(environment, allow_private, receiver):
    """One delivery fails and another to the same endpoint succeeds in one batch: the failure
    started a streak that the success (read from the endpoint loaded with the batch, which had
    none) left standing; five such days and the working endpoint was disabled."""
    receiver.statuses = [500, 200]
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 1})
    emit(environment.pk, "survey.published", {"survey_id": 2})
    run(at=timezone.now())
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failed", "succeeded"]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_receiver_down_then_back_gets_every_event_in_order_per_contact(
    environment, allow_private, receiver
):
    endpoint_for(environment, receiver, ["contact.identified", "segment.entered"])
    contacts = [ProfileFactory(environment=environment) for _ in range(3)]
    for round_ in range(4):
        for contact in contacts:
            emit(environment.pk, "contact.identified", {"round": round_}, contact.pk)
    receiver.default = 503  # down
    clock = timezone.now()
    for _ in range(4):
        run(at=clock)
        clock += timedelta(minutes=40)
    assert receiver.received  # it was tried
    receiver.default = 200  # back
    for _ in range(12):
        run(at=clock)
        clock += timedelta(hours=3)
    assert Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).count() == 0
    ok_ids = set()
    order: dict[str, list[int]] = {}
    seen_ok: set[str] = set()
    # The successful receipts, per contact, in arrival order.
    events = {f"msg_{e.uuid.hex}": e for e in OutboxEvent.objects.all()}
    for got in receiver.received:
        msg = got.headers["webhook-id"]
        ok_ids.add(msg)
        event = events[msg]
        order.setdefault(str(event.contact_key), []).append(event.pk)
        seen_ok.add(msg)
    assert ok_ids == set(events)  # each webhook-id at least once
    for ids in order.values():
        # Arrivals per contact never go back in creation order (retries repeat the same one).
        assert ids == sorted(ids)


def test_a_contact_later_event_waits_for_the_earlier_one(environment, allow_private, receiver):
    # One send at a time: the receiver's one failure must go to the contact's first event.
    allow_private.HARK_WEBHOOKS_SEND_THREADS = 1
    endpoint_for(environment, receiver, ["contact.identified"])
    contact = ProfileFactory(environment=environment)
    other = ProfileFactory(environment=environment)
    emit(environment.pk, "contact.identified", {"n": 1}, contact.pk)
    emit(environment.pk, "contact.identified", {"n": 2}, contact.pk)
    emit(environment.pk, "contact.identified", {"n": 1}, other.pk)
    receiver.statuses = [500]  # the contact's first event fails once
    clock = timezone.now()
    run(at=clock)
    # The failed first event blocks the contact's second; the other contact is not held up.
    sent = [r.json()["data"]["contact"]["uuid"] for r in receiver.received]
    # (Sent concurrently: the two contacts' arrival order is free, each contact's is not.)
    assert sorted(sent) == sorted([str(contact.uuid), str(other.uuid)])
    run(at=clock + timedelta(seconds=6))
    assert [r.headers["webhook-id"] for r in receiver.received][2:] == [
        f"msg_{e.uuid.hex}"
        for e in OutboxEvent.objects.filter(contact_key=contact.pk).order_by("id")
    ]


def test_a_lapsed_lease_is_sent_again(environment, allow_private, receiver, settings):
    settings.HARK_WEBHOOKS_LEASE_SECONDS = 30
    endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})
    services.fan_out()
    clock = timezone.now()
    ids, _lease = services.claim(limit=10, at=clock)  # a worker takes it, then dies
    assert len(ids) == 1
    run(at=clock + timedelta(seconds=10))  # still leased: nobody else sends it
    assert receiver.received == []
    run(at=clock + timedelta(seconds=31))
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt == 2
    assert len(receiver.received) == 1


def test_replay_sends_the_same_webhook_id(environment, allow_private, receiver):
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})
    run()
    services.delivery_replay(delivery=Delivery.objects.get())
    run()
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    Webhook(endpoint.secret).verify(second.body, second.headers)


def test_replay_all_failed_since(environment, allow_private, receiver):
    receiver.default = 500
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    clock = timezone.now()
    for _ in range(3):
        emit(environment.pk, "survey.published", {"survey_id": 0})
    run(at=clock)
    receiver.default = 200
    assert services.deliveries_replay_failed(endpoint=endpoint, since=clock - timedelta(1)) == 3
    run()
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3
    assert not Delivery.objects.filter(status=DeliveryStatus.FAILED).exists()


def test_rotation_signs_with_both_secrets_for_a_day(environment, allow_private, receiver):
    endpoint = endpoint_for(environment, receiver, ["survey.published"])
    old = endpoint.secret
    clock = timezone.now() - timedelta(hours=1)  # rotated an hour ago
    new = services.endpoint_rotate_secret(endpoint=endpoint, at=clock)
    assert new != old and new.startswith("whsec_")
    emit(environment.pk, "survey.published", {"survey_id": 0})
    run()
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    # A receiver holding either secret accepts it (the package checks the timestamp too).
    for secret in (old, new):
        Webhook(secret).verify(got.body, got.headers)
    emit(environment.pk, "survey.published", {"survey_id": 0})
    run(at=clock + timedelta(hours=25))
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 1


def test_debounced_update_sends_one_event_for_many_answers(
    environment, allow_private, receiver, nps_survey, settings
):
    survey = nps_survey
    endpoint_for(environment, receiver, ["response.updated", "response.completed"])
    response = ResponseFactory(survey=survey, profile=ProfileFactory(environment=environment))
    clock = timezone.now()
    response_save_answers(response=response, answers={"score": 9}, at=clock)
    response_save_answers(response=response, answers={"color": "Red"}, at=clock)
    assert pending_updates_flush(now=clock) == 0  # not yet due
    due = clock + timedelta(seconds=settings.HARK_WEBHOOKS_DEBOUNCE_SECONDS)
    assert pending_updates_flush(now=due) == 1
    run(at=due)
    assert [r.json()["type"] for r in receiver.received] == ["response.updated"]
    # A response completed before the debounce is over sends only response.completed.
    response2 = ResponseFactory(survey=survey, profile=ProfileFactory(environment=environment))
    response_save_answers(response=response2, answers={"score": 1}, at=clock)
    response_save_answers(response=response2, answers={"color": "Blue"}, complete=True, at=clock)
    run(at=due)
    assert [r.json()["type"] for r in receiver.received] == [
        "response.updated",
        "response.completed",
    ]


def test_a_completed_response_changed_afterwards_sends_an_update(
    environment, allow_private, receiver, nps_survey, settings
):
    """A respondent back on the link page changes an answer of a completed response: the
    receiver that stored the completed answers heard nothing of it. The same answers given
    again change nothing and send nothing."""
    endpoint_for(environment, receiver, ["response.updated", "response.completed"])
    response = ResponseFactory(survey=nps_survey, profile=ProfileFactory(environment=environment))
    clock = timezone.now()
    answers = {"score": 9, "color": "Red"}
    response_save_answers(response=response, answers=answers, complete=True, at=clock)
    run(at=clock)
    assert [r.json()["type"] for r in receiver.received] == ["response.completed"]
    later = clock + timedelta(minutes=2)
    response_save_answers(response=response, answers={"color": "Red"}, complete=True, at=later)
    assert pending_updates_flush(now=later + timedelta(hours=1)) == 0  # nothing changed
    response_save_answers(response=response, answers={"color": "Blue"}, complete=True, at=later)
    due = later + timedelta(seconds=settings.HARK_WEBHOOKS_DEBOUNCE_SECONDS)
    assert pending_updates_flush(now=due) == 1
    run(at=due)
    assert [r.json()["type"] for r in receiver.received] == [
        "response.completed",
        "response.updated",
    ]
    assert "Blue" in receiver.received[-1].body.decode()


def test_contact_events_and_erasure(environment, allow_private, receiver):
    endpoint_for(environment, receiver, ["contact.identified", "contact.deleted"])
    profile = profile_identify(environment=environment, user_id="u-9", email="z@example.com")
    assert OutboxEvent.objects.filter(event_type="contact.identified").count() == 1
    profile_identify(environment=environment, user_id="u-9")  # known: no new event
    assert OutboxEvent.objects.filter(event_type="contact.identified").count() == 1
    profile_erase(profile=profile)
    # The contact's pending events went with it; contact.deleted carries its identifiers.
    events = list(OutboxEvent.objects.values_list("event_type", flat=True))
    assert events == ["contact.deleted"]
    run()
    data = receiver.received[0].json()["data"]
    assert data["contact"]["id"] == "u-9"
    assert data["contact"]["uuid"] == str(profile.uuid)


def test_merge_emits_identified_and_keeps_pending_events(environment, allow_private, receiver):
    endpoint_for(environment, receiver, ["contact.identified", "survey.published"])
    anon = profile_identify(environment=environment, anonymous_id="dev-1")
    # A device alone is nobody yet (test_emit_points.py has each way a contact is identified).
    assert not OutboxEvent.objects.filter(profile=anon).exists()
    merged = profile_identify(environment=environment, user_id="u-2", anonymous_id="dev-1")
    # Either the device was adopted or merged: every event is about the surviving contact.
    assert set(OutboxEvent.objects.values_list("profile_id", flat=True)) == {merged.pk}
    assert OutboxEvent.objects.filter(event_type="contact.identified").count() == 1


def test_segment_recompute_emits_entered_and_left_in_its_statements(
    environment, allow_private, receiver
):
    profiles = [
        ProfileFactory(environment=environment, traits={"plan": "pro" if i % 2 else "free"})
        for i in range(20)
    ]
    segment = SegmentFactory(
        environment=environment,
        rules={
            "op": "and",
            "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
        },
    )
    with CaptureQueriesContext(connection) as without:
        segment_recompute(segment_id=segment.pk)
    assert not OutboxEvent.objects.exists()
    endpoint_for(environment, receiver, ["segment.entered", "segment.left"])

    Profile.objects.filter(pk__in=[p.pk for p in profiles]).update(traits={"plan": "pro"})
    Profile.objects.filter(pk=profiles[1].pk).update(traits={"plan": "free"})
    with CaptureQueriesContext(connection) as with_hook:
        segment_recompute(segment_id=segment.pk)
    # Same statements: the outbox rows ride in the recompute's own INSERT/DELETE.
    assert len(with_hook) == len(without)
    entered = OutboxEvent.objects.filter(event_type="segment.entered")
    left = OutboxEvent.objects.filter(event_type="segment.left")
    assert entered.count() == 10
    assert list(left.values_list("profile_id", flat=True)) == [profiles[1].pk]
    run()
    types = sorted(r.json()["type"] for r in receiver.received)
    assert types == ["segment.entered"] * 10 + ["segment.left"]
    one = next(r.json() for r in receiver.received if r.json()["type"] == "segment.left")
    assert one["data"]["segment"]["name"] == segment.name
    assert one["data"]["contact"]["uuid"] == str(profiles[1].uuid)


def test_segment_destination_gets_identify_and_track(
    environment, allow_private, receiver, nps_survey
):
    survey = nps_survey
    services.endpoint_create(
        environment=environment,
        url=receiver.url,
        event_types=None,
        kind="segment",
        write_key="wk_123",
    )
    profile = ProfileFactory(environment=environment, user_id="u-7", email="s@example.com")
    response = ResponseFactory(survey=survey, profile=profile)
    response_save_answers(response=response, answers={"score": 10}, complete=True)
    run()
    got = receiver.received[0]
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"wk_123:").decode()
    batch = got.json()["batch"]
    identify, track = batch
    assert identify["type"] == "identify" and identify["userId"] == "u-7"
    assert identify["traits"] == {"score": 10, "email": "s@example.com"}
    assert track["event"] == "Survey Completed"
    assert track["properties"]["score"] == 10
    assert track["properties"]["survey_name"] == "Onboarding NPS"


def test_endpoint_create_refuses_bad_input(environment):

    with pytest.raises(ValidationError) as exc:
        services.endpoint_create(
            environment=environment, url="http://127.0.0.1/x", event_types=["survey.published"]
        )
    assert "url" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.endpoint_create(
            environment=environment, url="https://8.8.8.8/x", event_types=["nope"]
        )
    assert "event_types" in exc.value.message_dict
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_purge_keeps_what_is_recent_or_still_due(environment, settings):
    """Events past HARK_DELIVERY_LOG_DAYS go with their deliveries (replays included) once
    every delivery is finished; one still due, one not yet fanned out, and recent ones stay."""
    settings.HARK_DELIVERY_LOG_DAYS = 30
    now = timezone.now()
    old = now - timedelta(days=31)
    endpoint = WebhookEndpointFactory(environment=environment)

    def event(at, *statuses, fanned_out=True):
        outbox = OutboxEventFactory(environment=environment, created_at=at, fanned_out=fanned_out)
        previous = None
        for status in statuses:
            previous = DeliveryFactory(
                endpoint=endpoint, event=outbox, status=status, replay_of=previous
            )
        return outbox

    delivered = event(old, "succeeded")
    replayed = event(old, "gave_up", "succeeded")  # the second replays the first
    still_due = event(old, "succeeded", "failed")
    not_fanned_out = event(old, fanned_out=False)
    recent = event(now - timedelta(days=29), "succeeded")

    assert services.delivery_log_purge(now=now, batch=1) == 2
    left = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert left == {still_due.pk, not_fanned_out.pk, recent.pk}
    assert not Delivery.objects.filter(event_id__in=[delivered.pk, replayed.pk]).exists()
    assert Delivery.objects.filter(event=still_due).count() == 2
    assert services.delivery_log_purge(now=now) == 0  # idempotent


# --- Attempts that fail before a request goes out ----------------------------------------------


def _next_round(delivery: Delivery, clock):
    """The first moment the drain may take the delivery again: due, and its lease (if a worker
    left one) lapsed."""
    free = max(clock, delivery.next_attempt_at, delivery.lease_until or clock)
    return free + timedelta(seconds=1)


def test_a_context_integer_beyond_64_bits_is_sent_as_written(
    environment, allow_private, receiver, nps_survey
):
    """Ingestion keeps a context number as sent; orjson refuses one beyond 64 bits (the
    delivery could never be built): the body carries it digit for digit, signed."""
    endpoint = endpoint_for(environment, receiver, ["response.completed"])
    response = ResponseFactory(survey=nps_survey, profile=ProfileFactory(environment=environment))
    response_add_context(response=response, context={"order_id": 10**20, "name": "Zoë"})
    response_save_answers(response=response, answers={"score": 2}, complete=True)
    run(at=timezone.now())
    [got] = receiver.received
    assert b'"order_id":100000000000000000000' in got.body and "Zoë".encode() in got.body
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["data"]["response"]["context"]["order_id"] == 10**20
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_request_that_cannot_be_built_fails_on_the_schedule_then_gives_up(
    environment, owner_client, allow_private, receiver, nps_survey, monkeypatch
):
    """A delivery whose request cannot be built (a fault in building its payload; before the
    encoder took them, a context integer beyond 64 bits did it) is a failed attempt like a
    500: its reason in the delivery log, retried on the specification's schedule, then given
    up; the endpoint's other contacts are not held up."""
    endpoint = endpoint_for(environment, receiver, ["response.completed"])
    ann, bob = ProfileFactory(environment=environment), ProfileFactory(environment=environment)
    real_payload = services._event_payload

    def payload(event):
        if event.profile_id == ann.pk:
            raise TypeError("cannot encode this")
        return real_payload(event)

    monkeypatch.setattr(services, "_event_payload", payload)
    unsendable = ResponseFactory(survey=nps_survey, profile=ann)
    response_save_answers(response=unsendable, answers={"score": 2}, complete=True)
    fine = ResponseFactory(survey=nps_survey, profile=bob)
    response_save_answers(response=fine, answers={"score": 10}, complete=True)

    clock = timezone.now()
    run(at=clock)
    assert [r.json()["data"]["contact"]["uuid"] for r in receiver.received] == [str(bob.uuid)]
    failed = Delivery.objects.get(contact_key=ann.pk)
    delays = []
    for _ in range(services.MAX_ATTEMPTS + 2):  # more rounds than it has attempts
        if failed.status == DeliveryStatus.FAILED:
            delays.append((failed.next_attempt_at - clock).total_seconds())
        clock = _next_round(failed, clock)
        run(at=clock)
        failed.refresh_from_db()

    assert (failed.status, failed.attempt) == (DeliveryStatus.GAVE_UP, services.MAX_ATTEMPTS)
    assert failed.lease_until is None and failed.http_status is None
    assert failed.error == (
        "not sent: the request could not be built (TypeError: cannot encode this)"
    )
    assert len(delays) == len(services.RETRY_SCHEDULE) - 1
    for delay, base in zip(delays, services.RETRY_SCHEDULE[1:], strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert len(receiver.received) == 1  # never sent
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    # Its admins see why in the endpoint's delivery log.
    page = owner_client.get(eurl(environment, "webhooks:detail", uuid=endpoint.uuid))
    assert "not sent: the request could not be built" in page.content.decode()


def test_an_international_host_name_goes_out_in_its_ascii_form(
    environment, allow_private, receiver, monkeypatch
):
    """A host name outside ASCII is sent as its IDNA "xn--" form (Host header, TLS name): HTTP
    headers are Latin-1, and the raw name made the request raise before it went out."""
    port = receiver.server.server_address[1]
    resolve_locally(monkeypatch, "例え.test", "xn--r8jz45g.test")  # to the local receiver
    services.endpoint_create(
        environment=environment,
        url=f"http://例え.test:{port}/hook",
        event_types=["survey.published"],
    )
    endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})

    run()

    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    hosts = sorted(r.headers["host"] for r in receiver.received)
    assert hosts == [f"127.0.0.1:{port}", f"xn--r8jz45g.test:{port}"]


def test_a_send_that_raises_is_a_failed_attempt_and_the_batch_goes_on(
    environment, allow_private, receiver, monkeypatch
):
    """http.post() reports failures in its Result; should it raise all the same (a bug), that
    delivery's attempt fails with the reason and the rest of the batch is sent and recorded."""
    broken_url = receiver.url.replace("/hook", "/broken")
    real_post = http.post

    def post(url, *args, **kwargs):
        if url == broken_url:
            raise RuntimeError("boom")
        return real_post(url, *args, **kwargs)

    monkeypatch.setattr(http, "post", post)
    broken = services.endpoint_create(
        environment=environment, url=broken_url, event_types=["survey.published"]
    )
    endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})

    run()

    failed = Delivery.objects.get(endpoint=broken)
    assert (failed.status, failed.attempt) == (DeliveryStatus.FAILED, 1)
    assert failed.error == "not sent: the request failed (RuntimeError: boom)"
    assert failed.lease_until is None
    assert Delivery.objects.exclude(endpoint=broken).get().status == DeliveryStatus.SUCCEEDED


def test_post_reports_a_request_it_cannot_send_instead_of_raising(allow_private, receiver):
    result = http.post(receiver.url, b"{}", {"X-Note": "two\nlines"})
    assert result.status is None
    assert result.error.startswith("refused: the request could not be built: Invalid header")
    assert receiver.received == []


def test_a_delivery_whose_attempts_keep_dying_gives_up(
    environment, allow_private, receiver, settings
):
    """Workers killed mid-delivery (the lease lapses, the attempt is never recorded) as many
    times as a delivery has attempts: it gives up instead of being taken forever, which would
    hold the contact's later events back for good."""
    settings.HARK_WEBHOOKS_LEASE_SECONDS = 30
    endpoint_for(environment, receiver, ["survey.published"])
    emit(environment.pk, "survey.published", {"survey_id": 0})
    services.fan_out()
    clock = timezone.now()
    for _ in range(services.MAX_ATTEMPTS + 3):
        services.claim(limit=10, at=clock)  # a worker takes it, then dies
        clock += timedelta(seconds=31)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempt) == (DeliveryStatus.GAVE_UP, services.MAX_ATTEMPTS)
    assert delivery.error == "delivery interrupted too many times"
    assert delivery.lease_until is None
    run(at=clock)
    assert receiver.received == []
