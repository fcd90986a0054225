"""Writes for profiles: identify (find or create, merge an anonymous profile), MAU, delete.

Identify is the hot path of ingestion: it runs a constant number of SQL statements whatever the
number of traits (an upsert with `jsonb ||` for the traits merge, one statement for all trait
definitions, one for the MAU row). Only merging an anonymous profile costs more, once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import fastjson, prepared
from core.ingest import (
    COMMIT_MODE_CTE,
    clean_email,
    clean_identifier,
    commit_mode,
    ingest_transaction_setup,
    utc,
)
from environments.models import Environment
from events.sql import events_reassign_sql
from segments.dirty import mark_dirty_cte
from segments.models import DirtyProfile
from segments.services import (
    segment_memberships_end,
    segment_memberships_merge,
    segment_profiles_changed,
    tasks_run_inline,
)
from surveys.models import Response
from surveys.sql import responses_reassign_sql
from traits.models import Scope
from traits.services import (
    trait_definitions_record,
    trait_definitions_statement,
    trait_definitions_types,
    traits_clean,
)
from webhooks.outbox import emit, kick_after_commit, outbox_insert_cte, outbox_profile_merged

from .models import ActivitySource, Profile
from .sql import activity_month_sql, activity_upsert_sql, profile_upsert_sql

WRITE_MODES = ("merge", "replace")
# Two concurrent first identifies of the same person race on the unique index: the loser retries.
_ATTEMPTS = 3

_COLUMNS = (
    "id",
    "uuid",
    "environment_id",
    "user_id",
    "email",
    "anonymous_id",
    "traits",
    "first_seen_at",
    "last_seen_at",
)
_RETURNING = ", ".join(_COLUMNS)
_TRAITS = _COLUMNS.index("traits")


def _profile_from_row(row: tuple) -> Profile:
    """A Profile from a row of _RETURNING (the model's fields in their order: Django builds it
    from positional values, its fast path)."""
    values = list(row[: len(_COLUMNS)])
    if isinstance(values[_TRAITS], str):
        values[_TRAITS] = json.loads(values[_TRAITS])
    return Profile.from_db("default", _COLUMNS, values)


def mau_zone(environment: Environment | None = None) -> str:
    """The time zone whose months MAU counts in: the environment's (Settings), else the
    instance's settings.TIME_ZONE. Statements read the environment's in SQL
    (profiles.sql.activity_month_sql) and take this one as the fallback parameter."""
    return environment.zone if environment is not None else str(settings.TIME_ZONE)


def month_start(at: datetime, zone: str | None = None) -> date:
    """The first day of `at`'s month in `zone` (default mau_zone(); naive means UTC)."""
    at = at if timezone.is_aware(at) else at.replace(tzinfo=UTC)
    local = at.astimezone(ZoneInfo(zone or mau_zone()))
    return date(local.year, local.month, 1)


# --- MAU -------------------------------------------------------------------------------------


_MARK_ACTIVE_SQL = activity_upsert_sql(
    f"SELECT %(profile)s::bigint AS profile_id, {activity_month_sql('%(at)s::timestamptz')} "
    "AS month, "
    "%(identified)s::bool AS identified, %(surveyed)s::bool AS surveyed, "
    "%(sources)s::int AS sources"
)


