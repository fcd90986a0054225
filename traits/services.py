"""Writes for trait definitions, and the rules every incoming trait value goes through."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core import fastjson
from core.ingest import JSON_STRING_MAX_LENGTH, clean_json, clean_text
from governance import audit
from profiles.sql import profiles_trait_remove_sql
from segments.services import segments_trait_changed
from surveys.sql import responses_data_key_remove_sql

from .models import DataType, Scope, Trait

# --- Limits on incoming data -----------------------------------------------------------------

TRAIT_KEY_MAX_LENGTH = 100
TRAIT_STRING_MAX_LENGTH = JSON_STRING_MAX_LENGTH  # core.ingest.clean_json holds every string to it
TRAITS_MAX_PER_CALL = 200
# Letters, digits, "_", "-", "." and "$" (Mixpanel-style "$email"); the first is not "-" or ".".
TRAIT_KEY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$.\-]*$")
# Profile fields that are not the caller's to set: dropped from traits wherever they come from.
PROTECTED_TRAITS = frozenset(
    {
        "uuid",
        "contact_uuid",
        "environment",
        "environment_id",
        "first_seen_at",
        "last_seen_at",
        "user_id",
        "anonymous_id",
    }
)


def traits_clean(values: Mapping[str, Any] | None, *, field: str = "traits") -> dict[str, Any]:
    """Validate and normalise incoming traits; raises ValidationError naming the offending key.

    Protected keys (uuid, environment, first seen time...) are silently dropped: they are the
    profile's own fields, which a caller never sets through traits.
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError({field: "must be an object"})
    if len(values) > TRAITS_MAX_PER_CALL:
        raise ValidationError({field: f"has more than {TRAITS_MAX_PER_CALL} traits"})
    cleaned: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = clean_text(str(raw_key))
        if key in PROTECTED_TRAITS:
            continue
        name = f"{field}.{key}" if field else key
        if not key or len(key) > TRAIT_KEY_MAX_LENGTH:
            raise ValidationError(
                {name: f"trait keys are 1 to {TRAIT_KEY_MAX_LENGTH} characters long"}
            )
        if not TRAIT_KEY_RE.fullmatch(key):
            raise ValidationError(
                {name: "trait keys may contain letters, digits, '_', '-', '.' and '$' only"}
            )
        cleaned[key] = clean_json(value, field=name)
    return cleaned


# --- Type inference ----------------------------------------------------------------------------


def _looks_like_date(value: str) -> bool:
    if not (10 <= len(value) <= 40) or not value[:4].isdigit() or value[4] != "-":
        return False
    try:
        return bool(parse_datetime(value) or parse_date(value))
    except ValueError:
        return False


def infer_data_type(key: str, value: Any) -> str:
    """The type a trait gets on first sight: booleans, numbers, ISO-8601 dates (and any key
    ending in `_at`) as dates, everything else string."""
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if key.endswith("_at"):
        return DataType.DATE
    if isinstance(value, int | float):
        return DataType.NUMBER
    if isinstance(value, datetime | date):
        return DataType.DATE
    if isinstance(value, str) and _looks_like_date(value):
        return DataType.DATE
    return DataType.STRING


# --- Definitions -----------------------------------------------------------------------------

# How stale a definition's last_seen_at may get before ingestion touches it again. Rows seen
# more recently are filtered out before the upsert, so a hot trait key is not locked (and
# rewritten) by every concurrent identify: steady-state ingestion only reads the unique index.
LAST_SEEN_RESOLUTION_SECONDS = 60


def trait_definitions_statement(
    *, scope: str, env: str = "td_env", at: str = "td_at", types: str = "td_types"
) -> str:
    """The upsert of trait definitions for one scope, with named parameters for the environment
    id, the time seen and the keys (a JSON object of key -> inferred type), so a caller running
    it as a CTE of a larger statement can share its own parameters."""
    if scope not in Scope.values:
        raise ValueError(scope)
    return f"""
INSERT INTO traits_trait (environment_id, scope, key, label, description, data_type, hidden,
                          first_seen_at, last_seen_at)
SELECT %({env})s, '{scope}', v.key, '', '', v.data_type, false, %({at})s, %({at})s
FROM jsonb_each_text(%({types})s::jsonb) AS v(key, data_type)
WHERE NOT EXISTS (
    SELECT 1 FROM traits_trait t
    WHERE t.environment_id = %({env})s AND t.scope = '{scope}' AND t.key = v.key
      AND t.last_seen_at >= %({at})s::timestamptz
          - make_interval(secs => {LAST_SEEN_RESOLUTION_SECONDS})
)
ORDER BY v.key
ON CONFLICT (environment_id, scope, key)
DO UPDATE SET last_seen_at = GREATEST(traits_trait.last_seen_at, EXCLUDED.last_seen_at)
"""


def trait_definitions_types(values: Mapping[str, Any]) -> str | None:
    """The keys to record as a JSON object of key -> inferred type (the `types` parameter of
    trait_definitions_statement); None when there is nothing to record. None values carry no
    type information and are skipped until a real value arrives."""
    items = {k: str(infer_data_type(k, v)) for k, v in values.items() if v is not None}
    return fastjson.dumps(items) if items else None


