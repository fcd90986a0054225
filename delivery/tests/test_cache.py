"""The client API's process cache (delivery.selectors.live_snapshot, delivery.api._key_cache):
every change it reflects reaches the next call, because database triggers bump the
environment's cache version (delivery.models.CacheVersion), which the person's query reads."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from delivery import selectors, services
from delivery.factories import web_survey
from delivery.models import CacheVersion, DeliverySettings
from delivery.services import delivery_settings_update, targeting_update, translation_set
from environments.services import identity_verification_set
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.models import Segment
from surveys.models import Response
from surveys.services import question_update, survey_set_status

from .helpers import ANON, call

URL = "https://app.acme.test/billing"
BODY = {"anonymous_id": ANON, "url": URL, "locale": "fr"}

pytestmark = pytest.mark.usefixtures("_cache_on")


@pytest.fixture
def _cache_on():
    selectors._snapshots.clear()
    with override_settings(HARK_DELIVERY_CACHE_SECONDS=300):
        yield
    selectors._snapshots.clear()


def page(client, environment, body=BODY):
    answer = call(client, environment, "/page", body)
    assert answer.status_code == 200, answer.content
    return answer.json()


def queries(client, environment, path="/page", body=BODY) -> int:
    with CaptureQueriesContext(connection) as captured:
        call(client, environment, path, body)
    return len(captured)


def test_a_warm_page_call_is_one_query_and_a_claim_reads_no_survey(client, environment):
    survey = web_survey(environment, questions=3)
    page(client, environment)
    # Surveys, questions and translations come from the snapshot: the person's query only.
    assert queries(client, environment) == 1
    claim = {**BODY, "survey_id": str(survey.uuid)}
    with CaptureQueriesContext(connection) as captured:
        assert call(client, environment, "/displays", claim).status_code == 201
    sql = "\n".join(q["sql"] for q in captured)
    assert "surveys_survey" not in sql.split("INSERT")[0]  # the survey came from the snapshot


def _pause(environment, survey):
    survey_set_status(survey=survey, status="paused")


def _page_rule(environment, survey):
    rules = [{"kind": "include", "field": "path", "op": "starts_with", "value": "/settings"}]
    targeting_update(survey=survey, values={"page_rules": rules})


def _off_web(environment, survey):
    type(survey).objects.filter(pk=survey.pk).update(channels=["link"])


@pytest.mark.parametrize(
    "change",
    [_pause, _page_rule, _off_web],
    ids=["survey paused", "page rule added", "web channel off (a bare UPDATE)"],
)
def test_a_survey_change_reaches_the_next_page_call(client, environment, change):
    survey = web_survey(environment)
    assert len(page(client, environment)["surveys"]) == 1
    assert queries(client, environment) == 1  # warm
    change(environment, survey)
    assert page(client, environment)["surveys"] == []


def test_a_completed_response_reaching_the_limit_reaches_the_next_page_call(client, environment):

    survey = web_survey(environment, targeting={"response_limit": 1})
    assert len(page(client, environment)["surveys"]) == 1
    before = CacheVersion.objects.get(environment_id=environment.pk).version
    response = Response.objects.create(
        environment=environment,
        survey=survey,
        profile=ProfileFactory(environment=environment),
        channel="web",
    )
    # A view is not a completion: the cache stays.
    assert CacheVersion.objects.get(environment_id=environment.pk).version == before
    Response.objects.filter(pk=response.pk).update(completed_at=timezone.now())
    assert page(client, environment)["surveys"] == []


def test_responses_of_unlimited_surveys_leave_the_cache_alone(client, environment):

    survey = web_survey(environment)
    page(client, environment)
    before = CacheVersion.objects.get(environment_id=environment.pk).version
    Response.objects.create(
        environment=environment,
        survey=survey,
        profile=ProfileFactory(environment=environment),
        channel="web",
        completed_at=timezone.now(),
    )
    assert CacheVersion.objects.get(environment_id=environment.pk).version == before
    assert queries(client, environment) == 1


def test_question_and_translation_edits_reach_the_next_page_call(client, environment):
    survey = web_survey(environment)
    question = survey.questions.get()
    page(client, environment)
    question_update(question=question, title="How likely now?", key=question.key)
    [content] = page(client, environment)["surveys"]
    assert content["questions"][0]["title"] == "How likely now?"
    translation_set(
        survey=survey, locale="fr", texts={"questions": {question.key: {"title": "Probable ?"}}}
    )
    [content] = page(client, environment)["surveys"]
    assert content["questions"][0]["title"] == "Probable ?"


def test_settings_reach_the_next_page_call(client, environment):
    web_survey(environment)
    page(client, environment)
    delivery_settings_update(environment=environment, values={"brand_color": "#123456"})
    assert page(client, environment)["theme"]["brand_color"] == "#123456"
    delivery_settings_update(environment=environment, values={"throttle_days": 0})
    assert call(client, environment, "/page", BODY).status_code == 200
    assert DeliverySettings.objects.get(environment=environment).throttle_days == 0


def test_allowed_origins_reach_the_next_call(client, environment):
    web_survey(environment)
    origin = {"HTTP_ORIGIN": "https://app.acme.test"}
    assert call(client, environment, "/page", BODY, **origin).status_code == 200
    delivery_settings_update(environment=environment, values={"allowed_origins": "https://x.test"})
    answer = call(client, environment, "/page", BODY, **origin)
    assert answer.status_code == 403 and answer.json()["error"] == "origin_not_allowed"


def test_identity_verification_turned_on_refuses_the_next_unsigned_call(client, environment):

    web_survey(environment)
    body = {**BODY, "user": {"id": "u-cache-1"}}
    page(client, environment, body)
    identity_verification_set(environment=environment, enabled=True)
    environment.refresh_from_db()
    before = Profile.objects.count()
    answer = call(client, environment, "/page", {**body, "user": {"id": "u-cache-2"}})
    assert answer.status_code == 403 and answer.json()["error"] == "signature_required"
    assert Profile.objects.count() == before  # refused before anything is written


def test_a_renamed_segment_reaches_the_snapshot(client, environment):
    segment = Segment.objects.create(environment=environment, name="Trial", kind="manual")
    web_survey(environment, targeting={"segments_include": [segment.pk]})
    page(client, environment)
    [(_, _, snapshot)] = selectors._snapshots.values()
    assert snapshot.segment_names == {segment.pk: "Trial"}
    Segment.objects.filter(pk=segment.pk).update(member_count=5)  # a recompute: no change
    assert queries(client, environment) == 1
    Segment.objects.filter(pk=segment.pk).update(name="Trial users")
    page(client, environment)
    [(_, _, snapshot)] = selectors._snapshots.values()
    assert snapshot.segment_names == {segment.pk: "Trial users"}


def test_a_claim_of_a_survey_paused_since_the_snapshot_is_refused(client, environment):
    survey = web_survey(environment)
    page(client, environment)
    survey_set_status(survey=survey, status="paused")
    claim = call(client, environment, "/displays", {**BODY, "survey_id": str(survey.uuid)})
    assert claim.status_code == 409 and claim.json()["field"] == "status"
    assert not Response.objects.filter(survey=survey).exists()


def test_a_claim_decided_on_an_older_version_is_started_over(client, environment):
    """The service checks the version the caller's survey was read at, before writing:
    a claim decided on a snapshot older than the database raises Stale (the endpoint then
    starts over with the survey as it now is)."""

    survey = web_survey(environment)
    page(client, environment)
    [(version, _, snapshot)] = selectors._snapshots.values()
    survey_set_status(survey=survey, status="paused")
    identity = services.Identity(anonymous_id=ANON)
    with pytest.raises(selectors.Stale):
        services.display_claim(
            environment=environment,
            survey=snapshot.surveys[survey.pk],
            identity=identity,
            url=URL,
            version=version,
        )
    assert not Response.objects.filter(survey=survey).exists()


def test_a_claim_the_gates_refuse_is_one_query_without_the_lock(client, environment):
    survey = web_survey(environment)  # once per user
    claim = {**BODY, "user": {"id": "u-refused"}, "survey_id": str(survey.uuid)}
    assert call(client, environment, "/displays", claim).status_code == 201
    with CaptureQueriesContext(connection) as captured:
        refused = call(client, environment, "/displays", claim)
    assert refused.status_code == 409 and refused.json()["field"] == "recurrence"
    assert len(captured) == 1, [q["sql"][:80] for q in captured]