def profile_mark_active(
    *,
    environment_id: int,
    profile_id: int,
    at: datetime,
    source: int = ActivitySource.API,
    identified: bool = False,
    surveyed: bool = False,
) -> None:
    """Count the profile as active in the month of `at` (one statement; nothing written when
    the month's row already has these flags). `identified`: the call named the user;
    `surveyed`: they saw, dismissed or answered a survey; `source`: an ActivitySource."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_ACTIVE_SQL,
            {
                "env": environment_id,
                "profile": profile_id,
                "at": at,
                "tz": mau_zone(),
                "identified": identified,
                "surveyed": surveyed,
                "sources": int(source),
            },
        )


# --- Touch (tracking) ---------------------------------------------------------------------


def _span(pairs: Iterable[tuple[str, datetime]]) -> dict[str, tuple[datetime, datetime]]:
    """Per key, the (earliest, latest) time: a profile is first seen at the oldest."""
    span: dict[str, tuple[datetime, datetime]] = {}
    for key, at in pairs:
        first, last = span.get(key, (at, at))
        span[key] = (min(first, at), max(last, at))
    return span


def profiles_touch_by_email(
    *, environment_id: int, seen: Sequence[tuple[str, datetime]]
) -> list[tuple[int, Any]]:
    """The (id, uuid) of the profile for each (email, seen_at) pair: the best existing match
    (identified, most recent; email is not unique, so it cannot be upserted inside track's
    statement), whose last_seen_at is advanced, else a new profile. A statement per step,
    whatever the number of emails. Tracking never merges profiles: that is identify's job.
    (Events naming a user id or a device id find their profiles inside track's statement:
    sql.profiles_seen_ctes.)
    """
    emails = _span(seen)
    found: dict[str, tuple[int, Any]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (email) id, uuid, email FROM profiles_profile "
            "WHERE environment_id = %s AND email = ANY(%s) "
            "ORDER BY email, (user_id IS NULL), last_seen_at DESC",
            [environment_id, sorted(emails)],
        )
        for pk, uuid, key in cursor.fetchall():
            found[key] = (pk, uuid)
        known = [e for e in sorted(emails) if e in found]
        if known:
            cursor.execute(
                "UPDATE profiles_profile p SET last_seen_at = GREATEST(p.last_seen_at, v.t), "
                "first_seen_at = LEAST(p.first_seen_at, v.f) "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
                "AS v(id, f, t) WHERE p.id = v.id",
                [
                    [found[e][0] for e in known],
                    [emails[e][0] for e in known],
                    [emails[e][1] for e in known],
                ],
            )
        missing = [e for e in sorted(emails) if e not in found]
        if missing:
            cursor.execute(
                "INSERT INTO profiles_profile "
                "(uuid, environment_id, email, traits, first_seen_at, last_seen_at) "
                "SELECT gen_random_uuid(), %s, v.e, '{}'::jsonb, v.f, v.t "
                "FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS v(e, f, t) "
                "RETURNING id, uuid, email",
                [
                    environment_id,
                    missing,
                    [emails[e][0] for e in missing],
                    [emails[e][1] for e in missing],
                ],
            )
            for pk, uuid, key in cursor.fetchall():
                found[key] = (pk, uuid)
    return [found[email] for email, _ in seen]


def profiles_traits_merge(
    *, environment: Environment, updates: Sequence[tuple[int, dict[str, Any], datetime]]
) -> None:
    """Merge already-cleaned traits into profiles, for (profile id, traits, seen_at) triples:
    the user traits a Segment or RudderStack library sends in `context.traits` with a track,
    page or screen call. Two statements whatever the number of events: one UPDATE (later
    triples win for the same profile) that rewrites only profiles whose traits change, as a
    repeated `context.traits` on every page view changes nothing, and the trait definitions."""
    environment_id = environment.pk
    merged: dict[int, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    latest = max((at for _, _, at in updates), default=None)
    for profile_id, traits, _ in updates:
        if traits:
            merged.setdefault(profile_id, {}).update(traits)
            for key, value in traits.items():
                if values.get(key) is None:
                    values[key] = value
    if not merged or latest is None:
        return
    rows = [{"id": pid, "t": merged[pid]} for pid in sorted(merged)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH v AS (
                SELECT r.id, r.t FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(id bigint, t jsonb)
            ),
            changed AS (
                UPDATE profiles_profile p SET traits = p.traits || v.t
                FROM v
                WHERE p.id = v.id AND p.environment_id = %(env)s AND p.traits || v.t <> p.traits
                RETURNING p.id
            ),
            {mark_dirty_cte("SELECT id FROM changed")}
            SELECT count(*) FROM changed
            """,
            {"rows": fastjson.dumps(rows), "env": environment_id},
        )
        changed = cursor.fetchone()[0]
    trait_definitions_record(
        environment_id=environment_id, values=values, scope=Scope.PROFILE, seen_at=latest
    )
    if changed:
        notify_segments(environment_id, sorted(merged), marked=True)


# --- Identify --------------------------------------------------------------------------------


