"""Page views stored in batches: the client API's busiest write, queued in Redis and written
by a periodic drain.

Every identified user's page start stores a `$pageview` (delivery's client API). Written in the
request, that is one tracking statement per page view: about 0.4 ms of database CPU and 0.2 ms
of Python, as much again as the rest of the call (benchmarks/client_api.py). Queued, the request
pays one append (queue_append: in the script that counts the client API's rate limits, so no
round trip of its own), and the drain (beat entry "events-drain-pageviews", every
HARK_PAGEVIEW_BUFFER_SECONDS) stores up to BATCH of them in one statement
(events.services.events_track's batch form). The page view is in the database a few seconds
later; segments re-evaluate the profiles it touched as they do for any other event.

Delivery is at least once, storage exactly once: each row is given a message id when it is
queued; the drain reads the head of the list (LRANGE), stores it (events_track skips a message
id already stored), and only after that commits removes it (LTRIM). A worker killed between the
two leaves the rows for the next drain, which skips what was stored. One drain runs at a time
(a session advisory lock, which PostgreSQL releases when a killed worker's connection closes),
so the head it read is the head it removes: the web processes only append.

When no drain keeps up (no worker or beat running), the queue stops at QUEUE_MAX rows and the
requests store their page views themselves again (logged), so Redis does not grow without
bound. Rows of an environment deleted since are dropped; a row that cannot be stored alone is
dropped and logged, so one bad row cannot hold the queue up. An erasure removes the person's
queued page views (an ExtraReference of governance, which holds the drain lock for it) and an
export lists them. Redis keeps nothing on disk here: a Redis restart loses the page views of
the last few seconds, as it loses queued Celery tasks.

Without Redis (development, tests: tasks run inline) or with HARK_PAGEVIEW_BUFFER_SECONDS=0,
page views are written in the request.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from core import fastjson
from core.ingest import utc
from core.ratelimit import Append, append_only
from environments.models import Environment

from .services import TrackItem, events_track

log = logging.getLogger(__name__)

# Page views per statement, and statements per drain (the next beat tick goes on).
BATCH = 1000
MAX_BATCHES = 50
# A queue this long means no drain keeps up (no worker or beat running, a worker stuck): page
# views are then stored in their request again, so Redis does not grow without bound.
QUEUE_MAX = 100_000
# pg_advisory_lock key of the drain (and of an erasure removing rows from the queue).
LOCK_KEY = 0x4841524B5056  # "HARKPV"

_clients: dict[str, redis.Redis] = {}


def _client() -> redis.Redis | None:
    """A client of REDIS_URL (one per process), or None when page views are written inline."""
    url = settings.REDIS_URL
    if not url or settings.CELERY_TASK_ALWAYS_EAGER or not settings.HARK_PAGEVIEW_BUFFER_SECONDS:
        return None
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url)
    return client


def queue_key() -> str:
    """The list of queued page views. Named after the Celery queue: two Harks sharing one Redis
    already need a queue each (HARK_CELERY_QUEUE), and each drain must read only its own."""
    return f"hark:{settings.CELERY_TASK_DEFAULT_QUEUE}:pageviews"


def _row(environment_id: int, item: TrackItem, source: int) -> bytes:
    return fastjson.dumps(
        {
            "env": environment_id,
            "u": item.user_id,
            "m": item.email,
            "e": item.event,
            "t": item.timestamp.isoformat(),
            "p": item.properties,
            "id": item.message_id or f"pv-{uuid.uuid4().hex}",
            "s": source,
        }
    ).encode()


def queue_append(*, environment_id: int, item: TrackItem, source: int) -> Append | None:
    """The append that queues `item` for the drain (unless the queue holds QUEUE_MAX rows), for
    a caller that makes it in a round trip it already has (the client API counts its rate limits
    in the same script: core.ratelimit); None when page views are written inline."""
    if _client() is None:
        return None
    return Append(queue_key(), _row(environment_id, item, source), QUEUE_MAX)


def events_queue(*, environment: Environment, item: TrackItem, source: int) -> bool:
    """Queue an identified user's validated event for the drain (one round trip); False when
    the caller must store it now: page views are written inline, or the queue is full
    (QUEUE_MAX: no drain keeps up; logged)."""
    client = _client()
    append = queue_append(environment_id=environment.pk, item=item, source=source)
    if client is None or append is None:
        return False
    if append_only(client, append):
        return True
    log.warning(
        "%d page views are queued and not drained (is a Celery worker and beat running?): "
        "storing this one in its request",
        QUEUE_MAX,
    )
    return False


def _item(row: dict[str, Any]) -> TrackItem:
    return TrackItem(
        event=row["e"],
        timestamp=utc(datetime.fromisoformat(row["t"]), field="t"),
        user_id=row["u"],
        email=None if row["u"] else row["m"],
        properties=row["p"] or {},
        message_id=row["id"],
    )


def _store(raw: list) -> None:
    """Store a batch of queued rows: one statement per environment and source."""
    groups: dict[tuple[int, int], list[TrackItem]] = defaultdict(list)
    for value in raw:
        try:
            row = json.loads(value)
            groups[(int(row["env"]), int(row.get("s") or 1))].append(_item(row))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("dropped a queued page view that does not parse: %s", exc)
    environments = Environment.objects.in_bulk({env for env, _ in groups})
    for (env_id, source), items in groups.items():
        environment = environments.get(env_id)
        if environment is None:
            log.info("dropped %d queued page views of deleted environment %s", len(items), env_id)
            continue
        try:
            events_track(environment=environment, items=items, source=source)
        except (OperationalError, InterfaceError):
            raise  # the database is away: keep the rows for the next drain
        except DatabaseError:
            # One row the batch cannot take: store the others one by one.
            log.exception("a batch of queued page views failed; storing them one by one")
            for item in items:
                try:
                    events_track(environment=environment, items=[item], source=source)
                except (OperationalError, InterfaceError):
                    raise
                except DatabaseError:
                    log.exception("dropped a queued page view that cannot be stored")


def events_queue_drain(*, max_batches: int = MAX_BATCHES) -> int:
    """Store the queued page views, BATCH per statement, at most `max_batches` statements;
    returns how many rows left the queue. Does nothing while another drain runs."""
    client = _client()
    if client is None:
        return 0
    if connection.in_atomic_block:
        raise RuntimeError("the drain commits each batch before removing it from the queue")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
    key, total = queue_key(), 0
    try:
        for _ in range(max_batches):
            raw = client.lrange(key, 0, BATCH - 1)
            if not raw:
                break
            _store(raw)
            # Committed (autocommit): only now do the rows leave the queue.
            client.ltrim(key, len(raw), -1)
            total += len(raw)
            if len(raw) < BATCH:
                break
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return total


# --- A person's queued page views (governance's erasure and export) ---------------------------


def _queued(
    client: redis.Redis, environment_id: int, user_id: str | None, email: str | None
) -> list[tuple[Any, dict[str, Any]]]:
    """The queued rows (raw, parsed) naming this person: by user id, or by email for rows
    without one."""
    found = []
    for value in client.lrange(queue_key(), 0, -1):
        try:
            row = json.loads(value)
        except ValueError:
            continue
        # A row names its person by user id, else by email.
        named = (row.get("u"), user_id) if row.get("u") else (row.get("m"), email)
        if row.get("env") == environment_id and named[1] is not None and named[0] == named[1]:
            found.append((value, row))
    return found


def queued_for(*, environment_id: int, user_id: str | None, email: str | None) -> list[dict]:
    """The queued page views naming this person (by user id, or by email when they have none)."""
    client = _client()
    if client is None or not (user_id or email):
        return []
    return [row for _, row in _queued(client, environment_id, user_id, email)]


def queue_lock() -> None:
    """Hold the drain lock to the end of the caller's transaction (no drain runs meanwhile).
    An erasure takes it before it locks the profile row: a drain storing that person's page
    views waits on the row while holding this lock, so the other order deadlocks."""
    if _client() is None:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def queued_erase(*, environment_id: int, user_id: str | None, email: str | None) -> int:
    """Remove this person's queued page views; returns how many. Holds the drain lock (see
    queue_lock) to the end of the caller's transaction: a drain between reading the queue and
    removing from it would trim the wrong rows."""
    client = _client()
    if client is None or not (user_id or email):
        return 0
    queue_lock()
    key, removed = queue_key(), 0
    for value, _ in _queued(client, environment_id, user_id, email):
        removed += int(client.lrem(key, 0, value))
    return removed
