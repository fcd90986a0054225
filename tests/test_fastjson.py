"""core.fastjson writes what the standard library's json writes, faster; and the ingestion
paths that use it keep every odd input's old outcome."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import fastjson
from core.ingest import clean_json
from events.models import Event
from profiles.models import Profile
from profiles.services import profile_identify
from tests.api_helpers import ApiClient, new_key

_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(_documents)
def test_dumps_round_trips_through_json(document):
    # The same document; the same text but for how a float is spelled (1e16 or 1e+16).
    assert json.loads(fastjson.dumps(document)) == document


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"s": _Text("sub"), 1: "non-string key", "big": -(10**30), "t": ["é", 1.5, None, True]},
        [{"nested": {"deep": [1, {"x": "\u2028"}]}}],
    ],
)
def test_dumps_writes_what_json_writes(value):
    assert fastjson.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        fastjson.dumps({"at": datetime(2024, 1, 1, tzinfo=UTC)})
    with pytest.raises(ValueError):
        fastjson.dumps({"nan": float("nan"), "big": 10**30})  # json.dumps has to write it


def test_dumps_writes_non_finite_numbers_as_null():
    assert fastjson.dumps({"a": float("nan"), "b": [float("inf")], "c": "é"}) == (
        '{"a":null,"b":[null],"c":"é"}'
    )


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ({"a": float("nan"), "b": [1.5, float("-inf")]}, {"a": None, "b": [1.5, None]}),
        ({"a": None, "n": "null"}, {"a": None, "n": "null"}),
        ({"k\x00": "v\x00"}, {"k": "v"}),
        ({"bad": "\ud800"}, {"bad": "?"}),
        (
            {"ref": uuid.UUID(int=7)},
            {"ref": "00000000-0000-0000-0000-000000000007"},
        ),
        ({1: {"at": datetime(2024, 1, 1, tzinfo=UTC)}}, {"1": {"at": "2024-01-01T00:00:00+00:00"}}),
    ],
)
def test_clean_json_still_cleans_what_needs_it(value, cleaned):
    assert clean_json(value, field="properties") == cleaned


def test_a_uuid_in_traits_is_stored_as_its_text(environment):
    ref = uuid.uuid4()
    profile = profile_identify(environment=environment, user_id="u1", traits={"ref": ref})
    assert Profile.objects.get(pk=profile.pk).traits == {"ref": str(ref)}


def test_a_long_numeric_id_keeps_its_digits(environment):
    api = ApiClient(new_key(environment))
    response = api.post(
        "/api/v1/identify-user", b'{"id": 1234567890123456789012345, "big": 123456789012345678901}'
    )
    assert response.status_code == 201, response.content
    profile = Profile.objects.get(environment=environment)
    assert profile.user_id == "1234567890123456789012345"
    assert profile.traits == {"big": 123456789012345678901}


def test_nan_properties_are_stored_as_null(environment):
    api = ApiClient(new_key(environment))
    response = api.post(
        "/api/v1/track-event", b'{"event": "E", "id": "u", "properties": {"x": NaN, "y": 1}}'
    )
    assert response.status_code == 201, response.content
    assert Event.objects.get().properties == {"x": None, "y": 1}
