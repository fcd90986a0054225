"""Segment-compatible ingestion, driven with payloads built exactly as the libraries build them.

`_analytics_python_request` mirrors segment/analytics/client.py (`_enqueue`) and request.py
(`post`) of analytics-python 2.3: message fields, isoformat timestamps with milliseconds, a
uuid4 messageId, context.library, the batch body with sentAt and writeKey, the JSON encoding,
Basic auth with the write key as user name, and the GzipFile body when gzip=True.
`_analytics_node_request` mirrors @segment/analytics-node's publisher (body {batch, sentAt},
Basic auth, `_metadata`, messageIds "node-next-<ms>-<uuid>"); rudder-sdk-python is
analytics-python with gzip on by default.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import json
import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from events.models import Event
from profiles.factories import ProfileFactory
from profiles.models import Profile
from tests.api_helpers import new_key


@pytest.fixture
def write_key(environment):
    return new_key(environment)


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _python_message(type_: str, **fields) -> dict:
    """analytics-python's Client._enqueue."""
    msg = {
        "integrations": {},
        "anonymousId": fields.pop("anonymous_id", None),
        "timestamp": fields.pop("timestamp", None),
        "context": fields.pop("context", {}),
        "userId": fields.pop("user_id", None),
        "type": type_,
        **fields,
    }
    timestamp = msg["timestamp"] or datetime.now(tz=UTC)
    msg["timestamp"] = timestamp.isoformat(timespec="milliseconds")
    msg["messageId"] = str(msg.get("messageId") or uuid.uuid4())
    msg["context"]["library"] = {"name": "analytics-python", "version": "2.3.3"}
    return msg


def _analytics_python_request(
    client: Client, write_key: str, batch: list, *, gzip: bool, host: str = "/segment"
):
    """analytics-python request.post()."""
    body = {"batch": batch}
    body["sentAt"] = datetime.now(tz=UTC).isoformat()
    body["writeKey"] = write_key
    url = host.rstrip("/") + "/v1/batch"
    data = json.dumps(body)
    headers = {
        "HTTP_USER_AGENT": "analytics-python/2.3.3",
        "HTTP_X_RETRY_COUNT": "0",
        "HTTP_AUTHORIZATION": _basic(write_key),
    }
    if gzip:
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
        buf = BytesIO()
        with gzip_module.GzipFile(fileobj=buf, mode="w") as gz:
            gz.write(data.encode("utf-8"))
        data = buf.getvalue()
    return client.post(url, data, content_type="application/json", **headers)


def _analytics_node_request(client: Client, write_key: str, events: list):
    now = datetime.now(tz=UTC)
    batch = []
    for event in events:
        batch.append(
            {
                **event,
                "messageId": f"node-next-{int(now.timestamp() * 1000)}-{uuid.uuid4()}",
                "timestamp": now.isoformat().replace("+00:00", "Z"),
                "integrations": {},
                "context": {"library": {"name": "@segment/analytics-node", "version": "2.1.0"}},
                "_metadata": {"nodeVersion": "20.11.0", "jsRuntime": "node"},
            }
        )
    body = {"batch": batch, "sentAt": now.isoformat().replace("+00:00", "Z")}
    return client.post(
        "/segment/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_USER_AGENT="analytics-node-next/latest",
        HTTP_AUTHORIZATION=_basic(write_key),
    )


@pytest.mark.parametrize("gzip", [True, False])
def test_analytics_python_batch_is_accepted(client, environment, write_key, gzip):
    batch = [
        _python_message("identify", user_id="u1", traits={"email": "a@x.test", "plan": "pro"}),
        _python_message("track", user_id="u1", event="Signed Up", properties={"plan": "pro"}),
        _python_message("page", anonymous_id="dev-1", name="Pricing", properties={"path": "/p"}),
        _python_message("screen", user_id="u1", name="Home"),
        _python_message("group", user_id="u1", groupId="acme", traits={"name": "Acme"}),
    ]
    response = _analytics_python_request(client, write_key, batch, gzip=gzip)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "accepted": 5}
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert profile.email == "a@x.test"
    assert profile.traits["plan"] == "pro"
    assert profile.traits["group_id"] == "acme" and profile.traits["group"] == {"name": "Acme"}
    names = sorted(Event.objects.values_list("definition__name", flat=True))
    assert names == ["Page Viewed", "Screen Viewed", "Signed Up"]
    page = Event.objects.get(definition__name="Page Viewed")
    assert page.properties["name"] == "Pricing" and page.properties["path"] == "/p"
    assert page.properties["context"]["library"]["name"] == "analytics-python"
    assert page.profile.anonymous_id == "dev-1"
    assert Event.objects.filter(message_id=batch[1]["messageId"]).exists()


