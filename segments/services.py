"""Writes for segments: rules, membership, recomputes, and the re-evaluation seam.

Full recompute (segment_recompute) is set-based and transactional: the matching ids are staged
into a temporary table (ANALYZEd, so the planner knows its size), then one INSERT adds the
profiles that entered and one DELETE removes those that left, each also writing the history
(SegmentMembershipChange). A run that changes nothing writes no membership or history row.
Runs are versioned: segment_recompute_request bumps Segment.version and queues a task with that
version; a run whose version is older than the segment's exits (superseded) and its final
UPDATE is guarded by the version, so it can never overwrite a newer run's result.

Incremental evaluation (segment_profiles_evaluate) checks a few profiles against every dynamic
segment of an environment in ONE query. Changed profiles wait in a queue table
(segments_dirtyprofile: identify and track write it inside their own statement, other callers
through segment_profiles_changed) that a periodic task drains every
HARK_SEGMENT_DEBOUNCE_SECONDS, so a burst of changes to a profile costs one evaluation.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.queue import enqueue, enqueue_on_commit
from environments.models import Environment
from governance import audit
from profiles.models import Profile
from webhooks.outbox import kick_after_commit as outbox_kick
from webhooks.outbox import outbox_insert_cte

from . import rules as R
from .compiler import CompileContext, profiles_matching
from .dirty import mark_dirty_cte
from .evaluation import environment_evaluation
from .models import (
    ADVISORY_LOCK_CLASS,
    RecomputeStatus,
    Segment,
    SegmentKind,
)
from .selectors import segments_lost_runs, segments_using_trait
from .uses import segment_uses_elsewhere

logger = logging.getLogger(__name__)

# Queued by name (core.queue): tasks import services, never the reverse.
RECOMPUTE_TASK = "segments.tasks.recompute_segment"

# While a run's transaction is open, PostgreSQL polls its client's socket this often (ms): when
# the worker dies mid-statement (killed, out of memory), the server ends the orphaned statement
# at once instead of at the statement timeout, which releases the segment's lock; the run can
# then be seen as lost (segments_reset_stuck) and queued again.
CLIENT_CHECK_INTERVAL = "1000"
STAGE_TABLE = "hark_segment_stage"

SEGMENT_AUDIT_FIELDS = ("name", "description", "kind", "rules")


# --- Rules ----------------------------------------------------------------------------------

NUL = "\x00"


def _refuse_nul(**texts: str | None) -> None:
    """PostgreSQL cannot store a NUL character in text (saving one was a 500, DataError): the
    field holding one is refused by name before anything is read or written. The services
    take the dashboard's raw POST values, which no form field has checked."""
    errors = {
        name: [f"The {name} cannot contain a NUL character."]
        for name, text in texts.items()
        if text and NUL in text
    }
    if errors:
        raise ValidationError(errors)


