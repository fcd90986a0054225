"""Contact import from CSV: upload, column mapping with a preview, and the bulk run.

The run (a Celery task) streams the file once through Python's csv reader into an UNLOGGED
staging table of its own with psycopg's COPY, checking on the way only what needs the whole
file or the row's shape (a wrong number of values, a missing id, an id repeated in the file).
Everything else is set-based SQL, one statement per chunk of HARK_IMPORT_CHUNK_ROWS rows: the
values are checked (email, lengths, a value that does not fit its column's type), the rejected
rows are stored with their reason, and the good ones are written by profiles' bulk upsert
(profiles.sql.profiles_import_cte), which also queues them for segment re-evaluation
(segments.dirty) in the same statement. Progress is committed after each chunk, so the page
polling it sees the bar move; the chunks run on HARK_IMPORT_WORKERS connections at once. A
re-import matches on the user id (or the email when the file has no id column): it updates,
never duplicates, and rows that change nothing are not rewritten.

Speed: the chunk transactions commit without waiting for the WAL flush (the import can be
run again), and the GIN indexes of profiles_profile (traits, and the trigram indexes of the
search) take new entries into their pending list for the whole chunk (gin_pending_list_limit
raised for the transaction) rather than merging it every 4 MB; profiles_gin_merge_task merges
them once the import is done. New profiles get time-ordered uuids (profiles.sql.UUID7_SQL).
See benchmarks/import_csv.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import fastjson
from core.ingest import EMAIL_MAX_LENGTH, ID_MAX_LENGTH, has_control_character
from core.queue import enqueue, enqueue_on_commit
from core.spreadsheet import CsvLines
from environments.models import Environment
from governance import audit
from profiles.sql import profiles_import_cte
from segments.dirty import mark_dirty_cte
from segments.services import segment_dirty_profiles_drain, tasks_run_inline
from traits.models import DataType, Scope, Trait
from traits.services import TRAIT_KEY_RE, trait_definitions_statement

from .models import ColumnRole, ContactImport, ImportStatus, RejectedRow

PREVIEW_ROWS = 10
PREVIEW_SAMPLE = 1000
PREVIEW_PROBLEMS = 20
TRAIT_KEY_MAX_LENGTH = 100
COLUMNS_MAX = 200

# The same rules in Python (preview) and in SQL (the run).
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
NUMBER_RE = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$"
DATE_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)
# What is trimmed around a value, the same in Python and in SQL (btrim's second argument).
BLANKS = " \t\r\n"
_SQL_BLANKS = "E' \\t\\r\\n'"
TRUE_WORDS = ("true", "yes", "1")
BOOLEAN_WORDS = (*TRUE_WORDS, "false", "no", "0")
_PY = {
    "email": re.compile(EMAIL_RE),
    DataType.NUMBER: re.compile(NUMBER_RE),
    DataType.DATE: re.compile(DATE_RE),
}
_ID_HEADERS = {"id", "user_id", "userid", "user id", "external_id"}
_EMAIL_HEADERS = {"email", "e-mail", "email address", "mail"}


def import_dir() -> Path:
    path = Path(settings.HARK_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reader(path: str) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)


# --- Upload and mapping ----------------------------------------------------------------------


def import_create(*, environment: Environment, user: Any, upload: Any) -> ContactImport:
    """Store an uploaded CSV and read its header; ValidationError (field `file`) when the file
    is too large, not UTF-8 CSV, or has no header or more than COLUMNS_MAX columns."""
    if upload.size > settings.HARK_IMPORT_MAX_BYTES:
        raise ValidationError(
            {"file": f"is larger than the limit of {settings.HARK_IMPORT_MAX_BYTES:,} bytes"}
        )
    path = import_dir() / f"{uuid.uuid4()}.csv"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    try:
        header = next(_reader(str(path)), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": f"is not a UTF-8 CSV file ({exc})"}) from None
    header = [h.strip() for h in header or []]
    if not header or not any(header):
        path.unlink(missing_ok=True)
        raise ValidationError({"file": "has no header row"})
    if len(header) > COLUMNS_MAX:
        path.unlink(missing_ok=True)
        raise ValidationError({"file": f"has more than {COLUMNS_MAX} columns"})
    column = _nul_column(header)
    if column is not None:
        # The header is stored as jsonb, which cannot hold \u0000 (the insert failed: a 500).
        path.unlink(missing_ok=True)
        raise ValidationError(
            {"file": f"has a NUL character (0x00) in its header row, in column {column}"}
        )
    try:
        return ContactImport.objects.create(
            environment=environment,
            created_by=user,
            filename=os.path.basename(upload.name)[:255],
            path=str(path),
            size=upload.size,
            header=header,
        )
    except BaseException:
        # No row points at the file, so nothing would ever delete it.
        path.unlink(missing_ok=True)
        raise


def _nul_column(row: list[str]) -> int | None:
    """The number (from 1) of the first value holding a NUL character, or None. PostgreSQL's
    text and jsonb cannot store one, and Python's csv reader (3.11+) passes it through."""
    if "\x00" not in "".join(row):  # one scan of the row: most have none
        return None
    return next(i for i, value in enumerate(row, start=1) if "\x00" in value)


