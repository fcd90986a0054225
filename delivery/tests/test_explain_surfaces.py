"""The explanation where people look: the management command and the REST API."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from delivery.factories import web_survey
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory

pytestmark = pytest.mark.django_db


def test_explain_survey_command_prints_every_gate(environment):
    segment = ManualSegmentFactory(environment=environment, name="Enterprise customers")
    survey = web_survey(environment, targeting={"segments_include": [segment.pk]})
    profile = ProfileFactory(environment=environment, user_id="u-42")
    out = StringIO()
    call_command(
        "explain_survey", str(survey.uuid), "u-42", "--url", "https://a.test/x", stdout=out
    )
    text = out.getvalue()
    assert "WOULD NOT SHOW" in text
    assert "✗ segments    not in segment Enterprise customers" in text
    assert "✓ status      the survey is live" in text
    out = StringIO()
    call_command("explain_survey", survey.public_id, profile.email, stdout=out)
    assert "? " not in out.getvalue()  # no page rules: nothing unknown


def test_explain_survey_command_errors(environment, other_environment):
    survey = web_survey(environment)
    ProfileFactory(environment=other_environment, user_id="elsewhere")
    with pytest.raises(CommandError, match="No survey"):
        call_command("explain_survey", "nope", "u1")
    with pytest.raises(CommandError, match="No user"):
        call_command("explain_survey", str(survey.uuid), "elsewhere")
    ProfileFactory(environment=environment, user_id="u1")
    with pytest.raises(CommandError, match="--url"):
        call_command("explain_survey", str(survey.uuid), "u1", "--url", "nope")


def test_rest_eligibility_lists_the_gates(api, environment):
    survey = web_survey(
        environment,
        targeting={
            "page_rules": [
                {"kind": "include", "field": "path", "op": "starts_with", "value": "/billing"}
            ]
        },
    )
    profile = ProfileFactory(environment=environment, user_id="u1")
    answer = api.get(
        f"/api/v1/forms/{survey.uuid}/eligibility", {"id": "u1", "url": "https://a.test/settings"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["eligible"] is False
    assert body["contact"] == str(profile.uuid)
    pages = next(g for g in body["gates"] if g["gate"] == "pages")
    assert pages["passed"] is False and "/billing" in pages["reason"]
    by_uuid = api.get(
        f"/api/v1/forms/{survey.uuid}/eligibility",
        {"uuid": str(profile.uuid), "url": "https://a.test/billing"},
    )
    assert by_uuid.json()["eligible"] is True
    by_email = api.get(f"/api/v1/forms/{survey.uuid}/eligibility", {"email": profile.email})
    assert next(g for g in by_email.json()["gates"] if g["gate"] == "pages")["verdict"] == "unknown"
    # An email in any case and with blanks around it is the same contact (canonical form, as
    # GET /api/v1/contact reads it).
    spaced = api.get(
        f"/api/v1/forms/{survey.uuid}/eligibility", {"email": f"  {profile.email.upper()} "}
    )
    assert spaced.status_code == 200 and spaced.json()["contact"] == str(profile.uuid)


def test_rest_eligibility_errors_and_scoping(api, environment, other_environment):
    survey = web_survey(environment)
    theirs = web_survey(other_environment)
    ProfileFactory(environment=other_environment, user_id="them")
    ProfileFactory(environment=environment, user_id="u1")
    assert api.get(f"/api/v1/forms/{theirs.uuid}/eligibility", {"id": "u1"}).status_code == 404
    assert api.get(f"/api/v1/forms/{survey.uuid}/eligibility", {"id": "them"}).status_code == 404
    missing = api.get(f"/api/v1/forms/{survey.uuid}/eligibility")
    assert missing.status_code == 400 and missing.json()["field"] == "id"
    bad_url = api.get(f"/api/v1/forms/{survey.uuid}/eligibility", {"id": "u1", "url": "ftp://x"})
    assert bad_url.status_code == 400 and bad_url.json()["field"] == "url"
    assert api.get("/api/v1/forms/not-a-uuid/eligibility", {"id": "u1"}).status_code == 400
    # A malformed uuid is named `uuid` (it was "body": the error mapper took the parameter's
    # name for a union's type tag), a miss by email names `email`.
    bad_uuid = api.get(f"/api/v1/forms/{survey.uuid}/eligibility", {"uuid": "zz"})
    assert bad_uuid.status_code == 400 and bad_uuid.json()["field"] == "uuid"
    unknown = api.get(f"/api/v1/forms/{survey.uuid}/eligibility", {"email": "no@x.test"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "email"
    bad_page = api.get(
        f"/api/v1/forms/{survey.uuid}/eligibility", {"id": "u1", "url": "https://[::1/x"}
    )
    assert bad_page.status_code == 400 and bad_page.json()["field"] == "url"
    assert Client().get(f"/api/v1/forms/{survey.uuid}/eligibility", {"id": "u1"}).status_code == 401
