"""Identity on the REST and Segment-compatible APIs, tried from outside with hostile input:
traits in `context.traits` (RudderStack), rejected calls that must write nothing, invalid
Unicode, gzip bombs, and one canonical form of emails everywhere."""

from __future__ import annotations

import gzip
import importlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import Event
from profiles.models import MonthlyActivity, Profile
from segments.factories import ManualSegmentFactory, SegmentFactory
from segments.models import SegmentMembership
from segments.services import segment_members_import
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.link import sign
from surveys.models import Response
from tests.api_helpers import ApiClient, new_key
from tests.test_api_segment import _basic
from traits.models import Trait

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(environment, settings):
    settings.HARK_API_RATE_LIMIT = 10**9
    return new_key(environment)


@pytest.fixture
def api(key):
    return ApiClient(key)


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="score")
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- RudderStack's and Segment's payloads -------------------------------------------------------


def _rudder_js_message(type_: str, traits: dict, **fields) -> dict:
    """A message as RudderStack's JavaScript SDK (v3) builds it: the user's traits (persisted
    since identify) in context.traits on every call, none at the root; its own context keys."""
    return {
        "channel": "web",
        "context": {
            "app": {
                "name": "RudderLabs JavaScript SDK",
                "namespace": "com.rudderlabs.javascript",
                "version": "3.7.6",
                "installType": "npm",
            },
            "traits": traits,
            "library": {"name": "RudderLabs JavaScript SDK", "version": "3.7.6"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
            "os": {"name": "", "version": ""},
            "locale": "en-US",
            "screen": {"width": 1440, "height": 900, "density": 2, "innerWidth": 1440},
            "campaign": {},
            "page": {"path": "/app", "referrer": "$direct", "title": "App", "url": "https://x/app"},
            "sessionId": 1767225600000,
            "timezone": "GMT+0100",
        },
        "type": type_,
        "messageId": str(uuid.uuid4()),
        "originalTimestamp": _now(),
        "anonymousId": "5b0a7c8e-rudder-device",
        "integrations": {"All": True},
        "sentAt": _now(),
        **fields,
    }


def _rudder_android_identify(user_id: str, traits: dict) -> dict:
    """RudderStack's Android SDK: identify copies the ids into context.traits too."""
    return {
        "messageId": f"{int(datetime.now(tz=UTC).timestamp() * 1000)}-{uuid.uuid4()}",
        "channel": "mobile",
        "context": {
            "app": {"build": "1", "name": "Demo", "namespace": "com.demo", "version": "1.0"},
            "traits": {"anonymousId": "android-device-1", "id": user_id, "userId": user_id}
            | traits,
            "library": {"name": "com.rudderstack.android.sdk.core", "version": "1.25.1"},
            "os": {"name": "Android", "version": "14"},
            "device": {"id": "android-device-1", "manufacturer": "Google", "model": "Pixel"},
            "locale": "en-US",
        },
        "type": "identify",
        "event": "identify",
        "userId": user_id,
        "anonymousId": "android-device-1",
        "originalTimestamp": _now(),
        "integrations": {"All": True},
        "properties": {},
    }


def _post(client, key, path, body):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=_basic(key)
    )


def test_rudderstack_js_identify_keeps_the_traits_it_sends_in_context(client, key, environment):
    msg = _rudder_js_message(
        "identify",
        {"name": "Alex Keener", "email": "Alex@Example.com", "plan": "pro", "logins": 2},
        userId="27340af5c8819",
    )
    response = _post(client, key, "/segment/v1/identify", msg)
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(environment=environment, user_id="27340af5c8819")
    assert profile.traits == {
        "name": "Alex Keener",
        "email": "Alex@Example.com",
        "plan": "pro",
        "logins": 2,
    }
    assert profile.email == "alex@example.com"
    assert profile.anonymous_id == "5b0a7c8e-rudder-device"


def test_rudderstack_track_and_page_carry_the_users_traits(client, key, environment):
    traits = {"name": "Alex", "plan": "free"}
    batch = [
        _rudder_js_message("identify", traits, userId="u-r"),
        _rudder_js_message(
            "track", {**traits, "plan": "pro"}, userId="u-r", event="Upgraded", properties={}
        ),
        _rudder_js_message("page", {**traits, "plan": "pro", "seats": 5}, userId="u-r", name="P"),
    ]
    response = _post(client, key, "/segment/v1/batch", {"batch": batch, "sentAt": _now()})
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(environment=environment, user_id="u-r")
    assert profile.traits == {"name": "Alex", "plan": "pro", "seats": 5}
    assert Event.objects.filter(profile=profile).count() == 2

    assert set(Trait.objects.filter(environment=environment).values_list("key", flat=True)) >= {
        "name",
        "plan",
        "seats",
    }