def _nul_path(value: Any) -> str | None:
    """The validation path ("conditions[1].value") of the first text in a JSON value, key or
    value, holding a NUL character, which jsonb cannot store either; None when there is none.
    A walk without recursion, like R.iter_conditions (the rules may be nested anyhow)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return path
        elif isinstance(node, dict):
            for key, child in node.items():
                if NUL in str(key):
                    return path
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(node, list):
            stack.extend((f"{path}[{n}]", child) for n, child in enumerate(node))
    return None


def segment_validate_rules(
    *, environment_id: int, rules: Any, segment: Segment | None = None
) -> R.RulesInfo:
    """Validate a rule tree for a segment of the environment: shape, types and values, that
    referenced segments exist here, and that no reference leads back to `segment` (a cycle).
    Raises ValidationError keyed by the path of the condition at fault."""
    nul = _nul_path(rules)
    if nul is not None:  # before validate_rules, which looks up the keys the rules name
        raise ValidationError({nul or "rules": ["A rule cannot contain a NUL character."]})
    info = R.validate_rules(rules, environment_id=environment_id)
    errors: dict[str, list[str]] = {}
    references = [
        (path, str(c["segment"]))
        for path, c in R.iter_conditions(rules)
        if c.get("type") == "segment" and c.get("segment")
    ]
    if not references:
        return info
    own = str(segment.uuid) if segment is not None else None
    by_uuid: dict[str, Segment] = {}

    def load(uuids: set[str]) -> None:
        wanted = {u for u in uuids if u not in by_uuid}
        if wanted:
            for seg in Segment.objects.filter(environment_id=environment_id, uuid__in=wanted).only(
                "id", "uuid", "kind", "rules", "has_time_window", "name"
            ):
                by_uuid[str(seg.uuid)] = seg

    load({u for _, u in references})
    for path, key in references:
        where = f"{path}.segment"
        if key == own:
            errors.setdefault(where, []).append("A segment cannot contain itself.")
            continue
        target = by_uuid.get(key)
        if target is None:
            errors.setdefault(where, []).append("No such segment in this environment.")
            continue
        # Walk what the referenced segment references: reaching `own` is a cycle.
        seen: set[str] = set()
        frontier = [target]
        while frontier:
            current = frontier.pop()
            key_current = str(current.uuid)
            if key_current in seen:
                continue
            seen.add(key_current)
            if current.kind == SegmentKind.DYNAMIC and current.has_time_window:
                info.has_time_window = True
            nested = (
                R.referenced_segment_uuids(current.rules) if current.kind == "dynamic" else set()
            )
            if own is not None and own in nested:
                errors.setdefault(where, []).append(
                    f"Cycle: “{target.name}” already depends on this segment."
                )
                break
            load(nested)
            frontier.extend(by_uuid[u] for u in nested if u in by_uuid)
    if errors:
        raise ValidationError(errors)
    return info


def segment_create(
    *,
    environment: Environment,
    name: str,
    kind: str = SegmentKind.DYNAMIC,
    rules: Any = None,
    description: str = "",
    created_by: Any = None,
) -> Segment:
    """Create a segment; a dynamic one gets its rules validated and its first recompute queued."""
    _refuse_nul(name=name, description=description)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Enter a name."]})
    if kind not in SegmentKind.values:
        raise ValidationError({"kind": ["Choose dynamic or manual."]})
    # Names differing only in case are one name to the people choosing from a list.
    if Segment.objects.filter(environment=environment, name__iexact=name).exists():
        raise ValidationError({"name": ["A segment with this name already exists."]})
    if kind == SegmentKind.MANUAL:
        rules = {}
        info = R.RulesInfo()
    else:
        rules = rules or R.empty_rules()
        info = segment_validate_rules(environment_id=environment.pk, rules=rules)
    try:
        with transaction.atomic():
            segment = Segment.objects.create(
                environment=environment,
                name=name,
                kind=kind,
                rules=rules,
                description=description,
                created_by=created_by,
                has_time_window=info.has_time_window,
                computed_at=timezone.now() if kind == SegmentKind.MANUAL else None,
            )
    except IntegrityError:
        raise ValidationError({"name": ["A segment with this name already exists."]}) from None
    audit.record(
        created_by, "segment.create", segment, after=audit.snapshot(segment, SEGMENT_AUDIT_FIELDS)
    )
    if kind == SegmentKind.DYNAMIC:
        segment_recompute_request(segment=segment)
    return segment


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    description: str | None = None,
    rules: Any = None,
) -> Segment:
    """Rename / redescribe, or replace the rules (validated; a recompute is queued only when the
    rules changed). Skips the write when nothing changed."""
    _refuse_nul(name=name, description=description)
    fields: list[str] = []
    before = audit.snapshot(segment, SEGMENT_AUDIT_FIELDS)
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": ["Enter a name."]})
        if name != segment.name:
            if (
                Segment.objects.filter(environment_id=segment.environment_id, name__iexact=name)
                .exclude(pk=segment.pk)
                .exists()
            ):
                raise ValidationError({"name": ["A segment with this name already exists."]})
            segment.name = name
            fields.append("name")
    if description is not None and description != segment.description:
        segment.description = description
        fields.append("description")
    rules_changed = False
    if rules is not None and segment.kind == SegmentKind.DYNAMIC and rules != segment.rules:
        info = segment_validate_rules(
            environment_id=segment.environment_id, rules=rules, segment=segment
        )
        segment.rules = rules
        segment.has_time_window = info.has_time_window
        fields += ["rules", "has_time_window"]
        rules_changed = True
    if fields:
        segment.save(update_fields=[*fields, "updated_at"])
        audit.record(
            None,
            "segment.update",
            segment,
            *audit.changes(before, audit.snapshot(segment, SEGMENT_AUDIT_FIELDS)),
        )
    if rules_changed:
        segment_recompute_request(segment=segment)
        _request_dependents(segment)
    return segment


def segment_dependents(segment: Segment) -> list[Segment]:
    """Dynamic segments of the environment whose rules reference `segment` directly."""
    key = str(segment.uuid)
    candidates = Segment.objects.filter(
        environment_id=segment.environment_id, kind=SegmentKind.DYNAMIC
    ).exclude(pk=segment.pk)
    # A segment's rules are small; this reads the segments of one environment, never profiles.
    return [s for s in candidates if key in R.referenced_segment_uuids(s.rules)]


def segment_delete_blockers(*, segment: Segment) -> list[str]:
    """Why the segment cannot be deleted now, in words (empty when it can): another segment's
    rules, a survey's web targeting or an alert subscription uses it. Deleting it would change
    what they do without a word: a survey shown to nobody, or to those it excluded; an alert
    gone with it."""
    problems = []
    users = segment_dependents(segment)
    if users:
        names = ", ".join(s.name for s in users)
        problems.append(f"Used by other segments ({names}): change them first.")
    problems += segment_uses_elsewhere(segment)  # a survey's targeting, an alert (segments.uses)
    return problems


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment nothing else uses (else a ValidationError says what does)."""
    problems = segment_delete_blockers(segment=segment)
    if problems:
        raise ValidationError(" ".join(problems))
    with transaction.atomic():
        audit.record(None, "segment.delete", segment, audit.snapshot(segment, SEGMENT_AUDIT_FIELDS))
        segment.delete()


