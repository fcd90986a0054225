"""Members of a segment: the one way every app asks it (profiles' filters, reports, the rule
compiler, the API). Imports only segments' models, so any app's selectors can use it."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from .models import Segment, SegmentMembership

__all__ = ["member_ids", "members_filter"]


def member_ids(*, segment: Segment | int) -> QuerySet:
    """The profile ids of a segment's (or a segment id's) stored members, by the unique
    (segment, profile) index: the one way every app reads "members of a segment". A subquery
    (`profile_id__in=`, `ArraySubquery`), or sliced and listed."""
    return SegmentMembership.objects.filter(segment=segment).values_list("profile_id", flat=True)


def members_filter(segment: Segment | int, *, profile: str = "pk") -> Exists:
    """A filter keeping the rows whose profile is a member of the segment: an EXISTS probe of
    the membership index per row. `profile` names the row's profile id: "pk" for profiles,
    "profile_id" for responses or events."""
    return Exists(member_ids(segment=segment).filter(profile_id=OuterRef(profile)))