def _infer(values: list[str]) -> str:
    present = [v.strip() for v in values if v.strip()]
    if not present:
        return DataType.STRING
    if all(v.lower() in BOOLEAN_WORDS for v in present) and not all(
        _PY[DataType.NUMBER].match(v) for v in present
    ):
        return DataType.BOOLEAN
    if all(_PY[DataType.NUMBER].match(v) for v in present):
        return DataType.NUMBER
    if all(_PY[DataType.DATE].match(v) for v in present):
        return DataType.DATE
    return DataType.STRING


def _trait_key(header: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_$.\-]+", "_", header.strip()).strip("_")[:TRAIT_KEY_MAX_LENGTH]
    return key or "column"


def mapping_default(contact_import: ContactImport) -> list[dict[str, str]]:
    """A first mapping: id and email columns recognised by name, the rest traits typed from
    the first PREVIEW_SAMPLE rows (existing trait definitions keep their type)."""

    sample = _sample(contact_import, PREVIEW_SAMPLE)
    known = dict(
        Trait.objects.filter(
            environment_id=contact_import.environment_id, scope=Scope.PROFILE
        ).values_list("key", "data_type")
    )
    mapping, has_id, has_email = [], False, False
    for i, name in enumerate(contact_import.header):
        low = name.strip().lower()
        if low in _ID_HEADERS and not has_id:
            mapping.append({"role": ColumnRole.USER_ID, "key": "", "type": DataType.STRING})
            has_id = True
        elif low in _EMAIL_HEADERS and not has_email:
            mapping.append({"role": ColumnRole.EMAIL, "key": "", "type": DataType.STRING})
            has_email = True
        else:
            key = _trait_key(name)
            kind = known.get(key) or _infer([r[i] for r in sample if i < len(r)])
            mapping.append({"role": ColumnRole.TRAIT, "key": key, "type": str(kind)})
    return mapping


