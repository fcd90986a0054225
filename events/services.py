"""Writes for events: tracking (single or batched, set-based) and the counters' rollup."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from core import fastjson, prepared
from core.ingest import (
    COMMIT_MODE_CTE,
    clean_email,
    clean_identifier,
    clean_json,
    clean_text,
    commit_mode,
    utc,
)
from core.querysql import delete_in_batches
from core.queue import enqueue, enqueue_on_commit
from environments.models import Environment
from governance import audit
from profiles.services import mau_zone, notify_segments, profiles_touch_by_email
from profiles.sql import activity_month_sql, activity_upsert_sql, profiles_seen_ctes
from segments.dirty import mark_dirty_cte

from .models import EventDefinition, RollupWatermark

EVENT_NAME_MAX_LENGTH = 200
# Tracking moves a profile's last_seen_at only when it advances by more than this: an active
# user's row (the widest in the schema, with twelve indexes, five of them GIN) is not rewritten
# for every event, nor every minute of a session. Identify, which a web app calls as a session
# starts, always advances it. Measured sequentially, a track that rewrites the row costs about a
# third more database CPU (0.36-0.46 ms against 0.28-0.37), before the vacuum it leaves behind.
LAST_SEEN_RESOLUTION_SECONDS = 300
# Statements tried before giving up on rows whose profile or definition a concurrent call was
# creating at the same moment (each pass sees what the previous one could not).
_PASSES = 5
PROPERTIES_MAX_KEYS = 200
# Queued by name (core.queue): tasks import services, never the reverse.
DELETE_DEFINITION_TASK = "events.tasks.delete_event_definition"


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
    mail = clean_email(email)
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


# The events of a call, as rows (n, u, a, pid, e, t, props, m, dup): a JSON array for a batch,
# plain parameters for one event (the REST track-event and Segment's single calls: no JSON to
# build and decode, and the planner knows there is exactly one row).
_INPUT_ROWS = """SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS v(
        n int, u text, a text, pid bigint, e text, t timestamptz, props jsonb, m text, dup bool
    )"""
_INPUT_ONE = """SELECT %(n)s::int AS n, %(u)s::text AS u, %(a)s::text AS a,
        %(pid)s::bigint AS pid, %(e)s::text AS e, %(t)s::timestamptz AS t,
        %(props)s::jsonb AS props, %(m)s::text AS m, %(dup)s::bool AS dup"""


class _ProfileKey(NamedTuple):
    """A column that names an event's profile: the input key and rows that carry it, and how
    `resolved` joins the CTEs of profiles.sql.profiles_seen_ctes (aliases, and a guard on the
    input row)."""

    column: str
    key: str
    where: str
    new: str
    known: str
    guard: str


_IDENTITIES = {
    "users": _ProfileKey("user_id", "u", "u IS NOT NULL", "us", "ku", ""),
    "devices": _ProfileKey(
        "anonymous_id", "a", "u IS NULL AND a IS NOT NULL", "dv", "kd", "i.u IS NULL AND "
    ),
}


# MAU: a user id or an email names the user (identified); a device id alone does not.
_ACTIVITY = activity_upsert_sql(
    f"SELECT profile_id, {activity_month_sql('t')} AS month, "
    "bool_or(named) AS identified, false AS surveyed, %(source)s AS sources "
    "FROM resolved WHERE profile_id IS NOT NULL GROUP BY 1, 2"
)


def _track_sql(input_sql: str, identities: tuple[str, ...] = ("users", "devices")) -> str:
    """The tracking statement over `input_sql`'s rows, finding (or creating) profiles by the
    `identities` the rows may name: both for a batch; for one event, only the kind it names (a
    statement whose other profile CTEs could only be empty still pays to start and run them:
    0.02-0.03 ms of its 0.3 ms of database CPU). An email-only event names none: its profile is
    found before (`pid`)."""
    ctes, joins, ids, uuids = "", "", ["i.pid"], []
    for name in identities:
        k = _IDENTITIES[name]
        ctes += profiles_seen_ctes(name, column=k.column, key=k.key, where=k.where)
        joins += (
            f"LEFT JOIN {name} {k.new} ON {k.guard}{k.new}.{k.column} = i.{k.key}\n    "
            f"LEFT JOIN known_{name} {k.known} ON {k.guard}{k.known}.{k.column} = i.{k.key}\n    "
        )
        ids += [f"{k.new}.id", f"{k.known}.id"]
        uuids += [f"{k.new}.uuid", f"{k.known}.uuid"]
    return (
        f"""
