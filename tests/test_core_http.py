"""core.http: the htmx fragment check and the uuid parser every view uses."""

import pytest
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from core.http import htmx_fragment, parse_uuid


def request_with(**headers):
    request = RequestFactory().get("/", headers=headers)
    request.htmx = HtmxDetails(request)
    return request


def test_htmx_fragment_is_an_htmx_swap_only():
    assert not htmx_fragment(request_with())
    assert htmx_fragment(request_with(**{"HX-Request": "true"}))
    # A history restore and a boosted navigation need the whole page.
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert not htmx_fragment(request_with(**restore))
    assert not htmx_fragment(request_with(**{"HX-Request": "true", "HX-Boosted": "true"}))


def test_htmx_fragment_with_a_target_answers_only_that_target():
    members = request_with(**{"HX-Request": "true", "HX-Target": "members"})
    assert htmx_fragment(members, "members")
    assert not htmx_fragment(members, "status")
    assert not htmx_fragment(request_with(**{"HX-Request": "true"}), "members")


@pytest.mark.parametrize("value", [None, 7, "", "nope", "1234", "²" * 32, ["x"]])
def test_parse_uuid_refuses_what_is_not_one(value):
    assert parse_uuid(value) is None


def test_parse_uuid_keeps_a_uuid_as_given():
    value = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert parse_uuid(value) == value