def mapping_clean(header: list[str], columns: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Check a mapping (one entry per header column); ValidationError naming the column."""
    if len(columns) != len(header):
        raise ValidationError({"mapping": "needs one entry per column"})
    errors: dict[str, str] = {}
    cleaned, keys = [], set()
    for i, entry in enumerate(columns):
        role, key, kind = entry.get("role"), (entry.get("key") or "").strip(), entry.get("type")
        name = f"column_{i}"
        if role not in ColumnRole.values:
            errors[name] = "choose what this column holds"
            continue
        if role == ColumnRole.TRAIT:
            if not key or len(key) > TRAIT_KEY_MAX_LENGTH or not TRAIT_KEY_RE.fullmatch(key):
                errors[name] = (
                    "a trait key is 1 to 100 letters, digits, '_', '-', '.' or '$' (no spaces)"
                )
                continue
            if key in keys or key in ("email",):
                errors[name] = f"the trait key {key!r} is used twice"
                continue
            if kind not in DataType.values:
                errors[name] = "choose a type"
                continue
            keys.add(key)
        cleaned.append({"role": role, "key": key if role == ColumnRole.TRAIT else "", "type": kind})
    roles = [c["role"] for c in cleaned]
    if not errors:
        if roles.count(ColumnRole.USER_ID) > 1:
            errors["mapping"] = "only one column can be the user id"
        elif roles.count(ColumnRole.EMAIL) > 1:
            errors["mapping"] = "only one column can be the email"
        elif ColumnRole.USER_ID not in roles and ColumnRole.EMAIL not in roles:
            errors["mapping"] = "map a column to the user id or to the email"
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass
class _Plan:
    """Positions of the mapped columns."""

    width: int
    uid: int | None
    email: int | None
    traits: list[tuple[int, str, str]] = field(default_factory=list)  # (column, key, type)

    @property
    def key_column(self) -> int:
        return self.uid if self.uid is not None else self.email  # type: ignore[return-value]

    @property
    def key_name(self) -> str:
        return "user id" if self.uid is not None else "email"


def _plan(header: list[str], mapping: list[dict[str, str]]) -> _Plan:
    roles = [c["role"] for c in mapping]
    return _Plan(
        width=len(header),
        uid=roles.index(ColumnRole.USER_ID) if ColumnRole.USER_ID in roles else None,
        email=roles.index(ColumnRole.EMAIL) if ColumnRole.EMAIL in roles else None,
        traits=[(i, c["key"], c["type"]) for i, c in enumerate(mapping) if c["role"] == "trait"],
    )


def _shape_problem(plan: _Plan, row: list[str], seen: dict[str, int], n: int) -> str | None:
    """The checks made while streaming: the row's shape, its key, a key repeated in the file.
    `seen` maps keys to the row that first had them."""
    column = _nul_column(row)
    if column is not None:
        # Checked first, before the key is remembered: the row is not imported, so a later
        # row with the same key is no repeat. _stage drops the NUL from what it stages.
        return f"the value in column {column} contains a NUL character (0x00)"
    if len(row) != plan.width:
        return f"has {len(row)} values, the header has {plan.width}"
    key = row[plan.key_column].strip(BLANKS)
    if plan.uid is None:
        key = key.lower()
    if not key:
        return f"the {plan.key_name} is missing"
    if has_control_character(key):  # as the API refuses it (core.ingest.clean_identifier)
        return f"the {plan.key_name} contains control characters"
    first = seen.setdefault(key, n)
    if first != n:
        return f"the {plan.key_name} {key!r} is repeated (first on row {first})"
    return None


def _value_problem(plan: _Plan, row: list[str]) -> str | None:
    """The checks the run makes in SQL, in Python for the preview (the same rules)."""
    if plan.uid is not None and len(row[plan.uid].strip(BLANKS)) > ID_MAX_LENGTH:
        return f"the user id is longer than {ID_MAX_LENGTH} characters"
    if plan.email is not None:
        email = row[plan.email].strip(BLANKS)
        if len(email) > EMAIL_MAX_LENGTH:
            return f"the email is longer than {EMAIL_MAX_LENGTH} characters"
        if email and not _PY["email"].match(email):
            return f"the email {email!r} is not a valid address"
    for i, key, kind in plan.traits:
        value = row[i].strip(BLANKS)
        if value and not _fits(value, kind):
            return f"{key}: {value!r} is not a {kind}"
    return None


def _fits(value: str, kind: str) -> bool:
    if kind == DataType.BOOLEAN:
        return value.lower() in BOOLEAN_WORDS
    pattern = _PY.get(kind)
    return pattern is None or bool(pattern.match(value))


def _sample(contact_import: ContactImport, n: int) -> list[list[str]]:
    rows: list[list[str]] = []
    reader = _reader(contact_import.path)
    try:
        next(reader, None)
        for row in reader:
            rows.append(row)
            if len(rows) >= n:
                break
    except (UnicodeDecodeError, csv.Error):
        pass  # the preview stops there; the run fails on it, saying why
    return rows


@dataclass
class Preview:
    rows: list[list[str]]
    problems: list[tuple[int, str]]
    sampled: int


def import_preview(*, contact_import: ContactImport, mapping: list[dict[str, str]]) -> Preview:
    """The first PREVIEW_ROWS rows, and the problems found in the first PREVIEW_SAMPLE."""
    plan = _plan(contact_import.header, mapping)
    sample = _sample(contact_import, PREVIEW_SAMPLE)
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(sample, start=1):
        reason = _shape_problem(plan, row, seen, n) or _value_problem(plan, row)
        if reason:
            problems.append((n, reason))
    return Preview(sample[:PREVIEW_ROWS], problems[:PREVIEW_PROBLEMS], len(sample))


def import_start(*, contact_import: ContactImport, mapping: list[dict[str, str]]) -> None:
    """Save the mapping and queue the run (after commit)."""
    if contact_import.status != ImportStatus.MAPPING:
        raise ValidationError({"mapping": "this import has already started"})
    contact_import.mapping = mapping
    contact_import.status = ImportStatus.QUEUED
    with transaction.atomic():
        contact_import.save(update_fields=["mapping", "status"])
        audit.record(
            None,
            "import.start",
            contact_import,
            None,
            {"file": contact_import.filename, "size": contact_import.size, "mapping": mapping},
        )
    pk = contact_import.pk
    enqueue_on_commit("imports.tasks.import_run_task", pk)


# --- The run ---------------------------------------------------------------------------------


def _sql_checks(plan: _Plan) -> str:
    """The reason a staged row is rejected (NULL when good), as one SQL expression."""
    cases = []
    if plan.uid is not None:
        cases.append(
            f"WHEN length(btrim(c{plan.uid}, {_SQL_BLANKS})) > {ID_MAX_LENGTH} "
            f"THEN 'the user id is longer than {ID_MAX_LENGTH} characters'"
        )
    if plan.email is not None:
        e = f"btrim(c{plan.email}, {_SQL_BLANKS})"
        cases.append(
            f"WHEN length({e}) > {EMAIL_MAX_LENGTH} "
            f"THEN 'the email is longer than {EMAIL_MAX_LENGTH} characters'"
        )
        cases.append(
            f"WHEN {e} <> '' AND {e} !~ '{EMAIL_RE}' "
            f"THEN 'the email ' || quote_literal({e}) || ' is not a valid address'"
        )
    for i, key, kind in plan.traits:
        v = f"btrim(c{i}, {_SQL_BLANKS})"
        if kind == DataType.NUMBER:
            test = f"{v} !~ '{NUMBER_RE}'"
        elif kind == DataType.DATE:
            test = f"{v} !~ '{DATE_RE}'"
        elif kind == DataType.BOOLEAN:
            test = f"lower({v}) NOT IN ({', '.join(repr(w) for w in BOOLEAN_WORDS)})"
        else:
            continue
        cases.append(
            f"WHEN {v} <> '' AND {test} "
            f"THEN {_literal(key + ': ')} || quote_literal({v}) || ' is not a {kind}'"
        )
    if not cases:
        return "bad"
    return f"COALESCE(bad, CASE {' '.join(cases)} END)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _traits_sql(plan: _Plan) -> str:
    parts = []
    for i, key, kind in plan.traits:
        v = f"NULLIF(btrim(c{i}, {_SQL_BLANKS}), '')"
        if kind == DataType.NUMBER:
            value = f"to_jsonb({v}::numeric)"
        elif kind == DataType.BOOLEAN:
            value = f"to_jsonb(lower({v}) IN ({', '.join(repr(w) for w in TRUE_WORDS)}))"
        else:
            value = f"to_jsonb({v})"
        parts.append(f"{_literal(key)}, {value}")
    if not parts:
        return "'{}'::jsonb"
    # jsonb_build_object takes at most 100 arguments: 50 traits per call, concatenated.
    calls = [
        f"jsonb_build_object({', '.join(parts[n : n + 50])})" for n in range(0, len(parts), 50)
    ]
    return f"jsonb_strip_nulls({' || '.join(calls)})"


def _chunk_sql(plan: _Plan, table: str) -> str:
    cells = ", ".join(f"c{i}" for i in range(plan.width))
    uid = f"NULLIF(btrim(c{plan.uid}, {_SQL_BLANKS}), '')" if plan.uid is not None else "NULL::text"
    email = (
        f"NULLIF(lower(btrim(c{plan.email}, {_SQL_BLANKS})), '')"
        if plan.email is not None
        else "NULL::text"
    )
    valid = (
        f"SELECT {uid} AS uid, {email} AS email, {_traits_sql(plan)} AS traits "
        "FROM checked WHERE reason IS NULL"
    )
    return f"""
WITH checked AS MATERIALIZED (
    SELECT n, {_sql_checks(plan)} AS reason, {cells}
    FROM {table} WHERE n > %(lo)s AND n <= %(hi)s
),
rejected AS (
    INSERT INTO imports_rejectedrow (contact_import_id, "row", reason, "values")
    SELECT %(import)s, n, reason, jsonb_build_array({cells})
    FROM checked WHERE reason IS NOT NULL
),
{profiles_import_cte(valid, by="user_id" if plan.uid is not None else "email")},
{mark_dirty_cte("SELECT id FROM upserted")}
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),
    (SELECT count(*) FROM checked WHERE reason IS NOT NULL)
