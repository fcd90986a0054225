"""Filters of the reports: the Project Overview (survey, segment, period) and the Response List
(those plus status, an answer condition, a trait value and free-text search).

Every choice list is scoped to the request's environment, and a value from another environment
is simply not a valid choice (the form ignores it), so a URL can never reach another
environment's data. All filters compose into one SQL query on the responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import django_filters
from django import forms
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, Exists, F, Lookup, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.http import QueryDict
from django.utils import timezone
from django.utils.functional import cached_property

from profiles.models import Profile
from profiles.search import search_text_contains
from segments.membership import member_ids
from segments.models import Segment
from traits.models import Scope, Trait

from .answers import CSAT_LABELS, allowed_values, choices
from .models import Channel, Question, QuestionKind, Response, Survey
from .scores import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, answer_number

PERIODS = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("365d", "Last 12 months"),
    ("all", "All time"),
    ("custom", "Custom range"),
]
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}

STATUSES = [
    ("completed", "Completed"),
    ("partial", "Partial"),
    ("view", "View only"),
    ("dismissed", "Dismissed"),
]

ANSWER_OPERATORS = [
    ("eq", "is"),
    ("ne", "is not"),
    ("contains", "contains"),
    ("gte", "≥"),
    ("lte", "≤"),
    ("gt", ">"),
    ("lt", "<"),
    ("set", "is answered"),
    ("notset", "is not answered"),
    ("promoters", "NPS promoters (9-10)"),
    ("passives", "NPS passives (7-8)"),
    ("detractors", "NPS detractors (0-6)"),
]
# A search matching more respondents than this by id or email keeps the first ones (the list
# is newest first anyway; a term that broad is refined by typing on).
SEARCH_MAX_PROFILES = 1000
NUMERIC_OPERATORS = {"gte", "lte", "gt", "lt"}
VALUELESS_OPERATORS = {"set", "notset", "promoters", "passives", "detractors"}
NPS_GROUPS = {
    "promoters": (NPS_PROMOTER_MIN, 10),
    "passives": (NPS_DETRACTOR_MAX + 1, NPS_PROMOTER_MIN - 1),
    "detractors": (0, NPS_DETRACTOR_MAX),
}


@dataclass
class AnswerKey:
    """A question key offered by the Response List's answer filter."""

    key: str
    title: str
    kind: str
    values: list[str]  # the answers to suggest (CSAT labels, choices...), in order
    survey_names: list[str]
    survey_uuids: list[str]
    hidden: bool = False
    kinds: set[str] = field(default_factory=set)  # of every question with this key

    @property
    def label(self) -> str:
        if len(self.survey_names) > 1:
            return f"{self.title} ({len(self.survey_names)} surveys)"
        return self.title

    @property
    def surveys_attr(self) -> str:
        return " ".join(self.survey_uuids)

    @property
    def values_json(self) -> str:
        return json.dumps(self.values, ensure_ascii=False)


def _value_labels(question: Question) -> list[str]:
    """The answers a question can have, as people read them (for the value suggestions)."""
    if question.kind == QuestionKind.CSAT:
        return [CSAT_LABELS[v] for v in allowed_values(question) or []]
    if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        return choices(question)
    values = allowed_values(question)
    return [str(v) for v in values] if values else []


@dataclass(frozen=True)
class DateRange:
    """[start, end) in aware datetimes; None on a side means open."""

    start: datetime | None
    end: datetime | None
    period: str

    @property
    def start_date(self) -> date | None:
        return timezone.localtime(self.start).date() if self.start else None

    @property
    def end_date(self) -> date | None:
        """The last day included."""
        return timezone.localtime(self.end - timedelta(days=1)).date() if self.end else None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def date_range(period: str | None, start: date | None, end: date | None) -> DateRange:
    """The range a period preset or a custom start/end (inclusive days) stands for. A preset
    wins over dates (the form keeps the last custom dates around); no period with dates is a
    custom range."""
    if period == "custom" or (not period and (start or end)):
        # The range's end is the start of the day after `end`, which does not exist after
        # 9999-12-31 (date.max; it was a 500): a range to the end of that day leaves nothing
        # out, so it is open.
        return DateRange(
            start=_day_start(start) if start else None,
            end=_day_start(end + timedelta(days=1)) if end and end < date.max else None,
            period="custom",
        )
    known = period or ""
    days = PERIOD_DAYS.get(known)
    if days is None:
        return DateRange(start=None, end=None, period="all")
    tomorrow = timezone.localdate() + timedelta(days=1)
    return DateRange(start=_day_start(tomorrow - timedelta(days=days)), end=None, period=known)


