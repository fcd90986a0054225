"""Reads for segments: querysets for pages, the panel and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.http import parse_uuid
from core.pagination import Page, keyset_page
from events.selectors import event_names
from surveys.selectors import survey_names
from traits.selectors import trait_options

from . import rules as R
from .models import ADVISORY_LOCK_CLASS, RecomputeStatus, Segment, SegmentKind, SegmentMembership

MEMBERS_PAGE_SIZE = 50


def segment_list(*, environment: Any) -> QuerySet[Segment]:
    # The list shows stored counts: never a COUNT over memberships per page load. (The error
    # stays: a failed segment's badge shows it.)
    return Segment.objects.filter(environment=environment).defer("rules", "description")


def segment_get(*, environment: Any, uuid: Any) -> Segment:

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


def segment_members_page(
    *, segment: Segment, cursor: str | None, size: int = MEMBERS_PAGE_SIZE
) -> Page:
    """One keyset page of segment_members (core.pagination: by since, then id)."""
    return keyset_page(segment_members(segment=segment), "since", cursor, size)


def segment_builder_data(*, environment: Any, segment: Segment | None) -> dict[str, Any]:
    """Everything the builder's JavaScript needs to offer fields, operators and values: four
    small queries (traits, event names, surveys, other segments), each bounded."""
    traits = trait_options(environment_id=environment.pk)
    others = segment_options(environment=environment)
    if segment is not None:
        others = others.exclude(pk=segment.pk)
    return {
        "traits": [
            {"key": t["key"], "label": t["label"] or t["key"], "type": t["data_type"]}
            for t in traits
            if t["scope"] == "profile"
        ],
        "answers": [
            {"key": t["key"], "label": t["label"] or t["key"], "type": t["data_type"]}
            for t in traits
            if t["scope"] == "response"
        ],
        "events": event_names(environment_id=environment.pk, limit=1000),
        "surveys": [
            {"uuid": u, "name": n}
            for u, n in survey_names(environment_id=environment.pk, limit=500).items()
        ],
        "segments": [{"uuid": str(s.uuid), "name": s.name} for s in others],
        "operators": R.OPERATORS,
        "event_operators": R.EVENT_OPERATORS,
        "survey_actions": R.SURVEY_ACTIONS,
        "rules": (segment.rules if segment is not None else None) or R.empty_rules(),
    }


def rule_names(*, environment: Any, rules: object) -> dict[str, str]:
    """uuid -> name of the surveys and segments a rule tree mentions (two small queries, none
    when it mentions none), to describe the rules in words."""
    uuids = {
        str(c.get("survey") or c.get("segment"))
        for _, c in R.iter_conditions(rules)
        if c.get("survey") or c.get("segment")
    }
    valid = [u for u in uuids if parse_uuid(u) is not None]
    if not valid:
        return {}
    names = {
        str(u): n
        for u, n in Segment.objects.filter(environment=environment, uuid__in=valid).values_list(
            "uuid", "name"
        )
    }
    names.update(survey_names(environment_id=environment.pk, uuids=valid))
    return names


def segment_rule_problems(*, segment: Segment, names: Any = None) -> list[dict[str, Any]]:
    """The conditions of a dynamic segment's stored rules that no longer fit (a trait's type
    changed since, or the rules were written around the builder), as error items in words
    (segments.rules.error_items). Those conditions match nobody until the rules are edited.
    Validation only (one query for the trait types): no profile is read."""

    if segment.kind != SegmentKind.DYNAMIC:
        return []
    try:
        R.validate_rules(segment.rules, environment_id=segment.environment_id)
    except ValidationError as exc:
        return R.error_items(exc.message_dict, segment.rules, names)
    return []


def segments_using_trait(
    *, environment_id: int, scope: str, key: str, data_type: str | None = None
) -> list[dict[str, Any]]:
    """The dynamic segments whose rules have a condition on this trait (profile scope: trait
    conditions; response scope: answer conditions), each with the problems its rules would
    have if the trait's type were `data_type` (None: as it is). Reads the environment's
    segments, never profiles (a segment's rules are small)."""

    found = []
    segments = Segment.objects.filter(environment_id=environment_id, kind=SegmentKind.DYNAMIC).only(
        "uuid", "name", "rules", "environment_id", "kind"
    )
    overrides = {(scope, key): data_type} if data_type else None
    for segment in segments.order_by("name"):
        paths = R.trait_paths(segment.rules, scope=scope, key=key)
        if not paths:
            continue
        problems: list[dict[str, Any]] = []
        try:
            R.validate_rules(segment.rules, environment_id=environment_id, type_overrides=overrides)
        except ValidationError as exc:
            problems = [
                item
                for item in R.error_items(exc.message_dict, segment.rules)
                if any(item["path"] == p or item["path"].startswith(p + ".") for p in paths)
            ]
        found.append({"segment": segment, "conditions": len(paths), "problems": problems})
    return found


def segment_options(*, environment: Any) -> QuerySet[Segment]:
    """Segments for filter dropdowns (Overview, Responses, Users)."""
    return Segment.objects.filter(environment=environment).only("uuid", "name", "kind")


# --- Runs that will not finish by themselves ---------------------------------------------------


def segment_runs_alive(*, segment_ids: list[int]) -> set[int]:
    """Of these segments, those whose run lock some database session holds (or waits for): a
    run's transaction takes pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, segment id), and the lock
    dies with the session, so a worker that was killed leaves no entry. One query."""

    if not segment_ids:
        return set()
    with connection.cursor() as cursor:
        # Two-key advisory locks show key1 as classid and key2 as objid (objsubid 2).
        cursor.execute(
            "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objsubid = 2 AND objid::bigint = ANY(%s::bigint[])",
            [ADVISORY_LOCK_CLASS, list(segment_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def _stuck_cutoff(older_than: dt.timedelta | None) -> dt.datetime:

    limit = older_than or dt.timedelta(seconds=settings.HARK_SEGMENT_STUCK_SECONDS)
    return timezone.now() - limit


def _is_lost(segment: Segment, *, cutoff: dt.datetime, alive: set[int]) -> bool:
    if segment.status not in (RecomputeStatus.QUEUED, RecomputeStatus.RUNNING):
        return False
    if segment.status_changed_at is None or segment.status_changed_at < cutoff:
        return True
    return segment.status == RecomputeStatus.RUNNING and segment.pk not in alive


def segments_lost_runs(*, older_than: dt.timedelta | None = None) -> list[Segment]:
    """Segments (of every environment: the periodic task) showing a run that will not finish by
    itself: running with no session holding its lock (the worker died), or queued or running
    for longer than HARK_SEGMENT_STUCK_SECONDS (its message was lost). Two queries."""
    candidates = list(
        Segment.objects.filter(status__in=[RecomputeStatus.QUEUED, RecomputeStatus.RUNNING]).only(
            "id", "version", "status", "status_changed_at"
        )
    )
    lost = segments_lost_among(candidates, older_than=older_than)
    return [s for s in candidates if s.pk in lost]


def segments_lost_among(
    segments: list[Segment], *, older_than: dt.timedelta | None = None
) -> set[int]:
    """Ids of those of `segments` (loaded, with status and status_changed_at) showing a lost
    run. One query, and none unless one of them shows a run running."""
    cutoff = _stuck_cutoff(older_than)
    running = [s.pk for s in segments if s.status == RecomputeStatus.RUNNING]
    alive = segment_runs_alive(segment_ids=running)
    return {s.pk for s in segments if _is_lost(s, cutoff=cutoff, alive=alive)}


def segment_run_lost(*, segment: Segment) -> bool:
    """True when the segment page shows a run that will not finish by itself (see
    segments_lost_runs): the page then says so and offers "Recompute now" again, which is how a
    run recovers where no beat runs the periodic check (`make run`). No query unless a run is
    shown queued or running."""
    if segment.status not in (RecomputeStatus.QUEUED, RecomputeStatus.RUNNING):
        return False
    alive = (
        segment_runs_alive(segment_ids=[segment.pk])
        if segment.status == RecomputeStatus.RUNNING
        else set()
    )
    return _is_lost(segment, cutoff=_stuck_cutoff(None), alive=alive)


# --- The REST API --------------------------------------------------------------------------------


def segment_by_uuid(*, environment: Any, uuid: Any) -> Segment:
    """The environment's segment with this uuid; 404 otherwise (another environment's too)."""
    segment = Segment.objects.filter(environment=environment, uuid=uuid).first()
    if segment is None:
        raise Http404("No segment with this uuid")
    return segment


def segments_by_name(*, environment: Any) -> QuerySet[Segment]:
    return Segment.objects.filter(environment=environment).order_by("name")


def profile_segments(*, profile: Any) -> QuerySet[Segment]:
    """The segments a profile is a member of, by name (their uuid and name only)."""
    return (
        Segment.objects.filter(memberships__profile=profile).order_by("name").only("uuid", "name")
    )