FROM upserted
"""


def _stage_table(contact_import: ContactImport) -> str:
    return f"imports_stage_{contact_import.pk}"


def _stage(cursor: Any, plan: _Plan, path: str, table: str) -> int:
    """COPY the file into the staging table; returns the number of data rows. The table is
    UNLOGGED (no WAL; the import can be run again) rather than temporary, so that the chunk
    workers' connections read it too."""
    cells = ", ".join(f"c{i} text" for i in range(plan.width))
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE UNLOGGED TABLE {table} (n int, bad text, {cells})")
    names = ", ".join(["n", "bad"] + [f"c{i}" for i in range(plan.width)])
    seen: dict[str, int] = {}
    width, n = plan.width, 0
    pad = [""] * width
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        reader = _reader(path)
        next(reader, None)
        for n, row in enumerate(reader, start=1):
            bad = _shape_problem(plan, row, seen, n)
            if bad is not None:
                # Staged only for the report of rejected rows (its values, in jsonb). A NUL
                # (rejected by _shape_problem) cannot go into text or jsonb: the COPY failed and
                # with it the whole import. The reason says it was there.
                row = [value.replace("\x00", "") for value in row]
            if len(row) != width:
                row = (row + pad)[:width]
            copy.write_row((n, bad, *row))
    cursor.execute(f"CREATE INDEX ON {table} (n)")
    if plan.uid is None:
        cursor.execute(_email_repeats_sql(plan, table))
    cursor.execute(f"ANALYZE {table}")
    return n


