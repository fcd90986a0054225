"""Every dynamic segment of an environment for a few profiles, in one prepared statement.

The incremental path (a profile's data changed: which of the environment's dynamic segments does
it belong to now?) evaluates all of them at once. segments.compiler turns each segment's rules
into a boolean expression; this module assembles them into one statement, keeps it, and runs it.

Compiling 50 rule trees through the ORM costs far more than running them for one profile, so
the compiled statement is kept per environment and reused while nothing it depends on changed
(see `evaluation_fingerprint`). It is compiled with sentinels in place of the clock and the
profile ids, which are swapped for the real values at each execution. For one profile (the
common case: a debounced change) the statement is also PREPAREd once per connection, with
every constant inlined and only ($1 = now, $2 = profile id) as parameters: it is planned once
(a generic plan: the outer row is one primary-key lookup and every subquery is a correlated
index probe, so the plan does not depend on the values), and executing it costs neither
planning nor quoting hundreds of parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, Value
from django.db.models.lookups import Exact
from django.utils import timezone
from psycopg import sql as pgsql

from core import prepared
from profiles.models import Profile

from .compiler import CompileContext, group_q, in_ids, log_problems
from .models import Segment, SegmentMembership

logger = logging.getLogger(__name__)

SENTINEL_NOW = dt.datetime(1900, 1, 1, 0, 0, 0, 123457, tzinfo=dt.UTC)
SENTINEL_ID = -424242
SENTINEL_IDS = [SENTINEL_ID]


@dataclass
class CompiledEvaluation:
    fingerprint: tuple
    segment_ids: list[int]
    sql: str
    params: tuple
    single: bool = False
    name: str = ""  # prepared statement name (single-profile statements only)
    prepared_sql: str = ""
    preparable: bool = True


_EVALUATIONS: dict[tuple[int, bool, str], CompiledEvaluation] = {}

FINGERPRINT_SQL = """
SELECT
  (SELECT count(*) || '/' || coalesce(max(id), 0) || '/' || coalesce(max(updated_at)::text, '')
     FROM segments_segment WHERE environment_id = %s AND kind = 'dynamic') AS segments,
  (SELECT coalesce(max(id), 0) FROM events_eventdefinition WHERE environment_id = %s) AS events,
  (SELECT coalesce(max(id), 0) FROM surveys_survey WHERE environment_id = %s) AS surveys,
  (SELECT md5(coalesce(string_agg(scope || ':' || key || ':' || data_type, ',' ORDER BY id), ''))
     FROM traits_trait WHERE environment_id = %s) AS traits
