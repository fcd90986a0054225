"""The wiring, end to end: a real Celery worker and beat on a real Redis. A completed response
reaches the Slack receiver with no test code calling a task: beat schedules the sweep, the
worker matches and posts."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from alerts.factories import AlertSubscriptionFactory
from alerts.models import AlertSent
from profiles.factories import ProfileFactory
from segments.tests import celery_fixtures
from segments.tests.celery_fixtures import (
    HarkProcess,
    celery_command,
    new_queue,
    publishing_to,
    start_worker,
    worker_env,
)
from surveys import services as survey_services
from surveys.factories import QuestionFactory, SurveyFactory

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

# A real Redis (see celery_fixtures).
redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url


def test_a_completed_response_is_posted_to_slack_by_the_worker(
    environment, owner, redis_url, slack_receiver, settings, tmp_path
):
    survey = SurveyFactory(environment=environment, live=True, name="Onboarding")
    QuestionFactory(survey=survey, kind="nps", key="nps", title="Recommend us?")
    AlertSubscriptionFactory(
        environment=environment,
        user=owner.user,
        name="Detractors",
        question_key="nps",
        score_min=0,
        score_max=6,
        email=False,
        slack_url=slack_receiver.url,
        created_at=timezone.now() - dt.timedelta(seconds=5),
    )
    queue = new_queue()
    env = worker_env(
        redis_url,
        queue,
        HARK_ALERTS_SWEEP_SECONDS="1",
        HARK_WEBHOOKS_ALLOW_PRIVATE="true",
        HARK_BASE_URL="https://hark.example.com",
    )
    worker = start_worker(env)
    beat = HarkProcess(
        celery_command("beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule")),
        env,
        "beat",
    )
    try:
        with publishing_to(redis_url, queue, settings):
            profile = ProfileFactory(environment=environment, traits={"name": "Jane Doe"})
            promoter = ProfileFactory(environment=environment)
            # As the survey link saves them: a view, then the answers with completion.
            for who, score in ((promoter, 10), (profile, 2)):
                response = survey_services.response_record_view(
                    survey=survey, profile=who, channel="link"
                )
                survey_services.response_save_answers(
                    response=response, answers={"nps": score}, complete=True
                )
            deadline = time.monotonic() + 60
            while not slack_receiver.posts:
                if time.monotonic() > deadline:
                    pytest.fail(
                        "no Slack post; worker log:\n"
                        + worker.log()[-3000:]
                        + "\nbeat log:\n"
                        + beat.log()[-2000:]
                    )
                time.sleep(0.2)
            time.sleep(2.5)  # a few more sweeps: still one post (the promoter never alerts)
    finally:
        beat.stop()
        worker.stop()
    [post] = slack_receiver.posts
    assert "New response to Onboarding: Jane Doe" in post["json"]["text"]
    assert "Recommend us?: 2" in post["json"]["text"]
    assert (
        f"https://hark.example.com/e/{environment.slug}/users/{profile.uuid}/"
        in (post["json"]["text"])
    )
    assert AlertSent.objects.get().status == "sent"