def _email_repeats_sql(plan: _Plan, table: str) -> str:
    """Rows whose email repeats an earlier row's as PostgreSQL lower-cases it (the write does:
    profiles_import_cte by email has no unique index to stop a second insert), rejected like
    the repeats the stream found. Python's str.lower() and PostgreSQL's lower() differ for some
    letters ("İ" is "i̇" in one, "i" in the other): two rows the stream took for two people
    were stored as two profiles with one email."""
    key = f"lower(btrim(c{plan.key_column}, {_SQL_BLANKS}))"
    return f"""
UPDATE {table} s SET bad = 'the email ' || quote_literal(d.key)
    || ' is repeated (first on row ' || d.first || ')'
FROM (
    SELECT n, {key} AS key, min(n) OVER (PARTITION BY {key}) AS first
    FROM {table} WHERE bad IS NULL
) d
WHERE s.n = d.n AND d.n <> d.first AND d.key <> ''
"""


@dataclass
class Timing:
    """Seconds per phase of a run (for the benchmark)."""

    copy: float = 0.0
    chunks: float = 0.0
    finish: float = 0.0
    rows: int = 0


def import_run(*, import_id: int) -> Timing:
    """Run a queued import (the Celery task's body); marks it failed with the reason on error."""
    timing = Timing()
    contact_import = ContactImport.objects.get(pk=import_id)
    if contact_import.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return timing
    plan = _plan(contact_import.header, contact_import.mapping)
    contact_import.status = ImportStatus.RUNNING
    contact_import.started_at = timezone.now()
    contact_import.save(update_fields=["status", "started_at"])
    try:
        _run(contact_import, plan, timing)
    except Exception as exc:
        ContactImport.objects.filter(pk=import_id).update(
            status=ImportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_stage_table(contact_import)}")
    return timing