def test_rudderstack_android_identify_ids_in_context_traits_are_not_traits(
    client, key, environment
):
    response = _post(
        client,
        key,
        "/segment/v1/batch",
        {"batch": [_rudder_android_identify("u-and", {"plan": "team"})], "sentAt": _now()},
    )
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(user_id="u-and")
    assert profile.traits == {"plan": "team"}
    assert profile.anonymous_id == "android-device-1"


def test_segment_identify_root_traits_win_over_context_traits(client, key, environment):
    """Segment's spec: an identify may carry both; the root traits are the call's own."""
    msg = {
        "type": "identify",
        "userId": "u-s",
        "traits": {"plan": "enterprise", "email": "ROOT@example.com"},
        "context": {
            "traits": {"plan": "free", "company": "Acme"},
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
        },
        "messageId": "ajs-next-1",
        "timestamp": _now(),
    }
    assert _post(client, key, "/segment/v1/identify", msg).status_code == 200
    profile = Profile.objects.get(user_id="u-s")
    assert profile.traits == {"plan": "enterprise", "email": "ROOT@example.com", "company": "Acme"}
    assert profile.email == "root@example.com"


def test_group_and_alias_read_context_traits(client, key, environment):
    group = {
        "type": "group",
        "userId": "u-g",
        "groupId": "acme",
        "traits": {"name": "Acme Inc"},
        "context": {"traits": {"role": "admin", "group_id": "spoofed"}},
    }
    assert _post(client, key, "/segment/v1/group", group).status_code == 200
    profile = Profile.objects.get(user_id="u-g")
    assert profile.traits == {"role": "admin", "group_id": "acme", "group": {"name": "Acme Inc"}}
    alias = {
        "type": "alias",
        "userId": "u-g2",
        "previousId": "u-g",
        "context": {"traits": {"role": "owner"}},
    }
    assert _post(client, key, "/segment/v1/alias", alias).status_code == 200
    profile.refresh_from_db()
    assert profile.user_id == "u-g2" and profile.traits["role"] == "owner"


def test_bad_context_traits_reject_only_their_message(client, key, environment):
    batch = [
        {"type": "track", "userId": "u1", "event": "A", "context": {"traits": {"bad key": 1}}},
        {"type": "identify", "userId": "u2", "context": {"traits": "not an object"}},
        {"type": "track", "userId": "u3", "event": "B", "context": {"traits": {"ok": 1}}},
    ]
    response = _post(client, key, "/segment/v1/batch", {"batch": batch})
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
        (0, "context.traits.bad key"),
        (1, "context.traits"),
    ]
    assert list(Profile.objects.values_list("user_id", "traits")) == [("u3", {"ok": 1})]
    assert list(Event.objects.values_list("definition__name", flat=True)) == ["B"]


