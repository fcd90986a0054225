"""The Users list filters (django-filter): search, segment, identified or anonymous, sort."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from segments.membership import member_ids, members_filter
from segments.models import Segment

from .selectors import DEFAULT_SORT, SORTS, profile_search_q

SMALL_SEGMENT = 2000


class ProfileFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.none(),
        to_field_name="uuid",
        method="filter_segment",
        label="Segment",
        empty_label="All segments",
    )
    identity = django_filters.ChoiceFilter(
        choices=[("identified", "Identified"), ("anonymous", "Anonymous")],
        method="filter_identity",
        label="Type",
        empty_label="Everyone",
    )
    # Sorting is done by the keyset paginator; the filter only validates and renders the choice.
    sort = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (_, label) in SORTS.items()],
        method="filter_sort",
        label="Sort by",
        empty_label=None,
    )

    def __init__(self, data: Any = None, *, environment: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.environment = environment
        self.filters["segment"].queryset = Segment.objects.filter(environment=environment).only(
            "uuid", "name"
        )

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            profile_search_q(environment_id=self.environment.pk, text=value or "")
        )

    def filter_segment(self, queryset: QuerySet, name: str, value: Segment | None) -> QuerySet:
        if value is None:
            return queryset
        # Stored membership (segments recompute it in the background). A small segment is
        # read first (one index range) so the page is a primary-key lookup plus a sort of at most
        # SMALL_SEGMENT rows; walking the last-seen index and probing membership row by row can
        # read most of the table before it finds a page of a small, unevenly spread segment.
        if value.member_count <= SMALL_SEGMENT:
            ids = list(member_ids(segment=value)[: SMALL_SEGMENT + 1])
            if len(ids) <= SMALL_SEGMENT:
                return queryset.filter(pk__in=ids)
        # A large segment is dense: the semi-join finds a page after a few probes.
        return queryset.filter(members_filter(value))

    def filter_identity(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        identified = Q(user_id__isnull=False) | Q(email__isnull=False)
        if value == "identified":
            return queryset.filter(identified)
        if value == "anonymous":
            return queryset.filter(user_id__isnull=True, email__isnull=True)
        return queryset

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    @property
    def sort_value(self) -> str:
        value = self.data.get("sort") if self.data else None
        return value if value in SORTS else DEFAULT_SORT