def _chunk(sql: str, params: dict[str, Any], rows: int) -> tuple[int, int, int]:
    """One chunk's statement and its progress, in one transaction: (created, updated, rejected)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO off")
        cursor.execute(
            "SELECT set_config('gin_pending_list_limit', %s, true)",
            [str(settings.HARK_IMPORT_GIN_PENDING_KB)],
        )
        cursor.execute(sql, params)
        created, updated, rejected = cursor.fetchone()
        # Increments: chunks run by parallel workers finish in any order.
        ContactImport.objects.filter(pk=params["import"]).update(
            processed_rows=F("processed_rows") + rows,
            created_count=F("created_count") + created,
            updated_count=F("updated_count") + updated,
            rejected_count=F("rejected_count") + rejected,
        )
    return created, updated, rejected


def _chunk_in_worker(sql: str, params: dict[str, Any], rows: int) -> tuple[int, int, int]:
    """_chunk on the worker thread's own connection, closed after it."""
    try:
        return _chunk(sql, params, rows)
    finally:
        connection.close()


def _run(contact_import: ContactImport, plan: _Plan, timing: Timing) -> None:

    env = contact_import.environment_id
    table = _stage_table(contact_import)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO off")
        total = _stage(cursor, plan, contact_import.path, table)
    RejectedRow.objects.filter(contact_import=contact_import).delete()
    ContactImport.objects.filter(pk=contact_import.pk).update(
        total_rows=total, processed_rows=0, created_count=0, updated_count=0, rejected_count=0
    )
    timing.copy = time.perf_counter() - started
    timing.rows = total

    started = time.perf_counter()
    sql = _chunk_sql(plan, table)
    size = max(1, int(settings.HARK_IMPORT_CHUNK_ROWS))
    chunks = [
        ({"lo": lo, "hi": lo + size, "import": contact_import.pk, "env": env}, size)
        for lo in range(0, total, size)
    ]
    chunks[-1:] = [(params, total - params["lo"]) for params, _ in chunks[-1:]]
    # Most of a chunk's time is the index maintenance of profiles_profile, in one backend: the
    # chunks (disjoint keys: an id repeated in the file was rejected while staging) run on
    # HARK_IMPORT_WORKERS connections at once, one per core. Not inside a transaction (a test's):
    # other connections could not see its rows; the chunks then run here one after the other.
    workers = min(int(settings.HARK_IMPORT_WORKERS), len(chunks))
    created = updated = 0
    if workers > 1 and not connection.in_atomic_block:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import") as pool:
            futures = [pool.submit(_chunk_in_worker, sql, *chunk) for chunk in chunks]
            try:
                for future in as_completed(futures):
                    c, u, _ = future.result()
                    created, updated = created + c, updated + u
                    if tasks_run_inline():
                        segment_dirty_profiles_drain(environment_id=env)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    else:
        for chunk in chunks:
            c, u, _ = _chunk(sql, *chunk)
            created, updated = created + c, updated + u
            if tasks_run_inline():
                segment_dirty_profiles_drain(environment_id=env)
    timing.chunks = time.perf_counter() - started

    started = time.perf_counter()
    types = {key: kind for _, key, kind in plan.traits}
    if types and created + updated:
        with connection.cursor() as cursor:
            cursor.execute(
                trait_definitions_statement(scope=Scope.PROFILE),
                {"td_env": env, "td_at": timezone.now(), "td_types": fastjson.dumps(types)},
            )
    ContactImport.objects.filter(pk=contact_import.pk).update(
        status=ImportStatus.DONE, finished_at=timezone.now(), processed_rows=total
    )
    Path(contact_import.path).unlink(missing_ok=True)
    if (created or updated) and not tasks_run_inline():
        enqueue("imports.tasks.profiles_gin_merge_task")
    timing.finish = time.perf_counter() - started


def rejected_csv_lines(contact_import: ContactImport) -> Iterator[str]:
    """The report of rejected rows as CSV lines (row, reason, then the file's columns), read
    in keyset chunks so memory stays constant."""
    line = CsvLines().line
    yield line(["row", "reason", *contact_import.header])
    after = 0
    while True:
        chunk = list(
            RejectedRow.objects.filter(contact_import=contact_import, row__gt=after)
            .order_by("row")
            .values_list("row", "reason", "values")[:2000]
        )
        for row, reason, values in chunk:
            yield line([row, reason, *(values if isinstance(values, list) else json.loads(values))])
        if len(chunk) < 2000:
            return
        after = chunk[-1][0]