# --- Recompute ------------------------------------------------------------------------------


@dataclass
class RecomputeResult:
    segment_id: int
    version: int
    superseded: bool = False
    member_count: int = 0
    entered: int = 0
    left: int = 0
    wrote: bool = False
    timings: dict[str, float] = field(default_factory=dict)


class Superseded(Exception):
    """Raised inside the recompute transaction to roll it back."""


def segment_recompute_request(*, segment: Segment) -> int:
    """Ask for a full recompute: bump the version, mark queued, queue the task after commit."""
    now = timezone.now()
    Segment.objects.filter(pk=segment.pk).update(
        version=F("version") + 1, status=RecomputeStatus.QUEUED, status_changed_at=now, error=""
    )
    segment.refresh_from_db(fields=["version", "status", "status_changed_at", "error"])
    version = segment.version
    enqueue_on_commit(RECOMPUTE_TASK, segment.pk, version)
    return version


def _request_refresh(segment_ids: Iterable[int]) -> None:
    ids = list(segment_ids)
    if ids:

        def request() -> None:
            for i in ids:
                enqueue(RECOMPUTE_TASK, i, None)

        transaction.on_commit(request)


def _request_dependents(segment: Segment) -> None:
    _request_refresh(s.pk for s in segment_dependents(segment))


def _set_local(cursor: Any) -> None:
    timeout = settings.HARK_SEGMENT_STATEMENT_TIMEOUT
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
        " set_config('work_mem', %s, true),"
        # (PostgreSQL 14 and newer have the check; older servers run without it.)
        " CASE WHEN current_setting('server_version_num')::int >= 140000"
        " THEN set_config('client_connection_check_interval', %s, true) END",
        [f"{timeout}s", f"{timeout}s", settings.HARK_SEGMENT_WORK_MEM, CLIENT_CHECK_INTERVAL],
    )


def matching_ids_sql(segment: Segment, *, now: dt.datetime) -> tuple[str, tuple]:
    """SQL (and params) selecting the ids of the profiles matching the segment's rules."""
    qs = profiles_matching(
        segment.rules,
        environment_id=segment.environment_id,
        now=now,
        self_uuid=str(segment.uuid),
    ).values("id")
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def segment_recompute(
    *, segment_id: int, version: int | None = None, now: dt.datetime | None = None
) -> RecomputeResult | None:
    """Full, set-based recompute of one dynamic segment (see the module docstring).

    `version`: the version this run was queued for; None for a refresh (periodic, dependents)
    that computes the current version without touching the status shown to users.
    """

    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None or segment.kind != SegmentKind.DYNAMIC:
        return None
    now = now or timezone.now()
    requested = version is not None
    run_version = segment.version if version is None else version
    result = RecomputeResult(segment_id=segment_id, version=run_version)
    if segment.version > run_version:
        result.superseded = True
        return result
    if requested and segment.status != RecomputeStatus.RUNNING:
        # Committed at once (outside the run's transaction) so the page can show it.
        Segment.objects.filter(pk=segment_id, version=run_version).update(
            status=RecomputeStatus.RUNNING, status_changed_at=timezone.now()
        )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Bounds (and the dead-client check) first, so they cover the wait for the lock too.
            _set_local(cursor)
            # The lock is this run's lease: held while it runs, gone with its database session
            # when the worker dies (see segment_runs_alive).
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, segment_id]
            )
            segment = Segment.objects.filter(pk=segment_id).first()
            if segment is None:
                return None
            if segment.version > run_version:
                raise Superseded
            started = time.perf_counter()
            sql, params = matching_ids_sql(segment, now=now)
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
            cursor.execute(
                f"CREATE TEMP TABLE {STAGE_TABLE} (profile_id bigint NOT NULL) ON COMMIT DROP"
            )
            cursor.execute(f"INSERT INTO {STAGE_TABLE} (profile_id) {sql}", params)
            result.member_count = cursor.rowcount
            cursor.execute(f"ANALYZE {STAGE_TABLE}")
            result.timings["stage"] = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute(
                f"""
                WITH entered AS (
                    INSERT INTO segments_segmentmembership (segment_id, profile_id, since)
                    SELECT %s, s.profile_id, %s FROM {STAGE_TABLE} s
                    WHERE NOT EXISTS (
                        SELECT 1 FROM segments_segmentmembership m
                        WHERE m.segment_id = %s AND m.profile_id = s.profile_id
                    )
                    ON CONFLICT DO NOTHING
                    RETURNING profile_id
                ),
                {_outbox_cte("entered", segment)}
                INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
                SELECT %s, profile_id, 'entered', %s FROM entered
                """,
                [segment_id, now, segment_id, segment_id, now],
            )
            result.entered = cursor.rowcount
            cursor.execute(
                f"""
                WITH left_ AS (
                    DELETE FROM segments_segmentmembership m
                    WHERE m.segment_id = %s AND NOT EXISTS (
                        SELECT 1 FROM {STAGE_TABLE} s WHERE s.profile_id = m.profile_id
                    )
                    RETURNING profile_id
                ),
                {_outbox_cte("left_", segment)}
                INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
                SELECT %s, profile_id, 'left', %s FROM left_
                """,
                [segment_id, segment_id, now],
            )
            result.left = cursor.rowcount
            result.timings["apply"] = time.perf_counter() - started
            changed_row = (
                result.entered
                or result.left
                or segment.member_count != result.member_count
                or (requested and segment.computed_version != run_version)
                or (requested and segment.status != RecomputeStatus.IDLE)
                or segment.status == RecomputeStatus.FAILED
                or segment.computed_at is None
            )
            if changed_row:
                updates: dict[str, Any] = {
                    "member_count": result.member_count,
                    "computed_at": now,
                    "computed_version": run_version,
                }
                # A refresh that succeeds clears an earlier failure (the rules compute again).
                if requested or segment.status == RecomputeStatus.FAILED:
                    updates.update(
                        status=RecomputeStatus.IDLE, status_changed_at=timezone.now(), error=""
                    )
                updated = Segment.objects.filter(pk=segment_id, version=run_version).update(
                    **updates
                )
                if not updated:
                    raise Superseded
                result.wrote = True
    except Superseded:
        result.superseded = True
        result.entered = result.left = 0
        result.wrote = False
        return result
    if result.entered or result.left:
        _request_dependents(segment)
        outbox_kick()
    return result