def notify_segments(environment_id: int, profile_ids: list[int], *, marked: bool = False) -> None:
    """After commit, tell segments the profiles changed. `marked`: the statement queued them
    itself (segments.dirty), so nothing is left to do unless tasks run inline."""

    if marked and not tasks_run_inline():
        return
    transaction.on_commit(
        lambda: segment_profiles_changed(
            environment_id=environment_id, profile_ids=profile_ids, marked=marked
        )
    )


@dataclass
class _Identity:
    user_id: str | None
    email: str | None
    anonymous_id: str | None


# The VALUES row of identify's upsert (sql.PROFILE_INSERT_COLUMNS), by parameter name.
_UPSERT_VALUES = (
    "gen_random_uuid(), %(env)s, %(user_id)s, %(email)s, %(anonymous_id)s, %(traits)s::jsonb, "
    "%(seen)s, %(seen)s"
)


def _is_fast(ident: _Identity) -> bool:
    """A user id (with or without an email), or a device id alone: the common calls."""
    return bool(
        (ident.user_id and not ident.anonymous_id)
        or (ident.anonymous_id and not ident.user_id and not ident.email)
    )


_IDENTIFY_ACTIVITY = activity_upsert_sql(
    f"SELECT id AS profile_id, {activity_month_sql('%(seen)s')} AS month, "
    "%(identified)s AS identified, false AS surveyed, %(source)s AS sources FROM p"
)


@functools.cache
def _identify_statement(col: str, mode: str, definitions: bool) -> prepared.Prepared:
    """The identify statement for a user id or a device id, a write mode, and with or without
    trait definitions to record (eight statements in all, each prepared once per connection)."""
    types = {
        "env": "bigint",
        "user_id": "text",
        "email": "text",
        "anonymous_id": "text",
        "traits": "jsonb",
        "seen": "timestamptz",
        "synchronous_commit": "text",
        "tz": "text",
        "identified": "bool",
        "source": "int",
    }
    extra = ""
    if definitions:
        cte = trait_definitions_statement(
            scope=Scope.PROFILE, env="env", at="seen", types="trait_types"
        )
        extra = f", definitions AS ({cte})"
        types["trait_types"] = "jsonb"

    # A new user id with an email: is a profile known by that email alone to adopt? (Then the
    # slow path takes over, and says contact.identified itself.)
    adopt = """p.created AND p.email IS NOT NULL AND EXISTS (
                SELECT 1 FROM profiles_profile o
                WHERE o.environment_id = %(env)s AND o.email = p.email AND o.user_id IS NULL
                    AND o.id <> p.id
            )"""
    # contact.identified for a new contact, in the same statement (webhooks owns the SQL).
    identified = outbox_insert_cte(
        name="identified",
        source=f"(SELECT p.id FROM p WHERE p.created AND %(identified)s AND NOT ({adopt}))",
        profile_column="id",
        event_type="contact.identified",
        env_param="%(env)s",
        data_sql="""'{"created": true}'::jsonb""",
        returning=True,
    )
    upsert = profile_upsert_sql(
        column=col,
        mode=mode,
        values=_UPSERT_VALUES,
        returning=f"{_RETURNING}, (xmax = 0) AS created",
    )
    sql = f"""
        WITH p AS ({upsert}),
        activity AS ({_IDENTIFY_ACTIVITY}),
        {mark_dirty_cte("SELECT id FROM p")},
        {identified},
        {COMMIT_MODE_CTE}{extra}
        SELECT p.*, EXISTS (SELECT 1 FROM identified) AS emitted, {adopt} AS adopt
        FROM p CROSS JOIN commit_mode
        """
    name = f"hark_identify_{col}_{mode}_{'d' if definitions else 'n'}"
    return prepared.Prepared(name, sql, types)