def test_analytics_node_batch_is_accepted(client, environment, write_key):
    response = _analytics_node_request(
        client,
        write_key,
        [
            {"type": "track", "event": "Clicked", "userId": "u9", "properties": {"n": 1}},
            {"type": "identify", "anonymousId": "a-1", "traits": {"name": "Ada"}},
        ],
    )
    assert response.status_code == 200, response.content
    assert Event.objects.get().definition.name == "Clicked"
    assert Profile.objects.get(anonymous_id="a-1").traits == {"name": "Ada"}


def test_retried_batch_is_stored_once(client, environment, write_key):
    batch = [_python_message("track", user_id="u1", event="Paid") for _ in range(3)]
    for _ in range(2):
        assert _analytics_python_request(client, write_key, batch, gzip=True).status_code == 200
    assert Event.objects.count() == 3


def test_bad_message_is_reported_by_index_good_ones_stored(client, environment, write_key):
    batch = [
        _python_message("track", user_id="u1", event="Good"),
        _python_message("track", user_id="u1"),  # no event
        _python_message("track", event="Orphan"),  # no user
        "not an object",
        _python_message("launch", user_id="u1"),
        _python_message("identify", user_id="u1", traits={"bad key": 1}),
        _python_message("track", user_id="u1", event="Also good", timestamp=None),
    ]
    batch[6]["timestamp"] = "not a time"
    batch.append(_python_message("track", user_id="u2", event="Good"))
    response = _analytics_python_request(client, write_key, batch, gzip=False)
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "event"),
        (2, "userId"),
        (3, "message"),
        (4, "type"),
        (5, "traits.bad key"),
        (6, "timestamp"),
    ]
    assert Event.objects.count() == 2


def test_batch_over_1000_messages_is_413(client, write_key):
    batch = [{"type": "track", "userId": "u", "event": "E"}] * 1001
    response = _analytics_python_request(client, write_key, batch, gzip=True)
    assert response.status_code == 413
    assert response.json()["field"] == "batch"
    assert not Event.objects.exists()


def test_batch_of_1000_is_accepted(client, write_key):
    batch = [
        _python_message("track", user_id=f"u{i % 97}", event=f"E{i % 13}") for i in range(1000)
    ]
    response = _analytics_python_request(client, write_key, batch, gzip=True)
    assert response.status_code == 200
    assert Event.objects.count() == 1000