def _outbox_cte(source: str, segment: Segment) -> str:
    """The webhooks outbox's piece of a recompute statement: segment.entered/left for every
    profile of `source`, written by the same statement (nothing without a subscriber)."""
    return outbox_insert_cte(
        name=f"outbox_{source.strip('_')}",
        source=source,
        profile_column="profile_id",
        event_type="segment.entered" if source == "entered" else "segment.left",
        env_param=str(int(segment.environment_id)),
        data_sql=f"jsonb_build_object('segment_id', {int(segment.pk)})",
    )


def failure_reason(exc: BaseException) -> str:
    """What the segment page shows for a failed run: the error in words where it is one a
    person can act on (a timeout), else its type and message (the traceback is in the log)."""

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, OperationalError) and "statement timeout" in text:
        return (
            "The recompute took longer than the statement timeout "
            f"({settings.HARK_SEGMENT_STATEMENT_TIMEOUT} s, HARK_SEGMENT_STATEMENT_TIMEOUT) "
            "and was stopped."
        )
    return f"The recompute stopped with an error: {type(exc).__name__}: {text}"[:2000]


def segment_mark_failed(*, segment_id: int, version: int | None, error: str) -> None:
    """A run ended without a result: show it failed, with the reason, and offer a new run.
    `version` None (a refresh) marks the segment whatever run it shows."""
    qs = Segment.objects.filter(pk=segment_id)
    if version is not None:
        qs = qs.filter(version=version)
    qs.update(status=RecomputeStatus.FAILED, status_changed_at=timezone.now(), error=error[:2000])


def segment_mark_retrying(*, segment_id: int, version: int | None) -> None:
    """A run failed on a transient database error and waits for its retry: queued, not running
    (so the lost-run check does not take the wait for a dead worker)."""
    if version is None:
        return
    Segment.objects.filter(pk=segment_id, version=version, status=RecomputeStatus.RUNNING).update(
        status=RecomputeStatus.QUEUED, status_changed_at=timezone.now()
    )


def segments_refresh_time_windows() -> list[int]:
    """Queue a refresh of every dynamic segment whose rules depend on the clock."""
    ids = list(
        Segment.objects.filter(kind=SegmentKind.DYNAMIC, has_time_window=True).values_list(
            "pk", flat=True
        )
    )
    for segment_id in ids:
        enqueue(RECOMPUTE_TASK, segment_id, None)
    return ids


