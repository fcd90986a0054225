"""Writes for events: tracking (single or batched, set-based) and the counters' rollup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from profiles.services import (
    clean_identifier,
    ingest_transaction_setup,
    profiles_mark_active,
    profiles_touch,
    utc,
)
from traits.services import clean_json, clean_text

EVENT_NAME_MAX_LENGTH = 200
PROPERTIES_MAX_KEYS = 200


@dataclass
class TrackItem:
    """One validated event to store. Build it with track_item() so the input is checked."""

    event: str
    timestamp: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    # Filled by events_track: the profile the event was stored on, and whether it was new
    # (False for a retried message_id).
    profile_id: int | None = None
    profile_uuid: Any = None
    stored: bool = False


def track_item(
    *,
    event: Any,
    user_id: Any = None,
    anonymous_id: Any = None,
    email: Any = None,
    properties: Any = None,
    timestamp: datetime | None = None,
    message_id: Any = None,
    now: datetime | None = None,
) -> TrackItem:
    """Validate one incoming event; raises ValidationError naming the field."""
    if not isinstance(event, str):
        raise ValidationError({"event": "is required and must be a string"})
    name = clean_text(event).strip()
    if not name:
        raise ValidationError({"event": "is required"})
    if len(name) > EVENT_NAME_MAX_LENGTH:
        raise ValidationError({"event": f"is longer than {EVENT_NAME_MAX_LENGTH} characters"})
    uid = clean_identifier(user_id, field="id")
    anon = clean_identifier(anonymous_id, field="anonymous_id")
    mail = clean_identifier(email, field="email", max_length=320)
    if not (uid or anon or mail):
        raise ValidationError({"id": "an id, an email or an anonymous_id is required"})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValidationError({"properties": "must be an object"})
    if len(properties) > PROPERTIES_MAX_KEYS:
        raise ValidationError({"properties": f"has more than {PROPERTIES_MAX_KEYS} keys"})
    now = now or timezone.now()
    # A clock ahead of ours does not put events in the future.
    ts = min(utc(timestamp, field="timestamp"), now) if timestamp else now
    return TrackItem(
        event=name,
        timestamp=ts,
        user_id=uid,
        anonymous_id=None if uid else anon,
        email=None if (uid or anon) else mail,
        properties=clean_json(properties, field="properties"),
        message_id=clean_identifier(message_id, field="message_id"),
    )


_DEFINITIONS_SQL = """
WITH names AS (SELECT DISTINCT unnest(%s::text[]) AS name),
inserted AS (
    INSERT INTO events_eventdefinition
        (environment_id, name, description, first_seen_at, last_seen_at, total_count)
    SELECT %s, n.name, '', %s, %s, 0 FROM names n
    WHERE NOT EXISTS (
        SELECT 1 FROM events_eventdefinition d WHERE d.environment_id = %s AND d.name = n.name
    )
    ORDER BY n.name
    ON CONFLICT (environment_id, name) DO NOTHING
    RETURNING id, name
)
SELECT id, name FROM inserted
UNION ALL
SELECT d.id, d.name FROM events_eventdefinition d JOIN names n ON d.name = n.name
WHERE d.environment_id = %s
"""


def event_definitions_ensure(*, environment_id: int, names: Sequence[str], at: datetime) -> dict:
    """Ids of the definitions for `names`, creating missing ones: one statement.

    Known definitions are only read, never updated, so a popular event's row is not a lock hot
    spot: last_seen_at and counts come from the periodic rollup (events.tasks).
    """
    wanted = sorted(set(names))
    ids: dict[str, int] = {}
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(
                _DEFINITIONS_SQL, [wanted, environment_id, at, at, environment_id, environment_id]
            )
            ids.update({name: pk for pk, name in cursor.fetchall()})
            if len(ids) == len(wanted):
                return ids
            # Created by a concurrent call after this statement's snapshot: read again.
            wanted = [n for n in wanted if n not in ids]
    raise IntegrityError("event definitions could not be created")


_EVENTS_SQL = """
INSERT INTO events_event
    (environment_id, profile_id, definition_id, timestamp, received_at, properties, message_id)
SELECT %s, v.p, v.d, v.t, %s, v.props, v.m
FROM jsonb_to_recordset(%s::jsonb)
    AS v(p bigint, d bigint, t timestamptz, props jsonb, m text, n int)
