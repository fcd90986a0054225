"""The SQL pieces profiles hands out: every write to profiles_profile and
profiles_monthlyactivity that another app's statement needs is written here, once.

Ingestion is one statement of data-modifying CTEs per call (identify, track), and a contacts
import one statement per chunk: each statement touches several apps' tables, and each owner
writes its own part (traits.services.trait_definitions_statement, segments.dirty.mark_dirty_cte,
webhooks.outbox.outbox_insert_cte, and the pieces below), which the caller composes:

- `profile_upsert_sql`: one profile found by its user id or device id, or created (identify,
  profiles.services);
- `profiles_seen_ctes`: the profiles a batch of events names, found or created, their
  last_seen_at advanced (track, events.services);
- `activity_upsert_sql` with `activity_month_sql`: the month's activity row (MAU) of profiles
  (identify and responses in profiles.services, track in events.services);
- `profiles_import_cte`: imported contacts (imports.services).

Parameters are named in the pyformat style of the statements they join (`%(env)s`...). No
imports here: profiles, events and imports build their statements from it at import time.
"""

from __future__ import annotations

# --- Profiles ----------------------------------------------------------------------------------

PROFILE_INSERT_COLUMNS = (
    "uuid, environment_id, user_id, email, anonymous_id, traits, first_seen_at, last_seen_at"
)


def profile_upsert_sql(*, column: str | None, mode: str, values: str, returning: str) -> str:
    """INSERT one profile (`values`: a VALUES row of PROFILE_INSERT_COLUMNS), or update the one
    holding the same `column` ("user_id" or "anonymous_id": unique per environment): the email
    is kept unless one is given, traits merged (`mode="merge"`, the incoming win) or replaced
    (`"replace"`), first_seen_at moved back and last_seen_at forward. `column=None` (an email
    alone: not unique) is a plain insert. RETURNING `returning`."""
    if column is None:
        conflict = ""
    else:
        traits = (
            "EXCLUDED.traits" if mode == "replace" else "profiles_profile.traits || EXCLUDED.traits"
        )
        conflict = f"""ON CONFLICT (environment_id, {column}) WHERE {column} IS NOT NULL
    DO UPDATE SET
        email = COALESCE(EXCLUDED.email, profiles_profile.email),
        traits = {traits},
        first_seen_at = LEAST(profiles_profile.first_seen_at, EXCLUDED.first_seen_at),
        last_seen_at = GREATEST(profiles_profile.last_seen_at, EXCLUDED.last_seen_at)
    """
    return f"""
    INSERT INTO profiles_profile ({PROFILE_INSERT_COLUMNS})
    VALUES ({values})
    {conflict}RETURNING {returning}
    """


def profiles_seen_ctes(
    name: str, *, column: str, key: str, where: str, input: str = "input"
) -> str:
    """Two CTEs finding or creating the profiles that the rows of CTE `input` name by `column`
    (input key `key`, rows matching `where`; the rows have a time `t`), for the environment in
    parameter `env`:

    `known_<name>`: the existing profiles, found with LATERAL ... LIMIT 1, which the planner
    cannot flatten: one unique-index probe per id (as a join, not knowing how many rows the
    input holds, it chose to read the whole environment's profiles).
    `<name>`: the upsert of the new ones (first seen at their oldest row, last seen at the
    newest), and of known ones whose last_seen_at is due to advance (by more than parameter
    `resolution` seconds) or whose first_seen_at an older row moves back (a backfill) only: an
    upsert locks the row it conflicts with even when its WHERE then skips the update, and
    concurrent batches naming the same users would queue. Returns (id, uuid, `column`).

    `known_<name>` takes the lock the events' foreign key check takes anyway (FOR KEY SHARE,
    shared by concurrent calls), but up front: a profile being erased or merged away (locked
    FOR UPDATE) is waited for and, once deleted, not found, so the call creates the profile
    anew instead of failing on the foreign key of a row attached to the deleted one."""
    return f"""known_{name} AS (
    SELECT p.id, p.uuid, p.{column}, p.first_seen_at, p.last_seen_at
    FROM (SELECT DISTINCT {key} FROM {input} WHERE {where}) i
    CROSS JOIN LATERAL (
        SELECT id, uuid, {column}, first_seen_at, last_seen_at FROM profiles_profile
        WHERE environment_id = %(env)s AND {column} = i.{key}
        LIMIT 1 FOR KEY SHARE
    ) p
),
{name} AS (
    INSERT INTO profiles_profile
        (uuid, environment_id, {column}, traits, first_seen_at, last_seen_at)
    SELECT gen_random_uuid(), %(env)s, i.{key}, '{{}}'::jsonb, i.f, i.t
    FROM (SELECT {key}, min(t) AS f, max(t) AS t FROM {input} WHERE {where} GROUP BY {key}) i
    LEFT JOIN known_{name} k ON k.{column} = i.{key}
    WHERE k.id IS NULL OR k.last_seen_at < i.t - make_interval(secs => %(resolution)s)
        OR k.first_seen_at > i.f
    ORDER BY i.{key}
    ON CONFLICT (environment_id, {column}) WHERE {column} IS NOT NULL
    DO UPDATE SET
        last_seen_at = GREATEST(profiles_profile.last_seen_at, EXCLUDED.last_seen_at),
        first_seen_at = LEAST(profiles_profile.first_seen_at, EXCLUDED.first_seen_at)
    WHERE profiles_profile.last_seen_at
        < EXCLUDED.last_seen_at - make_interval(secs => %(resolution)s)
        OR profiles_profile.first_seen_at > EXCLUDED.first_seen_at
    RETURNING id, uuid, {column}
),
"""


# --- Monthly activity (MAU) ----------------------------------------------------------------------