def segments_reset_stuck(*, older_than: dt.timedelta | None = None) -> list[int]:
    """Queue again the runs that will not finish by themselves, under a new version (so a late
    finisher, or a late redelivery of the old message, is superseded):

    - lost: shown running, but no database session holds the segment's lock (the worker, or
      the web process running it inline, died mid-run); noticed at once, no timeout;
    - stuck: queued or running for longer than HARK_SEGMENT_STUCK_SECONDS (a message lost).

    Run by beat every minute and by every worker as it starts; without beat, the segment page
    offers "Recompute now" for such a run (selectors.segment_run_lost).
    """

    stuck = segments_lost_runs(older_than=older_than)
    requeued: list[int] = []
    for segment in stuck:
        # Guarded by the version and status read: a run that finished (or was requested again)
        # meanwhile is left alone.
        updated = Segment.objects.filter(
            pk=segment.pk, version=segment.version, status=segment.status
        ).update(
            version=F("version") + 1,
            status=RecomputeStatus.QUEUED,
            status_changed_at=timezone.now(),
            error="",
        )
        if not updated:
            continue
        logger.warning(
            "segment %s: run %s (%s since %s) lost, queued again",
            segment.pk,
            segment.version,
            segment.status,
            segment.status_changed_at,
        )
        _queue_recompute(segment.pk, segment.version + 1)
        requeued.append(segment.pk)
    return requeued


def _queue_recompute(segment_id: int, version: int) -> None:
    enqueue_on_commit(RECOMPUTE_TASK, segment_id, version)


# --- Incremental evaluation -------------------------------------------------------------------


@dataclass
class EvaluationResult:
    entered: list[tuple[int, int]] = field(default_factory=list)  # (segment id, profile id)
    left: list[tuple[int, int]] = field(default_factory=list)


def segment_profiles_evaluate(
    *, environment_id: int, profile_ids: Iterable[int], now: dt.datetime | None = None
) -> EvaluationResult:
    """Re-evaluate a few profiles against every dynamic segment of the environment: one query
    for all segments, then writes only for what changed."""
    ids = sorted({int(i) for i in profile_ids})
    result = EvaluationResult()
    if not ids:
        return result
    evaluation = environment_evaluation(environment_id=environment_id, profile_ids=ids, now=now)
    if not evaluation.segment_ids:
        return result
    flags = evaluation.flags
    current = {(sid, pid) for pid, sids in evaluation.current.items() for sid in sids}
    wanted = {(sid, pid) for pid, sids in flags.items() for sid in sids}
    # Memberships of profiles that no longer exist (merged, deleted) cascade away by themselves.
    result.entered = sorted(wanted - current)
    result.left = sorted(current - wanted)
    if not result.entered and not result.left:
        return result
    _apply_incremental(result, now or timezone.now(), environment_id=environment_id)
    outbox_kick()
    return result


APPLY_INCREMENTAL_SQL = """
WITH
  entering AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS e(segment_id, profile_id)),
  leaving AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS l(segment_id, profile_id)),
  ins AS (
    INSERT INTO segments_segmentmembership (segment_id, profile_id, since)
    SELECT segment_id, profile_id, %s FROM entering
    ON CONFLICT DO NOTHING
    RETURNING segment_id, profile_id
  ),
  del AS (
    DELETE FROM segments_segmentmembership m USING leaving l
    WHERE m.segment_id = l.segment_id AND m.profile_id = l.profile_id
    RETURNING m.segment_id, m.profile_id
  ),
  {outbox_entered},
  {outbox_left},
  history AS (
    INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
    SELECT segment_id, profile_id, 'entered', %s FROM ins
    UNION ALL
    SELECT segment_id, profile_id, 'left', %s FROM del
    RETURNING segment_id, change
  )
UPDATE segments_segment s SET member_count = s.member_count + d.delta
FROM (
  SELECT segment_id, sum(CASE WHEN change = 'entered' THEN 1 ELSE -1 END) AS delta
  FROM history GROUP BY segment_id
) d
WHERE s.id = d.segment_id
"""


def _apply_incremental(result: EvaluationResult, now: dt.datetime, *, environment_id: int) -> None:
    """Write what an incremental evaluation found, in one statement (memberships, history,
    counts) after taking the touched segments' locks in a fixed order (no deadlock with another
    evaluation; a full recompute of one of them finishes first)."""
    touched = sorted({sid for sid, _ in result.entered} | {sid for sid, _ in result.left})
    with transaction.atomic(), connection.cursor() as cursor:
        # Memberships are derived data (a recompute rebuilds them), so this small, frequent
        # transaction does not wait for its WAL flush.
        cursor.execute(
            "SELECT (SELECT set_config('synchronous_commit', 'off', true)), "
            "count(pg_advisory_xact_lock(%s, s)) "
            "FROM (SELECT unnest(%s::int[]) AS s ORDER BY 1) x",
            [ADVISORY_LOCK_CLASS, touched],
        )
        outbox = {
            f"outbox_{name}": outbox_insert_cte(
                name=f"outbox_{name}",
                source=source,
                profile_column="profile_id",
                event_type=f"segment.{name}",
                env_param=str(int(environment_id)),
                data_sql="jsonb_build_object('segment_id', src.segment_id)",
            )
            for name, source in (("entered", "ins"), ("left", "del"))
        }
        cursor.execute(
            APPLY_INCREMENTAL_SQL.format(**outbox),
            [
                [s for s, _ in result.entered],
                [p for _, p in result.entered],
                [s for s, _ in result.left],
                [p for _, p in result.left],
                now,
                now,
                now,
            ],
        )


