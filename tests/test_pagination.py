"""core.pagination: the one keyset paginator and its cursor."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from core.pagination import decode_cursor, encode_cursor, keyset_page
from profiles.factories import ProfileFactory
from profiles.models import Profile


def test_cursor_round_trip_is_exact():
    at = timezone.now()
    assert decode_cursor(encode_cursor(at, 42)) == (at, 42)
    before_1970 = datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(before_1970, 7)) == (before_1970, 7)


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "garbage",
        "1.x",
        "1-2",
        "1.0",  # no id 0
        "1.-2",
        "1.99999999999999999999",  # beyond bigint
        "999999999999999999.1",  # beyond the years datetime holds
        "1." + "9" * 5000,
        "²." + "1",
        " 1.2",
        "1_000.2",
        ["1.2"],
    ],
)
def test_a_bad_cursor_reads_as_none(garbage):
    assert decode_cursor(garbage) is None


def test_pages_walk_both_ways_over_ties(environment):
    base = timezone.now()
    for i in range(7):
        ProfileFactory(environment=environment, last_seen_at=base - timedelta(minutes=i // 2))
    qs = Profile.objects.filter(environment=environment)
    expected = list(qs.order_by("-last_seen_at", "-id"))
    pages, cursor = [], None
    while True:
        page = keyset_page(qs, "last_seen_at", cursor, 3)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [p.items for p in pages] == [expected[0:3], expected[3:6], expected[6:7]]
    assert [p.first for p in pages] == [True, False, False]
    assert pages[0].previous_cursor is None
    back = keyset_page(qs, "last_seen_at", size=3, before=pages[2].previous_cursor)
    assert back.items == expected[3:6] and not back.first
    assert keyset_page(qs, "last_seen_at", size=3, before=back.previous_cursor).first


def test_a_bad_cursor_gives_the_first_page(environment):
    ProfileFactory(environment=environment)
    qs = Profile.objects.filter(environment=environment)
    for garbage in ("x", "1.99999999999999999999", "999999999999999999.1"):
        assert keyset_page(qs, "last_seen_at", garbage, 10).items == list(qs)
        assert keyset_page(qs, "last_seen_at", None, 10, before=garbage).items == list(qs)