def activity_month_sql(at: str, *, tz: str = "%(tz)s", env: str = "%(env)s") -> str:
    """The first day of the month of time `at` in environment `env`'s time zone, else in `tz`
    (profiles.services.mau_zone(): the instance's, as a parameter): the month MAU counts `at`
    in, as profiles.services.month_start does. The zone is read in the statement (a subquery
    PostgreSQL runs once), so ingestion needs no query of its own for it."""
    zone = (
        f"(SELECT COALESCE(NULLIF(z.time_zone, ''), {tz}) "
        f"FROM environments_environment z WHERE z.id = {env})"
    )
    return f"date_trunc('month', {at} AT TIME ZONE {zone})::date"


def activity_upsert_sql(rows: str, *, env: str = "%(env)s") -> str:
    """The INSERT that records monthly activity for `rows`, a SELECT of (profile_id, month,
    identified, surveyed, sources), run alone or as a data-modifying CTE of another statement.

    Flags only turn on: a conflict ORs them into the row. A row that already says as much is
    filtered out before the insert (one probe of the unique index, as ON CONFLICT makes
    anyway), so the common case (a user active all month) writes nothing and locks nothing:
    ON CONFLICT DO UPDATE would lock the row even with nothing to change."""
    return f"""
    INSERT INTO profiles_monthlyactivity
        (environment_id, profile_id, month, identified, surveyed, sources)
    SELECT {env}, a.profile_id, a.month, a.identified, a.surveyed, a.sources::smallint
    FROM ({rows}) a
    WHERE NOT EXISTS (
        SELECT 1 FROM profiles_monthlyactivity x
        WHERE x.profile_id = a.profile_id AND x.month = a.month
            AND (x.identified OR NOT a.identified) AND (x.surveyed OR NOT a.surveyed)
            AND x.sources & a.sources = a.sources
    )
    ORDER BY a.profile_id, a.month
    ON CONFLICT (profile_id, month) DO UPDATE SET
        identified = profiles_monthlyactivity.identified OR EXCLUDED.identified,
        surveyed = profiles_monthlyactivity.surveyed OR EXCLUDED.surveyed,
        sources = profiles_monthlyactivity.sources | EXCLUDED.sources
    """


# --- Bulk import (imports app) -----------------------------------------------------------------


# A time-ordered uuid (version 7: 48 bits of Unix milliseconds, then random bits) for profiles
# created in bulk by an import: the unique uuid btree then takes them at its right edge, a few
# pages per chunk, instead of one random leaf page per row (a page read and, after a
# checkpoint, a full-page WAL image each on a large table). PostgreSQL 15 has no uuidv7().
UUID7_SQL = (
    "encode(set_byte(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send("
    "(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 6, "
    "(random() * 15)::int | 112), 'hex')::uuid"
)


def profiles_import_cte(valid_sql: str, *, by: str, env: str = "%(env)s") -> str:
    """Data-modifying CTEs that write imported contacts, for the imports app to compose into its
    chunk statement (this module stays the only author of profiles_profile). `valid_sql` is a
    query of (uid, email, traits jsonb) rows, one per contact; `by` is "user_id" (upsert on the
    unique (environment, user_id) index) or "email" (update the profiles holding the email,
    insert the others: email is not unique). The last CTE, `upserted`, returns (id, created).

    Traits merge with `||` (the file's values win; keys it leaves empty keep theirs). A row
    whose traits and email already hold is not rewritten: a re-import of the same file writes
    nothing, and costs no index maintenance. Imports are not activity: last_seen_at and MAU are
    untouched (new profiles are first and last seen at the import). New profiles get
    time-ordered uuids (UUID7_SQL)."""
    if by == "user_id":
        return f"""valid AS ({valid_sql}),
upserted AS (
    INSERT INTO profiles_profile
        (uuid, environment_id, user_id, email, traits, first_seen_at, last_seen_at)
    SELECT {UUID7_SQL}, {env}, v.uid, v.email, v.traits, now(), now()
    FROM valid v ORDER BY v.uid
    ON CONFLICT (environment_id, user_id) WHERE user_id IS NOT NULL DO UPDATE SET
        email = COALESCE(EXCLUDED.email, profiles_profile.email),
        traits = profiles_profile.traits || EXCLUDED.traits
    WHERE NOT (profiles_profile.traits @> EXCLUDED.traits)
        OR (EXCLUDED.email IS NOT NULL AND EXCLUDED.email IS DISTINCT FROM profiles_profile.email)
    RETURNING id, (xmax = 0) AS created
)"""
    if by != "email":
        raise ValueError(by)
    return f"""valid AS ({valid_sql}),
updated AS (
    UPDATE profiles_profile p SET traits = p.traits || v.traits
    FROM valid v
    WHERE p.environment_id = {env} AND p.email = v.email AND NOT (p.traits @> v.traits)
    RETURNING p.id
),
inserted AS (
    INSERT INTO profiles_profile
        (uuid, environment_id, email, traits, first_seen_at, last_seen_at)
    SELECT {UUID7_SQL}, {env}, v.email, v.traits, now(), now()
    FROM valid v
    WHERE NOT EXISTS (
        SELECT 1 FROM profiles_profile p WHERE p.environment_id = {env} AND p.email = v.email
    )
    RETURNING id
),
upserted AS (
    SELECT id, false AS created FROM updated UNION ALL SELECT id, true FROM inserted
)"""


# --- Trait values (traits app) -----------------------------------------------------------------


def profiles_trait_remove_sql() -> str:
    """The UPDATE that removes trait key %(key)s from every profile of environment %(env)s that
    holds it (a definition deleted on the Traits page: traits.services.trait_delete)."""
    return (
        "UPDATE profiles_profile SET traits = traits - %(key)s "
        "WHERE environment_id = %(env)s AND traits ? %(key)s"
    )