def trait_definitions_record(
    *, environment_id: int, values: Mapping[str, Any], scope: str, seen_at: datetime
) -> None:
    """Create the definitions of keys seen for the first time (type inferred from the value) and
    advance last_seen_at of known ones: one statement whatever the number of keys.

    Keys are sorted so concurrent callers lock rows in the same order (no deadlock). None values
    carry no type information and are skipped until a real value arrives.
    """
    types = trait_definitions_types(values)
    if types is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                trait_definitions_statement(scope=scope),
                {"td_env": environment_id, "td_at": seen_at, "td_types": types},
            )


# --- The Traits page: edit, delete, background profile counts --------------------------------


@transaction.atomic
def trait_update(
    *,
    trait: Trait,
    label: str,
    description: str,
    data_type: str,
    hidden: bool,
) -> Any:
    """Change what the team may edit on a definition; writes only the fields that changed.
    Changing the type changes how values are shown and compared; stored values stay as sent.
    The dynamic segments with a condition on the trait are recomputed (a condition that no
    longer fits the type matches nobody, and the segment's page says so)."""
    if data_type not in DataType.values:
        raise ValidationError({"data_type": f"must be one of {', '.join(DataType.values)}"})
    changes = {
        "label": label.strip(),
        "description": description.strip(),
        "data_type": data_type,
        "hidden": hidden,
    }
    changed = [name for name, value in changes.items() if getattr(trait, name) != value]
    before = {name: getattr(trait, name) for name in changed}
    for name in changed:
        setattr(trait, name, changes[name])
    if changed:
        trait.save(update_fields=changed)
        audit.record(None, "trait.update", trait, before, {n: changes[n] for n in changed})
    if "data_type" in changed:
        segments_trait_changed(
            environment_id=trait.environment_id, scope=trait.scope, key=trait.key
        )
    return trait


def trait_delete(*, trait: Trait) -> int:
    """Delete a definition and every stored value of its key; returns how many rows lost it.

    The values live in other apps' tables (profiles' `traits`, surveys' `Response.data`). Going
    through those apps' services would mean loading and saving every row in Python; instead one
    set-based UPDATE per table (the SQL its owner hands out) removes the key (`jsonb - key`), in
    the same transaction as the definition, so the page never shows a definition without values
    or the reverse. `data ? key`
    cannot use the jsonb_path_ops GIN index, so this scans the environment's rows once: an admin
    action, rare, and bounded by one environment.
    """
    # The owners write the SQL: profiles' traits, surveys' answers.
    if trait.scope == Scope.PROFILE:
        sql = profiles_trait_remove_sql()
    else:
        sql = responses_data_key_remove_sql()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"key": trait.key, "env": trait.environment_id})
            touched = cursor.rowcount
        audit.record(
            None,
            "trait.delete",
            trait,
            {"key": trait.key, "scope": trait.scope, "data_type": trait.data_type},
            {"values_removed": touched},
        )
        trait.delete()
        # Segments with a condition on it now see no value: recompute them (after commit).
        segments_trait_changed(
            environment_id=trait.environment_id, scope=trait.scope, key=trait.key
        )
    return touched


_COUNT_PROFILE_SQL = """
WITH counts AS (
    SELECT k.key, count(*) AS n
    FROM profiles_profile p, jsonb_object_keys(p.traits) AS k(key)
    WHERE p.environment_id = %(env)s AND jsonb_typeof(p.traits) = 'object'
    GROUP BY k.key
)
UPDATE traits_trait t
SET profile_count = COALESCE(c.n, 0), profile_count_at = %(now)s
FROM traits_trait t2 LEFT JOIN counts c ON c.key = t2.key
WHERE t.id = t2.id AND t.environment_id = %(env)s AND t.scope = 'profile'
"""

_COUNT_RESPONSE_SQL = """
WITH counts AS (
    SELECT k.key, count(DISTINCT r.profile_id) AS n
    FROM surveys_response r, jsonb_object_keys(r.data) AS k(key)
    WHERE r.environment_id = %(env)s AND jsonb_typeof(r.data) = 'object'
    GROUP BY k.key
)
UPDATE traits_trait t
SET profile_count = COALESCE(c.n, 0), profile_count_at = %(now)s
FROM traits_trait t2 LEFT JOIN counts c ON c.key = t2.key
WHERE t.id = t2.id AND t.environment_id = %(env)s AND t.scope = 'response'
"""


def trait_profile_counts_refresh(*, environment_id: int, now: datetime | None = None) -> None:
    """How many profiles have each trait (for response traits: how many profiles answered it).

    Two set-based statements per environment, run by a periodic task, never on page load: one
    pass over the environment's profiles and one over its responses.
    """

    params: dict[str, Any] = {"env": environment_id, "now": now or timezone.now()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_COUNT_PROFILE_SQL, params)
        cursor.execute(_COUNT_RESPONSE_SQL, params)
