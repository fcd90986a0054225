"""The User Detail Panel's events on the monthly-partitioned events table: the same pages, in
the same order, as a plain ORDER BY over the whole table, while a page reads only the newest
months it needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event
from events.partitions import add_months, month_of, partition_create
from profiles.factories import ProfileFactory
from profiles.selectors import profile_events_page
from tests.helpers import partitions_read

pytestmark = pytest.mark.django_db


def _all_pages(profile, size: int) -> tuple[list[int], int]:
    """The event ids of every page, in order, and the most queries a page took."""
    ids, cursor, most = [], None, 0
    while True:
        with CaptureQueriesContext(connection) as ctx:
            page = profile_events_page(profile=profile, cursor=cursor, size=size)
        most = max(most, len(ctx.captured_queries))
        ids += [event.pk for event in page.items]
        assert all(event.definition.name == "clicked" for event in page.items)
        if page.next_cursor is None:
            return ids, most
        cursor = page.next_cursor


def test_panel_events_page_through_months_in_order_across_partitions_and_default(environment):
    now = timezone.now()
    for n in range(1, 30):  # some months with a partition, the older ones in DEFAULT
        if n % 3:
            partition_create(add_months(month_of(now), -n))
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    moments = [now + timedelta(days=40), now + timedelta(days=400)]  # future ones first
    moments += [now - timedelta(days=d, minutes=d % 7) for d in range(0, 900, 11)]
    moments += [now - timedelta(days=33)] * 4  # ties on the timestamp: ordered by id
    for moment in moments:
        EventFactory(profile=profile, definition=definition, timestamp=moment)
    EventFactory(environment=environment, definition=definition)  # someone else's

    expected = list(
        Event.objects.filter(profile=profile)
        .order_by("-timestamp", "-id")
        .values_list("id", flat=True)
    )
    for size in (1, 3, 20, 200):
        ids, most = _all_pages(profile, size)
        assert ids == expected, size
        assert most == 1


def test_a_full_page_reads_only_the_newest_partitions(environment):
    now = timezone.now()
    for n in range(1, 15):
        partition_create(add_months(month_of(now), -n))
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    for n in range(15):  # one event a month for 15 months, then a full page this month
        EventFactory(profile=profile, definition=definition, timestamp=now - timedelta(days=31 * n))
    for minute in range(1, 30):
        EventFactory(
            profile=profile, definition=definition, timestamp=now - timedelta(minutes=minute)
        )

    with CaptureQueriesContext(connection) as ctx:
        page = profile_events_page(profile=profile, cursor=None, size=20)
    assert len(page.items) == 20 and page.next_cursor
    (query,) = ctx.captured_queries
    read, plan = partitions_read(query["sql"])
    # This month's partition (and the future ones and DEFAULT of the first, unbounded branch):
    # none of the 14 older months.
    older = {
        f"events_event_y{m.year:04d}m{m.month:02d}"
        for m in (add_months(month_of(now), -n) for n in range(1, 15))
    }
    assert read and not read & older, plan