def test_body_too_large_is_413(client, write_key):
    blob = "x" * 3_000_000
    response = client.post(
        "/segment/v1/track",
        json.dumps({"blob": blob}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 413


def test_gzip_bomb_is_413(client, write_key):
    data = gzip_module.compress(b'{"batch": ["' + b"x" * 5_000_000 + b'"]}')
    response = client.post(
        "/segment/v1/batch",
        data,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body", [b"{oops", b"\x1f\x8b garbage", b"[]", b"\xff\xfe", b"[" * 50_000 + b"]" * 50_000]
)
def test_odd_bodies_are_400(client, write_key, body):
    response = client.post(
        "/segment/v1/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_garbage_gzip_is_400(client, write_key):
    response = client.post(
        "/segment/v1/batch",
        b"not gzip",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/segment/v1/track", "/segment/v1/track/", "/segment/track", "/segment/v1/t"],
)
def test_single_track_paths(client, environment, write_key, path):
    response = client.post(
        path,
        json.dumps({"userId": "u1", "event": "Opened", "messageId": "m1"}),
        content_type="text/plain",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 200, response.content
    assert Event.objects.get().definition.name == "Opened"


def test_single_identify_with_write_key_in_body_no_header(client, environment, write_key):
    """analytics.js (browser) sends text/plain with writeKey in the body, no Authorization."""
    response = client.post(
        "/segment/v1/identify",
        json.dumps({"userId": "u1", "traits": {"plan": "pro"}, "writeKey": write_key}),
        content_type="text/plain",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert Profile.objects.get(user_id="u1").traits == {"plan": "pro"}


def test_oauth_bearer_falls_back_to_body_write_key(client, environment, write_key):
    response = client.post(
        "/segment/v1/batch",
        json.dumps(
            {"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": write_key}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer some-oauth-access-token",
    )
    assert response.status_code == 200


def test_preflight(client):
    response = client.options("/segment/v1/t")
    assert response.status_code == 204
    assert "POST" in response["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": _basic("hark_sk_nope")}, {"HTTP_AUTHORIZATION": "Basic %%%"}],
)
def test_unknown_key_is_401_with_segment_error_shape(db, client, headers):
    response = client.post(
        "/segment/v1/track",
        json.dumps({"userId": "u", "event": "E"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized" and body["message"] and body["error"]


@override_settings(HARK_API_RATE_LIMIT=1)
def test_rate_limited_429_with_retry_after(client, write_key):
    cache.clear()

    def send():
        return client.post(
            "/segment/v1/track",
            json.dumps({"userId": "u", "event": "E"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=_basic(write_key),
        )

    assert send().status_code == 200
    limited = send()
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1


def test_clock_skew_is_corrected_with_sent_at(client, environment, write_key):
    """A device clock one hour fast: the event lands at our time, minus its real delay."""
    skew = timedelta(hours=1)
    device_now = timezone.now() + skew
    happened = device_now - timedelta(minutes=5)
    response = client.post(
        "/segment/v1/batch",
        json.dumps(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": "u",
                        "event": "E",
                        "timestamp": happened.isoformat(),
                    }
                ],
                "sentAt": device_now.isoformat(),
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 200
    stored = Event.objects.get().timestamp
    assert abs((timezone.now() - timedelta(minutes=5)) - stored) < timedelta(seconds=30)


def test_a_bad_batch_sent_at_rejects_only_the_messages_that_need_it(client, environment, write_key):
    """The batch's sentAt is read once: unreadable, it rejects each message with a timestamp to
    correct and no sentAt of its own; the others are stored."""
    happened = (timezone.now() - timedelta(minutes=5)).isoformat()
    batch = [
        {"type": "track", "userId": "u", "event": "A", "timestamp": happened},
        {"type": "track", "userId": "u", "event": "B"},
        {"type": "track", "userId": "u", "event": "C", "timestamp": happened, "sentAt": happened},
        {"type": "track", "userId": "u", "event": "D", "timestamp": happened},
    ]
    response = client.post(
        "/segment/v1/batch",
        json.dumps({"batch": batch, "sentAt": "yesterday"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "sentAt"), (3, "sentAt")]
    assert body["errors"][0]["error"] == "must be an ISO-8601 date-time"
    stored = Event.objects.filter(environment=environment)
    assert sorted(stored.values_list("definition__name", flat=True)) == ["B", "C"]


def test_alias_merges_anonymous_profile(client, environment, write_key):
    anon = ProfileFactory(environment=environment, anonymous=True, anonymous_id="dev-7")
    ProfileFactory(environment=environment, user_id="u7")
    response = client.post(
        "/segment/v1/alias",
        json.dumps({"previousId": "dev-7", "userId": "u7"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 200
    assert not Profile.objects.filter(pk=anon.pk).exists()


def test_alias_renames_former_user_id(client, environment, write_key):
    old = ProfileFactory(environment=environment, user_id="old-id")
    client.post(
        "/segment/v1/alias",
        json.dumps({"previousId": "old-id", "userId": "new-id"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert Profile.objects.get(pk=old.pk).user_id == "new-id"


def test_get_is_405(client):
    assert client.get("/segment/v1/batch").status_code == 405


def test_nul_bytes_in_messages_never_500(client, environment, write_key):
    """A NUL is dropped from names and values; in a user id or a message id it refuses its
    message (naming the field): cleaned, "u\\x00" would be user "u", another person, and
    "m\\x00" a repeat of message "m"."""
    body = (
        b'{"batch": [{"type": "track", "userId": "u", "event": "E\\u0000", '
        b'"properties": {"k\\u0000": "v\\u0000"}, "messageId": "m"},'
        b'{"type": "track", "userId": "u\\u0000", "event": "F"},'
        b'{"type": "track", "userId": "u", "event": "G", "messageId": "m\\u0000"}]}'
    )
    response = client.post(
        "/segment/v1/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "userId"), (2, "messageId")]
    event = Event.objects.get()
    assert event.definition.name == "E" and event.properties == {"k": "v"}


def test_lone_surrogate_refuses_only_its_message(client, environment, write_key):
    """A lone surrogate is not a character: the message holding it is refused by index, naming
    the field; the batch's other messages are stored (an escaped emoji is a pair, and fine)."""
    body = (
        b'{"batch": [{"type": "track", "userId": "u1", "event": "A", '
        b'"properties": {"k": "v\\ud800"}},'
        b'{"type": "track", "userId": "u2", "event": "B \\ud83d\\ude00"},'
        b'{"type": "identify", "userId": "u3", "traits": {"n\\udfff": 1}}]}'
    )
    response = client.post(
        "/segment/v1/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (0, "properties.k"),
        (2, "traits.n\\udfff"),
    ]
    assert [e.definition.name for e in Event.objects.all()] == ["B \U0001f600"]
    assert list(Profile.objects.values_list("user_id", flat=True)) == ["u2"]
