"""Reads for the Traits page."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Scope, Trait


def trait_list(*, environment_id: int, scope: str | None = None) -> QuerySet[Trait]:
    """Every definition of the environment, profile traits first. Definitions are a few hundred
    rows at most (one per key), so the page lists them all; profile counts are precomputed."""
    qs = Trait.objects.filter(environment_id=environment_id).order_by("scope", "key")
    if scope in Scope.values:
        qs = qs.filter(scope=scope)
    return qs


def trait_options(*, environment_id: int) -> list[dict[str, str]]:
    """The visible traits (key, label, data_type, scope) for pickers such as the segment
    builder's: one query, definitions only."""
    fields = ("key", "label", "data_type", "scope")
    rows = Trait.objects.filter(environment_id=environment_id, hidden=False).values_list(*fields)
    return [dict(zip(fields, row, strict=True)) for row in rows]