def _identify_fast(
    cursor: Any,
    *,
    environment_id: int,
    ident: _Identity,
    traits: dict,
    mode: str,
    seen_at: datetime,
    source: int,
) -> tuple[Profile, bool, bool]:
    """A user id (with or without an email), or a device id alone: the common calls. The
    upsert, the trait definitions and the MAU row in one statement of data-modifying CTEs.
    Returns the profile, whether it was created, and whether it must adopt a profile known by
    its email alone (a new user id whose email was seen before without one)."""
    col = "user_id" if ident.user_id else "anonymous_id"
    trait_types = trait_definitions_types(traits)
    params: dict[str, Any] = {
        "env": environment_id,
        "user_id": ident.user_id,
        "email": ident.email,
        "anonymous_id": ident.anonymous_id,
        "traits": fastjson.dumps(traits),
        "seen": seen_at,
        "synchronous_commit": commit_mode(),
        "tz": mau_zone(),
        "identified": bool(ident.user_id or ident.email),
        "source": int(source),
        "trait_types": trait_types,
    }
    prepared.execute(cursor, _identify_statement(col, mode, trait_types is not None), params)
    row = cursor.fetchone()
    if row[-2]:
        kick_after_commit()  # contact.identified was written for a subscribed endpoint
    return _profile_from_row(row[:-3]), bool(row[-3]), bool(row[-1])


def _insert(
    cursor: Any,
    *,
    environment_id: int,
    ident: _Identity,
    traits: dict,
    mode: str,
    seen_at: datetime,
) -> tuple[Profile, bool]:
    params = {
        "env": environment_id,
        "user_id": ident.user_id,
        "email": ident.email,
        "anonymous_id": ident.anonymous_id,
        "traits": fastjson.dumps(traits),
        "seen": seen_at,
    }
    # By user id, else by device id alone; an email alone (or with a new device) is not unique:
    # a plain insert.
    column = (
        "user_id"
        if ident.user_id
        else "anonymous_id"
        if ident.anonymous_id and not ident.email
        else None
    )
    sql = profile_upsert_sql(
        column=column,
        mode=mode,
        values=_UPSERT_VALUES,
        returning=f"{_RETURNING}, " + ("(xmax = 0)" if column else "true"),
    )
    cursor.execute(sql, params)
    row = cursor.fetchone()
    return _profile_from_row(row[:-1]), bool(row[-1])


def _update(
    cursor: Any,
    *,
    target: Profile,
    ident: _Identity,
    traits: dict,
    mode: str,
    seen_at: datetime,
    merged: Profile | None,
) -> Profile:
    # Traits: the merged anonymous profile's values fill gaps, the identified profile's values
    # win over them, and the incoming ones win over both (unless replacing everything).
    if mode == "replace":
        traits_sql, traits_params = "%s::jsonb", [fastjson.dumps(traits)]
    else:
        traits_sql = "%s::jsonb || traits || %s::jsonb"
        traits_params = [fastjson.dumps(merged.traits if merged else {}), fastjson.dumps(traits)]
    first_seen = min(merged.first_seen_at if merged else target.first_seen_at, seen_at)
    cursor.execute(
        f"""
        UPDATE profiles_profile SET
            user_id = COALESCE(%s, user_id),
            email = COALESCE(%s, email),
            anonymous_id = COALESCE(%s, anonymous_id),
            traits = {traits_sql},
            first_seen_at = LEAST(first_seen_at, %s),
            last_seen_at = GREATEST(last_seen_at, %s)
        WHERE id = %s
        RETURNING {_RETURNING}
        """,
        [
            ident.user_id,
            ident.email,
            ident.anonymous_id,
            *traits_params,
            first_seen,
            seen_at,
            target.pk,
        ],
    )
    return _profile_from_row(cursor.fetchone())


