"""Edited paging cursors in the profiles pages read as none (the first page) or as a page that
is empty, as core.pagination documents: never a 500. Each was one: a Usage cursor that
str.isdigit() accepts and int() refuses, and a panel events cursor in year 1 (its months
before are year 0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.pagination import encode_cursor
from events.factories import EventDefinitionFactory, EventFactory
from profiles.factories import ProfileFactory
from profiles.selectors import USAGE_PAGE_SIZE, profile_events_page
from profiles.services import month_start, profile_identify
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# "²" is a digit to str.isdigit() and not to int(); int() refuses more than 4,300 digits.
BAD_USAGE_CURSORS = {
    "superscript-two": "²",
    "5000-digits": "9" * 5000,
    "digit-and-superscript": "1²",
    "negative": "-1",
    "letters": "x",
    "beyond-bigint": str(2**63),
}


@pytest.mark.parametrize("after", BAD_USAGE_CURSORS.values(), ids=BAD_USAGE_CURSORS.keys())
def test_usage_drill_down_reads_a_malformed_cursor_as_the_first_page(
    owner_client, environment, after
):
    for i in range(USAGE_PAGE_SIZE + 1):
        profile_identify(environment=environment, user_id=f"user-{i:04d}")
    url = reverse("profiles:usage", kwargs={"env": environment.slug})
    month = month_start(timezone.now()).strftime("%Y-%m")

    first = owner_client.get(url, {"month": month})
    response = owner_client.get(url, {"month": month, "after": after})
    assert response.status_code == 200
    assert [row.pk for row, _ in response.context["rows"]] == [
        row.pk for row, _ in first.context["rows"]
    ]
    assert response.context["is_later_page"] is False
    assert response.context["next_after"] == first.context["next_after"]

    fragment = owner_client.get(url, {"month": month, "after": after}, headers=HTMX)
    assert fragment.status_code == 200
    assert fragment.content.decode().count('data-label="Person"') == USAGE_PAGE_SIZE
    assert "« First page" not in fragment.content.decode()


def test_panel_events_with_a_cursor_in_year_one_is_an_empty_page(owner_client, environment):
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    EventFactory(profile=profile, definition=definition, timestamp=timezone.now())
    url = reverse("profiles:events", kwargs={"env": environment.slug, "uuid": profile.uuid})
    # Year 1 and its first months: the panel's ranges step 7 months back from the cursor.
    for moment in (YEAR_ONE, YEAR_ONE + timedelta(days=200), datetime(2, 1, 1, tzinfo=UTC)):
        cursor = encode_cursor(moment, 1)
        page = profile_events_page(profile=profile, cursor=cursor)
        assert (page.items, page.next_cursor) == ([], None)
        for headers in ({}, HTMX):
            response = owner_client.get(url, {"after": cursor}, headers=headers)
            assert response.status_code == 200, (moment, headers)
            assert b"clicked" not in response.content


def test_panel_events_with_a_cursor_at_the_end_of_time_lists_every_event(environment):
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    event = EventFactory(profile=profile, definition=definition, timestamp=timezone.now())
    page = profile_events_page(profile=profile, cursor=encode_cursor(LAST_MOMENT, 2**63 - 1))
    assert [e.pk for e in page.items] == [event.pk]


@pytest.mark.parametrize("moment", [YEAR_ONE, LAST_MOMENT])
@pytest.mark.parametrize("sort", ["last_seen", "first_seen"])
def test_users_list_with_a_cursor_at_either_end_of_time_is_a_page(
    owner_client, environment, moment, sort
):
    """The Users list (core.pagination's keyset_page, no month arithmetic): year 1 is an empty
    next page, the last moment datetime holds lists everyone."""
    ProfileFactory(environment=environment, traits={"name": "Ada"})
    url = reverse("profiles:list", kwargs={"env": environment.slug})
    for headers in ({}, HTMX):
        response = owner_client.get(
            url, {"sort": sort, "after": encode_cursor(moment, 1)}, headers=headers
        )
        assert response.status_code == 200
        assert (b"Ada" in response.content) is (moment == LAST_MOMENT)
