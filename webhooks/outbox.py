"""The outbox: events written in the transaction of the change that caused them.

`emit()` inserts one OutboxEvent with one statement, and only when an enabled endpoint of the
environment subscribes to the event type (the check is part of the INSERT, so an environment
without webhooks pays one cheap statement and writes nothing). The row commits or rolls back
with the caller's change: an event is never sent for a change that did not happen, and never
lost for one that did. After commit the drain task is kicked; beat kicks it too, so nothing
depends on that kick alone.

Set-based callers (a segment recompute moving 100,000 profiles) compose `outbox_insert_cte()`
into their own statement: the outbox rows are written by the same statement that moves the
memberships, one narrow row per profile with only references in `data`. Payloads are built
lazily on first delivery (webhooks/payloads.py) and deliveries are fanned out by the drain,
so the recompute itself writes no payload and no delivery row.

response.updated is debounced: `emit_response_updated()` upserts a PendingResponseUpdate whose
due time moves with each answer (capped at 5 debounce periods after the first); the drain turns
due rows into events, skipping responses completed meanwhile (response.completed says it all);
a response changed after it was completed (a respondent back on the link page) is updated too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import fastjson
from core.queue import enqueue

from .models import EventType

OUTBOX_TABLE = "webhooks_outboxevent"

_SUBSCRIBED = """EXISTS (
    SELECT 1 FROM webhooks_webhookendpoint e
    WHERE e.environment_id = {env} AND e.enabled AND {type} = ANY(e.event_types)
)"""

_EMIT_SQL = f"""
INSERT INTO {OUTBOX_TABLE} (environment_id, event_type, profile_id, contact_key, data)
SELECT %(env)s, %(type)s, %(profile)s, %(contact)s, %(data)s::jsonb
WHERE {_SUBSCRIBED.format(env="%(env)s", type="%(type)s")}
"""


def _kick() -> None:
    enqueue("webhooks.tasks.webhooks_drain")


def kick_after_commit() -> None:
    """Have the drain deliver what was just written, once the transaction commits."""
    transaction.on_commit(_kick)


def emit(
    environment_id: int,
    event_type: str,
    data: dict[str, Any] | None = None,
    profile_id: int | None = None,
    *,
    contact_key: int | None = None,
) -> bool:
    """Write one outbox event in the caller's transaction (one statement). `data` holds the
    references the payload is built from (`{"response_id": 5}`, `{"segment_id": 3}`, or a
    snapshot for what will be gone by delivery time); `profile_id` the contact it is about
    (erasing the contact removes the event; its id orders the contact's events). True when
    written (an enabled endpoint subscribes)."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}")
    with connection.cursor() as cursor:
        cursor.execute(
            _EMIT_SQL,
            {
                "env": environment_id,
                "type": event_type,
                "profile": profile_id,
                "contact": contact_key if contact_key is not None else profile_id,
                "data": fastjson.dumps(data or {}),
            },
        )
        written = cursor.rowcount > 0
    if written:
        kick_after_commit()
    return written


def outbox_insert_cte(
    *,
    name: str,
    source: str,
    profile_column: str,
    event_type: str,
    env_param: str,
    data_sql: str,
    returning: bool = False,
) -> str:
    """A data-modifying CTE `name AS (INSERT INTO the outbox ...)` for a caller's statement:
    one event of `event_type` per row of the CTE/table `source`, about the profile in its column
    `profile_column`; `env_param` and `data_sql` are SQL (placeholders) for the environment id
    and the jsonb data. Nothing is written unless an enabled endpoint subscribes. The caller
    should call kick_after_commit() when rows may have been written (`returning`: the CTE
    returns the new rows' ids, so the statement can tell)."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}")
    subscribed = _SUBSCRIBED.format(env=env_param, type=f"'{event_type}'")
    return f"""{name} AS (
        INSERT INTO {OUTBOX_TABLE} (environment_id, event_type, profile_id, contact_key, data)
        SELECT {env_param}, '{event_type}', src.{profile_column}, src.{profile_column}, {data_sql}
        FROM {source} src
        WHERE {subscribed}
        ORDER BY src.{profile_column}
        {"RETURNING id" if returning else ""}
    )"""


def emit_response_updated(
    *, environment_id: int, response_id: int, profile_id: int | None, at: datetime | None = None
) -> None:
    """Debounced response.updated: one statement, writes nothing without a subscriber."""
    at = at or timezone.now()
    delay = timedelta(seconds=settings.HARK_WEBHOOKS_DEBOUNCE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO webhooks_pendingresponseupdate
                (response_id, environment_id, profile_id, first_at, due_at)
            SELECT %(response)s, %(env)s, %(profile)s, %(at)s, %(due)s
            WHERE {_SUBSCRIBED.format(env="%(env)s", type="'response.updated'")}
            ON CONFLICT (response_id) DO UPDATE SET due_at = LEAST(
                EXCLUDED.due_at,
                webhooks_pendingresponseupdate.first_at + %(cap)s
            )
            """,
            {
                "response": response_id,
                "env": environment_id,
                "profile": profile_id,
                "at": at,
                "due": at + delay,
                # psycopg sends a timedelta as an interval (the stubs list no timedelta).
                "cap": delay * 5,  # type: ignore[dict-item]
            },
        )


def pending_updates_flush(*, now: datetime | None = None) -> int:
    """Turn due debounced updates into response.updated events (set-based)."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                DELETE FROM webhooks_pendingresponseupdate p
                WHERE p.response_id IN (
                    SELECT response_id FROM webhooks_pendingresponseupdate
                    WHERE due_at <= %(now)s ORDER BY due_at
                    LIMIT 10000 FOR UPDATE SKIP LOCKED
                )
                RETURNING p.response_id, p.environment_id, p.profile_id, p.first_at
            )
            INSERT INTO {OUTBOX_TABLE} (environment_id, event_type, profile_id, contact_key, data)
            SELECT d.environment_id, 'response.updated', r.profile_id, r.profile_id,
                   jsonb_build_object('response_id', d.response_id)
            FROM due d JOIN surveys_response r ON r.id = d.response_id
            -- Completed since the update was queued: response.completed carries those answers.
            -- Completed before it: the answers changed afterwards, and that is the update.
            WHERE r.completed_at IS NULL OR r.completed_at < d.first_at
            ORDER BY d.response_id
            """,
            {"now": now},
        )
        return cursor.rowcount


def outbox_profile_merged(*, source_id: int, target_id: int) -> None:
    """An anonymous profile merged into another: its pending events follow it (rather than
    being deleted with it), and its deliveries keep the contact's order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {OUTBOX_TABLE} SET profile_id = %s, contact_key = %s WHERE profile_id = %s",
            [target_id, target_id, source_id],
        )
        cursor.execute(
            "UPDATE webhooks_pendingresponseupdate SET profile_id = %s WHERE profile_id = %s",
            [target_id, source_id],
        )