def tasks_run_inline() -> bool:
    """True where Celery runs tasks inline (no Redis: development, tests): no periodic drain."""
    return not settings.REDIS_URL or settings.CELERY_TASK_ALWAYS_EAGER


def segment_profiles_changed(
    *, environment_id: int, profile_ids: Iterable[int], marked: bool = False
) -> None:
    """The seam for code that changed profiles' data (surveys, merges, the dashboard), called
    after commit: re-evaluate those profiles against the environment's dynamic segments.

    With a worker, the profiles are queued in segments_dirtyprofile (one statement; a burst of
    changes to one profile is one row) and the periodic drain evaluates them within
    HARK_SEGMENT_DEBOUNCE_SECONDS. `marked`: the caller's statement queued them itself
    (identify, track: see segments.dirty). Where tasks run inline (no worker, no beat), the
    environment's queue is drained at once.
    """
    ids = sorted({int(i) for i in profile_ids})
    if not ids:
        return
    if not marked:
        _queue(environment_id, ids)
    if tasks_run_inline():
        segment_dirty_profiles_drain(environment_id=environment_id)


def _queue(environment_id: int, profile_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {mark_dirty_cte('SELECT unnest(%(ids)s::bigint[])')} SELECT 1",
            {"env": environment_id, "ids": profile_ids},
        )


_DRAIN_SQL = """
DELETE FROM segments_dirtyprofile WHERE profile_id IN (
    SELECT profile_id FROM segments_dirtyprofile
    WHERE %(env)s::bigint IS NULL OR environment_id = %(env)s
    LIMIT %(batch)s FOR UPDATE SKIP LOCKED
)
RETURNING environment_id, profile_id
"""


def segment_dirty_profiles_drain(*, environment_id: int | None = None, batch: int = 500) -> int:
    """Evaluate the queued profiles (of one environment, or all), `batch` at a time; returns how
    many. Each batch leaves the queue in a statement of its own (concurrent drains skip each
    other's rows, and ingestion never waits on an evaluation), and goes back to it if the
    evaluation fails."""
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_DRAIN_SQL, {"env": environment_id, "batch": batch})
            rows = cursor.fetchall()
        if not rows:
            return total
        by_environment: dict[int, list[int]] = {}
        for env_id, profile_id in rows:
            by_environment.setdefault(env_id, []).append(profile_id)
        pending = sorted(by_environment.items())
        while pending:
            env_id, ids = pending[0]
            try:
                segment_profiles_evaluate(environment_id=env_id, profile_ids=sorted(ids))
            except Exception:
                # Back in the queue, with the batch's other environments not evaluated yet.
                for env_id, ids in pending:
                    _queue(env_id, ids)
                raise
            pending.pop(0)
        total += len(rows)


# --- Manual segments ------------------------------------------------------------------------


def _require_manual(segment: Segment) -> None:
    if segment.kind != SegmentKind.MANUAL:
        raise ValidationError("Only manual segments take members by hand.")


def segment_member_add(
    *, segment: Segment, profile: Profile, at: dt.datetime | None = None
) -> bool:
    """Add a profile to a manual segment; True if it was not a member yet."""
    _require_manual(segment)
    if profile.environment_id != segment.environment_id:
        raise ValidationError("The profile belongs to another environment.")
    return segment_members_add(segment=segment, profile_ids=[profile.pk], at=at) == 1


def segment_member_remove(
    *, segment: Segment, profile: Profile, at: dt.datetime | None = None
) -> bool:
    """Remove a profile from a manual segment; True if it was a member. The bulk removal's
    one statement, for one profile."""
    return segment_members_remove(segment=segment, profile_ids=[profile.pk], at=at) == 1


def segment_members_remove(
    *, segment: Segment, profile_ids: Iterable[int], at: dt.datetime | None = None
) -> int:
    """Remove profiles from a manual segment, set-based (the Users list's bulk action): one
    statement for the memberships, their history and the count. Returns how many left."""
    _require_manual(segment)
    ids = sorted({int(i) for i in profile_ids})
    if not ids:
        return 0
    at = at or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH gone AS (
                DELETE FROM segments_segmentmembership
                WHERE segment_id = %s AND profile_id = ANY(%s::bigint[])
                RETURNING profile_id
            ),
            history AS (
                INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
                SELECT %s, profile_id, 'left', %s FROM gone
                RETURNING 1
            )
            UPDATE segments_segment SET member_count = GREATEST(member_count - n, 0),
                computed_at = %s
            FROM (SELECT count(*) AS n FROM history) h
            WHERE id = %s AND n > 0
            RETURNING n
            """,
            [segment.pk, ids, segment.pk, at, at, segment.pk],
        )
        row = cursor.fetchone()
    removed = int(row[0]) if row else 0
    if removed:
        _manual_changed(segment, ids)
    return removed


def segment_members_add(
    *, segment: Segment, profile_ids: Iterable[int], at: dt.datetime | None = None
) -> int:
    """Add profiles (of the segment's environment) to a manual segment, set-based.
    Returns how many were added."""
    _require_manual(segment)
    ids = sorted({int(i) for i in profile_ids})
    if not ids:
        return 0
    at = at or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH entered AS (
                INSERT INTO segments_segmentmembership (segment_id, profile_id, since)
                SELECT %s, p.id, %s FROM profiles_profile p
                WHERE p.id = ANY(%s) AND p.environment_id = %s
                ON CONFLICT DO NOTHING
                RETURNING profile_id
            )
            INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
            SELECT %s, profile_id, 'entered', %s FROM entered
            """,
            [segment.pk, at, ids, segment.environment_id, segment.pk, at],
        )
        added = cursor.rowcount
        if added:
            Segment.objects.filter(pk=segment.pk).update(
                member_count=F("member_count") + added, computed_at=at
            )
    if added:
        _manual_changed(segment, ids)
    return added


