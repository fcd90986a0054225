"""How many rows match a filter, without counting the whole table.

A list page shows "1,234 responses" for a filter, but a COUNT(*) over millions of rows on every
page load is what DESIGN.md's budgets forbid. So the count stops at a cap: `SELECT COUNT(*)
FROM (SELECT 1 ... LIMIT cap + 1)`, which reads at most cap + 1 index entries or rows however
large the table, and the page says "10,000+" beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from core.pagination import Page

COUNT_CAP = 10_000


@dataclass(frozen=True)
class Total:
    """A count that is exact up to `cap`; `capped` when more rows match."""

    count: int
    capped: bool
    cap: int = COUNT_CAP

    def __str__(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"

    @property
    def plural(self) -> bool:
        return self.capped or self.count != 1


def capped_total(qs: QuerySet, cap: int | None = None) -> Total:
    """The number of rows of `qs`, exact up to `cap`; one query (a COUNT over a LIMIT cap + 1
    subquery: Django counts a sliced queryset that way). The ordering, column list and joins
    of `select_related` are dropped first: only the filter matters."""
    cap = COUNT_CAP if cap is None else cap
    found = qs.order_by().select_related(None).values("pk")[: cap + 1].count()
    return Total(count=min(found, cap), capped=found > cap, cap=cap)


def page_total(page: Page, qs: QuerySet, *, count_now: bool = False) -> Total | None:
    """How many rows match, for a list page: from the page itself when it holds them all (a
    first page with no next one: exact, no query); counted when `count_now` (the count's own
    fragment, or a page asked for it without JavaScript); else None, and the page loads the
    count after it shows (htmx). The bounded count reads up to COUNT_CAP rows: for a broad
    filter it cost most of a list page's time (benchmarks/pages.py)."""
    if page.first and page.next_cursor is None:
        return Total(count=len(page.items), capped=False)
    return capped_total(qs) if count_now else None


__all__ = ["COUNT_CAP", "Total", "capped_total", "page_total"]
