"""Fuzz the OpenAPI document with schemathesis: every operation, valid and invalid input, through
the WSGI application. No response may be a 500, and every response must match the document
(status code declared, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

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