def _manual_changed(segment: Segment, profile_ids: list[int]) -> None:
    """Dynamic segments may be defined on this manual one ("in segment Beta"): re-evaluate the
    changed profiles (a small change), or recompute those segments (a large import)."""
    if not any(True for _ in segment_dependents(segment)):
        return
    if len(profile_ids) <= 1000:
        environment_id = segment.environment_id
        transaction.on_commit(
            lambda: segment_profiles_changed(environment_id=environment_id, profile_ids=profile_ids)
        )
    else:
        _request_dependents(segment)


_SPLIT = re.compile(r"[\s,;]+")
# Distinct ids or emails one import takes (one lookup, one statement).
IMPORT_LIMIT = 100_000


def segment_members_import(*, segment: Segment, data: str) -> tuple[int, list[str]]:
    """Import members into a manual segment from CSV (or any list) of user ids or emails:
    every cell is tried as a user id and as an email. Returns (added, values not found).
    Lines holding a NUL character (no user id or email can) refuse the whole import, naming
    them: looking them up was a 500 (PostgreSQL text cannot hold one), and importing the rest
    would hide that the list is not what the user meant."""
    _require_manual(segment)
    values: list[str] = []
    refused: list[int] = []
    # Universal newlines: a lone "\r" ends a line too (Excel's "CSV (Macintosh)", lists pasted
    # from old tools), where csv.reader refused it (a 500).
    reader = csv.reader(io.StringIO(data, newline=None))
    for row in reader:
        if any(NUL in cell for cell in row):
            refused.append(reader.line_num)
            continue
        for cell in row:
            values += [v for v in _SPLIT.split(cell.strip()) if v]
    if refused:
        shown = ", ".join(str(n) for n in refused[:10]) + (" …" if len(refused) > 10 else "")
        raise ValidationError(
            f"Nothing was imported: a NUL character is not allowed in an id or email "
            f"(line{'s' if len(refused) > 1 else ''} {shown})."
        )
    values = list(dict.fromkeys(values))
    if len(values) > IMPORT_LIMIT:
        # Refused whole: cutting the list would leave its end out without a word.
        raise ValidationError(
            f"Nothing was imported: at most {IMPORT_LIMIT:,} ids or emails at a time "
            f"(this list has {len(values):,}). Split it into several imports."
        )
    if not values:
        return 0, []
    lowered = [v.lower() for v in values]
    found = Profile.objects.filter(environment_id=segment.environment_id).filter(
        Q(user_id__in=values) | Q(email__in=values) | Q(email__in=lowered)
    )
    matched_ids: list[int] = []
    seen: set[str] = set()
    for pk, user_id, email in found.values_list("pk", "user_id", "email").iterator():
        matched_ids.append(pk)
        seen.add(user_id or "")
        seen.add((email or "").lower())
    missing = [v for v in values if v not in seen and v.lower() not in seen]
    added = segment_members_add(segment=segment, profile_ids=matched_ids)
    return added, missing


