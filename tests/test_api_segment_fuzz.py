"""Random messages at the Segment endpoints: whatever the shape, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_helpers import new_key
from tests.test_api_segment import _basic

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
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
        "anonymousId": st.text(max_size=20),
        "event": st.text(max_size=20),
        "traits": st.dictionaries(st.text(max_size=12), values, max_size=4),
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


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["identify", "track", "page", "screen", "alias", "group"]), msg=messages
)
def test_random_single_calls_never_500(client, write_key, kind, msg):
    response = client.post(
        f"/segment/v1/{kind}",
        json.dumps(msg),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(write_key),
    )
    assert response.status_code in (200, 400), response.content
