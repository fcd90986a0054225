import base64

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from environments.models import ApiKey
from environments.services import api_key_revoke
from tests.api_helpers import new_key

URL = "/api/v1/"


@pytest.fixture
def secret(environment):
    return new_key(environment)


def test_bearer(client, environment, secret):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json() == {"uuid": str(environment.uuid), "name": environment.name}


def test_basic_with_key_as_user_name(client, environment, secret):
    token = base64.b64encode(f"{secret}:".encode()).decode()
    response = client.get(URL, HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200
    assert response.json()["uuid"] == str(environment.uuid)


def test_api_key_parameter(client, environment, secret):
    response = client.get(URL, {"api_key": secret})
    assert response.status_code == 200


def test_use_is_recorded(client, secret):
    client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert ApiKey.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Bearer hark_sk_unknown"},
        {"HTTP_AUTHORIZATION": "Token abc"},
        {"HTTP_AUTHORIZATION": "Basic !!!not-base64"},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},
        {"HTTP_AUTHORIZATION": "Bearer " + "x" * 5000},
        {"HTTP_AUTHORIZATION": "Bearer a\x00b"},
    ],
)
def test_missing_malformed_or_unknown_key_is_401_json(client, secret, headers):
    response = client.get(URL, **headers)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_revoked_key_is_401(client, environment):
    secret = new_key(environment)
    api_key_revoke(api_key=ApiKey.objects.get(environment=environment))
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


@override_settings(HARK_API_RATE_LIMIT=3)
def test_rate_limit_per_key_answers_429_with_retry_after(client, environment, other_environment):
    cache.clear()
    secret, other = new_key(environment), new_key(other_environment)
    codes = [client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert "error" in limited.json()
    # Another key has its own budget.
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200


def test_docs_and_openapi_need_no_key_and_no_cdn(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/identify-user", "/api/v1/track-event", "/api/v1/contacts"} <= set(
        document["paths"]
    )
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert Client().get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_revocation_applies_once_the_process_cache_expires(client, environment, monkeypatch):
    secret = new_key(environment)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(environment=environment))
    monkeypatch.setattr("api.auth.KEY_CACHE_SECONDS", 0.0)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_valid_key_is_remembered_briefly(client, environment, django_assert_num_queries):
    secret = new_key(environment)
    client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}")
    with django_assert_num_queries(0):
        assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