"""


def evaluation_fingerprint(environment_id: int) -> tuple:
    """What a compiled evaluation depends on: the dynamic segments (count, last change, last id),
    event definitions and surveys (names/uuids resolved to ids), trait types."""
    with connection.cursor() as cursor:
        cursor.execute(FINGERPRINT_SQL, [environment_id] * 4)
        return tuple(cursor.fetchone())


def _is_now_sentinel(p: Any) -> bool:
    return (
        isinstance(p, dt.datetime)
        and p.microsecond == SENTINEL_NOW.microsecond
        and p.year <= SENTINEL_NOW.year
    )


def _is_ids_sentinel(p: Any) -> bool:
    return (isinstance(p, list) and p == SENTINEL_IDS) or (
        isinstance(p, int) and not isinstance(p, bool) and p == SENTINEL_ID
    )


def _prepared_text(sql: str, params: tuple, single: bool) -> str:
    """The statement for PREPARE: constants inlined as literals (quoted by psycopg, as Django's
    client-side binding does), the clock as $1 (minus a fixed interval), the ids as $2."""
    connection.ensure_connection()
    raw = connection.connection
    values = iter(params)

    def replace(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"  # PREPARE is sent without parameters: no escaping any more
        p = next(values)
        if _is_now_sentinel(p):
            micros = (SENTINEL_NOW - p) // dt.timedelta(microseconds=1)
            return f"($1::timestamptz - interval '{micros} microseconds')"
        if _is_ids_sentinel(p):
            return "$2" if single else "$2::bigint[]"
        return pgsql.Literal(p).as_string(raw)

    return re.sub(r"%%|%s", replace, sql)


def _compile_evaluation(
    segments: list[Any], environment_id: int, fingerprint: tuple, single: bool = False
) -> CompiledEvaluation:
    """One statement: the fingerprint, and per profile its current dynamic memberships and one
    boolean per segment. The fingerprint comes back even when no profile matched."""
    ctx = CompileContext(environment_id=environment_id, now=SENTINEL_NOW)
    ctx.profile_ids = SENTINEL_IDS
    ctx.add_segments(segments)
    ctx.preload([s.rules for s in segments])
    annotations = {
        f"s{seg.id}": ExpressionWrapper(
            group_q(seg.rules, ctx, (str(seg.uuid),)), output_field=BooleanField()
        )
        for seg in segments
    }
    log_problems(ctx, f"an environment's evaluation ({environment_id})")
    current = ArraySubquery(
        SegmentMembership.objects.filter(profile_id=OuterRef("pk"), segment__kind="dynamic").values(
            "segment_id"
        )
    )
    one = Q(Exact(F("id"), Value(SENTINEL_ID))) if single else in_ids("id", SENTINEL_IDS)
    qs = (
        Profile.objects.filter(environment_id=environment_id)
        .filter(one)
        .annotate(current_segments=current, **annotations)
        .values_list("pk", "current_segments", *annotations)
    )
    inner, params = qs.query.sql_with_params()
    sql = f"SELECT fp.*, t.* FROM ({FINGERPRINT_SQL}) fp LEFT JOIN ({inner}) t ON true"
    params = (environment_id,) * 4 + tuple(params)
    compiled = CompiledEvaluation(
        fingerprint=fingerprint,
        segment_ids=[s.id for s in segments],
        sql=sql,
        params=params,
        single=single,
    )
    if single and fingerprint:
        compiled.prepared_sql = _prepared_text(sql, params, single=True)
        digest = hashlib.sha1(compiled.prepared_sql.encode(), usedforsecurity=False)
        compiled.name = f"hark_segments_{environment_id}_{digest.hexdigest()[:16]}"
    return compiled


def _bind(params: tuple, now: dt.datetime, profile_ids: list[int]) -> list[Any]:
    bound = []
    for p in params:
        if _is_now_sentinel(p):
            bound.append(now - (SENTINEL_NOW - p))
        elif isinstance(p, list) and p == SENTINEL_IDS:
            bound.append(profile_ids)
        elif _is_ids_sentinel(p):
            bound.append(profile_ids[0])
        else:
            bound.append(p)
    return bound


def _execute(cursor: Any, compiled: CompiledEvaluation, now: dt.datetime, ids: list[int]) -> None:
    if not (compiled.name and compiled.preparable and prepared.enabled()):
        cursor.execute(compiled.sql, _bind(compiled.params, now, ids))
        return
    names = prepared.session_names()
    if compiled.name not in names:
        try:
            with transaction.atomic():
                # Affects only PREPAREd statements (Django binds parameters client side).
                cursor.execute("SET plan_cache_mode = force_generic_plan")
                cursor.execute(
                    f"PREPARE {compiled.name} (timestamptz, bigint) AS {compiled.prepared_sql}"
                )
            names.add(compiled.name)
        except DatabaseError as exc:
            logger.warning(
                "segments: could not prepare the evaluation (%s); running it plainly", exc
            )
            compiled.preparable = False
            cursor.execute(compiled.sql, _bind(compiled.params, now, ids))
            return
    cursor.execute(f"EXECUTE {compiled.name}(%s, %s)", [now, ids[0]])


def _deallocate(compiled: CompiledEvaluation | None) -> None:
    if compiled is None or not compiled.name or connection.connection is None:
        return
    names = prepared.session_names()
    if compiled.name in names:
        names.discard(compiled.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DEALLOCATE {compiled.name}")
        except DatabaseError:
            pass


@dataclass
class Evaluation:
    segment_ids: list[int]
    flags: dict[int, set[int]]  # profile id -> dynamic segments it matches now
    current: dict[int, set[int]]  # profile id -> dynamic segments it is a member of


def _run(
    compiled: CompiledEvaluation, now: dt.datetime, ids: list[int]
) -> tuple[tuple, Evaluation]:
    evaluation = Evaluation(
        segment_ids=compiled.segment_ids,
        flags={pid: set() for pid in ids},
        current={pid: set() for pid in ids},
    )
    with connection.cursor() as cursor:
        _execute(cursor, compiled, now, ids)
        rows = cursor.fetchall()
    fingerprint = tuple(rows[0][:4]) if rows else ()
    for row in rows:
        pk, current, *flags = row[4:]
        if pk is None:
            continue
        evaluation.current[pk] = set(current or ())
        evaluation.flags[pk] = {
            sid for sid, flag in zip(compiled.segment_ids, flags, strict=True) if flag
        }
    return fingerprint, evaluation


def environment_evaluation(
    *, environment_id: int, profile_ids: list[int], now: dt.datetime | None = None
) -> Evaluation:
    """Every dynamic segment of the environment for a few profiles, with their current
    memberships: ONE query while the compiled statement is current (its fingerprint is read by
    the same statement; on a mismatch the statement is compiled again and re-run)."""
    now = now or timezone.now()
    ids = [int(i) for i in profile_ids]
    # The site's zone is part of the statement (calendar days): a change compiles it again.
    key = (environment_id, len(ids) == 1, str(settings.TIME_ZONE))
    compiled = _EVALUATIONS.get(key)
    if compiled is not None:
        fingerprint, evaluation = _run(compiled, now, ids)
        if fingerprint == compiled.fingerprint:
            return evaluation
    fingerprint = evaluation_fingerprint(environment_id)
    segments = list(
        Segment.objects.filter(environment_id=environment_id, kind="dynamic").only(
            "id", "uuid", "kind", "rules"
        )
    )
    _deallocate(_EVALUATIONS.get(key))
    compiled = _compile_evaluation(segments, environment_id, fingerprint, single=key[1])
    _EVALUATIONS[key] = compiled
    _, evaluation = _run(compiled, now, ids)
    return evaluation
