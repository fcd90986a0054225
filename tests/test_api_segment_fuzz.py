"""Random messages at the Segment endpoints: whatever the shape, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event
from profiles.models import MonthlyActivity, Profile
from tests.api_helpers import new_key
from tests.test_api_segment import _basic

# Text as clients can send it: with lone surrogates ("\ud800" in JSON), NUL and control
# characters, and emails in any case (st.text() alone never draws a surrogate).
hostile_text = st.text(st.characters(categories=["Cs", "Cc", "Lu", "Ll", "Nd", "So"]), max_size=12)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}.io",
    st.text("aAbBzZ09._+", min_size=1, max_size=8),
    st.text("xXyY", min_size=1, max_size=6),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    hostile_text,
    emails,
    st.datetimes().map(lambda d: d.isoformat()),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "type",
    "userId",
    "anonymousId",
    "event",
    "traits",
    "properties",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "messageId",
    "context",
    "previousId",
    "groupId",
    "name",
]
messages = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8) | st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "screen", "alias", "group"])},
    optional={
        "userId": st.text(max_size=20) | st.integers(),
        "anonymousId": st.text(max_size=20) | hostile_text,
        "event": st.text(max_size=20) | hostile_text,
        "traits": st.dictionaries(st.text(max_size=12) | hostile_text, values, max_size=4)
        | st.fixed_dictionaries({"email": emails | hostile_text}),
        # RudderStack's shape: the user's traits in context.traits on every call.
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": st.dictionaries(st.text(max_size=12) | hostile_text, values, max_size=4)
                | values
                | st.fixed_dictionaries({"email": emails, "id": values, "userId": values}),
                "library": st.just({"name": "RudderLabs JavaScript SDK", "version": "3.7.6"}),
            },
        ),
        "properties": st.dictionaries(st.text(max_size=12), values, max_size=4),
        "timestamp": st.text(max_size=30) | st.datetimes().map(lambda d: d.isoformat()),
        "messageId": st.text(max_size=10),
        "groupId": st.text(max_size=10),
        "previousId": st.text(max_size=10),
    },
)


@pytest.fixture
def write_key(environment, settings):
    settings.HARK_API_RATE_LIMIT = 10**9
    return new_key(environment)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(messages, max_size=6), sent_at=values)
def test_random_batches_never_500(client, write_key, batch, sent_at):
    body = json.dumps({"batch": batch, "sentAt": sent_at})
    response = client.post(
        "/segment/v1/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code in (200, 400), response.content
    assert response.json()["success"] is (response.status_code == 200)
    _emails_are_canonical()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["identify", "track", "page", "screen", "alias", "group"]), msg=messages
)
def test_random_single_calls_never_500(client, write_key, kind, msg):
    before = Profile.objects.count(), Event.objects.count(), MonthlyActivity.objects.count()
    response = client.post(
        f"/segment/v1/{kind}",
        json.dumps(msg),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        # A rejected call writes nothing, and says which field was wrong.
        assert response.json()["field"]
        after = Profile.objects.count(), Event.objects.count(), MonthlyActivity.objects.count()
        assert after == before
    _emails_are_canonical()


def _emails_are_canonical() -> None:
    emails = Profile.objects.filter(email__isnull=False).values_list("email", flat=True)
    assert all(e == e.strip().lower() for e in emails), list(emails)
