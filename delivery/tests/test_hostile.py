"""Hostile callers of the client API: whatever the body, a 4xx with a JSON error naming the
field, or a 2xx; never a 500, and a refused call writes nothing."""

from __future__ import annotations

import faulthandler
import json

import pytest
from django.test import Client
from django.test.utils import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivery.factories import web_survey

from .helpers import ANON, PREFIX, call, table_counts

pytestmark = pytest.mark.django_db
URL = "https://app.acme.test/x"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


@override_settings(HARK_CLIENT_RATE_LIMIT_IP=10**6)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(
        [
            "/page",
            "/event",
            "/identify",
            "/displays",
            "/displays/{d}/answers",
            "/displays/{d}/context",
            "/displays/{d}/dismiss",
        ]
    ),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "anonymous_id",
                "user",
                "url",
                "name",
                "survey_id",
                "question",
                "value",
                "idempotency_key",
                "data",
                "count",
                "force",
                "locale",
                "properties",
                "signature",
                "referrer",
                "title",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_random_bodies_never_500(environment, path, fields):
    survey = web_survey(environment)
    display = call(
        Client(),
        environment,
        "/displays",
        {"anonymous_id": ANON, "survey_id": str(survey.uuid), "force": True},
    ).json()["display_id"]
    body = {"anonymous_id": ANON, "url": URL, **fields}
    answer = call(Client(), environment, path.format(d=display), body)
    assert answer.status_code < 500, (path, body, answer.content)
    if answer.status_code >= 400:
        error = answer.json()
        assert set(error) == {"error", "field", "detail"}


def test_oversized_and_odd_inputs_are_refused_and_write_nothing(environment):
    client = Client()
    web_survey(environment)
    before = table_counts()
    user = {"user": {"id": "u1"}}
    cases = [
        ("/event", {"name": "x" * 201, **user}, "name"),
        (
            "/event",
            {"name": "clicked", "properties": {f"k{n}": n for n in range(201)}, **user},
            "properties",
        ),
        ("/event", {"name": "clicked", "properties": [1], **user}, "properties"),
        ("/event", {"name": "clicked", "count": 0}, "count"),
        ("/event", {"name": "clicked", "count": True}, "count"),
        ("/page", {"url": "https://a.test/\x00"}, None),
        ("/page", {"url": URL, "user": {"id": "x" * 300}}, "user.id"),
        ("/page", {"url": URL, "user": {"id": "u1", "traits": {"bad key!": 1}}}, None),
        ("/page", {"url": URL, "user": {"id": "u1", "traits": [1]}}, "user.traits"),
        ("/displays", {"survey_id": None}, "survey_id"),
        ("/displays", {"survey_id": "00000000-0000-0000-0000-000000000000"}, "survey_id"),
        ("/displays", {"survey_id": "00000000-0000-0000-0000-000000000000", "force": "yes"}, None),
    ]
    for path, body, field in cases:
        answer = call(client, environment, path, {"anonymous_id": ANON, "url": URL, **body})
        assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.content)
        if field:
            assert answer.json()["field"] == field, (path, body, answer.json())
    assert table_counts() == before
    no_key = client.post(
        f"{PREFIX}/page",
        data=json.dumps({"anonymous_id": ANON, "url": URL}),
        content_type="text/plain",
    )
    assert no_key.status_code == 401


def _within(capsys, seconds: float, func):
    """Run `func`, ending the whole test run with a traceback on the terminal if it is still
    running after `seconds`: a hang detector, not a speed assertion (the work takes well under a
    millisecond; a backtracking engine would take days, holding the GIL, so no thread could
    time it out)."""
    with capsys.disabled():
        faulthandler.dump_traceback_later(seconds, exit=True)
        try:
            return func()
        finally:
            faulthandler.cancel_dump_traceback_later()


CARELESS_PATTERNS = [r"^/(a+)+$", r"^/(\w+\s?)*$", r"^/(.*a){20}$"]


@pytest.mark.parametrize("pattern", CARELESS_PATTERNS)
def test_a_visitor_url_cannot_make_a_careless_page_pattern_backtrack(
    client, environment, capsys, pattern
):
    """The public key is public: any visitor can send any URL. A pattern a team member wrote
    carelessly must not let a URL hold a web process (Python's `re` takes exponential time on
    these: 30 characters are seconds, 40 are days). Page rules are matched by RE2, whose time
    is linear in the URL whatever the pattern."""
    web_survey(
        environment,
        targeting={"page_rules": [{"kind": "include", "field": "path", "op": "regex",
                                   "value": pattern}]},
    )  # fmt: skip
    hostile = "https://app.acme.test/" + "a" * 1900 + "!"  # within the 2,000-character URL limit
    answer = _within(
        capsys,
        60,
        lambda: call(client, environment, "/page", {"anonymous_id": ANON, "url": hostile}),
    )
    assert answer.status_code == 200 and answer.json()["surveys"] == []
    matching = "https://app.acme.test/" + "a" * 40
    if pattern == CARELESS_PATTERNS[0]:
        answer = call(client, environment, "/page", {"anonymous_id": ANON, "url": matching})
        assert len(answer.json()["surveys"]) == 1  # the pattern still means what it says