def typed_values(text: str) -> list[Any]:
    """The JSON values a typed-in text may stand for: "5" -> ["5", 5], "true" -> ["true", True]."""
    values: list[Any] = [text]
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        values.append(lowered == "true")
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return values
    if not number.is_finite():
        return values
    if number == number.to_integral_value() and number.adjusted() < 19:
        values.append(int(number))
    elif abs(as_float := float(number)) != float("inf") and (as_float != 0 or number == 0):
        # Beyond these, no stored JSON number can be equal, and int() of a 5,000-digit number
        # cannot be written as JSON at all (it was a 500).
        values.append(as_float)
    return values


def _number_or_none(text: str) -> float | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() else None


def answer_condition(key: str, operator: str, value: str) -> Q | None:
    """A condition on the answer under `key`, or None when it cannot apply (no value given)."""
    if operator in NPS_GROUPS:
        low, high = NPS_GROUPS[operator]
        return Q(_answer_number__gte=low, _answer_number__lte=high)
    if operator == "set":
        return Q(data__has_key=key)
    if operator == "notset":
        return ~Q(data__has_key=key)
    if value == "":
        return None
    if operator in NUMERIC_OPERATORS:
        number = _number_or_none(value)
        if number is None:
            return Q(pk__in=[])
        return Q(**{f"_answer_number__{operator}": number})
    if operator == "contains":
        return Q(_answer_text__icontains=value)
    # eq / ne: the value as text, as a number or a boolean, or picked among a list's choices.
    equal = Q()
    for candidate in typed_values(value):
        equal |= Q(data__contains={key: candidate})
    equal |= Q(data__contains={key: [value]})
    if operator == "ne":
        return Q(data__has_key=key) & ~equal
    return equal


def in_segment(segment: Segment, *, every_row: bool = False) -> Q:
    """Responses of the segment's members, written for how they are read.

    The newest few (a list page, the latest responses): `profile_id IN (members)`, which the
    planner answers with a semi-join while walking the (environment, created_at) index, and
    stops after a page. Every row of a range (the Overview's figures): `profile_id =
    ANY(ARRAY(members))`, which it answers member-driven: one probe per member on the
    (profile, survey, created_at) index, a bitmap of their rows, then only those rows from the
    table. With IN it read every response of the range and kept the members' (30 days of the
    large benchmark environment: 98,000 rows read for the 17,700 of an 11,000-member segment,
    35 ms in three processes; member-driven, 23 ms in one). For a segment of nearly every
    profile both ways cost about the same (all of them: 195 ms against 170 ms), so there is no
    switch on the segment's size."""
    members = member_ids(segment=segment)
    if every_row:
        return Q(_EqualsAny(F("profile_id"), ArraySubquery(members)))
    return Q(profile_id__in=members)


class _EqualsAny(Lookup):
    """`lhs = ANY(rhs)`, rhs an array (Django's own lookups have no form for it)."""

    lookup_name = "equals_any"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


