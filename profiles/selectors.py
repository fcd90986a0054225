"""Reads for profiles: the Users list (search, filters, keyset pages) and the User Detail Panel.

Every read is scoped by environment and bounded: a page costs a fixed number of queries whatever
the size of the table or of the page, and nothing counts the whole table.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import uuid as uuid_lib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.ingest import canonical_email
from core.pagination import Page, decode_cursor, encode_cursor, keyset_page
from events.models import Event, EventDefinition
from events.partitions import add_months, month_of, month_start
from segments.membership import members_filter
from segments.models import Segment
from surveys.answers import value_label
from surveys.models import Question, Response, Survey
from surveys.report_selectors import context_items
from traits.models import DataType, Scope, Trait
from traits.services import infer_data_type

from .models import ActivitySource, MonthlyActivity, Profile
from .search import search_text_contains

USERS_PAGE_SIZE = 50
PANEL_EVENTS_PAGE_SIZE = 20
PANEL_RESPONSES_LIMIT = 20
# Free-text search also looks for profiles whose trait equals the text exactly, through the
# jsonb_path_ops GIN index (`traits @> {"key": "text"}`, one indexed probe per key). The probes
# are OR-ed, so their number is capped.
SEARCH_TRAIT_KEYS_MAX = 30
# Below this length a trigram index cannot help (pg_trgm needs 3 characters): the search then
# matches identifiers by prefix while walking the sort index, which stops after one page.
TRIGRAM_MIN_LENGTH = 3

SORTS = {
    # name: (field, label). Each has an index (environment, -field, -id) for the keyset walk.
    "last_seen": ("last_seen_at", "Last seen"),
    "first_seen": ("first_seen_at", "First seen"),
}
DEFAULT_SORT = "last_seen"

_KEY_VALUE_RE = re.compile(r"^\s*([A-Za-z0-9_$][A-Za-z0-9_$.\-]*)\s*[:=]\s*(.+?)\s*$")


# --- Users list -------------------------------------------------------------------------------


def _typed_variants(text: str) -> list[Any]:
    """The JSON values a typed-in trait value may stand for: "42" is the string or the number."""
    variants: list[Any] = [text]
    lowered = text.lower()
    if lowered in ("true", "yes"):
        variants.append(True)
    elif lowered in ("false", "no"):
        variants.append(False)
    else:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if not math.isfinite(number):
                pass  # "nan", "inf", "1e999": jsonb has no such number (the API fuzzer found it)
            elif number.is_integer() and "." not in text and "e" not in lowered:
                variants.append(int(number))
            else:
                variants.append(number)
    return variants


def profile_search_q(*, environment_id: int, text: str) -> Q:
    """The condition for the Users list search box. Every branch is served by an index, and
    the number of OR-ed terms stays small, so PostgreSQL keeps to a BitmapOr of index scans
    (with many terms it would rather scan the table).

    - `key:value` (or `key=value`): profiles whose trait `key` equals value (as text, number or
      boolean), by containment `traits @> {"key": value}` on the jsonb_path_ops GIN index.
    - 3 characters or more: user id, email, anonymous id or the `name` trait containing the text
      (case-insensitive; search_text_contains: one trigram GIN index), or the
      profile's uuid, or a string trait equal to the text (as typed, lower or title case).
    - 1 or 2 characters: only a string trait equal to the text (no index can serve a substring
      that short, and it would match most of the table anyway).
    """
    text = text.strip()
    if not text:
        return Q()
    match = _KEY_VALUE_RE.match(text)
    if match and "@" not in match.group(1):
        key, value = match.groups()
        condition = Q()
        for variant in _typed_variants(value):
            condition |= Q(traits__contains={key: variant})
        return condition

    condition = _trait_value_q(environment_id=environment_id, text=text)
    if len(text) >= TRIGRAM_MIN_LENGTH:
        condition |= search_text_contains(text)
    with contextlib.suppress(ValueError):
        condition |= Q(uuid=uuid_lib.UUID(text))
    return condition


def _trait_value_q(*, environment_id: int, text: str) -> Q:
    """Profiles with a string trait (of the first SEARCH_TRAIT_KEYS_MAX keys) equal to the text:
    ONE jsonpath predicate, `traits @@ '$."k1" == "v" || $."k2" == "v" ...'`, which the
    jsonb_path_ops GIN index answers as a single index scan (an OR of `@>` per key would be one
    index scan each)."""

    keys = list(
        Trait.objects.filter(
            environment_id=environment_id,
            scope=Scope.PROFILE,
            data_type=DataType.STRING,
            hidden=False,
        )
        .order_by("key")
        .values_list("key", flat=True)[:SEARCH_TRAIT_KEYS_MAX]
    )
    if not keys:
        return Q(pk__in=[])
    # Exact values, in the spellings people type them ("germany" finds "Germany"). JSON string
    # escaping is valid jsonpath string syntax, so keys and values cannot break out.
    spellings = list(dict.fromkeys([text, text.lower(), text.title()]))
    path = " || ".join(
        f"$.{json.dumps(key)} == {json.dumps(spelling)}" for key in keys for spelling in spellings
    )
    return Q(
        RawSQL('"profiles_profile"."traits" @@ %s::jsonpath', [path], output_field=BooleanField())
    )


def profile_list_queryset(*, environment_id: int) -> QuerySet[Profile]:
    # The list shows names (from a few traits), ids and dates: the whole traits document is
    # read because names come from it; it is one row per visible line.
    return Profile.objects.filter(environment_id=environment_id).only(
        "uuid",
        "user_id",
        "email",
        "anonymous_id",
        "traits",
        "first_seen_at",
        "last_seen_at",
    )


def profile_page(
    qs: QuerySet[Profile], *, sort: str, cursor: str | None, size: int = USERS_PAGE_SIZE
) -> Page:
    field = SORTS.get(sort, SORTS[DEFAULT_SORT])[0]
    return keyset_page(qs, field, cursor, size)


# --- User Detail Panel ------------------------------------------------------------------------


@dataclass
class TraitRow:
    key: str
    label: str
    data_type: str
    value: Any
    display: str


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Unix timestamps, in seconds or milliseconds.
        seconds = value / 1000 if value > 10_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return parse_datetime(value) or parse_date(value)
        except ValueError:
            return None
    return None


def format_trait_value(value: Any, data_type: str) -> str:
    """A trait value as text for its declared type: dates as dates, booleans as yes/no, numbers
    with thousands separators. A value that does not fit its type is shown as it is."""
    if value is None:
        return "—"
    if data_type == "boolean":
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return "yes" if value.lower() in ("true", "yes", "1") else "no"
    elif data_type == "number":
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if isinstance(number, int | float) and not isinstance(number, bool):
            if float(number).is_integer() and abs(number) < 1e15:
                return f"{int(number):,}"
            return f"{number:,.4f}".rstrip("0").rstrip(".")
    elif data_type == "date":
        moment = _as_datetime(value)
        if isinstance(moment, datetime):
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, UTC)
            # Past year 9999 or before year 1 in the local zone: shown in its own offset.
            with contextlib.suppress(OverflowError):
                moment = timezone.localtime(moment)
            if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
                return moment.strftime("%b %-d, %Y")
            return moment.strftime("%b %-d, %Y %H:%M")
        if isinstance(moment, date):
            return moment.strftime("%b %-d, %Y")
    if isinstance(value, list) and all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        return ", ".join(str(item) for item in value)  # a multiple-choice answer, a tag list
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def profile_trait_rows(*, profile: Profile) -> list[TraitRow]:
    """Every trait of the profile with its definition's label and type (one query)."""

    traits = profile.traits or {}
    definitions = {
        t.key: t
        for t in Trait.objects.filter(
            environment_id=profile.environment_id, scope=Scope.PROFILE, key__in=list(traits)
        ).only("key", "label", "data_type", "hidden")
    }
    rows = []
    for key, value in traits.items():
        definition = definitions.get(key)
        if definition is not None and definition.hidden:
            continue
        data_type = definition.data_type if definition else str(infer_data_type(key, value))
        label = definition.display_label if definition else key.replace("_", " ").capitalize()
        rows.append(
            TraitRow(
                key=key,
                label=label,
                data_type=data_type,
                value=value,
                display=format_trait_value(value, data_type),
            )
        )
    rows.sort(key=lambda r: r.label.lower())
    return rows