def _merge_children(*, source: Profile, target: Profile) -> None:
    """Move everything the anonymous `source` profile owns to `target`, set-based, then delete it.

    Events and responses move by the UPDATEs their apps hand out (events/sql.py,
    surveys/sql.py), one statement each. Months of activity the target already has are merged
    and the rest move over. Segment memberships go through segments' own service (its counts
    and history must follow), the pending webhook payloads through the outbox's.
    """
    moved = {"source": source.pk, "target": target.pk}
    with connection.cursor() as cursor:
        cursor.execute(events_reassign_sql(), moved)
        cursor.execute(responses_reassign_sql(), moved)
    # Segments keep their own books: memberships move, counts and histories stay right.
    segment_memberships_merge(source_id=source.pk, target_id=target.pk)
    outbox_profile_merged(source_id=source.pk, target_id=target.pk)
    # Months both have: the target's row takes the source's flags; the others move over.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH merged AS (
                UPDATE profiles_monthlyactivity t SET identified = t.identified OR s.identified,
                    surveyed = t.surveyed OR s.surveyed, sources = t.sources | s.sources
                FROM profiles_monthlyactivity s
                WHERE s.profile_id = %(source)s AND t.profile_id = %(target)s
                    AND t.month = s.month
                RETURNING t.month
            )
            UPDATE profiles_monthlyactivity SET profile_id = %(target)s
            WHERE profile_id = %(source)s AND month NOT IN (SELECT month FROM merged)
            """,
            {"source": source.pk, "target": target.pk},
        )
    Profile.objects.filter(pk=source.pk).delete()


def _is_mergeable(source: Profile, ident: _Identity) -> bool:
    """An anonymous profile (no user id; no email, or the same one) merges into the identified."""
    return source.user_id is None and (source.email is None or source.email == ident.email)


def _names_someone(ident: _Identity) -> bool:
    """contact.identified is about people: a user id or an email, never a device id alone."""
    return bool(ident.user_id or ident.email)


def _emit_identified(
    environment_id: int, profile_id: int, *, created: bool = False, merged_from: str = ""
) -> None:
    """contact.identified for webhooks (written only when an endpoint subscribes)."""

    data: dict[str, Any] = {"created": created}
    if merged_from:
        data["merged_from"] = merged_from
    emit(environment_id, "contact.identified", data, profile_id)


def _lock_identifiers(cursor: Any, environment_id: int, ident: _Identity) -> None:
    """Serialize, to the end of the transaction, the calls that look up then write the same
    user id, device id or email: two calls inserting the same new person with both a user id
    (the upsert's arbiter) and a device id (another unique index) each wait on the other's
    row in one of the two indexes, and PostgreSQL aborts one ("deadlock detected"). Locked in
    one order (the keys sorted), so two calls naming overlapping identifiers cannot deadlock on
    the locks either; the second then finds the first one's profile."""
    keys = sorted(
        f"hark:identify:{environment_id}:{kind}:{value}"
        for kind, value in (
            ("user", ident.user_id),
            ("device", ident.anonymous_id),
            ("email", ident.email),
        )
        if value
    )
    cursor.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i",
        [keys],
    )


def _identify(
    *,
    environment_id: int,
    ident: _Identity,
    traits: dict,
    mode: str,
    seen_at: datetime,
    source: int,
) -> tuple[Profile, bool, bool]:
    """(profile, created, recorded): `recorded` when trait definitions and MAU are written."""
    with connection.cursor() as cursor:
        if _is_fast(ident):
            # The common calls: one statement, no lookup.
            profile, created, adopt = _identify_fast(
                cursor,
                environment_id=environment_id,
                ident=ident,
                traits=traits,
                mode=mode,
                seen_at=seen_at,
                source=source,
            )
            if not adopt:
                return profile, created, True  # contact.identified: in the statement
            # A new user id with an email: a profile known by that email alone is adopted
            # (rare: only when the user is new), so the new row gives way to it.
            _delete_fresh(profile.pk)

        _lock_identifiers(cursor, environment_id, ident)
        cursor.execute(
            f"""
            SELECT {_RETURNING} FROM profiles_profile
            WHERE environment_id = %s AND (user_id = %s OR anonymous_id = %s OR email = %s)
            ORDER BY (user_id IS NULL), last_seen_at DESC
            LIMIT 20
            """,
            [environment_id, ident.user_id, ident.anonymous_id, ident.email],
        )
        rows = [_profile_from_row(r) for r in cursor.fetchall()]

    by_user = next((p for p in rows if ident.user_id and p.user_id == ident.user_id), None)
    by_device = next(
        (p for p in rows if ident.anonymous_id and p.anonymous_id == ident.anonymous_id), None
    )
    by_email = [p for p in rows if ident.email and p.email == ident.email]

    target: Profile | None
    if ident.user_id:
        # The user's profile, else a profile known by this email alone (adopts the user id).
        target = by_user or next((p for p in by_email if p.user_id is None), None)
    elif ident.email:
        target = by_email[0] if by_email else None
    else:
        target = by_device
    if target is None and by_device is not None and _is_mergeable(by_device, ident):
        target = by_device  # the device becomes identified: nothing to merge

    # The profile merged into the target (not `source`, the caller's ActivitySource).
    absorbed = None
    if by_device is not None and (target is None or by_device.pk != target.pk):
        if target is not None and _is_mergeable(by_device, ident):
            absorbed = by_device
        else:
            # This device id belongs to another identified person: leave it with them.
            ident = _Identity(ident.user_id, ident.email, None)

    if target is None:
        with connection.cursor() as cursor:
            profile, created = _insert(
                cursor,
                environment_id=environment_id,
                ident=ident,
                traits=traits,
                mode=mode,
                seen_at=seen_at,
            )
        if created and _names_someone(ident):
            _emit_identified(environment_id, profile.pk, created=True)
        return profile, created, False

    if absorbed is not None:
        _merge_children(source=absorbed, target=target)
        _emit_identified(environment_id, target.pk, merged_from=str(absorbed.uuid))
    elif target.user_id is None and target.email is None and _names_someone(ident):
        # An anonymous device's profile takes its first user id or email: a contact now.
        _emit_identified(environment_id, target.pk)
    with connection.cursor() as cursor:
        profile = _update(
            cursor,
            target=target,
            ident=ident,
            traits=traits,
            mode=mode,
            seen_at=seen_at,
            merged=absorbed,
        )
    return profile, False, False


