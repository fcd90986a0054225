"""The SQL pieces events hands out for other apps' statements: writes to events' tables that
another app must make set-based are written here, once. No imports here."""

from __future__ import annotations


def events_reassign_sql() -> str:
    """The UPDATE that moves every event of profile %(source)s to profile %(target)s (an
    anonymous device merged into the identified person: profiles.services)."""
    return "UPDATE events_event SET profile_id = %(target)s WHERE profile_id = %(source)s"
