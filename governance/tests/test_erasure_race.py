"""Erasing a contact while a track call for the same contact is in flight: both succeed, the
erased contact keeps nothing, and the event lands on a new profile (as a call a moment later
would), instead of the track failing on the events' foreign key to the erased profile."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, connections

from environments.models import Environment
from events.models import Event
from events.services import events_track, track_item
from governance.erasure import profile_erase
from governance.models import ErasureLog
from profiles.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(waiting: int) -> None:
    deadline = time.monotonic() + 30
    while _waiting_on_locks() < waiting:
        assert time.monotonic() < deadline, "no backend waits on a lock"
        time.sleep(0.05)


def test_track_racing_the_erasure_of_its_contact_lands_on_a_new_profile():
    environment = Environment.objects.create(name="Race", slug="erasure-race")
    events_track(environment=environment, items=[track_item(event="Seen", user_id="u1")])
    profile = Profile.objects.get(environment=environment, user_id="u1")
    errors: list[BaseException] = []
    stored: list = []

    def erase() -> None:
        try:
            profile_erase(profile=profile, via="api")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def track() -> None:
        try:
            items = [track_item(event="Clicked", user_id="u1")]
            stored.extend(events_track(environment=environment, items=items))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    # A third session holds the segment memberships table, so the erasure stops right after it
    # locked the profile (its first write is the memberships' end): the track call then runs
    # while the erasure's transaction is open, and the erasure goes on once it waits.
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    ) as blocker:
        blocker.execute("LOCK TABLE segments_segmentmembership IN ACCESS EXCLUSIVE MODE")
        eraser = threading.Thread(target=erase)
        eraser.start()
        _wait_for(1)
        tracker = threading.Thread(target=track)
        tracker.start()
        _wait_for(2)
        blocker.rollback()
    for thread in (eraser, tracker):
        thread.join(timeout=60)
        assert not thread.is_alive()

    assert not errors, errors
    assert ErasureLog.objects.filter(environment=environment).count() == 1
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not Event.objects.filter(profile_id=profile.pk).exists()
    [item] = stored
    assert item.stored and item.profile_id != profile.pk
    new = Profile.objects.get(environment=environment, user_id="u1")
    assert new.pk == item.profile_id
    assert list(Event.objects.filter(profile=new).values_list("definition__name", flat=True)) == [
        "Clicked"
    ]
