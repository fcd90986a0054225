"""Delivery of immediate alerts: the Slack message (checked on a real local receiver), the email
(Django's outbox), retries with backoff, leases, and the private-address refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts import messages, services
from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertDigest, AlertSent, DeliveryStatus, Trigger
from environments.services import member_add, member_remove
from profiles.factories import ProfileFactory
from segments import services as segment_services
from segments.factories import ManualSegmentFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from tests.helpers import resolve_locally
from webhooks.http import UnsafeURL

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, live=True, name="Onboarding")
    QuestionFactory(
        survey=survey, kind="nps", key="nps", title="How likely are you to recommend Acme?"
    )
    QuestionFactory(survey=survey, kind="csat", key="csat", title="How satisfied are you?")
    QuestionFactory(survey=survey, kind="text", key="why", title="What should we improve?")
    return survey


@pytest.fixture
def jane(environment):
    return ProfileFactory(
        environment=environment,
        user_id="u-42",
        email="jane@customer.test",
        traits={"name": "Jane Doe"},
    )


def subscription(owner, **fields):
    return AlertSubscriptionFactory(
        environment=owner.environment,
        user=owner.user,
        created_at=timezone.now() - dt.timedelta(minutes=1),
        **fields,
    )


def test_slack_message_and_email_say_who_what_and_link_to_the_panel(
    owner, survey, jane, slack_receiver, settings
):
    settings.HARK_BASE_URL = "https://hark.example.com"
    sub = subscription(owner, name="Detractors", slack_url=slack_receiver.url, email=True)
    response = ResponseFactory(
        survey=survey,
        profile=jane,
        data={"nps": 3, "csat": -2, "why": "Too slow <and> buggy & pricey"},
        completed=True,
    )
    services.alerts_sweep()
    assert services.alerts_deliver() == 1

    panel = f"https://hark.example.com/e/{owner.environment.slug}/users/{jane.uuid}/"
    [post] = slack_receiver.posts
    assert post["path"] == "/services/T000/B000/XXXX"
    assert post["content_type"] == "application/json"
    body = post["json"]
    text = body["text"]
    assert "New response to Onboarding" in text
    assert "Jane Doe (jane@customer.test · u-42)" in text
    assert "How likely are you to recommend Acme?: 3" in text
    # CSAT in words, as the Response List shows it.
    assert "How satisfied are you?: Very unsatisfied" in text
    assert panel in text
    blocks = " ".join(b.get("text", {}).get("text", "") for b in body["blocks"])
    assert f"<{panel}|Jane Doe>" in blocks
    assert "*What should we improve?*\nToo slow &lt;and&gt; buggy &amp; pricey" in blocks

    [email] = mail.outbox
    assert email.to == [owner.user.email]
    assert email.subject == "[Hark] New response to Onboarding: Jane Doe"
    assert "How satisfied are you?\n  Very unsatisfied" in email.body
    assert "Too slow <and> buggy & pricey" in email.body
    assert panel in email.body
    html, mime = email.alternatives[0]
    assert mime == "text/html"
    assert f'<a href="{panel}">Jane Doe</a>' in html
    assert "Too slow &lt;and&gt; buggy &amp; pricey" in html

    row = AlertSent.objects.get(subscription=sub, object_id=response.pk)
    assert row.status == DeliveryStatus.SENT and row.attempts == 1
    # Delivered once: nothing more on the next rounds.
    services.alerts_sweep()
    assert services.alerts_deliver() == 0
    assert len(slack_receiver.posts) == 1 and len(mail.outbox) == 1


def test_segment_entered_message(owner, environment, jane, slack_receiver):
    churn = ManualSegmentFactory(environment=environment, name="Churn risk")
    subscription(
        owner, trigger=Trigger.SEGMENT_ENTERED, segment=churn, slack_url=slack_receiver.url
    )
    segment_services.segment_member_add(segment=churn, profile=jane)
    services.alerts_sweep()
    services.alerts_deliver()
    [post] = slack_receiver.posts
    assert (
        "Entered the segment Churn risk: Jane Doe (jane@customer.test · u-42)"
        in post["json"]["text"]
    )
    assert "Entered the segment Churn risk" in mail.outbox[0].subject


def test_a_failed_slack_post_is_retried_with_backoff_without_resending_the_email(
    owner, survey, jane, slack_receiver, settings
):
    settings.HARK_ALERTS_MAX_ATTEMPTS = 3
    subscription(owner, slack_url=slack_receiver.url, email=True)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    slack_receiver.statuses = [500, 503]
    now = timezone.now()
    services.alerts_sweep(now=now)
    services.alerts_deliver(now=now)
    row = AlertSent.objects.get()
    assert (row.status, row.attempts, row.email_done, row.slack_done) == ("pending", 1, True, False)
    assert "HTTP 500" in row.last_error
    assert row.next_attempt_at == now + dt.timedelta(seconds=30)
    # Not due yet: nothing is tried.
    assert services.alerts_deliver(now=now + dt.timedelta(seconds=10)) == 0
    services.alerts_deliver(now=now + dt.timedelta(seconds=31))
    row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (2, now + dt.timedelta(seconds=31 + 120))
    services.alerts_deliver(now=now + dt.timedelta(minutes=10))
    row.refresh_from_db()
    assert (row.status, row.attempts, row.slack_done) == ("sent", 3, True)
    assert len(mail.outbox) == 1 and len(slack_receiver.posts) == 1


def test_attempts_are_bounded(owner, survey, jane, slack_receiver, settings):
    settings.HARK_ALERTS_MAX_ATTEMPTS = 2
    subscription(owner, slack_url=slack_receiver.url, email=False)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    slack_receiver.statuses = [500] * 5
    now = timezone.now()
    services.alerts_sweep(now=now)
    for minutes in (0, 5, 60, 600):
        services.alerts_deliver(now=now + dt.timedelta(minutes=minutes))
    row = AlertSent.objects.get()
    assert (row.status, row.attempts) == ("failed", 2)
    assert slack_receiver.posts == []
    # Its owner sees why on the alert's page.
    client = Client()
    client.force_login(owner.user)
    page = client.get(
        reverse("alerts:edit", kwargs={"env": owner.environment.slug, "pk": row.subscription_id})
    ).content.decode()
    assert "Failed" in page and "slack: HTTP 500: no_service" in page


def test_a_lease_held_by_a_dead_worker_expires_and_the_alert_is_retried(
    owner, survey, jane, slack_receiver
):
    subscription(owner, slack_url=slack_receiver.url, email=False)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    now = timezone.now()
    services.alerts_sweep(now=now)
    # A worker claimed it and died before posting (the claim commits on its own).
    assert services._claim(AlertSent, now, 10) == [AlertSent.objects.get().pk]
    assert services.alerts_deliver(now=now + dt.timedelta(minutes=1)) == 0  # still leased
    assert services.alerts_deliver(now=now + services.LEASE + dt.timedelta(seconds=1)) == 1
    row = AlertSent.objects.get()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(slack_receiver.posts) == 1


def test_a_slack_url_on_a_private_address_is_refused_without_the_setting(
    owner, survey, jane, settings
):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    for url in (
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9/hook",
    ):
        with pytest.raises(UnsafeURL, match=r"loopback|private|link-local"):
            services.outbound.check_url(url)
    # Stored before the setting changed: delivery checks again and refuses.
    subscription(owner, slack_url="http://127.0.0.1:9/hook", email=False)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    services.alerts_sweep()
    services.alerts_deliver()
    row = AlertSent.objects.get()
    assert row.status == "pending" and "a loopback address" in row.last_error


def test_delivery_queries_do_not_grow_with_the_batch(
    owner, survey, environment, django_assert_max_num_queries
):
    subscription(owner, email=True)
    for _ in range(3):
        ResponseFactory(survey=survey, data={"nps": 1, "why": "x"}, completed=True)
    services.alerts_sweep()

    with CaptureQueriesContext(connection) as three:
        assert services.alerts_deliver() == 3
    for _ in range(12):
        ResponseFactory(survey=survey, data={"nps": 1, "why": "x"}, completed=True)
    services.alerts_sweep()
    # Loading is fixed per batch; each alert then costs its one status update.
    with django_assert_max_num_queries(len(three.captured_queries) + 9):
        assert services.alerts_deliver() == 12


def test_a_removed_member_is_told_nothing_more(owner, environment, survey, jane):

    colleague = member_add(environment=environment, email="leaver@acme.test", role="analyst")
    subscription(colleague, email=True)
    member_remove(membership=colleague)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    assert services.alerts_sweep() == 0
    assert mail.outbox == []


def test_an_alert_whose_response_was_deleted_is_not_sent(owner, survey, jane, slack_receiver):
    subscription(owner, slack_url=slack_receiver.url, email=True)
    response = ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    services.alerts_sweep()
    response.delete()
    services.alerts_deliver()
    row = AlertSent.objects.get()
    assert (row.status, row.last_error) == ("failed", "the response no longer exists")
    assert mail.outbox == [] and slack_receiver.posts == []


def test_an_alert_whose_deliveries_keep_dying_stops_after_the_attempts(
    owner, survey, jane, settings
):
    settings.HARK_ALERTS_MAX_ATTEMPTS = 2
    subscription(owner, email=True)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    now = timezone.now()
    services.alerts_sweep(now=now)
    # Two workers killed mid-delivery, one after the other.
    assert services._claim(AlertSent, now, 10)
    assert services._claim(AlertSent, now + services.LEASE + dt.timedelta(seconds=1), 10)
    later = now + 2 * services.LEASE + dt.timedelta(seconds=2)
    assert services.alerts_deliver(now=later) == 0
    row = AlertSent.objects.get()
    assert (row.status, row.attempts) == ("failed", 2)
    assert mail.outbox == []


def test_sent_log_purge_keeps_what_is_recent_or_pending(environment, owner, settings):
    """Alerts and digests past HARK_DELIVERY_LOG_DAYS go once sent or failed; pending ones
    and recent ones stay."""
    settings.HARK_DELIVERY_LOG_DAYS = 30
    now = timezone.now()
    old = now - dt.timedelta(days=31)
    subscription = AlertSubscriptionFactory(environment=environment, user=owner.user)

    def alert(n, at, status):
        return AlertSent.objects.create(
            subscription=subscription,
            kind="response",
            object_id=n,
            profile_id=n,
            created_at=at,
            status=status,
        )

    alert(1, old, "sent")
    alert(2, old, "failed")
    pending = alert(3, old, "pending")
    recent = alert(4, now - dt.timedelta(days=29), "sent")
    AlertDigest.objects.create(
        subscription=subscription,
        period_start=old - dt.timedelta(days=1),
        period_end=old,
        created_at=old,
        status="sent",
    )

    assert services.sent_log_purge(now=now, batch=1) == 3
    assert set(AlertSent.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert not AlertDigest.objects.exists()


# --- Alerts that fail before anything is sent ------------------------------------------------


def test_an_alert_that_cannot_be_built_fails_alone_on_the_backoff(
    owner, survey, jane, slack_receiver, settings, monkeypatch
):
    """One alert whose message cannot be built (a bug for that one row) is a failed attempt with
    its reason, retried with backoff, then failed; the rest of its batch goes out at once."""
    settings.HARK_ALERTS_MAX_ATTEMPTS = 3
    real = messages._slack_alert

    def slack_alert(content):
        if content["subscription"].name == "Broken":
            raise RuntimeError("cannot build this one")
        return real(content)

    monkeypatch.setattr(messages, "_slack_alert", slack_alert)
    broken = subscription(owner, name="Broken", slack_url=slack_receiver.url, email=True)
    subscription(owner, name="Fine", slack_url=slack_receiver.url, email=True)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    now = timezone.now()
    services.alerts_sweep(now=now)

    assert services.alerts_deliver(now=now) == 2
    assert AlertSent.objects.exclude(subscription=broken).get().status == DeliveryStatus.SENT
    assert len(slack_receiver.posts) == 1 and len(mail.outbox) == 1
    row = AlertSent.objects.get(subscription=broken)
    assert (row.status, row.attempts, row.leased_until) == ("pending", 1, None)
    assert row.last_error == "building the alert: RuntimeError: cannot build this one"
    assert row.next_attempt_at == now + dt.timedelta(seconds=30)
    for minutes in (1, 10, 60):
        services.alerts_deliver(now=now + dt.timedelta(minutes=minutes))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(slack_receiver.posts) == 1 and len(mail.outbox) == 1


def test_a_slack_post_that_raises_keeps_the_email_sent_and_the_batch_going(
    owner, survey, jane, slack_receiver, monkeypatch
):
    """outbound.post() reports failures in its result; should it raise all the same, that post
    is a failed attempt: the email already sent is not sent again, the other alerts go out."""
    broken_url = slack_receiver.url.replace("XXXX", "BROKEN")
    real = services.outbound.post

    def post(url, *args, **kwargs):
        if url == broken_url:
            raise RuntimeError("boom")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(services.outbound, "post", post)
    broken = subscription(owner, name="A", slack_url=broken_url, email=True)
    subscription(owner, name="B", slack_url=slack_receiver.url, email=True)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    now = timezone.now()
    services.alerts_sweep(now=now)

    assert services.alerts_deliver(now=now) == 2
    row = AlertSent.objects.get(subscription=broken)
    assert (row.status, row.email_done, row.slack_done) == ("pending", True, False)
    assert row.last_error == "slack: RuntimeError: boom"
    assert AlertSent.objects.exclude(subscription=broken).get().status == DeliveryStatus.SENT
    assert len(mail.outbox) == 2 and len(slack_receiver.posts) == 1
    monkeypatch.setattr(services.outbound, "post", real)
    broken.slack_url = slack_receiver.url
    broken.save(update_fields=["slack_url"])
    services.alerts_deliver(now=now + dt.timedelta(minutes=1))
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    assert len(mail.outbox) == 2 and len(slack_receiver.posts) == 2  # the email went once


def test_a_slack_url_with_an_international_host_name_is_posted(
    owner, survey, jane, slack_receiver, monkeypatch
):
    """The name goes out in its IDNA "xn--" form: sent raw, the Host header (Latin-1) made the
    post raise after the email had gone, which took the rest of the batch down with it."""
    resolve_locally(monkeypatch, "例え.test", "xn--r8jz45g.test")  # to the local receiver
    port = slack_receiver.server.server_address[1]
    subscription(owner, name="A", slack_url=f"http://例え.test:{port}/hook", email=True)
    subscription(owner, name="B", slack_url=slack_receiver.url, email=True)
    ResponseFactory(survey=survey, profile=jane, data={"nps": 1}, completed=True)
    services.alerts_sweep()

    assert services.alerts_deliver() == 2

    assert set(AlertSent.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    hosts = sorted(post["host"] for post in slack_receiver.posts)
    assert hosts == [f"127.0.0.1:{port}", f"xn--r8jz45g.test:{port}"]
    assert len(mail.outbox) == 2