@dataclass
class AnswerRow:
    label: str
    display: str


def profile_responses(*, profile: Profile, limit: int = PANEL_RESPONSES_LIMIT) -> list:
    """The profile's newest survey responses with their survey, answers labelled by question
    title and read as people read them (a CSAT answer is "Very satisfied", not 2: the same
    words as the Response List), and their locale and context (two queries whatever the number
    of responses)."""

    responses = list(
        Response.objects.filter(profile=profile, environment_id=profile.environment_id)
        .select_related("survey")
        .only(
            "uuid",
            "survey__uuid",
            "survey__name",
            "channel",
            "data",
            "context",
            "locale",
            "first_shown_at",
            "completed_at",
            "dismissed_at",
            "created_at",
            "last_data_at",
        )
        .order_by("-created_at", "-id")[:limit]
    )
    survey_ids = {r.survey_id for r in responses}
    questions: dict[tuple[int, str], Question] = {}
    if any(r.data for r in responses):
        for question in Question.objects.filter(survey_id__in=survey_ids).only(
            "survey_id", "key", "title", "kind", "config", "position"
        ):
            questions[(question.survey_id, question.key)] = question
    for response in responses:
        rows = []
        for key, value in (response.data or {}).items():
            asked = questions.get((response.survey_id, key))
            rows.append(
                (
                    asked.position if asked else 1_000_000,
                    AnswerRow(
                        label=asked.title if asked else key,
                        display=(
                            value_label(asked, value)
                            if asked
                            else format_trait_value(value, "string")
                        ),
                    ),
                )
            )
        # In question order, as the survey asked them (then answers to removed questions).
        # Read by the panel's template (attributes of this page's objects, not model fields).
        ordered = [row for _, row in sorted(rows, key=lambda r: r[0])]
        response.answer_rows = ordered  # type: ignore[attr-defined]
        response.context_items = context_items(response.context, limit=None)  # type: ignore[attr-defined]
    return responses


