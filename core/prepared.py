"""Server-side prepared statements for the hot ingestion statements.

Django binds parameters on the client, so PostgreSQL parses, analyses and plans every statement
it receives. For the single-statement identify and track (large data-modifying CTEs) that was
two thirds of the database time of a call: planning alone cost more than running. A
`Prepared` statement is sent once per connection as `PREPARE name (types) AS ...` and then run
as `EXECUTE name(...)` through Django's cursor, so query counting, logging and transactions
behave as for any other statement.

Prepared statements live in the database session: behind PgBouncer, use session pooling, or set
HARK_PREPARED_STATEMENTS=false to run the same SQL plainly.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from psycopg import errors as pg_errors

# The statement names prepared on each open psycopg connection (a new connection starts empty).
_registry: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def session_names(db: Any = None) -> set[str]:
    """The names prepared on the current database connection (shared by every module that
    prepares statements: this one and segments.evaluation). `db`: the connection wrapper when the
    caller has it (a cursor's `db`), which saves the lookups through django.db.connection."""
    db = db or connection
    db.ensure_connection()
    return _registry.setdefault(db.connection, set())


# Errors after which a statement is prepared again: the session lost it (a pooler swapped the
# server connection, DISCARD ALL) or a schema change altered what it returns.
_STALE = (pg_errors.InvalidSqlStatementName, pg_errors.FeatureNotSupported)


def enabled() -> bool:
    return bool(getattr(settings, "HARK_PREPARED_STATEMENTS", True))


@dataclass(frozen=True)
class Prepared:
    """One statement with `%(name)s` parameters and the SQL type of each (in `types` order)."""

    name: str
    sql: str
    types: dict[str, str] = field(hash=False)

    @cached_property
    def prepare_sql(self) -> str:
        positions = {name: n for n, name in enumerate(self.types, start=1)}

        def replace(match: re.Match) -> str:
            if match.group(0) == "%%":
                return "%"  # PREPARE is sent without parameters: no escaping any more
            return f"${positions[match.group(1)]}"

        body = re.sub(r"%%|%\((\w+)\)s", replace, self.sql)
        return f"PREPARE {self.name} ({', '.join(self.types.values())}) AS {body}"

    @cached_property
    def execute_sql(self) -> str:
        return f"EXECUTE {self.name}({', '.join(['%s'] * len(self.types))})"

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self.types]


def execute(cursor: Any, statement: Prepared, params: dict[str, Any]) -> None:
    """Run `statement` with `params` (a dict with every name of `statement.types`), preparing it
    first on this connection if needed. Without prepared statements: the SQL, plainly."""
    if not enabled():
        cursor.execute(statement.sql, params)
        return
    db = cursor.db
    names = session_names(db)
    if statement.name not in names:
        cursor.execute(statement.prepare_sql)
        names.add(statement.name)
    try:
        cursor.execute(statement.execute_sql, statement.args(params))
    except DatabaseError as exc:
        # Django re-raises psycopg's error as its own; the original is the cause.
        if not isinstance(exc.__cause__, _STALE):
            raise
        names.discard(statement.name)
        if db.in_atomic_block:
            raise  # the transaction is aborted: the caller's next call prepares again
        if not isinstance(exc.__cause__, pg_errors.InvalidSqlStatementName):
            cursor.execute(f"DEALLOCATE {statement.name}")
        cursor.execute(statement.prepare_sql)
        names.add(statement.name)
        cursor.execute(statement.execute_sql, statement.args(params))