class ReportFilter(django_filters.FilterSet):
    """Survey, segment and period: what the Overview and the Response List share."""

    survey = django_filters.ModelChoiceFilter(
        queryset=Survey.objects.none(), to_field_name="uuid", empty_label="All surveys"
    )
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.none(),
        to_field_name="uuid",
        empty_label="All users",
        method="filter_nothing",  # applied in filter_queryset (two ways, see in_segment)
    )
    period = django_filters.ChoiceFilter(
        choices=PERIODS, empty_label=None, method="filter_nothing", label="Period"
    )
    start = django_filters.DateFilter(
        method="filter_nothing", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = django_filters.DateFilter(
        method="filter_nothing", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    # Completed responses only: partial answers (a respondent who stopped half-way) count in
    # the scores unless this is on; both report pages say so.
    completed = django_filters.BooleanFilter(
        method="filter_completed", label="Completed only", widget=forms.CheckboxInput
    )

    default_period = "all"

    class Meta:
        model = Response
        fields: list[str] = []

    def __init__(self, data: Any = None, *, environment: Any, **kwargs: Any) -> None:
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("period"):
            custom = data.get("start") or data.get("end")
            data["period"] = "custom" if custom else self.default_period
        kwargs.setdefault("queryset", Response.objects.filter(environment=environment).order_by())
        super().__init__(data, **kwargs)
        self.environment = environment
        # Only this environment's surveys and segments are valid choices (one query each to
        # render the options, one to validate a chosen value).
        self.filters["survey"].queryset = Survey.objects.filter(environment=environment).only(
            "pk", "uuid", "name"
        )
        self.filters["segment"].queryset = Segment.objects.filter(environment=environment).only(
            "pk", "uuid", "name"
        )

    def filter_nothing(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset  # segment and period/start/end are applied in filter_queryset

    def filter_completed(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset.filter(completed_at__isnull=False) if value else queryset

    @property
    def completed_only(self) -> bool:
        self.form.errors  # noqa: B018
        return bool(getattr(self.form, "cleaned_data", {}).get("completed"))

    @property
    def date_range(self) -> DateRange:
        self.form.errors  # noqa: B018 (validates; invalid fields are left out of cleaned_data)
        data = getattr(self.form, "cleaned_data", {})
        return date_range(data.get("period"), data.get("start"), data.get("end"))

    def filter_queryset(self, queryset: QuerySet, *, every_row: bool = False) -> QuerySet:
        """The filtered responses; `every_row` when the caller reads all of them rather than
        the newest few (see in_segment)."""
        if self.form.errors:
            # A filter that does not validate (a survey of another environment, a bad date)
            # matches nothing rather than silently widening to everything; the page says
            # which filter was not understood.
            return queryset.none()
        queryset = super().filter_queryset(queryset)
        segment = self.form.cleaned_data.get("segment")
        if segment is not None:
            queryset = queryset.filter(in_segment(segment, every_row=every_row))
        span = self.date_range
        if span.start:
            queryset = queryset.filter(created_at__gte=span.start)
        if span.end:
            queryset = queryset.filter(created_at__lt=span.end)
        return queryset


class OverviewFilter(ReportFilter):
    default_period = "30d"

    @cached_property
    def qs_every_row(self) -> QuerySet:
        """The same responses as `qs`, for reading all of them (the cards and charts)."""
        return self.filter_queryset(self.queryset.all(), every_row=True)


class ResponseFilter(ReportFilter):
    """The Response List: every filter composes into one query over the responses."""

    status = django_filters.ChoiceFilter(
        choices=STATUSES, empty_label="Any status", method="filter_status"
    )
    # Question and trait keys are free text (a key of a deleted question still filters);
    # the page offers the known ones in a select (`answer_keys`, `trait_keys`).
    answer = django_filters.CharFilter(method="filter_nothing", label="Question")
    op = django_filters.ChoiceFilter(
        choices=ANSWER_OPERATORS, empty_label=None, method="filter_nothing", label="Condition"
    )
    value = django_filters.CharFilter(method="filter_nothing", label="Answer value")
    trait = django_filters.CharFilter(method="filter_nothing", label="Trait")
    trait_value = django_filters.CharFilter(method="filter_nothing", label="Trait value")
    q = django_filters.CharFilter(method="filter_search", label="Search")
    channel = django_filters.ChoiceFilter(
        choices=Channel.choices, empty_label="Any channel", label="Channel"
    )

    def __init__(self, data: Any = None, *, environment: Any, **kwargs: Any) -> None:
        super().__init__(data, environment=environment, **kwargs)

    def _with_current(self, options: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
        current = (self.data.get(name) or "").strip()
        if current and current not in {value for value, _ in options}:
            options.append((current, current))
        return options

    @cached_property
    def trait_keys(self) -> list[tuple[str, str]]:
        """The profile traits to offer, by label (one query, only when the page renders)."""
        traits = (
            Trait.objects.filter(environment=self.environment, scope=Scope.PROFILE, hidden=False)
            .order_by("key")
            .only("key", "label")
        )
        options = sorted(
            ((t.key, t.display_label) for t in traits), key=lambda o: (o[1].lower(), o[0])
        )
        return self._with_current(options, "trait")

    @cached_property
    def answer_keys(self) -> list[AnswerKey]:
        """The questions to offer, one entry per key (a key several surveys share filters them
        all), labelled by title; each knows its surveys, so the page shows only the chosen
        survey's questions (and narrows on the fly when another survey is picked). One query."""
        rows = (
            Question.objects.filter(survey__environment=self.environment)
            .order_by("survey__created_at", "survey_id", "position", "id")
            .values_list("key", "title", "kind", "config", "survey__uuid", "survey__name")
        )
        by_key: dict[str, AnswerKey] = {}
        for key, title, kind, config, survey_uuid, survey_name in rows:
            entry = by_key.get(key)
            if entry is None:
                question = Question(key=key, title=title, kind=kind, config=config or {})
                entry = by_key[key] = AnswerKey(
                    key=key,
                    title=title or key,
                    kind=kind,
                    values=_value_labels(question),
                    survey_names=[],
                    survey_uuids=[],
                )
            entry.kinds.add(kind)
            if str(survey_uuid) not in entry.survey_uuids:
                entry.survey_uuids.append(str(survey_uuid))
                entry.survey_names.append(survey_name)
        current = (self.data.get("answer") or "").strip()
        if current and current not in by_key:
            # A key no question has any more (a deleted question) still filters.
            by_key[current] = AnswerKey(
                key=current, title=current, kind="", values=[], survey_names=[], survey_uuids=[]
            )
        chosen = ""
        if not self.form.errors:
            chosen = str(getattr(self.form.cleaned_data.get("survey"), "uuid", "") or "")
        for entry in by_key.values():
            entry.hidden = (
                bool(chosen) and bool(entry.survey_uuids) and (chosen not in entry.survey_uuids)
            )
        return sorted(by_key.values(), key=lambda e: (e.title.lower(), e.key))

    @property
    def chosen_answer(self) -> AnswerKey | None:
        key = (self.data.get("answer") or "").strip()
        return next((e for e in self.answer_keys if e.key == key), None) if key else None

    def answer_value(self, key: str, text: str) -> str:
        """A typed answer value as stored: the label of a CSAT point ("Very satisfied") is its
        number on the stored scale (the page offers the labels, not -2..2)."""
        entry = next((e for e in self.answer_keys if e.key == key), None)
        if entry is None or QuestionKind.CSAT not in entry.kinds:
            return text
        by_label = {label.lower(): value for value, label in CSAT_LABELS.items()}
        number = by_label.get(text.strip().lower())
        return str(number) if number is not None else text

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        open_ = Q(completed_at__isnull=True, dismissed_at__isnull=True)
        conditions = {
            "completed": Q(completed_at__isnull=False),
            "dismissed": Q(completed_at__isnull=True, dismissed_at__isnull=False),
            "partial": open_ & ~Q(data={}),
            "view": open_ & Q(data={}),
        }
        return queryset.filter(conditions[value]) if value in conditions else queryset

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        if not text:
            return queryset
        # The respondent by id, email or name (the Users search's trigram index, fetched first
        # so the response side is a plain `profile_id = ANY(...)` an index can answer), or any
        # answer value (not the keys: searching "nps" must not match every response).
        profile_ids = list(
            Profile.objects.filter(environment=self.environment)
            .filter(search_text_contains(text))
            .values_list("pk", flat=True)[:SEARCH_MAX_PROFILES]
        )
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        in_answers = (
            "EXISTS (SELECT 1 FROM jsonb_each_text(surveys_response.data) AS answer"
            " WHERE answer.value ILIKE %s)"
        )
        params = [pattern]
        if '"' not in text and "\\" not in text:
            # A prefilter the trigram index on data::text answers (migration
            # 0003_report_search_index), so a rare word does not scan every response; the
            # EXISTS then keeps values only. (Skipped for text JSON would escape.)
            in_answers = f"(surveys_response.data::text ILIKE %s AND {in_answers})"
            params = [pattern, pattern]
        answers = RawSQL(in_answers, params, output_field=BooleanField())
        return queryset.filter(Q(profile_id__in=profile_ids) | Q(answers))

    def filter_queryset(self, queryset: QuerySet, *, every_row: bool = False) -> QuerySet:
        queryset = super().filter_queryset(queryset, every_row=every_row)
        data = self.form.cleaned_data
        key, operator, value = data.get("answer"), data.get("op") or "eq", data.get("value") or ""
        if key:
            condition = answer_condition(key, operator, self.answer_value(key, value.strip()))
            if condition is not None:
                queryset = queryset.alias(
                    _answer_number=answer_number(key),
                    _answer_text=KeyTextTransform(key, "data"),
                ).filter(condition)
        trait, trait_value = data.get("trait"), (data.get("trait_value") or "").strip()
        if trait:
            profiles = Profile.objects.filter(pk=OuterRef("profile_id"))
            if trait_value:
                matches = Q()
                for candidate in typed_values(trait_value):
                    matches |= Q(traits__contains={trait: candidate})
                profiles = profiles.filter(matches)
            else:
                profiles = profiles.filter(traits__has_key=trait)
            queryset = queryset.filter(Exists(profiles))
        return queryset

    @property
    def active(self) -> bool:
        """Whether any filter beyond the defaults is set (for the 'clear filters' link)."""
        self.form.errors  # noqa: B018
        data = getattr(self.form, "cleaned_data", {})
        return any(
            data.get(name)
            for name in (
                "survey",
                "segment",
                "status",
                "answer",
                "trait",
                "q",
                "channel",
                "start",
                "end",
                "completed",
            )
        ) or data.get("period") not in (None, "", self.default_period)


__all__ = [
    "ANSWER_OPERATORS",
    "PERIODS",
    "STATUSES",
    "VALUELESS_OPERATORS",
    "DateRange",
    "OverviewFilter",
    "ResponseFilter",
    "answer_condition",
    "date_range",
    "in_segment",
]
