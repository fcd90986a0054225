"""Keyset pages, the one paginator of Hark's lists (the Users list, the Response List, a
segment's members, a profile's events, the audit logs) and of the API's cursor pages.

A list is walked newest first by a time column, with the id breaking ties: ORDER BY field DESC,
id DESC over an index ending in (…, -field, -id). A page is one query of size + 1 rows, however
deep, and no COUNT: the extra row only says whether another page follows.

The cursor names the row a page stops at: `<microseconds since 1970 UTC>.<id>`, short,
URL-safe and exact to the microsecond. Clients treat it as opaque (the API documents it as "the
next_cursor of the previous page"). It needs no signature: a cursor only says where to start
inside a queryset the view has already scoped, so an edited one can only show another page of
the same rows. A malformed or out-of-range cursor reads as none, so it shows the first page,
never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_RE = re.compile(r"(-?[0-9]{1,18})\.([0-9]{1,19})")
_BIGINT_MAX = 2**63 - 1

Cursor = tuple[datetime, int]


def encode_cursor(at: datetime, pk: int) -> str:
    """The cursor of a row: its time (aware) and its id."""
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{pk}"


def decode_cursor(value: Any) -> Cursor | None:
    """The (time, id) a cursor names, or None for a missing, malformed or out-of-range one."""
    if not isinstance(value, str):
        return None
    match = _CURSOR_RE.fullmatch(value)
    if match is None:
        return None
    micros, pk = int(match[1]), int(match[2])
    if not 0 < pk <= _BIGINT_MAX:
        return None
    try:
        return _EPOCH + timedelta(microseconds=micros), pk
    except OverflowError:  # beyond the years datetime holds
        return None


@dataclass
class Page:
    """One page, newest first. `next_cursor` leads to the older rows after it and
    `previous_cursor` to the newer rows before it (None: there are none, or this page cannot
    tell); `first` is true for a page with nothing newer."""

    items: list
    next_cursor: str | None = None
    previous_cursor: str | None = None
    first: bool = True
    size: int = 0


def keyset_page(
    qs: QuerySet,
    field: str,
    cursor: str | None = None,
    size: int = 50,
    *,
    before: str | None = None,
) -> Page:
    """One page of `qs`, ordered by `field` then id, newest first.

    `cursor` (a page's next_cursor) gives the rows older than it; `before` (a page's
    previous_cursor) the rows newer than it, still listed newest first. The boundary is written
    `field <= t AND (field < t OR id < n)` (and its mirror): the first conjunct is a plain range
    the index starts its scan at, so a deep page costs what the first one does (an OR alone
    would not be an index range condition)."""
    newer_than = decode_cursor(before)
    if newer_than is not None:
        at, pk = newer_than
        rows = list(
            qs.filter(
                Q(**{f"{field}__gte": at}) & (Q(**{f"{field}__gt": at}) | Q(pk__gt=pk))
            ).order_by(field, "id")[: size + 1]
        )
        more_newer = len(rows) > size
        items = list(reversed(rows[:size]))
        return Page(
            items=items,
            next_cursor=_cursor_of(items[-1], field) if items else None,
            previous_cursor=_cursor_of(items[0], field) if more_newer and items else None,
            first=not more_newer,
            size=size,
        )
    older_than = decode_cursor(cursor)
    if older_than is not None:
        at, pk = older_than
        qs = qs.filter(Q(**{f"{field}__lte": at}) & (Q(**{f"{field}__lt": at}) | Q(pk__lt=pk)))
    rows = list(qs.order_by(f"-{field}", "-id")[: size + 1])
    items = rows[:size]
    return Page(
        items=items,
        next_cursor=_cursor_of(items[-1], field) if len(rows) > size else None,
        previous_cursor=_cursor_of(items[0], field) if older_than is not None and items else None,
        first=older_than is None,
        size=size,
    )


def _cursor_of(row: Any, field: str) -> str:
    return encode_cursor(getattr(row, field), row.pk)