WITH input AS (
    {input_sql}
),
{ctes}names AS (SELECT DISTINCT e AS name FROM input),
new_definitions AS (
    INSERT INTO events_eventdefinition
        (environment_id, name, description, first_seen_at, last_seen_at, total_count)
    SELECT %(env)s, names.name, '', %(received)s, %(received)s, 0 FROM names
    WHERE NOT EXISTS (
        SELECT 1 FROM events_eventdefinition d
        WHERE d.environment_id = %(env)s AND d.name = names.name AND NOT d.deleting
    )
    ORDER BY names.name
    ON CONFLICT (environment_id, name) WHERE NOT deleting DO NOTHING
    RETURNING id, name
),
definitions AS (
    SELECT id, name FROM new_definitions
    UNION ALL
    SELECT d.id, d.name FROM events_eventdefinition d JOIN names ON d.name = names.name
    WHERE d.environment_id = %(env)s AND NOT d.deleting
),
resolved AS (
    SELECT i.n, COALESCE({", ".join(ids)}) AS profile_id,
           {f"COALESCE({', '.join(uuids)})" if uuids else "NULL::uuid"} AS uuid,
           df.id AS definition_id, i.t, i.props, i.m, i.dup,
           (i.u IS NOT NULL OR i.pid IS NOT NULL) AS named
    FROM input i
    {joins}LEFT JOIN definitions df ON df.name = i.e
),
messages AS (
    INSERT INTO events_eventmessage (environment_id, message_id, timestamp)
    SELECT %(env)s, m, t FROM resolved
    WHERE NOT dup AND m IS NOT NULL AND profile_id IS NOT NULL AND definition_id IS NOT NULL
    ORDER BY m
    ON CONFLICT (environment_id, message_id) DO NOTHING
    RETURNING message_id
),
stored AS (
    INSERT INTO events_event
        (environment_id, profile_id, definition_id, timestamp, received_at, properties, message_id)
    SELECT %(env)s, profile_id, definition_id, t, %(received)s, props, m
    FROM resolved r
    WHERE NOT dup AND profile_id IS NOT NULL AND definition_id IS NOT NULL
        AND (m IS NULL OR EXISTS (SELECT 1 FROM messages s WHERE s.message_id = r.m))
    ORDER BY n
    RETURNING message_id
),
activity AS ({_ACTIVITY}),
"""
        + mark_dirty_cte("SELECT profile_id FROM resolved WHERE definition_id IS NOT NULL")
        + ",\n"
        + COMMIT_MODE_CTE
        + """
SELECT r.n, r.profile_id, r.uuid, NOT r.dup AND (r.m IS NULL OR s.message_id IS NOT NULL),
       r.definition_id