# The panel's events are read newest first in these time ranges, in months back from the
# month of the page's start: that month (and any later), the month before, the 2 before that,
# the 4 before those, then all that is older (see profile_events_page).
PANEL_EVENTS_RANGES = (0, 1, 3, 7)
_PANEL_EVENTS_BRANCH = """(
    SELECT e.id, e.timestamp, e.properties, e.definition_id, d.name AS definition_name
    FROM events_event e JOIN events_eventdefinition d ON d.id = e.definition_id
    WHERE e.profile_id = %s AND e.environment_id = %s AND NOT d.deleting
        AND e.timestamp >= %s AND e.timestamp < %s{keyset}
    ORDER BY e.timestamp DESC, e.id DESC
    LIMIT %s
)"""
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)
# The ranges step back at most max(PANEL_EVENTS_RANGES) months from their start: from year 2
# they stay inside year 1 and after _EARLIEST. An edited cursor can name any time datetime
# holds, year 1 included, whose months before are year 0 (a ValueError: a 500).
_RANGES_NEWEST_MIN = datetime(2, 1, 1, tzinfo=UTC)


def _newest_first_ranges(newest: datetime) -> list[tuple[datetime, datetime]]:
    """[from, to) time ranges that cover all time, newest first (PANEL_EVENTS_RANGES), on
    month boundaries: the events table's partitions are calendar months in UTC. A `newest`
    before _RANGES_NEWEST_MIN starts them there: they still cover all time, and the page's
    keyset condition keeps only the rows older than the cursor (none, that far back)."""

    month = month_of(max(newest, _RANGES_NEWEST_MIN))
    bounds = [month_start(add_months(month, -n)) for n in PANEL_EVENTS_RANGES]
    return list(zip([*bounds, _EARLIEST], [_LATEST, *bounds], strict=True))


def profile_events_page(
    *, profile: Profile, cursor: str | None, size: int = PANEL_EVENTS_PAGE_SIZE
) -> Page:
    """Tracked events newest first, keyset on (timestamp, id): one query per page whatever the
    depth.

    The events table is partitioned by month, and `ORDER BY timestamp DESC LIMIT n` over the
    whole table merges an index scan of every partition (each one opened and read before the
    first row comes out: the DEFAULT partition rules out PostgreSQL's ordered Append). So the
    query is a UNION ALL of the same keyset page bounded to a few time ranges on month
    boundaries, newest first, under one LIMIT: each branch is pruned to its months when
    planned, PostgreSQL runs the branches in order and stops as soon as the page is full, so
    a page reads only the newest months it needs. The rows come out in page order (the ranges
    are in order, each branch is ordered). Few branches: each one costs planning time."""

    after = decode_cursor(cursor)
    keyset, keyset_params = "", []
    if after:
        keyset = "\n        AND e.timestamp <= %s AND (e.timestamp < %s OR e.id < %s)"
        keyset_params = [after[0], after[0], after[1]]
    branches, params = [], []
    for lower, upper in _newest_first_ranges(after[0] if after else timezone.now()):
        branches.append(_PANEL_EVENTS_BRANCH.format(keyset=keyset))
        params += [profile.pk, profile.environment_id, lower, upper, *keyset_params, size + 1]
    sql = "\nUNION ALL\n".join(branches) + "\nLIMIT %s"
    rows = list(Event.objects.raw(sql, [*params, size + 1]))
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor(rows[-1].timestamp, rows[-1].pk)
    for event in rows:
        # The definition's name came with the row (the template reads event.definition.name).
        event.definition = EventDefinition(
            pk=event.definition_id,
            environment_id=profile.environment_id,
            name=event.definition_name,  # type: ignore[attr-defined]
        )
        event.properties_display = (  # type: ignore[attr-defined]
            json.dumps(event.properties, ensure_ascii=False, sort_keys=True)[:300]
            if event.properties
            else ""
        )
    return Page(items=rows, next_cursor=next_cursor, first=after is None, size=size)


