"""The SQL pieces surveys hands out for other apps' statements: writes to surveys' tables that
another app must make set-based are written here, once. No imports here."""

from __future__ import annotations


def responses_data_key_remove_sql() -> str:
    """The UPDATE that removes answer key %(key)s from every response of environment %(env)s
    that holds it (a response-scope trait deleted on the Traits page:
    traits.services.trait_delete)."""
    return (
        "UPDATE surveys_response SET data = data - %(key)s "
        "WHERE environment_id = %(env)s AND data ? %(key)s"
    )


def responses_reassign_sql() -> str:
    """The UPDATE that moves every response of profile %(source)s to profile %(target)s (an
    anonymous device merged into the identified person: profiles.services)."""
    return "UPDATE surveys_response SET profile_id = %(target)s WHERE profile_id = %(source)s"