FROM resolved r CROSS JOIN commit_mode
LEFT JOIN (SELECT DISTINCT message_id FROM stored) s ON s.message_id = r.m
"""
    )


_SHARED_TYPES = {
    "env": "bigint",
    "received": "timestamptz",
    "synchronous_commit": "text",
    "resolution": "int",
    "tz": "text",
    "source": "int",
}
TRACK = prepared.Prepared(
    "hark_events_track", _track_sql(_INPUT_ROWS), {**_SHARED_TYPES, "rows": "jsonb"}
)
_ONE_TYPES = {
    **_SHARED_TYPES,
    "n": "int",
    "u": "text",
    "a": "text",
    "pid": "bigint",
    "e": "text",
    "t": "timestamptz",
    "props": "jsonb",
    "m": "text",
    "dup": "bool",
}
# One event, by what names its profile: a user id, else an anonymous id, else (email) its id.
TRACK_ONE_USER, TRACK_ONE_DEVICE, TRACK_ONE_EMAIL = (
    prepared.Prepared(f"hark_events_track_one_{suffix}", _track_sql(_INPUT_ONE, kinds), _ONE_TYPES)
    for suffix, kinds in (("user", ("users",)), ("device", ("devices",)), ("email", ()))
)


def _track_one(row: dict[str, Any]) -> prepared.Prepared:
    if row["u"] is not None:
        return TRACK_ONE_USER
    return TRACK_ONE_DEVICE if row["a"] is not None else TRACK_ONE_EMAIL


def events_track(
    *, environment: Environment, items: Sequence[TrackItem], source: int = 1
) -> list[TrackItem]:
    """Store events set-based: one statement for one event or a thousand.

    Profiles are created when missing (and their last_seen_at advanced), definitions created on
    first sight, a message_id already stored in the environment (or repeated in the call) is
    skipped (events_eventmessage takes the message id first, ON CONFLICT DO NOTHING, and only
    the events whose id it took are inserted: the events table is partitioned by month, so it
    cannot hold a unique constraint on the message id alone; a concurrent call with the same id
    waits on that row's unique index entry, then skips), and every profile is marked active for
    the month, all in one statement of data-modifying CTEs (profile rows are locked in key
    order, so concurrent batches do not deadlock). After commit, segments hear which profiles
    changed. `source`: who called, a profiles.models.ActivitySource (the API by default) for the
    MAU row.
    """
    if not items:
        return []
    environment_id = environment.pk
    received = timezone.now()
    # Email-only events (REST track-event) find their profile first: email is not unique, so
    # it cannot be upserted inside the statement.
    by_email = [i for i in items if not i.user_id and not i.anonymous_id]
    seen: set[str] = set()
    rows = []
    for n, item in enumerate(items):
        dup = item.message_id is not None and item.message_id in seen
        if item.message_id is not None:
            seen.add(item.message_id)
        rows.append(
            {
                "n": n,
                "u": item.user_id,
                "a": item.anonymous_id,
                "e": item.event,
                "t": item.timestamp.isoformat(),
                "props": item.properties,
                "m": item.message_id,
                "dup": dup,
            }
        )
    # One statement is its own transaction in autocommit; an atomic block (and its round trips)
    # only when the email lookups come first or a caller's transaction is open.
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each django.db.connection access costs
    needs_atomic = bool(by_email) or db.in_atomic_block
    results: dict[int, tuple] = {}
    with transaction.atomic() if needs_atomic else nullcontext():
        if by_email:
            found = profiles_touch_by_email(
                environment_id=environment_id,
                seen=[(cast(str, i.email), i.timestamp) for i in by_email],  # each has an email
            )
            for item, (pid, puuid) in zip(by_email, found, strict=True):
                item.profile_id, item.profile_uuid = pid, puuid
            email_items = {id(i) for i in by_email}
            for row, item in zip(rows, items, strict=True):
                row["pid"] = item.profile_id if id(item) in email_items else None
        pending = rows
        for _ in range(_PASSES):
            params = {
                "env": environment_id,
                "received": received,
                "synchronous_commit": commit_mode(),
                "resolution": LAST_SEEN_RESOLUTION_SECONDS,
                "tz": mau_zone(),
                "source": source,
            }
            if len(pending) == 1:
                [row] = pending
                statement = _track_one(row)
                params.update(row, pid=row.get("pid"), props=fastjson.dumps(row["props"]))
            else:
                statement = TRACK
                params["rows"] = fastjson.dumps(pending)
            with db.cursor() as cursor:
                prepared.execute(cursor, statement, params)
                fetched = cursor.fetchall()
            # A profile or definition created by a concurrent call after this statement's
            # snapshot is not seen: those rows were left out, the next statement sees them.
            retry = {n for n, pid, _, _, definition_id in fetched if not (pid and definition_id)}
            results.update({r[0]: r for r in fetched if r[0] not in retry})
            pending = [row for row in pending if row["n"] in retry]
            if not pending:
                break
        else:
            raise IntegrityError("events could not be attached to their profiles")
        notify_segments(environment_id, sorted({r[1] for r in results.values()}), marked=True)
    for n, pid, puuid, stored, _ in results.values():
        item = items[n]
        item.profile_id = pid
        item.profile_uuid = puuid or item.profile_uuid
        item.stored = stored
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
            # The next ROLLUP_MAX_EVENTS ids after the watermark, in id order (so a gap in the
            # ids, left by deleted events or an aborted load, is stepped over), up to but not
            # including the first event received too recently to be sure its neighbours have
            # committed.
            cursor.execute(
                "WITH w AS (SELECT id, received_at FROM events_event WHERE id > %s"
                "           ORDER BY id LIMIT %s) "
                "SELECT COALESCE((SELECT min(id) - 1 FROM w WHERE received_at >= %s),"
                "                (SELECT max(id) FROM w))",
                [low, ROLLUP_MAX_EVENTS, now - timedelta(seconds=ROLLUP_SAFETY_SECONDS)],
            )
            (high,) = cursor.fetchone()
            if high is None or high <= low:
                return 0
            cursor.execute(_ROLLUP_SQL, [low, high])
            count = int(sum(n for (n,) in cursor.fetchall()))
        watermark.last_event_id = high
        watermark.save(update_fields=["last_event_id", "updated_at"])
    return count


# --- The Events page: describe and delete definitions -----------------------------------


def event_definition_update(*, definition: EventDefinition, description: str) -> EventDefinition:
    description = description.strip()
    if definition.description != description:
        definition.description = description
        definition.save(update_fields=["description"])
    return definition


def event_definition_delete_request(*, definition: EventDefinition) -> None:
    """Delete a definition with its events, daily counts and all: at once it disappears (from
    the Events page, segment rules, the user panel) and its name is free again; a task then
    deletes its events in batches, and the definition last (after commit; inline where tasks
    run inline). A definition already being deleted is left to its task."""
    with transaction.atomic():
        marked = EventDefinition.objects.filter(pk=definition.pk, deleting=False).update(
            deleting=True
        )
        if marked:
            audit.record(None, "event.delete", definition, {"name": definition.name}, None)
    if marked:
        definition.deleting = True
        enqueue_on_commit(DELETE_DEFINITION_TASK, definition.pk)


def event_definition_deletes_resume() -> list[int]:
    """Queue again the deletion of every definition still marked `deleting` (its task failed
    for good, or its message was lost with its worker): the definition is hidden already, but
    its events would stay forever. Run hourly; a deletion that is still running when queued
    again is harmless (both delete what is left, batch by batch)."""
    ids = list(EventDefinition.objects.filter(deleting=True).values_list("pk", flat=True))
    for definition_id in ids:
        enqueue(DELETE_DEFINITION_TASK, definition_id)
    return ids


# Events deleted per statement: each batch is its own short transaction, so a definition with
# millions of events never holds locks (or a request) for long.
DELETE_BATCH = 50_000


def event_definition_delete(*, definition_id: int, batch: int = DELETE_BATCH) -> int:
    """The task's body: delete a definition marked `deleting`, its events `batch` at a time
    (on the (definition, timestamp) index), then its daily counts and itself. Returns the
    events deleted. Safe to run again after an interruption."""
    if not EventDefinition.objects.filter(pk=definition_id, deleting=True).exists():
        return 0
    deleted = delete_in_batches(
        # By the whole primary key (id, timestamp): each partition's index finds the row at once.
        "DELETE FROM events_event WHERE (id, timestamp) IN ("
        " SELECT id, timestamp FROM events_event WHERE definition_id = %(definition)s"
        " LIMIT %(batch)s)",
        {"definition": definition_id},
        batch,
    )
    with transaction.atomic():
        # Events tracked meanwhile went to a new definition: nothing refers to this one now.
        EventDefinition.objects.filter(pk=definition_id, deleting=True).delete()
    return deleted
