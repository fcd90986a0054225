import gzip
import json

import pytest

from events.models import Event, EventDefinition
from profiles.factories import ProfileFactory
from profiles.models import MonthlyActivity, Profile
from traits.models import Trait


def test_identify_creates_then_updates(api, environment):
    created = api.post("/api/v1/identify-user", {"id": "u1", "email": "a@x.test", "plan": "pro"})
    assert created.status_code == 201, created.content
    body = created.json()
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert body == {"message": "User created", "contact_uuid": str(profile.uuid)}
    assert profile.traits == {"plan": "pro"}
    updated = api.post("/api/v1/identify-user", {"id": "u1", "traits": {"seats": 4}})
    assert updated.status_code == 200
    assert updated.json()["contact_uuid"] == str(profile.uuid)
    profile.refresh_from_db()
    assert profile.traits == {"plan": "pro", "seats": 4}
    assert Trait.objects.filter(environment=environment, key="seats", data_type="number").exists()
    assert MonthlyActivity.objects.filter(profile=profile).exists()


def test_identify_numeric_id_and_email_only(api, environment):
    assert api.post("/api/v1/identify-user", {"id": 42}).status_code == 201
    assert Profile.objects.filter(environment=environment, user_id="42").exists()
    assert api.post("/api/v1/identify-user", {"email": "e@x.test"}).status_code == 201


def test_identify_replace_mode(api, environment):
    api.post("/api/v1/identify-user", {"id": "u1", "a": 1, "b": 2})
    api.post("/api/v1/identify-user", {"id": "u1", "c": 3, "mode": "replace"})
    assert Profile.objects.get(user_id="u1").traits == {"c": 3}


def test_identify_merges_anonymous_profile(api, environment):
    anon = ProfileFactory(environment=environment, anonymous=True, anonymous_id="dev-1")
    identified = ProfileFactory(environment=environment, user_id="u1")
    Event.objects.create(
        environment=environment,
        profile=anon,
        definition=EventDefinition.objects.create(environment=environment, name="Viewed"),
    )
    response = api.post("/api/v1/identify-user", {"id": "u1", "anonymous_id": "dev-1"})
    assert response.status_code == 200
    assert not Profile.objects.filter(pk=anon.pk).exists()
    assert Event.objects.get().profile_id == identified.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "id"),
        ({"anonymous_id": "d"}, "id"),
        ({"id": "u", "mode": "upsert"}, "mode"),
        ({"id": ["u"]}, "id"),
        ({"id": "u", "bad key!": 1}, "traits.bad key!"),
        ({"id": "u", "traits": {"x" * 101: 1}}, "traits." + "x" * 101),
        ({"id": "u", "bio": "x" * 10_001}, "traits.bio"),
        ({"id": "u", "traits": {f"k{i}": i for i in range(201)}}, "traits"),
        ({"id": "x" * 256}, "id"),
        ({"id": "u", "traits": "nope"}, "traits"),
    ],
)
def test_identify_rejects_naming_the_field(api, body, field):
    response = api.post("/api/v1/identify-user", body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert response.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": "u\\u0000", "n\\u0000": "a\\u0000", "e": "\\ud800"}',
        b'{"id": "u", "x": NaN, "y": Infinity}',
    ],
)
def test_identify_odd_bodies_never_500(api, raw):
    response = api.post("/api/v1/identify-user", raw)
    assert response.status_code in (200, 201, 400), response.content
    assert "error" in response.json() or "contact_uuid" in response.json()


def test_nul_bytes_are_stripped_from_traits_and_refused_in_ids(api, environment):
    api.post("/api/v1/identify-user", b'{"id": "u", "n\\u0000": "a\\u0000"}')
    assert Profile.objects.get(environment=environment).traits == {"n": "a"}
    response = api.post("/api/v1/identify-user", b'{"id": "u\\u0000", "n": "b"}')
    assert response.status_code == 400 and response.json()["field"] == "id"
    assert Profile.objects.get(environment=environment).traits == {"n": "a"}


def test_protected_fields_cannot_be_set(api, environment):
    response = api.post(
        "/api/v1/identify-user",
        {
            "id": "u1",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "first_seen_at": "2001-01-01T00:00:00Z",
            "traits": {"environment": "other", "environment_id": 1},
        },
    )
    assert response.status_code == 201
    profile = Profile.objects.get(environment=environment)
    assert profile.traits == {}
    assert profile.first_seen_at.year > 2001


def test_body_too_large_is_413(api):
    response = api.post("/api/v1/identify-user", {"id": "u", "blob": "x" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_gzip_body_is_accepted(api, environment):
    body = gzip.compress(json.dumps({"id": "gz", "plan": "pro"}).encode())
    response = api.post("/api/v1/identify-user", body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201
    assert Profile.objects.get(user_id="gz").traits == {"plan": "pro"}


def test_identify_constant_queries_through_the_api(api, environment, django_assert_max_num_queries):
    api.post("/api/v1/identify-user", {"id": "u1"})
    for n in (1, 200):
        traits = {f"t{n}_{i}": i for i in range(n)}
        # key lookup, savepoint, commit mode, one statement (profile, definitions, MAU), release
        with django_assert_max_num_queries(5):
            response = api.post("/api/v1/identify-user", {"id": "u1", "traits": traits})
        assert response.status_code == 200


def test_track_event(api, environment):
    response = api.post(
        "/api/v1/track-event",
        {
            "event": "Signed Up",
            "id": "u1",
            "properties": {"plan": "pro"},
            "timestamp": "2024-05-01T10:00:00Z",
        },
    )
    assert response.status_code == 201, response.content
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert response.json() == {
        "message": "Event tracked",
        "contact_uuid": str(profile.uuid),
        "duplicate": False,
    }
    event = Event.objects.get()
    assert event.definition.name == "Signed Up"
    assert event.timestamp.isoformat() == "2024-05-01T10:00:00+00:00"
    assert event.properties == {"plan": "pro"}


def test_track_retried_message_id_stores_one_event(api, environment):
    body = {"event": "Paid", "email": "a@x.test", "message_id": "m-1"}
    first = api.post("/api/v1/track-event", body)
    second = api.post("/api/v1/track-event", body)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["duplicate"] is True
    assert Event.objects.count() == 1


def test_track_by_anonymous_id(api, environment):
    assert api.post("/api/v1/track-event", {"event": "X", "anonymous_id": "d"}).status_code == 201
    assert Profile.objects.get(environment=environment).anonymous_id == "d"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "u"}, "event"),
        ({"event": "", "id": "u"}, "event"),
        ({"event": "X"}, "id"),
        ({"event": "X", "id": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"event": "X", "id": "u", "properties": [1]}, "properties"),
        ({"event": "X", "id": "u", "properties": {"s": "x" * 10_001}}, "properties.s"),
    ],
)
def test_track_rejects_naming_the_field(api, body, field):
    response = api.post("/api/v1/track-event", body)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_track_constant_queries(api, environment, django_assert_max_num_queries):
    api.post("/api/v1/track-event", {"event": "E", "id": "u1"})
    for n in (1, 200):
        props = {f"p{i}": i for i in range(n)}
        # key lookup, savepoint, commit mode, the tracking statement, release
        with django_assert_max_num_queries(5):
            api.post("/api/v1/track-event", {"event": f"E{n}", "id": "u1", "properties": props})
