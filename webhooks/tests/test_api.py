"""The webhooks REST API: CRUD, rotation, the delivery log, replays; field-naming 400s that
write nothing; another environment's endpoints 404; the OpenAPI `webhooks` section."""

from __future__ import annotations

import json

import pytest

from tests.api_helpers import ApiClient
from webhooks import services
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.outbox import emit

pytestmark = pytest.mark.django_db

BASE = "/api/v1/webhooks/"


def patch(api: ApiClient, path: str, body: dict):
    return api.client.patch(
        path, json.dumps(body), content_type="application/json", **api._headers()
    )


def test_create_returns_the_secret_once_then_only_a_hint(api, allow_private, receiver):
    answer = api.post(
        BASE, {"url": receiver.url, "event_types": ["response.completed"], "description": "CRM"}
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    listed = api.get(BASE).json()
    assert [e["uuid"] for e in listed] == [body["uuid"]]
    assert "secret" not in listed[0]
    assert listed[0]["secret_hint"].endswith(body["secret"][-4:])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:8000/x", "event_types": ["survey.published"]}, "url"),
        ({"url": "http://169.254.169.254/latest", "event_types": ["survey.published"]}, "url"),
        ({"url": "ftp://example.com/", "event_types": ["survey.published"]}, "url"),
        ({"url": "https://8.8.8.8/x", "event_types": ["nope"]}, "event_types.0"),
        ({"url": "https://8.8.8.8/x", "event_types": []}, "event_types"),
        ({"event_types": ["survey.published"]}, "url"),
        ({"url": "https://8.8.8.8/x", "kind": "segment"}, "write_key"),
        ({"url": "https://8.8.8.8/x", "kind": "other", "event_types": []}, "kind"),
        # PostgreSQL refuses NUL in text: these were 500s through the API.
        (
            {"url": "https://8.8.8.8/x", "event_types": ["survey.published"], "description": "a\0"},
            "description",
        ),
        ({"url": "https://8.8.8.8/ho\0ok", "event_types": ["survey.published"]}, "url"),
        ({"url": "https://8.8.8.8/a\nb", "event_types": ["survey.published"]}, "url"),
        ({"url": "https://8.8.8.8/x", "kind": "segment", "write_key": "wk\0"}, "write_key"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, body, field):
    answer = api.post(BASE, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field
    assert not WebhookEndpoint.objects.exists()


def test_update_rotate_delete(api, allow_private, receiver):
    created = api.post(BASE, {"url": receiver.url, "event_types": ["survey.published"]}).json()
    path = f"{BASE}{created['uuid']}"
    answer = patch(api, path, {"enabled": False, "event_types": ["survey.closed"]})
    assert answer.status_code == 200, answer.content
    assert answer.json()["enabled"] is False
    assert answer.json()["event_types"] == ["survey.closed"]
    assert patch(api, path, {"description": "x\0y"}).json()["field"] == "description"
    allow_private.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    assert patch(api, path, {"url": "http://10.0.0.1/"}).json()["field"] == "url"
    assert WebhookEndpoint.objects.get().url == receiver.url
    rotated = api.post(f"{path}/rotate", {}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]
    assert api.delete(path).status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_delivery_log_pages_and_replay(api, environment, allow_private, receiver):
    created = api.post(BASE, {"url": receiver.url, "event_types": ["survey.published"]}).json()
    for _ in range(5):
        emit(environment.pk, "survey.published", {"survey_id": 0})
    services.drain()
    path = f"{BASE}{created['uuid']}/deliveries"
    first = api.get(path, {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next_before"]
    second = api.get(path, {"limit": 2, "before": first["next_before"]}).json()
    ids = [d["id"] for d in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert api.get(path, {"status": "failed"}).json()["results"] == []
    assert api.get(path, {"status": "bogus"}).json()["field"] == "status"
    one = first["results"][0]
    replay = api.post(f"{path}/{one['id']}/replay", {})
    assert replay.status_code == 202
    assert replay.json()["webhook_id"] == one["webhook_id"]
    test = api.post(f"{BASE}{created['uuid']}/test", {})
    assert test.status_code == 202
    services.drain()
    assert len(receiver.received) == 7


def test_another_environments_endpoint_is_404(api, other_api, allow_private, receiver):
    created = api.post(BASE, {"url": receiver.url, "event_types": ["survey.published"]}).json()
    path = f"{BASE}{created['uuid']}"
    assert other_api.get(path).status_code == 404
    assert patch(other_api, path, {"enabled": False}).status_code == 404
    assert other_api.post(f"{path}/rotate", {}).status_code == 404
    assert other_api.get(f"{path}/deliveries").status_code == 404
    assert other_api.delete(path).status_code == 404
    assert other_api.get(BASE).json() == []
    assert WebhookEndpoint.objects.get().enabled
    assert not Delivery.objects.exists()


def test_openapi_documents_every_event_payload_with_an_example(client):
    schema = client.get("/api/v1/openapi.json").json()
    hooks = schema["webhooks"]
    for name in [
        "response.completed",
        "response.updated",
        "response.dismissed",
        "contact.identified",
        "contact.deleted",
        "segment.entered",
        "segment.left",
        "survey.published",
        "survey.closed",
    ]:
        content = hooks[name]["post"]["requestBody"]["content"]["application/json"]
        assert content["example"]["type"] == name
        assert "data" in content["schema"]["properties"]
    assert any(path.startswith("/api/v1/webhooks/") for path in schema["paths"])
