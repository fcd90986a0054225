"""Reads for segments: querysets for pages, the panel and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Segment, SegmentKind, SegmentMembership


def segment_list(*, environment: Any) -> QuerySet[Segment]:
    # The list shows stored counts: never a COUNT over memberships per page load.
    return Segment.objects.filter(environment=environment).defer("rules", "description", "error")


def segment_get(*, environment: Any, uuid: Any) -> Segment:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Segment, environment=environment, uuid=uuid)


def profile_memberships(*, profile: Any) -> QuerySet[SegmentMembership]:
    """A profile's segments (the panel), by the (profile) index."""
    return (
        SegmentMembership.objects.filter(profile=profile)
        .select_related("segment")
        .only("since", "segment__uuid", "segment__name", "segment__kind")
        .order_by("segment__name")
    )


def manual_segments_without(*, environment: Any, profile: Any) -> QuerySet[Segment]:
    """Manual segments the profile could be added to."""
    return (
        Segment.objects.filter(environment=environment, kind=SegmentKind.MANUAL)
        .exclude(memberships__profile=profile)
        .only("uuid", "name")
        .order_by("name")
    )


def segment_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    """Members newest first; the unique (segment, profile) index serves the segment filter."""
    return (
        SegmentMembership.objects.filter(segment=segment)
        .select_related("profile")
        .only(
            "since",
            "profile__uuid",
            "profile__user_id",
            "profile__email",
            "profile__traits",
            "profile__last_seen_at",
        )
        .order_by("-since", "-id")
    )


def segment_options(*, environment: Any) -> QuerySet[Segment]:
    """Segments for filter dropdowns (Overview, Responses, Users)."""
    return Segment.objects.filter(environment=environment).only("uuid", "name", "kind")


def profiles_in_segment(queryset: QuerySet, *, segment: Segment) -> QuerySet:
    """Filter any Profile queryset to a segment's members (an EXISTS on the membership index)."""
    from django.db.models import Exists, OuterRef

    members = SegmentMembership.objects.filter(segment=segment, profile_id=OuterRef("pk"))
    return queryset.filter(Exists(members))


def filter_by_segment(
    queryset: QuerySet, *, segment: Segment, profile_field: str = "profile"
) -> QuerySet:
    """Filter a queryset with a profile foreign key (responses, events) to a segment's members."""
    from django.db.models import Exists, OuterRef

    members = SegmentMembership.objects.filter(
        segment=segment, profile_id=OuterRef(f"{profile_field}_id")
    )
    return queryset.filter(Exists(members))
