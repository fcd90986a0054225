"""Loading rows in bulk inside the seed's transaction: COPY, primary keys reserved ahead, session
settings for loading, and a cascading delete that does not load the rows it removes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.base import CommandError
from django.db import connection, models
from django.db.models import Model, QuerySet


def _columns(model: type[Model], names: Iterable[str]) -> str:
    columns = {field.name: field.column for field in model._meta.concrete_fields}
    return ", ".join(connection.ops.quote_name(columns[n]) for n in names)


def copy_rows(model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Stream rows into the model's table with COPY, in the current transaction."""
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"COPY {table} ({_columns(model, names)}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def next_ids(model: type[Model], count: int) -> list[int]:
    """Reserve `count` primary keys from the table's sequence, so rows can reference each
    other before they are written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def tune_session() -> None:
    """Settings for this transaction only, for loading in bulk.

    - More memory for the GIN indexes (traits, trigram search) to fold their pending lists:
      about a third less time writing profiles.
    - No per-row foreign key checks, when the database role may. Django's foreign keys are
      DEFERRABLE INITIALLY DEFERRED: PostgreSQL checks each inserted event's three references
      one by one at COMMIT, which was most of the time of a large seed (45 s of 100 s). The
      seed only writes ids it has just created (tests/test_seed_demo.py checks every
      reference), so for a superuser (the embedded and local servers) it sets
      `session_replication_role = replica`, which skips those triggers. Other roles keep the
      checks and the seed is merely slower.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")


def purge(queryset: QuerySet) -> None:
    """Delete a queryset's rows and everything that cascades from them, one DELETE per table.

    The ORM's delete() loads every row it removes (to cascade and send signals): minutes for
    a million events. This walks the same relations (including other apps' tables that point
    here) and deletes children first with `WHERE fk IN (subquery)`.
    """
    model = queryset.model
    ids = queryset.values("pk")
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        children = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": ids}
        )
        if relation.on_delete is models.CASCADE:
            purge(children)
        elif relation.on_delete is models.SET_NULL:
            children.update(**{relation.field.name: None})
        elif relation.on_delete is not models.DO_NOTHING:
            raise CommandError(f"cannot wipe {model.__name__}: {relation} protects it")
    # QuerySet._raw_delete: one DELETE ... WHERE <the queryset's filter>, without collecting
    # (what the ORM itself uses for its fast deletes).
    queryset._raw_delete(queryset.db)