def profile_identify(
    *,
    environment: Environment,
    user_id: str | int | None = None,
    email: str | None = None,
    anonymous_id: str | None = None,
    traits: Mapping[str, Any] | None = None,
    mode: str = "merge",
    seen_at: datetime | None = None,
    source: int = ActivitySource.API,
) -> Profile:
    """Find or create the profile (by user_id, else email, else anonymous_id) and write traits.

    - `anonymous_id` of another, anonymous profile: that profile is merged into this one in the
      same transaction (events, responses, segment memberships and monthly activity move; its
      traits fill gaps; the earlier first_seen_at is kept).
    - `mode="merge"` adds/overwrites the given traits; `"replace"` replaces all traits.
    - Records profile-scope trait definitions, advances last_seen_at, marks MAU (`source`,
      an ActivitySource: who called; identified when a user id or an email is given), and
      after commit tells segments the profile changed.
    Raises ValidationError naming the field for bad input. The returned profile has
    `created` set (True when it was new).
    """
    ident = _Identity(
        clean_identifier(user_id, field="id"),
        clean_email(email),
        clean_identifier(anonymous_id, field="anonymous_id"),
    )
    if mode not in WRITE_MODES:
        raise ValidationError({"mode": "must be 'merge' or 'replace'"})
    cleaned = traits_clean(traits)
    if ident.email is None and isinstance(cleaned.get("email"), str):
        # Segment's convention: the email travels as a trait.
        ident.email = clean_email(cleaned["email"], field="traits.email")
    if not (ident.user_id or ident.email or ident.anonymous_id):
        raise ValidationError({"id": "an id, an email or an anonymous_id is required"})
    now = timezone.now()
    seen_at = min(utc(seen_at, field="timestamp"), now) if seen_at else now

    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each django.db.connection access costs
    if _is_fast(ident) and not db.in_atomic_block:
        # The common call is one statement: in autocommit it is its own transaction, without
        # the BEGIN/COMMIT round trips of an atomic block.
        with db.cursor() as cursor:
            profile, created, adopt = _identify_fast(
                cursor,
                environment_id=environment.pk,
                ident=ident,
                traits=cleaned,
                mode=mode,
                seen_at=seen_at,
                source=source,
            )
        if not adopt:
            # A new contact's contact.identified was written by the statement itself.
            notify_segments(environment.pk, [profile.pk], marked=True)
            profile.created = created  # type: ignore[attr-defined]
            profile.environment = environment
            return profile
        _delete_fresh(profile.pk)  # the email-only profile is adopted below

    for attempt in range(_ATTEMPTS):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    ingest_transaction_setup(cursor)
                profile, created, recorded = _identify(
                    environment_id=environment.pk,
                    ident=_Identity(ident.user_id, ident.email, ident.anonymous_id),
                    traits=cleaned,
                    mode=mode,
                    seen_at=seen_at,
                    source=source,
                )
                if not recorded:
                    if cleaned:
                        trait_definitions_record(
                            environment_id=environment.pk,
                            values=cleaned,
                            scope=Scope.PROFILE,
                            seen_at=seen_at,
                        )
                    profile_mark_active(
                        environment_id=environment.pk,
                        profile_id=profile.pk,
                        at=seen_at,
                        source=source,
                        identified=bool(ident.user_id or ident.email),
                    )
                notify_segments(environment.pk, [profile.pk])
            break
        except IntegrityError:
            # A concurrent call created the same user or device first: look again.
            if attempt == _ATTEMPTS - 1:
                raise
    profile.created = created  # type: ignore[attr-defined]
    profile.environment = environment
    return profile


