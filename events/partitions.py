"""The monthly partitions of events_event (created by migration 0004).

Design:
- One partition per calendar month (UTC) on `timestamp`, named events_event_yYYYYmMM, and a
  DEFAULT partition, events_event_default, that takes any event whose month has no partition
  (a late event, a backfill of an old month, or a month retention dropped). Ingestion never
  fails for want of a partition and never creates one itself: DDL on the hot path would take
  locks that every concurrent insert queues behind.
- A daily task (beat entry "events-partitions") creates the partitions of the current month and
  the next HARK_EVENTS_PARTITIONS_AHEAD months, so the DEFAULT partition stays empty in normal
  operation, and gives every month found in the DEFAULT partition its own partition: in one
  transaction, a new table is filled with that month's rows (deleted from DEFAULT in the same
  statement) and attached. PostgreSQL checks on attach that no row of DEFAULT belongs to the
  new range, which the delete made true.
- Queries that bound `timestamp` (segment conditions "in the last N days", the rollup's recent
  window) are pruned to the partitions they need, at plan time or, for prepared statements, at
  executor start. Retention (retention/services.py) drops whole months with partition_drop().
- DDL on the partitioned table takes a lock that conflicts with ingestion's inserts; every DDL
  here runs with a short lock_timeout, so it gives up (and is retried by the next run) rather
  than queue behind a long query while every insert queues behind it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from core.querysql import delete_in_batches

logger = logging.getLogger(__name__)

PARENT = "events_event"
DEFAULT_PARTITION = "events_event_default"
_NAME = re.compile(r"^events_event_y(\d{4})m(\d{2})$")
# Long enough for the inserts in flight to finish, short enough that the inserts queued behind
# the waiting DDL are not held up noticeably.
LOCK_TIMEOUT = "1s"


@dataclass(frozen=True)
class Partition:
    name: str
    month: date

    @property
    def start(self) -> datetime:
        return month_start(self.month)

    @property
    def end(self) -> datetime:
        return month_start(add_months(self.month, 1))


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partition_name(month: date) -> str:
    return f"events_event_y{month.year:04d}m{month.month:02d}"


def partitions_list() -> list[Partition]:
    """The monthly partitions, oldest first (the DEFAULT partition is not among them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [PARENT],
        )
        names = [name for (name,) in cursor.fetchall()]
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            found.append(Partition(name, date(int(match[1]), int(match[2]), 1)))
    return sorted(found, key=lambda p: p.month)


def _default_months() -> list[date]:
    """The months of the rows in the DEFAULT partition (empty, or a few late rows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT date_trunc('month', timestamp AT TIME ZONE 'UTC')::date "
            f"FROM {DEFAULT_PARTITION} ORDER BY 1"
        )
        return [month for (month,) in cursor.fetchall()]


def partition_create(month: date) -> bool:
    """Create the partition of `month`, moving its rows out of DEFAULT. False if it exists."""
    name = partition_name(month)
    bounds = [month_start(month), month_start(add_months(month, 1))]
    # DDL takes no bound parameters: the bounds are our own datetimes, written as literals.
    values = f"FROM ('{bounds[0].isoformat()}') TO ('{bounds[1].isoformat()}')"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is not None:
            return False
        # A new partition gets the parent's foreign keys, which locks the tables they reference
        # as well as the parent and DEFAULT. Taken here up front in the order the tracking
        # statement takes them (profiles, definitions, then events), so the two never
        # deadlock; DEFAULT locked also means no row of the month can arrive there between
        # the move and the attach below. Ingestion waits for this transaction (milliseconds).
        cursor.execute(
            "LOCK TABLE profiles_profile, events_eventdefinition, environments_environment "
            "IN SHARE ROW EXCLUSIVE MODE"
        )
        cursor.execute(f"LOCK TABLE {PARENT}, {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "
            "WHERE timestamp >= %s AND timestamp < %s)",
            bounds,
        )
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {values}")
            return True
        # Late rows: a standalone table with the month's rows, then attached (its indexes are
        # built by the attach; the CHECK lets it skip scanning the rows again).
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
        cursor.execute(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK (timestamp IS NOT NULL "
            f"AND timestamp >= '{bounds[0].isoformat()}' AND timestamp < '{bounds[1].isoformat()}')"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE timestamp >= %s AND timestamp < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            bounds,
        )
        cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {values}")
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")
    return True


def partitions_ensure(*, now: datetime | None = None, ahead: int | None = None) -> list[str]:
    """The daily task's body: partitions for this month and the next `ahead` months, and for
    every month that has rows in DEFAULT (moved into them). Returns the partitions created."""
    now = now or timezone.now()
    ahead = settings.HARK_EVENTS_PARTITIONS_AHEAD if ahead is None else ahead
    current = month_of(now)
    months = {add_months(current, n) for n in range(ahead + 1)} | set(_default_months())
    return [partition_name(month) for month in sorted(months) if partition_create(month)]


def partition_drop(partition: Partition) -> None:
    """Drop one month of events: one statement, whatever its size. DROP TABLE of the attached
    partition locks the parent and DEFAULT only; DETACH PARTITION would also lock the tables
    its foreign keys reference (profiles_profile among them, which every identify and track
    writes first: a deadlock with ingestion, caught by the race test)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"DROP TABLE {partition.name}")


# --- Retention (retention/services.py decides the cutoffs) -------------------------------------


def partitions_drop_before(cutoff: datetime) -> list[str]:
    """Drop every monthly partition whose whole month is older than `cutoff` (the oldest
    cutoff of all environments, when all have one): one DDL statement per month, however many
    rows it holds. The message ids of those months are then deleted in batches. A drop that
    cannot get its lock within LOCK_TIMEOUT (a long query is reading the month) is left for
    the next run. Returns the partitions dropped."""
    dropped = []
    for partition in partitions_list():
        if partition.end > cutoff:
            break
        try:
            partition_drop(partition)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            logger.warning("partition %s is busy: dropped on the next run", partition.name)
            break
        dropped.append(partition.name)
    if dropped:
        event_messages_delete(environment_id=None, before=cutoff)
    return dropped


def events_delete_before(*, environment_id: int, before: datetime, batch: int) -> int:
    """Delete an environment's events older than `before`, `batch` at a time: found through
    its definitions on the (definition, timestamp) index, in the partitions before the cutoff
    only (pruned), and deleted by primary key (id, timestamp). Returns the events deleted."""
    # Each batch its own short transaction: no lock is held for long, ingestion never waits.
    deleted = delete_in_batches(
        """WITH doomed AS (
            SELECT e.id, e.timestamp FROM events_event e
            WHERE e.definition_id IN (
                SELECT id FROM events_eventdefinition WHERE environment_id = %(env)s
            ) AND e.timestamp < %(before)s
            LIMIT %(batch)s
        )
        DELETE FROM events_event e USING doomed d
        WHERE e.id = d.id AND e.timestamp = d.timestamp""",
        {"env": environment_id, "before": before},
        batch,
    )
    event_messages_delete(environment_id=environment_id, before=before, batch=batch)
    return deleted


def event_messages_delete(
    *, environment_id: int | None, before: datetime, batch: int | None = None
) -> int:
    """The message ids of events older than `before` (of one environment, or all), in batches
    found on the BRIN index of their timestamp."""
    batch = batch or settings.HARK_RETENTION_BATCH
    where = "timestamp < %(before)s" + (" AND environment_id = %(env)s" if environment_id else "")
    return delete_in_batches(
        "DELETE FROM events_eventmessage WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM events_eventmessage WHERE {where} LIMIT %(batch)s))",
        {"before": before, "env": environment_id},
        batch,
    )
