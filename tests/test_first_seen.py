"""first_seen_at is the earliest time a person was seen, whatever order a call or a batch
carries its messages in: a Segment batch that creates a profile, identifies sent before
older events, events older than a known profile (a backfill), the REST track path."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from events.services import events_track, track_item
from profiles.models import Profile
from profiles.services import profile_identify
from tests.api_helpers import new_key
from tests.test_api_segment import _analytics_python_request, _python_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def write_key(environment):
    return new_key(environment)


NOW = timezone.now().replace(microsecond=0)


def hours_ago(n: int) -> datetime:
    return NOW - timedelta(hours=n)


def near(a: datetime, b: datetime) -> bool:
    """Equal but for the sender's clock-skew correction (sentAt vs. arrival: milliseconds)."""
    return abs(a - b) < timedelta(seconds=5)


@pytest.mark.parametrize("kind", ["user_id", "anonymous_id"])
def test_batch_that_creates_a_profile_keeps_its_oldest_event(client, write_key, environment, kind):
    times = [hours_ago(2), hours_ago(30), hours_ago(5)]
    batch = [_python_message("track", **{kind: "p1"}, event="Viewed", timestamp=t) for t in times]
    response = _analytics_python_request(client, write_key, batch, gzip=False)
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(environment=environment, **{kind: "p1"})
    assert near(profile.first_seen_at, min(times))
    assert near(profile.last_seen_at, max(times))


def test_identify_before_older_events_in_one_batch(client, write_key, environment):
    batch = [
        _python_message("track", user_id="u1", event="Viewed", timestamp=hours_ago(48)),
        _python_message("identify", user_id="u1", traits={"plan": "pro"}, timestamp=hours_ago(1)),
    ]
    response = _analytics_python_request(client, write_key, batch, gzip=False)
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert near(profile.first_seen_at, hours_ago(48))
    assert near(profile.last_seen_at, hours_ago(1))


def test_older_events_move_a_known_profile_first_seen_back(environment):
    profile = profile_identify(environment=environment, user_id="u1", seen_at=hours_ago(3))
    events_track(
        environment=environment,
        items=[track_item(event="Old", user_id="u1", timestamp=hours_ago(100))],
    )
    profile.refresh_from_db()
    assert profile.first_seen_at == hours_ago(100)
    assert profile.last_seen_at == hours_ago(3)


def test_identify_with_an_older_timestamp_moves_first_seen_back(environment):
    profile_identify(environment=environment, user_id="u1", seen_at=hours_ago(3))
    profile = profile_identify(environment=environment, user_id="u1", seen_at=hours_ago(70))
    assert profile.first_seen_at == hours_ago(70)
    assert profile.last_seen_at == hours_ago(3)
    device = profile_identify(environment=environment, anonymous_id="d1", seen_at=hours_ago(3))
    device = profile_identify(environment=environment, anonymous_id="d1", seen_at=hours_ago(9))
    assert device.first_seen_at == hours_ago(9)


def test_email_only_events_keep_the_oldest(environment):
    events_track(
        environment=environment,
        items=[
            track_item(event="A", email="e@x.test", timestamp=hours_ago(1)),
            track_item(event="A", email="e@x.test", timestamp=hours_ago(20)),
        ],
    )
    profile = Profile.objects.get(environment=environment, email="e@x.test")
    assert profile.first_seen_at == hours_ago(20)
    assert profile.last_seen_at == hours_ago(1)


def test_identify_merging_a_device_with_an_older_timestamp(environment):
    profile_identify(environment=environment, user_id="u1", seen_at=hours_ago(3))
    profile_identify(environment=environment, anonymous_id="d1", seen_at=hours_ago(5))
    profile = profile_identify(
        environment=environment, user_id="u1", anonymous_id="d1", seen_at=hours_ago(40)
    )
    assert profile.first_seen_at == hours_ago(40)
