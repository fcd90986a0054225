"""Identify and track run as server-side prepared statements: prepared once per connection,
re-prepared when the session lost them, and plain SQL when HARK_PREPARED_STATEMENTS is off."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import prepared
from events.models import Event
from events.services import LAST_SEEN_RESOLUTION_SECONDS, TRACK_ONE_USER, events_track, track_item
from profiles.models import Profile
from profiles.services import profile_identify

pytestmark = pytest.mark.django_db(transaction=True)

ADD = prepared.Prepared("hark_test_add", "SELECT %(a)s + %(b)s, '100%%'", {"a": "int", "b": "int"})


def _session_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def _run_add(a: int, b: int) -> tuple:
    with connection.cursor() as cursor:
        prepared.execute(cursor, ADD, {"a": a, "b": b})
        return cursor.fetchone()


def test_prepared_once_then_executed():
    with CaptureQueriesContext(connection) as first:
        assert _run_add(2, 3) == (5, "100%")
    with CaptureQueriesContext(connection) as second:
        assert _run_add(4, 5) == (9, "100%")
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["PREPARE", "EXECUTE"]
    assert [q["sql"].split()[0] for q in second.captured_queries] == ["EXECUTE"]
    assert "hark_test_add" in _session_statements()


def test_prepared_again_when_the_session_lost_it():
    _run_add(1, 1)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE hark_test_add")  # as when a pooler swaps sessions
    assert _run_add(20, 22) == (42, "100%")
    assert "hark_test_add" in _session_statements()


def test_lost_statement_inside_a_transaction_fails_then_recovers():
    _run_add(1, 1)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE hark_test_add")
    with pytest.raises(DatabaseError), transaction.atomic():
        _run_add(1, 2)  # the transaction is aborted: it cannot prepare and retry inside it
    assert _run_add(3, 4) == (7, "100%")


def test_switched_off_runs_the_plain_sql(settings):
    settings.HARK_PREPARED_STATEMENTS = False
    before = _session_statements()
    with CaptureQueriesContext(connection) as queries:
        assert _run_add(2, 2) == (4, "100%")
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]
    assert _session_statements() == before


def test_identify_and_track_prepare_their_statements(environment, settings):
    profile = profile_identify(environment=environment, user_id="u1", traits={"plan": "pro"})
    events_track(environment=environment, items=[track_item(event="Paid", user_id="u1")])
    names = _session_statements()
    assert "hark_identify_user_id_merge_d" in names
    assert "hark_events_track_one_user" in names  # one event: its own statement
    assert "hark_events_track" not in names
    # By what names its profile: a user id, an anonymous id, an email.
    events_track(environment=environment, items=[track_item(event="Seen", anonymous_id="d1")])
    events_track(environment=environment, items=[track_item(event="Paid", email="a@b.co")])
    assert {"hark_events_track_one_device", "hark_events_track_one_email"} <= _session_statements()
    events_track(
        environment=environment,
        items=[track_item(event="Paid", user_id="u1"), track_item(event="Paid", user_id="u2")],
    )
    assert "hark_events_track" in _session_statements()  # several: the JSON rows statement
    # The prepared statements give the same result as the plain ones.
    settings.HARK_PREPARED_STATEMENTS = False
    again = profile_identify(environment=environment, user_id="u1", traits={"seats": 3})
    events_track(environment=environment, items=[track_item(event="Paid", user_id="u1")])
    assert again.pk == profile.pk
    assert Profile.objects.get(pk=profile.pk).traits == {"plan": "pro", "seats": 3}
    assert Event.objects.filter(profile_id=profile.pk).count() == 3
    events_track(environment=environment, items=[track_item(event="Seen", anonymous_id="d1")])
    events_track(environment=environment, items=[track_item(event="Paid", email="a@b.co")])
    assert Event.objects.filter(profile__anonymous_id="d1").count() == 2
    assert Event.objects.filter(profile__email="a@b.co").count() == 2


def test_one_event_statement_answers_for_the_row_it_was_given(environment):
    """A batch's retry pass may leave a single row, say the eighth: the one-event statement
    reports it under its own number and honours its duplicate flag."""

    now = timezone.now()
    row = {"n": 7, "u": "u9", "a": None, "pid": None, "e": "Paid", "t": now.isoformat()}
    params = {
        "env": environment.pk,
        "received": now,
        "synchronous_commit": None,
        "resolution": LAST_SEEN_RESOLUTION_SECONDS,
        "tz": "UTC",
        "source": 1,
        "props": "{}",
        "m": "m-1",
        **row,
    }
    with connection.cursor() as cursor:
        prepared.execute(cursor, TRACK_ONE_USER, {**params, "dup": True})
        [(n, profile_id, _, stored, definition_id)] = cursor.fetchall()
    assert (n, stored) == (7, False)
    assert profile_id and definition_id
    assert not Event.objects.filter(message_id="m-1").exists()
    with connection.cursor() as cursor:
        prepared.execute(cursor, TRACK_ONE_USER, {**params, "dup": False})
        [(n, _, _, stored, _)] = cursor.fetchall()
    assert (n, stored) == (7, True)
    assert Event.objects.get(message_id="m-1").profile_id == profile_id