ORDER BY v.n
ON CONFLICT (environment_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
RETURNING message_id
"""


def events_track(*, environment_id: int, items: Sequence[TrackItem]) -> list[TrackItem]:
    """Store events set-based: a few statements for one event or a thousand.

    Profiles are created when missing (and their last_seen_at advanced), definitions created on
    first sight, a message_id already stored in the environment is skipped, and every profile
    is marked active for the month. After commit, segments hear which profiles changed.
    """
    if not items:
        return []
    received = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            ingest_transaction_setup(cursor)
        profiles = profiles_touch(
            environment_id=environment_id,
            keys=[(i.user_id, i.anonymous_id, i.email, i.timestamp) for i in items],
        )
        for item, (pid, puuid) in zip(items, profiles, strict=True):
            item.profile_id, item.profile_uuid = pid, puuid
        definitions = event_definitions_ensure(
            environment_id=environment_id, names=[i.event for i in items], at=received
        )
        # A message id repeated inside one call is stored once, as a retry across calls is.
        seen: set[str] = set()
        rows = []
        for n, item in enumerate(items):
            if item.message_id is not None:
                if item.message_id in seen:
                    continue
                seen.add(item.message_id)
            rows.append((n, item))
        with connection.cursor() as cursor:
            cursor.execute(
                _EVENTS_SQL,
                [
                    environment_id,
                    received,
                    json.dumps(
                        [
                            {
                                "p": i.profile_id,
                                "d": definitions[i.event],
                                "t": i.timestamp.isoformat(),
                                "props": i.properties,
                                "m": i.message_id,
                                "n": n,
                            }
                            for n, i in rows
                        ]
                    ),
                ],
            )
            stored_ids = [r[0] for r in cursor.fetchall()]
        stored_ids_set = set(stored_ids)
        for _, item in rows:
            item.stored = item.message_id is None or item.message_id in stored_ids_set
        profiles_mark_active(
            environment_id=environment_id, activity=[(i.profile_id, i.timestamp) for i in items]
        )
        profile_ids = sorted({i.profile_id for i in items})

        from segments.services import segment_profiles_changed

        transaction.on_commit(
            lambda: segment_profiles_changed(environment_id=environment_id, profile_ids=profile_ids)
        )
    return list(items)


# --- Counters ----------------------------------------------------------------------------------

ROLLUP_WATERMARK = "events"
# Events younger than this are left for the next run: an insert that took an id earlier may
# still be uncommitted, and the watermark must never pass an id that will appear later.
ROLLUP_SAFETY_SECONDS = 30
# Bound one run's work; the next run (every minute) continues from the watermark.
ROLLUP_MAX_EVENTS = 2_000_000

_ROLLUP_SQL = """
WITH agg AS (
    SELECT definition_id, (timestamp AT TIME ZONE 'UTC')::date AS day, count(*) AS n,
           min(timestamp) AS first, max(timestamp) AS last
    FROM events_event WHERE id > %s AND id <= %s
    GROUP BY 1, 2
),
daily AS (
    INSERT INTO events_eventdailycount (definition_id, day, count)
    SELECT definition_id, day, n FROM agg ORDER BY definition_id, day
    ON CONFLICT (definition_id, day)
    DO UPDATE SET count = events_eventdailycount.count + EXCLUDED.count
),
totals AS (
    SELECT definition_id, sum(n) AS n, min(first) AS first, max(last) AS last
    FROM agg GROUP BY 1
)
UPDATE events_eventdefinition d SET
    total_count = d.total_count + t.n,
    first_seen_at = LEAST(d.first_seen_at, t.first),
    last_seen_at = GREATEST(d.last_seen_at, t.last)
FROM totals t WHERE d.id = t.definition_id
RETURNING t.n
"""


def event_counts_rollup(*, now: datetime | None = None) -> int:
    """Add events stored since the last run to EventDailyCount and EventDefinition's
    total_count / first_seen_at / last_seen_at. Returns the number of events rolled up.

    Set-based and idempotent: the counts and the watermark (last Event.id read) commit in one
    transaction, and the watermark row is locked, so overlapping runs never count an event twice.
    """
    from .models import RollupWatermark

    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_rollupwatermark (name, last_event_id, updated_at) "
                "VALUES (%s, 0, now()) ON CONFLICT (name) DO NOTHING",
                [ROLLUP_WATERMARK],
            )
        watermark = RollupWatermark.objects.select_for_update().get(name=ROLLUP_WATERMARK)
        low = watermark.last_event_id
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(id) FROM ("
                "  SELECT id, received_at FROM events_event WHERE id > %s AND id <= %s"
                ") e WHERE received_at < %s",
                [low, low + ROLLUP_MAX_EVENTS, now - timedelta(seconds=ROLLUP_SAFETY_SECONDS)],
            )
            (high,) = cursor.fetchone()
            if high is None:
                return 0
            cursor.execute(_ROLLUP_SQL, [low, high])
            count = int(sum(n for (n,) in cursor.fetchall()))
        watermark.last_event_id = high
        watermark.save(update_fields=["last_event_id", "updated_at"])
    return count


# --- The Events page (H3b): describe and delete definitions -----------------------------------


def event_definition_update(*, definition: Any, description: str) -> Any:
    description = description.strip()
    if definition.description != description:
        definition.description = description
        definition.save(update_fields=["description"])
    return definition


def event_definition_delete(*, definition: Any) -> int:
    """Delete a definition with all its events and daily counts; returns the events deleted.

    Events have no dependants and no signals, so Django deletes them with one set-based DELETE
    on the (definition, time) index instead of collecting rows in Python; in one transaction
    with the definition, so the rollup never sees events of a missing definition.
    """
    from .models import Event

    with transaction.atomic():
        deleted, _ = Event.objects.filter(definition=definition).delete()
        definition.delete()  # daily counts go with it (cascade, also a single DELETE)
    return deleted