def segment_preview(
    *, environment_id: int, rules: Any, limit: int = 10, segment: Segment | None = None
) -> tuple[int, list[Any]]:
    """Live count and a sample of the profiles matching unsaved rules (the builder)."""
    segment_validate_rules(environment_id=environment_id, rules=rules, segment=segment)
    timeout = settings.HARK_SEGMENT_PREVIEW_TIMEOUT
    ctx = CompileContext(environment_id=environment_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{timeout}s"])
        qs = profiles_matching(
            rules,
            environment_id=environment_id,
            context=ctx,
            self_uuid=str(segment.uuid) if segment else None,
        )
        count = qs.count()
        sample = list(qs.order_by("-last_seen_at", "-id")[:limit]) if count else []
    return count, sample


# --- Trait types --------------------------------------------------------------------------------


def segments_trait_changed(*, environment_id: int, scope: str, key: str) -> list[int]:
    """A trait's type changed (its conditions now compare differently, or no longer fit and
    match nobody), or the trait was deleted with its values: recompute the dynamic segments
    that use it (those that depend on them follow when their members change). Returns their
    ids."""

    using = segments_using_trait(environment_id=environment_id, scope=scope, key=key)
    for item in using:
        segment_recompute_request(segment=item["segment"])
    return [item["segment"].pk for item in using]


# --- Profiles merged or deleted -----------------------------------------------------------------

# Only a dynamic segment's count is ever written whole (by a recompute, under its run lock);
# every other writer adjusts it relatively under the row lock, so manual segments need none.
_LOCK_MEMBERSHIPS_SQL = """
SELECT x.s, x.kind <> 'dynamic' OR pg_try_advisory_xact_lock(%s, x.s::int) FROM (
    SELECT DISTINCT m.segment_id AS s, g.kind FROM segments_segmentmembership m
    JOIN segments_segment g ON g.id = m.segment_id
    WHERE m.profile_id = ANY(%s::bigint[]) ORDER BY 1
) x
"""

_END_MEMBERSHIPS_SQL = """
WITH gone AS (
    DELETE FROM segments_segmentmembership WHERE profile_id = ANY(%(ids)s::bigint[])
    RETURNING segment_id, profile_id
),
history AS (
    INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
    SELECT segment_id, profile_id, 'left', %(at)s FROM gone
    RETURNING segment_id, change
)
UPDATE segments_segment s SET member_count = GREATEST(s.member_count + d.delta, 0)
FROM (SELECT segment_id, -count(*) AS delta FROM history GROUP BY segment_id) d
WHERE s.id = d.segment_id AND s.id = ANY(%(locked)s::bigint[])
"""

_MOVE_MEMBERSHIPS_SQL = """
WITH src AS (
    DELETE FROM segments_segmentmembership WHERE profile_id = %(source)s
    RETURNING segment_id
),
moved AS (
    INSERT INTO segments_segmentmembership (segment_id, profile_id, since)
    SELECT segment_id, %(target)s, %(at)s FROM src ORDER BY segment_id
    ON CONFLICT (segment_id, profile_id) DO NOTHING
    RETURNING segment_id
),
history AS (
    INSERT INTO segments_segmentmembershipchange (segment_id, profile_id, change, at)
    SELECT segment_id, %(source)s, 'left', %(at)s FROM src
    UNION ALL
    SELECT segment_id, %(target)s, 'entered', %(at)s FROM moved
    RETURNING segment_id, change
)
UPDATE segments_segment s SET member_count = GREATEST(s.member_count + d.delta, 0)
FROM (
    SELECT segment_id, sum(CASE WHEN change = 'entered' THEN 1 ELSE -1 END) AS delta
    FROM history GROUP BY segment_id
) d
WHERE s.id = d.segment_id AND d.delta <> 0 AND s.id = ANY(%(locked)s::bigint[])
"""


def _lock_memberships(cursor: Any, profile_ids: list[int]) -> tuple[list[int], list[int]]:
    """Take, without waiting, the run locks of the dynamic segments these profiles are members
    of: (segments whose count to adjust, busy ones). A busy segment has a recompute (or an
    incremental write) running: its count is left to a refresh queued after commit, which
    counts it whole, so a profile's change never waits for a long recompute."""
    cursor.execute(_LOCK_MEMBERSHIPS_SQL, [ADVISORY_LOCK_CLASS, profile_ids])
    rows = cursor.fetchall()
    return [s for s, ok in rows if ok], [s for s, ok in rows if not ok]


def segment_memberships_end(*, profile_ids: Iterable[int], at: dt.datetime | None = None) -> int:
    """Profiles are about to be deleted: they leave every segment they are in, with a "left"
    in the history (which outlives them) and the member counts lowered, in one statement.
    Call inside the deleting transaction. Returns how many memberships ended."""
    ids = sorted({int(i) for i in profile_ids})
    if not ids:
        return 0
    at = at or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        locked, busy = _lock_memberships(cursor, ids)
        if not locked and not busy:
            return 0
        cursor.execute(_END_MEMBERSHIPS_SQL, {"ids": ids, "at": at, "locked": locked})
    _request_refresh(busy)
    return len(locked) + len(busy)


def segment_memberships_merge(
    *, source_id: int, target_id: int, at: dt.datetime | None = None
) -> None:
    """An anonymous profile merges into an identified one (and is then deleted): the source
    leaves its segments ("left"), the target enters those it was not in ("entered", member
    since now; manual lists keep the person), and a segment both were in loses one member.
    Each history reads entered/left in turn. One statement; the target is re-evaluated against
    the dynamic segments after commit by its caller (identify)."""
    at = at or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        locked, busy = _lock_memberships(cursor, [source_id])
        if not locked and not busy:
            return
        cursor.execute(
            _MOVE_MEMBERSHIPS_SQL,
            {"source": source_id, "target": target_id, "at": at, "locked": locked},
        )
    _request_refresh(busy)
