"""Delivery on a real Celery worker (real Redis, real PostgreSQL) to a real local receiver:
the event committed with the change is delivered after commit; a worker killed with SIGKILL
mid-delivery loses nothing (its lease lapses and the delivery is sent again, same webhook-id)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from standardwebhooks.webhooks import Webhook

from segments.tests import celery_fixtures
from segments.tests.celery_fixtures import new_queue, publishing_to, start_worker, worker_env
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.services import survey_set_status
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus
from webhooks.outbox import emit
from webhooks.tasks import webhooks_drain

from .receiver import Receiver

redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, what: str, worker=None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            log = worker.log()[-4000:] if worker else ""
            pytest.fail(f"timed out waiting for {what}\n{log}")
        time.sleep(0.1)


def test_a_committed_event_is_delivered_by_the_worker(
    environment, redis_url, settings, receiver, allow_private
):
    queue = new_queue()
    worker = start_worker(worker_env(redis_url, queue, HARK_WEBHOOKS_ALLOW_PRIVATE="1"))
    try:
        with publishing_to(redis_url, queue, settings):
            endpoint = services.endpoint_create(
                environment=environment, url=receiver.url, event_types=["survey.published"]
            )
            survey = SurveyFactory(environment=environment)
            QuestionFactory(survey=survey)
            survey_set_status(survey=survey, status="live")
            wait_for(lambda: receiver.received, "the delivery", worker)
            got = receiver.received[0]
            payload = Webhook(endpoint.secret).verify(got.body, got.headers)
            assert payload["data"]["survey"]["id"] == str(survey.uuid)
            wait_for(
                lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
                "the delivery recorded",
                worker,
            )
    finally:
        worker.stop()


def test_worker_killed_mid_delivery_is_retried(environment, redis_url, settings, allow_private):

    receiver = Receiver(hang=threading.Event(), hold_first=1).start()
    queue = new_queue()
    env = worker_env(
        redis_url, queue, HARK_WEBHOOKS_ALLOW_PRIVATE="1", HARK_WEBHOOKS_LEASE_SECONDS="3"
    )
    worker = start_worker(env)
    second = None
    try:
        with publishing_to(redis_url, queue, settings):
            services.endpoint_create(
                environment=environment, url=receiver.url, event_types=["survey.published"]
            )
            emit(environment.pk, "survey.published", {"survey_id": 0})
            webhooks_drain.delay()
            # The worker is inside the request, the receiver holding it: kill the worker.
            wait_for(lambda: receiver.received, "the first attempt", worker)
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
            delivery = Delivery.objects.get()
            assert delivery.status == DeliveryStatus.PENDING and delivery.lease_until
            second = start_worker(env)
            time.sleep(3.5)  # the lease lapses; beat's periodic drain would kick now
            webhooks_drain.delay()
            wait_for(lambda: len(receiver.received) >= 2, "the retry", second)
            wait_for(
                lambda: Delivery.objects.get().status == DeliveryStatus.SUCCEEDED,
                "the retry recorded",
                second,
            )
            assert Delivery.objects.get().attempt == 2
            ids = {r.headers["webhook-id"] for r in receiver.received}
            assert len(ids) == 1  # the same webhook-id: the receiver dedupes
    finally:
        worker.stop()
        if second is not None:
            second.stop()
        receiver.stop()
