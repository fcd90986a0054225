"""Fuzz the OpenAPI document with schemathesis: every operation, valid and invalid input, through
the WSGI application. No response may be a 500, and every response must match the document
(status code declared, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from profiles.models import Profile
from surveys.factories import QuestionFactory, SurveyFactory
from tests.api_helpers import new_key

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def auth_header(environment, settings):
    settings.HARK_API_RATE_LIMIT = 10**9
    return {"Authorization": f"Bearer {new_key(environment)}"}


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Requests go through the raw WSGI handler, whose request signals would close the test's
    database connection (and with it the test transaction); Django's test Client detaches them
    the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_openapi_document_holds_under_fuzzing(case, auth_header):
    case.call_and_validate(headers=auth_header, checks=CHECKS)


# --- Hostile text the OpenAPI fuzzer does not produce --------------------------------------------
# Schemathesis draws JSON strings that are valid Unicode; a client can also send lone surrogates
# (`"\ud800"`), NUL bytes, control characters, and emails in any case. Each call below must be a
# 2xx, or a 4xx naming a field that writes nothing.

HOSTILE_CHARS = st.characters(categories=["Cs", "Cc", "Lu", "Ll", "Nd", "So", "Zs"])
hostile_text = st.text(HOSTILE_CHARS, max_size=12)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}.io",
    st.text("aAbBzZ09._+", min_size=1, max_size=8),
    st.text("xXyY", min_size=1, max_size=6),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6,
)


def _table_counts() -> dict[str, int]:

    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # introspected names only
            counts[table] = cursor.fetchone()[0]
    return counts


def _check(response, before: dict[str, int]) -> None:
    assert response.status_code < 500, response.content
    body = response.json()
    if response.status_code >= 400:
        assert body.get("field"), body
        assert _table_counts() == before, body


@pytest.fixture
def api(api, settings):
    """The shared API client, without the rate limit (the fuzzer sends hundreds of calls)."""
    settings.HARK_API_RATE_LIMIT = 10**9
    return api


@pytest.fixture
def fuzz_survey(environment):

    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="score")
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user=hostile_text | st.integers(0, 10**6),
    email=emails | hostile_text | st.none(),
    why=hostile_text,
    context=st.dictionaries(hostile_text, json_values, max_size=3),
    score=st.integers(-2, 12) | hostile_text,
)
def test_hostile_responses_are_stored_or_refused_naming_a_field(
    api, fuzz_survey, user, email, why, context, score
):
    before = _table_counts()
    body = {
        "survey": str(fuzz_survey.uuid),
        "id": user,
        "email": email,
        "answers": {"score": score, "why": why},
        "context": context,
    }
    _check(api.post("/api/v1/responses", body), before)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user=hostile_text,
    email=emails | hostile_text,
    traits=st.dictionaries(hostile_text, json_values, max_size=3),
)
def test_hostile_identify_and_track_are_stored_or_refused_naming_a_field(
    api, environment, user, email, traits
):

    before = _table_counts()
    response = api.post("/api/v1/identify-user", {"id": user, "email": email, "traits": traits})
    _check(response, before)
    before = _table_counts()
    response = api.post("/api/v1/track-event", {"email": email, "event": "E", "properties": traits})
    _check(response, before)
    # One canonical form: never two profiles whose emails differ only in case or spaces.
    stored = list(
        Profile.objects.filter(environment=environment, email__isnull=False).values_list(
            "email", flat=True
        )
    )
    assert all(e == e.strip().lower() for e in stored), stored