def _statements(client, key, n: int) -> int:
    batch = [
        {
            "type": "track",
            "userId": f"user-{n}-{i}",
            "event": "Viewed",
            "context": {"traits": {"plan": "pro", "n": i}},
        }
        for i in range(n)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = _post(client, key, "/segment/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.content
    return len(queries)


def test_context_traits_on_tracks_cost_constant_statements(client, key, environment):
    _statements(client, key, 1)  # warm: prepared statements, caches
    assert _statements(client, key, 3) == _statements(client, key, 40)
    assert Profile.objects.filter(traits__plan="pro").count() == 44


def test_repeated_context_traits_do_not_rewrite_the_profile(client, key, environment):
    """RudderStack repeats the traits on every page view: an unchanged profile row is not
    rewritten (its xmin, the writing transaction, stays the same)."""
    message = {"type": "page", "userId": "u-p", "context": {"traits": {"plan": "pro"}}}
    _post(client, key, "/segment/v1/page", message)

    def xmin() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmin::text FROM profiles_profile WHERE user_id = 'u-p'")
            return cursor.fetchone()[0]

    before = xmin()
    _post(client, key, "/segment/v1/page", message)
    assert xmin() == before
    assert Event.objects.count() == 2


# --- Rejected calls write nothing ---------------------------------------------------------------


def _row_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # introspected names only
            counts[table] = cursor.fetchone()[0]
    return counts


def _bad_calls(environment, survey):
    dynamic = SegmentFactory(environment=environment)
    manual = ManualSegmentFactory(environment=environment)
    s, m = str(survey.uuid), str(manual.uuid)
    return [
        ("post", "/api/v1/identify-user", {"id": "n-1", "traits": {"bad key": 1}}),
        ("post", "/api/v1/identify-user", {"id": "n-1", "mode": "sideways"}),
        ("post", "/api/v1/identify-user", {"email": "x@y.co", "n": "\ud800"}),
        ("post", "/api/v1/track-event", {"id": "n-1"}),
        ("post", "/api/v1/track-event", {"id": "n-1", "event": "E", "timestamp": "yesterday"}),
        ("post", "/api/v1/track-event", {"id": "n-1", "event": "E", "properties": {"\ud800": 1}}),
        ("get", "/api/v1/contacts", {"page_length": "0"}),
        ("get", "/api/v1/contact", {"email": "nobody@example.com"}),
        ("delete", "/api/v1/contact", {"id": "nobody"}),
        ("get", "/api/v1/responses", {"date_from": "soon"}),
        ("post", "/api/v1/responses", {"survey": s, "id": "n-1", "answers": {"score": 11}}),
        ("post", "/api/v1/responses", {"survey": s, "id": "n-1", "answers": {"nope": 1}}),
        (
            "post",
            "/api/v1/responses",
            {"survey": s, "id": "n-1", "answers": {"score": 9}, "context": {"k\u0000": 1}},
        ),
        (
            "post",
            "/api/v1/responses",
            {"survey": s, "id": "n-1", "answers": {"score": 9, "why": "a\ud800"}},
        ),
        (
            "post",
            "/api/v1/responses",
            {"survey": s, "id": "n-1", "answers": {"score": 9}, "completed_at": "99999-01-01"},
        ),
        ("post", "/api/v1/responses", {"survey": str(uuid.uuid4()), "id": "n-1", "answers": {}}),
        ("post", "/api/v1/sync-segment", {"segment": str(dynamic.uuid), "id": "n-1"}),
        ("post", "/api/v1/sync-segment", {"segment": m, "id": True}),
        ("post", "/api/v1/sync-segment", {"segment": m, "email": "x" * 400}),
        ("delete", "/api/v1/sync-segment", {"segment": m, "id": "nobody"}),
        ("get", "/api/v1/forms", {"status": "gone"}),
    ]


def test_every_rejected_rest_call_writes_nothing(api, environment, survey):
    for method, path, body in _bad_calls(environment, survey):
        before = _row_counts()
        response = getattr(api, method)(path, body)
        assert 400 <= response.status_code < 500, (path, body, response.content)
        assert "error" in response.json(), (path, body)
        assert _row_counts() == before, (path, body, response.content)


@pytest.mark.parametrize(
    "path,body",
    [
        ("/segment/v1/identify", {"userId": "n-1", "traits": {"bad key": 1}}),
        ("/segment/v1/identify", {"userId": "n-1", "context": {"traits": {"x": "\ud800"}}}),
        ("/segment/v1/track", {"userId": "n-1"}),
        ("/segment/v1/group", {"userId": "n-1", "context": {"traits": {"bad key": 1}}}),
        ("/segment/v1/alias", {"userId": "n-2", "previousId": "n-1", "context": {"traits": []}}),
        ("/segment/v1/batch", {"batch": [{"type": "track", "userId": "n-1"}]}),
        ("/segment/v1/batch", {"batch": [{"type": "nope", "userId": "n-1"}]}),
    ],
)
def test_every_rejected_segment_call_writes_nothing(client, key, environment, path, body):
    before = _row_counts()
    response = _post(client, key, path, body)
    assert response.status_code == 400, response.content
    assert response.json()["success"] is False
    assert _row_counts() == before


def test_rejected_response_leaves_no_profile_and_no_month_of_activity(api, survey):
    """A response refused for its answers leaves nothing behind: the respondent used to be
    identified (a profile and a month of activity written) before the answers were checked."""
    response = api.post(
        "/api/v1/responses",
        {"survey": str(survey.uuid), "id": "new-user", "answers": {"score": 42}},
    )
    assert response.status_code == 400 and response.json()["field"] == "score"
    assert not Profile.objects.exists() and not MonthlyActivity.objects.exists()


def test_sync_to_a_dynamic_segment_creates_no_profile(api, environment):
    dynamic = SegmentFactory(environment=environment)
    response = api.post("/api/v1/sync-segment", {"segment": str(dynamic.uuid), "id": "new-user"})
    assert response.status_code == 400 and response.json()["field"] == "segment"
    assert not Profile.objects.exists() and not MonthlyActivity.objects.exists()


# --- Hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/identify-user", {"id": "u\u00001", "plan": "free"}, "id"),
        ("/api/v1/identify-user", {"id": "u1\u001b", "plan": "free"}, "id"),
        ("/api/v1/identify-user", {"email": "u1@ex.com\u0000", "plan": "free"}, "email"),
        ("/api/v1/track-event", {"id": "u\u00001", "event": "Paid"}, "id"),
        ("/api/v1/sync-segment", {"segment": "MANUAL", "id": "u\u00001"}, "id"),
    ],
)
def test_an_id_with_a_control_character_is_400_not_another_person(
    api, environment, path, body, field
):
    """Cleaned of its NUL, "u\\x001" was user "u1": the call wrote to that person's profile."""
    manual = ManualSegmentFactory(environment=environment)
    body = {k: str(manual.uuid) if v == "MANUAL" else v for k, v in body.items()}
    assert api.post("/api/v1/identify-user", {"id": "u1", "email": "u1@ex.com", "plan": "pro"})
    before = _row_counts()
    response = api.post(path, body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert _row_counts() == before
    assert Profile.objects.get().traits == {"plan": "pro"}


@pytest.mark.parametrize(
    "raw,field",
    [
        (b'{"k\\u0000": 1}', "context.k\x00"),
        (b'{"k\\ud800": 1}', "context.k\\ud800"),
        (b'{"ok": {"deep\\udc00": 1}}', "context.ok.deep\\udc00"),
    ],
)
def test_bad_context_keys_are_400_naming_the_field(api, survey, raw, field):
    body = (
        b'{"survey": "' + str(survey.uuid).encode() + b'", "id": "u1", "answers": {"score": 9}, '
        b'"context": ' + raw + b"}"
    )
    response = api.post("/api/v1/responses", body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not Response.objects.exists() and not Profile.objects.exists()


def test_lone_surrogate_in_a_text_answer_is_400_naming_the_field(api, survey):
    body = (
        b'{"survey": "' + str(survey.uuid).encode() + b'", "id": "u1", '
        b'"answers": {"score": 9, "why": "slow \\ud83d"}}'
    )
    response = api.post("/api/v1/responses", body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "answers.why"
    # An escaped emoji (a surrogate pair) is a character like any other.
    body = body.replace(b"\\ud83d", b"\\ud83d\\ude00")
    assert api.post("/api/v1/responses", body).status_code == 201
    assert Response.objects.get().data["why"] == "slow \U0001f600"


@pytest.mark.parametrize("path", ["/api/v1/identify-user", "/api/v1/responses"])
def test_gzip_bomb_on_the_rest_api_is_413(api, path):
    bomb = gzip.compress(b'{"id": "u1", "blob": "' + b"x" * 5_000_000 + b'"}')
    assert len(bomb) < 100_000
    response = api.post(path, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413, response.content
    assert response.json()["field"] == "body"
    assert not Profile.objects.exists()


def test_garbage_gzip_on_the_rest_api_is_400(api):
    response = api.post("/api/v1/identify-user", b"\x1f\x8bnot gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400 and response.json()["field"] == "body"


# --- One form of email everywhere ----------------------------------------------------------------


def test_api_emails_differing_in_case_are_one_profile(api, environment):
    assert api.post("/api/v1/identify-user", {"email": "AU3@EX.COM", "a": 1}).status_code == 201
    assert api.post("/api/v1/identify-user", {"email": " au3@ex.com ", "b": 2}).status_code == 200
    profile = Profile.objects.get(environment=environment)
    assert profile.email == "au3@ex.com" and profile.traits == {"a": 1, "b": 2}
    tracked = api.post("/api/v1/track-event", {"email": "Au3@Ex.Com", "event": "E"})
    assert tracked.json()["contact_uuid"] == str(profile.uuid)
    found = api.get("/api/v1/contact", {"email": "AU3@ex.com"})
    assert found.status_code == 200 and found.json()["uuid"] == str(profile.uuid)
    assert Profile.objects.count() == 1


def test_a_user_id_adopts_the_profile_known_by_its_email_in_any_case(api, environment):
    api.post("/api/v1/identify-user", {"email": "ann@example.com", "plan": "free"})
    api.post("/api/v1/identify-user", {"id": "u-ann", "email": "ANN@example.com"})
    profile = Profile.objects.get(environment=environment)
    assert profile.user_id == "u-ann" and profile.traits == {"plan": "free"}


def test_segment_traits_email_is_canonical(client, key, environment):
    _post(client, key, "/segment/v1/identify", {"userId": "u1", "traits": {"email": "Ann@X.io"}})
    _post(client, key, "/segment/v1/identify", {"anonymousId": "d1", "traits": {"email": "x"}})
    assert Profile.objects.get(user_id="u1").email == "ann@x.io"


def test_survey_link_and_api_meet_on_one_profile(client, api, environment, survey):
    api.post("/api/v1/identify-user", {"email": "Bea@Example.com", "plan": "pro"})
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    assert client.get(url, {"email": "BEA@EXAMPLE.COM"}).status_code == 200
    profile = Profile.objects.get(environment=environment)
    assert profile.traits == {"plan": "pro"} and Response.objects.get().profile_id == profile.pk


def test_sync_segment_and_import_match_any_case(api, environment):
    api.post("/api/v1/identify-user", {"id": "u1", "email": "Cy@Example.com"})
    manual = ManualSegmentFactory(environment=environment)
    added = api.post(
        "/api/v1/sync-segment", {"segment": str(manual.uuid), "email": "CY@example.com"}
    )
    assert added.status_code == 200 and added.json()["changed"] is True
    removed = api.delete(
        "/api/v1/sync-segment", {"segment": str(manual.uuid), "email": "cy@EXAMPLE.com"}
    )
    assert removed.json()["changed"] is True
    added, missing = segment_members_import(segment=manual, data="CY@EXAMPLE.COM\nnobody@x.io")
    assert added == 1 and missing == ["nobody@x.io"]
    assert SegmentMembership.objects.get().profile.user_id == "u1"
    assert Profile.objects.count() == 1


def test_signed_email_link_finds_the_api_profile(client, api, environment, survey):
    environment.identity_verification = True
    environment.save()
    api.post("/api/v1/identify-user", {"id": "u-d", "email": "Dee@Example.com"})
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    signature = sign(environment.identity_secret, "dee@example.com")
    page = client.get(url, {"email": "Dee@Example.com", "signature": signature})
    assert page.status_code == 200
    assert Response.objects.get().profile.user_id == "u-d"


def test_migration_puts_stored_emails_in_canonical_form(environment):
    rows = {
        "AU3@EX.COM": "au3@ex.com",
        " pad@x.io ": "pad@x.io",
        "already@x.io": "already@x.io",
        "ÉMILE@EXAMPLE.FR": "émile@example.fr",
        "   ": None,
    }
    profiles = {
        raw: Profile.objects.create(environment=environment, email=raw, traits={}) for raw in rows
    }
    kept = Profile.objects.create(environment=environment, email="au3@ex.com", user_id="u-3")
    migration = importlib.import_module("profiles.migrations.0005_emails_canonical_form")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.canonical_emails(None, editor)
    for raw, profile in profiles.items():
        profile.refresh_from_db()
        assert profile.email == rows[raw], raw
    kept.refresh_from_db()
    assert kept.email == "au3@ex.com"
    # Two profiles now share au3@ex.com: kept apart, and the lookup prefers the identified one.
    api = ApiClient(new_key(environment))
    assert api.get("/api/v1/contact", {"email": "au3@ex.com"}).json()["id"] == "u-3"


@pytest.mark.parametrize(
    "raw", [b'"k\\ud800"', b'"\\u0000"', b"12", b'{"k": 1}'], ids=["surrogate", "nul", "int", "obj"]
)
def test_a_hostile_write_key_in_the_body_is_401(client, environment, raw):
    body = b'{"writeKey": ' + raw + b', "userId": "u", "event": "E"}'
    response = client.post("/segment/v1/track", body, content_type="application/json")
    assert response.status_code == 401, response.content
    assert not Profile.objects.exists()
