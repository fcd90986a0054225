"""A queryset's SQL, for composing into a raw statement; a DELETE run batch by batch."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.sql.where import WhereNode


def queryset_sql(qs: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of `qs`. A queryset Django knows to match nothing (`.none()`, a
    filter given a value that did not validate, `pk__in=[]`) has no SQL: Django raises
    EmptyResultSet instead of compiling it. It then becomes the same select list with a
    condition no row meets (`id IS NULL`), so the statement around it runs and finds nothing."""
    try:
        return qs.query.sql_with_params()
    except EmptyResultSet:
        query = qs.query.clone()
        query.where = WhereNode()
        query.add_q(Q(pk__isnull=True))
        return query.sql_with_params()


def delete_in_batches(sql: str, params: dict[str, Any], batch: int) -> int:
    """Run a DELETE that removes at most %(batch)s rows, again and again until one removes
    fewer, each in its own short transaction (a first purge of years of rows never holds a long
    lock or one huge transaction); returns how many rows went."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {**params, "batch": batch})
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch:
            return total
