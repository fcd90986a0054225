"""A request Django refuses before any view runs (a Host header that is not valid): the API
answers with its JSON error body, as its OpenAPI document says (schemathesis sent such a Host
and got Django's HTML page), and the dashboard keeps Django's page. Never a 500."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

BAD_HOST = "Dx&\\tw5N`rFL6"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/segments"),
        ("post", "/api/v1/sync-segment"),
        ("post", "/segment/v1/track"),
    ],
)
def test_api_paths_answer_an_invalid_host_in_json(client, method, path):
    response = getattr(client, method)(path, HTTP_HOST=BAD_HOST)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["error"] == "bad_request" and body["detail"]


def test_the_dashboard_keeps_djangos_page_for_an_invalid_host(client):
    response = client.get("/login/", HTTP_HOST=BAD_HOST)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_host_not_in_allowed_hosts_is_refused_in_json_too(client):
    response = client.get("/api/v1/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "bad_request"