# --- Usage (MAU) -------------------------------------------------------------------------------

USAGE_MONTHS = 12
USAGE_PAGE_SIZE = 50
USAGE_CSV_CHUNK = 2000


@dataclass
class UsageMonth:
    month: date
    identified: int = 0
    anonymous: int = 0
    # Per ActivitySource value: how many of the month's counted people it saw.
    by_source: dict[int, int] | None = None

    @property
    def total(self) -> int:
        return self.identified + self.anonymous


def _month_before(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def usage_months(*, environment_id: int, current: date) -> list[UsageMonth]:
    """MAU for the USAGE_MONTHS months up to `current` (first days), newest first: counted
    people (identified, or anonymous who interacted with a survey) and per source. One
    aggregate over the (environment, month, profile) index range of those months."""

    first = _month_before(current, USAGE_MONTHS - 1)
    bits = [s.value for s in ActivitySource]
    per_source = ", ".join(f"count(*) FILTER (WHERE sources & {b} <> 0)" for b in bits)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT month, count(*) FILTER (WHERE identified),
                count(*) FILTER (WHERE NOT identified), {per_source}
            FROM profiles_monthlyactivity
            WHERE environment_id = %s AND month BETWEEN %s AND %s AND (identified OR surveyed)
            GROUP BY month
            """,
            [environment_id, first, current],
        )
        found = {
            row[0]: UsageMonth(row[0], row[1], row[2], dict(zip(bits, row[3:], strict=True)))
            for row in cursor.fetchall()
        }
    months = [_month_before(current, n) for n in range(USAGE_MONTHS)]
    return [found.get(m) or UsageMonth(m, by_source=dict.fromkeys(bits, 0)) for m in months]


def usage_counted(*, environment_id: int, month: date) -> QuerySet:
    """Who counted in `month`, by profile id (the index's order: keyset pages walk it)."""

    return (
        MonthlyActivity.objects.filter(
            environment_id=environment_id, month=month, profile_id__isnull=False
        )
        .filter(Q(identified=True) | Q(surveyed=True))
        .select_related("profile")
        .only(
            "profile_id",
            "identified",
            "surveyed",
            "sources",
            "profile__uuid",
            "profile__user_id",
            "profile__email",
            "profile__anonymous_id",
            "profile__traits",
        )
        .order_by("profile_id")
    )


def usage_counted_page(
    *, environment_id: int, month: date, after: int | None, size: int = USAGE_PAGE_SIZE
) -> tuple[list[Any], int | None]:
    """One keyset page of usage_counted (rows, the cursor of the next page or None)."""
    qs = usage_counted(environment_id=environment_id, month=month)
    if after is not None:
        qs = qs.filter(profile_id__gt=after)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].profile_id if more else None)


# --- The REST API's contacts -------------------------------------------------------------------


def contact_get(
    *,
    environment_id: int,
    user_id: str | None = None,
    email: str | None = None,
    uuid: uuid_lib.UUID | None = None,
) -> Profile:
    """The environment's contact by uuid, else user id, else email (the identified one, then the
    most recently seen, when several share it); 404 otherwise, also for another environment's
    uuid: a key never reaches outside its environment."""
    qs = Profile.objects.filter(environment_id=environment_id)
    if uuid is not None:
        qs = qs.filter(uuid=uuid)
    elif user_id:
        qs = qs.filter(user_id=user_id.replace("\x00", ""))
    elif email:
        qs = qs.filter(email=canonical_email(email.replace("\x00", ""))).order_by(
            "user_id", "-last_seen_at"
        )
    else:
        raise ValidationError({"id": "send id, email or uuid"})
    profile = qs.first()
    if profile is None:
        raise Http404("No contact matches")
    return profile


def contact_list(
    *,
    environment_id: int,
    search: str | None = None,
    segment: Segment | None = None,
    survey: Survey | None = None,
) -> QuerySet[Profile]:
    """The environment's contacts (unordered: the caller pages them), matching `search` (when
    not None), members of `segment`, respondents of `survey`."""
    qs = profile_list_queryset(environment_id=environment_id)
    if search is not None:
        qs = qs.filter(profile_search_q(environment_id=environment_id, text=search))
    if segment is not None:
        qs = qs.filter(members_filter(segment))
    if survey is not None:
        qs = qs.filter(Exists(Response.objects.filter(survey=survey, profile_id=OuterRef("pk"))))
    return qs


def profile_ids_for_uuids(*, environment: Any, uuids: list[str]) -> list[int]:
    """The ids of the environment's profiles with these uuids (valid ones: the caller checks),
    in one query; unknown uuids and other environments' profiles are left out."""
    return list(
        Profile.objects.filter(environment=environment, uuid__in=uuids).values_list("pk", flat=True)
    )