def profile_alias(
    *,
    environment: Environment,
    user_id: Any,
    previous_id: Any,
    seen_at: datetime | None = None,
) -> Profile:
    """Segment's alias: `previous_id` (a device id, or a former user id) is now `user_id`.

    A profile known by the former user id is renamed when the new id is free; otherwise the
    previous id is treated as a device id: its anonymous profile merges into the user's.
    """
    new_id = clean_identifier(user_id, field="userId")
    old_id = clean_identifier(previous_id, field="previousId")
    if not new_id:
        raise ValidationError({"userId": "is required"})
    if not old_id:
        raise ValidationError({"previousId": "is required"})
    if old_id != new_id:
        renamed = (
            Profile.objects.filter(environment=environment, user_id=old_id)
            .exclude(
                Exists(
                    Profile.objects.filter(environment=environment, user_id=new_id).exclude(
                        pk=OuterRef("pk")
                    )
                )
            )
            .update(user_id=new_id)
        )
        if renamed:
            return profile_identify(environment=environment, user_id=new_id, seen_at=seen_at)
    return profile_identify(
        environment=environment, user_id=new_id, anonymous_id=old_id, seen_at=seen_at
    )


def _delete_fresh(profile_id: int) -> None:
    """Delete a profile identify has just created and must give way (an email-only profile is
    adopted instead); segments first, in case an evaluation already placed it."""

    segment_memberships_end(profile_ids=[profile_id])
    Profile.objects.filter(pk=profile_id).delete()


def anonymous_profiles_delete(*, environment_id: int, seen_before: datetime, batch: int) -> int:
    """Delete the environment's anonymous profiles not seen since `seen_before` and with no
    response left, `batch` per transaction (retention's purge); the count."""
    answered = Response.objects.filter(profile_id=OuterRef("pk"))
    doomed = (
        Profile.objects.filter(
            environment_id=environment_id,
            user_id__isnull=True,
            email__isnull=True,
            last_seen_at__lt=seen_before,
        )
        .exclude(Exists(answered))
        .order_by()
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(doomed.values_list("pk", flat=True)[:batch])
            if ids:
                # As an erasure does: segments lower their member counts (the recorded "left"
                # goes with the profile) and forget the profiles queued for re-evaluation (a
                # bare id, no foreign key to cascade).
                segment_memberships_end(profile_ids=ids)
                DirtyProfile.objects.filter(profile_id__in=ids)._raw_delete("default")
                Profile.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted


def profiles_gin_merge() -> int:
    """Merge the pending lists of profiles_profile's GIN indexes (traits, and the search's
    trigrams) into the indexes; returns the pending-list pages merged.

    The chunks put their entries there (gin_pending_list_limit raised), and a search reads a
    pending list through, row by row, until it is merged: after an import of hundreds of
    thousands of contacts that is hundreds of megabytes per search. Autovacuum merges them in
    its time; the import queues this right after it finished (a second, background step: the
    merge is as long as the chunks were, and the import is done meanwhile). Concurrent
    inserts go on (the merge takes no lock that blocks them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(gin_clean_pending_list(c.oid)), 0) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
            "WHERE i.indrelid = 'profiles_profile'::regclass AND a.amname = 'gin'"
        )
        return int(cursor.fetchone()[0])
