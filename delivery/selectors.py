"""Reads for delivery: the surveys as the decision sees them, what is known of a person, the
decision itself (`eligible_surveys`, `explain`: one code path, see targeting.py) and the
survey content the web client renders.

Query budget of a decision, whatever the number of surveys, segments or past responses:
one query for the environment's surveys with their targeting (and a bounded count of completed
responses for surveys with a limit), one for the person (profile, segment ids and a per-survey
summary of their responses, aggregated in SQL), and one for segment names when a survey names
segments. Content adds one query for questions and one for translations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import prepared
from core.ingest import canonical_email
from core.prepared import Prepared
from environments.models import Environment
from events.models import Event
from profiles.models import Profile
from segments.models import Segment
from surveys.link import LOCALE_RE
from surveys.models import Question, Response, Survey, SurveyStatus

from .models import DeliverySettings, SurveyTargeting, SurveyTranslation
from .targeting import Context, Decision, Facts, History, SurveyPlan, evaluate, order

# A bounded count: at most `response_limit` completed responses are read, never the survey's
# whole history.
_COMPLETED_UPTO_LIMIT = """
CASE WHEN "delivery_surveytargeting"."response_limit" IS NULL THEN 0 ELSE (
  SELECT count(*) FROM (
    SELECT 1 FROM surveys_response r
    WHERE r.survey_id = "surveys_survey"."id" AND r.completed_at IS NOT NULL
    LIMIT "delivery_surveytargeting"."response_limit"
  ) upto
) END
"""


def delivery_settings(environment_id: int) -> DeliverySettings:
    """The environment's settings (an unsaved row with the defaults when none is stored)."""
    found = DeliverySettings.objects.filter(environment_id=environment_id).first()
    return found or DeliverySettings(environment_id=environment_id)


def _plan(survey: Survey) -> SurveyPlan:
    t: SurveyTargeting | None = getattr(survey, "web_targeting", None)
    base: dict[str, Any] = {
        "id": survey.pk,
        "uuid": str(survey.uuid),
        "name": survey.name,
        "status": survey.status,
        "channels": tuple(str(c) for c in survey.channels or ()),
        "completed_count": getattr(survey, "completed_upto", 0) or 0,
        "created_at": survey.created_at,
    }
    if t is None:
        return SurveyPlan(**base)
    return SurveyPlan(
        **base,
        audience=t.audience,
        segments_include=tuple(t.segments_include or ()),
        segment_match=t.segment_match,
        segments_exclude=tuple(t.segments_exclude or ()),
        page_rules=tuple(t.page_rules or ()),
        trigger=t.trigger,
        trigger_seconds=t.trigger_seconds,
        trigger_event=t.trigger_event,
        trigger_nth=t.trigger_nth,
        trigger_percent=t.trigger_percent,
        recurrence=t.recurrence,
        recurrence_days=t.recurrence_days,
        recurrence_max=t.recurrence_max,
        sample_percent=t.sample_percent,
        sample_salt=t.sample_salt,
        throttle_exempt=t.throttle_exempt,
        priority=t.priority,
        starts_at=t.starts_at,
        ends_at=t.ends_at,
        response_limit=t.response_limit,
    )


def surveys_with_targeting(
    *, environment_id: int, survey_ids: Iterable[int] | None = None, live_web_only: bool = True
) -> list[Survey]:
    """One query: the surveys (live web ones by default) with their targeting row joined."""
    qs = (
        Survey.objects.filter(environment_id=environment_id)
        .select_related("web_targeting")
        .annotate(completed_upto=RawSQL(_COMPLETED_UPTO_LIMIT, ()))
        .order_by("created_at", "id")
    )
    if survey_ids is not None:
        qs = qs.filter(pk__in=list(survey_ids))
    if live_web_only:
        qs = qs.filter(status=SurveyStatus.LIVE, channels__contains=["web"])
    return list(qs)


def survey_with_targeting(*, environment_id: int, uuid: Any) -> Survey | None:
    """One survey of the environment by uuid, with its targeting (one query), any status."""
    return (
        Survey.objects.filter(environment_id=environment_id, uuid=uuid)
        .select_related("web_targeting")
        .annotate(completed_upto=RawSQL(_COMPLETED_UPTO_LIMIT, ()))
        .first()
    )


def plans_for(surveys: Sequence[Survey]) -> list[SurveyPlan]:
    return [_plan(s) for s in surveys]


# One round trip for everything known of a person, and the environment's delivery cache
# version (models.CacheVersion): a row even when nobody is found. `{where}` picks the profile.
# Prepared once per connection (core.prepared): planning it cost about what running it does.
_FACTS_SQL = """
WITH p AS (
  SELECT id, user_id, email, anonymous_id FROM profiles_profile
  WHERE environment_id = %(env)s AND {where}
  {order} LIMIT 1
)
SELECT (SELECT v.version FROM delivery_cacheversion v WHERE v.environment_id = %(env)s),
  p.id, p.user_id, p.email, p.anonymous_id,
  ARRAY(SELECT m.segment_id FROM segments_segmentmembership m WHERE m.profile_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
      h.survey_id, h.n, h.shows, h.last_shown, h.completed, h.exempt)), '[]'::json)
   FROM (
     SELECT r.survey_id, count(*) AS n, sum(r.show_count) AS shows,
       max(coalesce(r.last_shown_at, r.created_at)) AS last_shown,
       bool_or(r.completed_at IS NOT NULL) AS completed,
       coalesce(bool_or(t.throttle_exempt), false) AS exempt
     FROM surveys_response r
     LEFT JOIN delivery_surveytargeting t ON t.survey_id = r.survey_id
     WHERE r.profile_id = p.id
     GROUP BY r.survey_id
   ) h)
FROM (SELECT 1) one LEFT JOIN p ON true
"""


def _facts_statement(name: str, where: str, value_type: str, order: str = "") -> Prepared:
    return Prepared(
        f"delivery_facts_{name}",
        _FACTS_SQL.format(where=where, order=order),
        {"env": "bigint", "v": value_type},
    )


_FACTS_BY = {
    "id": _facts_statement("id", "id = %(v)s", "bigint"),
    "user_id": _facts_statement("user", "user_id = %(v)s", "text"),
    "email": _facts_statement(
        "email", "email = %(v)s", "text", "ORDER BY user_id NULLS LAST, last_seen_at DESC"
    ),
    "anonymous_id": _facts_statement("anon", "anonymous_id = %(v)s", "text"),
}


class Stale(Exception):
    """The environment's delivery cache version is not the one the caller's state was read
    at: read again and start over (raised before anything is written)."""


def _parse_time(value: str) -> datetime:
    # json_build_array renders timestamptz as ISO 8601.
    return datetime.fromisoformat(value)


def facts_for(
    *,
    environment_id: int,
    profile_id: int | None = None,
    user_id: str | None = None,
    email: str | None = None,
    anonymous_id: str | None = None,
) -> Facts:
    """What is known of a person, found by profile id, else user id, else email, else the
    device's anonymous id. Reads only (an unknown anonymous visitor costs one SELECT and
    leaves no trace)."""
    value: int | str
    if profile_id is not None:
        statement, value = _FACTS_BY["id"], profile_id
    elif user_id:
        statement, value = _FACTS_BY["user_id"], user_id
    elif email:
        statement, value = _FACTS_BY["email"], email
    elif anonymous_id:
        statement, value = _FACTS_BY["anonymous_id"], anonymous_id
    else:
        return Facts()
    with connection.cursor() as cursor:
        prepared.execute(cursor, statement, {"env": environment_id, "v": value})
        row = cursor.fetchone()
    version, pid, uid, mail, anon, segment_ids, summary = row
    if pid is None:
        # Nobody yet: what the call says is all there is.
        return Facts(user_id=user_id, email=email, anonymous_id=anonymous_id, cache_version=version)
    if isinstance(summary, str):
        summary = json.loads(summary)
    history: dict[int, History] = {}
    throttled: dict[int, datetime] = {}
    for survey_id, n, shows, last_shown, completed, exempt in summary or []:
        last = _parse_time(last_shown) if last_shown else None
        history[survey_id] = History(
            responses=n, shows=int(shows or 0), last_shown_at=last, completed=bool(completed)
        )
        if last is not None and not exempt:
            throttled[survey_id] = last
    return Facts(
        profile_id=pid,
        user_id=uid,
        email=mail,
        anonymous_id=anon or anonymous_id,
        segment_ids=frozenset(segment_ids or ()),
        history=history,
        throttled_shows=throttled,
        cache_version=version,
    )


def facts_checked(*, version: int | object | None, **lookup: Any) -> Facts:
    """`facts_for`, raising Stale when the environment's cache version is not `version`
    (`UNCHECKED`: no check)."""
    facts = facts_for(**lookup)
    if version is not UNCHECKED and facts.cache_version != version:
        raise Stale()
    return facts


UNCHECKED = object()


def segment_names(*, environment_id: int, plans: Sequence[SurveyPlan]) -> dict[int, str]:

    ids = {s for p in plans for s in (*p.segments_include, *p.segments_exclude)}
    if not ids:
        return {}
    return dict(
        Segment.objects.filter(environment_id=environment_id, pk__in=ids).values_list("pk", "name")
    )


def context_for(
    *,
    environment_id: int,
    plans: Sequence[SurveyPlan],
    url: str | None,
    settings: DeliverySettings | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> Context:
    settings = settings or delivery_settings(environment_id)
    return Context(
        now=now or timezone.now(),
        url=url,
        throttle_days=settings.throttle_days,
        segment_names=segment_names(environment_id=environment_id, plans=plans),
        force=force,
    )


@dataclass
class Snapshot:
    """An environment's live web surveys as the client API's page and event calls read them:
    the Survey rows, their plans, segment names, and content built per locale on first use."""

    surveys: dict[int, Survey]
    plans: list[SurveyPlan]
    segment_names: dict[int, str]
    content: dict[tuple[int, str], dict] = field(default_factory=dict)
    by_uuid: dict[str, Survey] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_uuid = {str(s.uuid): s for s in self.surveys.values()}


# Per process: {environment id: (cache version, taken at, snapshot)}. A snapshot is used only
# while the environment's cache version (models.CacheVersion, bumped by triggers on every
# change the snapshot reflects) is the one the caller read with the person: a survey edit
# reaches `/page` and `/event` of every process on their next call. HARK_DELIVERY_CACHE_SECONDS
# bounds a snapshot's age all the same (0: no snapshot, every call reads the surveys).
_snapshots: dict[int, tuple[Any, float, Snapshot]] = {}
_SNAPSHOTS_MAX = 500


def live_snapshot(environment_id: int, version: Any) -> Snapshot:
    """The environment's live web surveys as of cache version `version` (read by the caller
    before this call, in the person's query: a snapshot read now is at least that new)."""
    max_age = django_settings.HARK_DELIVERY_CACHE_SECONDS
    now = time.monotonic()
    cached = _snapshots.get(environment_id)
    if max_age and cached is not None and cached[0] == version and now - cached[1] < max_age:
        return cached[2]
    surveys = surveys_with_targeting(environment_id=environment_id)
    plans = plans_for(surveys)
    snapshot = Snapshot(
        surveys={s.pk: s for s in surveys},
        plans=plans,
        segment_names=segment_names(environment_id=environment_id, plans=plans),
    )
    if max_age:
        if len(_snapshots) >= _SNAPSHOTS_MAX:
            _snapshots.clear()
        _snapshots[environment_id] = (version, now, snapshot)
    return snapshot


@dataclass(frozen=True)
class Evaluation:
    """Every live web survey decided for one person (eligible or not)."""

    decisions: list[Decision]
    surveys: dict[int, Survey]
    facts: Facts
    snapshot: Snapshot | None = None

    @property
    def eligible(self) -> list[Decision]:
        return order([d for d in self.decisions if d.eligible])


def evaluate_all(
    *,
    environment_id: int,
    facts: Facts,
    url: str | None,
    settings: DeliverySettings | None = None,
    now: datetime | None = None,
    cached: bool = False,
) -> Evaluation:
    """Every live web survey decided for this person. `cached`: from the environment's
    snapshot at the cache version read with `facts` (the client API's page and event calls);
    otherwise read now."""
    settings = settings or delivery_settings(environment_id)
    if cached:
        snapshot = live_snapshot(environment_id, facts.cache_version)
        ctx = Context(
            now=now or timezone.now(),
            url=url,
            throttle_days=settings.throttle_days,
            segment_names=snapshot.segment_names,
        )
        return Evaluation(
            decisions=[evaluate(p, facts, ctx, every_gate=False) for p in snapshot.plans],
            surveys=snapshot.surveys,
            facts=facts,
            snapshot=snapshot,
        )
    surveys = surveys_with_targeting(environment_id=environment_id)
    plans = plans_for(surveys)
    ctx = context_for(
        environment_id=environment_id, plans=plans, url=url, settings=settings, now=now
    )
    return Evaluation(
        decisions=[evaluate(p, facts, ctx) for p in plans],
        surveys={s.pk: s for s in surveys},
        facts=facts,
    )


def eligible_surveys(
    *,
    environment_id: int,
    facts: Facts,
    url: str | None,
    settings: DeliverySettings | None = None,
    now: datetime | None = None,
) -> list[Decision]:
    """The live web surveys this person may be shown on `url` now, highest priority first."""
    return evaluate_all(
        environment_id=environment_id, facts=facts, url=url, settings=settings, now=now
    ).eligible


def explain(
    *,
    survey: Survey,
    facts: Facts,
    url: str | None,
    settings: DeliverySettings | None = None,
    now: datetime | None = None,
) -> Decision:
    """Every gate of one survey (of any status or channel) for this person."""
    [fresh] = surveys_with_targeting(
        environment_id=survey.environment_id, survey_ids=[survey.pk], live_web_only=False
    )
    plans = plans_for([fresh])
    ctx = context_for(
        environment_id=survey.environment_id, plans=plans, url=url, settings=settings, now=now
    )
    return evaluate(plans[0], facts, ctx)


def facts_for_profile(profile: Any) -> Facts:
    return facts_for(environment_id=profile.environment_id, profile_id=profile.pk)


def surveys_with_questions(*, survey_ids: Sequence[int]) -> dict[int, Survey]:
    qs = Survey.objects.filter(pk__in=list(survey_ids)).prefetch_related(
        Prefetch("questions", queryset=Question.objects.order_by("position", "id"))
    )
    return {s.pk: s for s in qs}


def prefetch_questions(surveys: Sequence[Survey]) -> None:
    prefetch_related_objects(
        list(surveys), Prefetch("questions", queryset=Question.objects.order_by("position", "id"))
    )


def translations_for(*, survey_ids: Sequence[int], locales: Sequence[str]) -> dict[int, dict]:
    """{survey id: texts} for the first of `locales` each survey has (one query)."""
    if not survey_ids or not locales:
        return {}
    found: dict[int, tuple[int, dict]] = {}
    rows = (
        SurveyTranslation.objects.filter(survey_id__in=list(survey_ids), locale__in=list(locales))
        .order_by()
        .values_list("survey_id", "locale", "texts")
    )
    for survey_id, locale, texts in rows:
        rank = list(locales).index(locale)
        if survey_id not in found or rank < found[survey_id][0]:
            found[survey_id] = (rank, texts or {})
    return {sid: texts for sid, (_, texts) in found.items()}


# --- The client API and the eligibility endpoint ------------------------------------------------


def environment_for_public_key(key: str) -> Environment | None:
    """The environment of a public key, with its delivery settings and its cache version
    (`cache_version`, models.CacheVersion), in one query."""
    return (
        Environment.objects.select_related("delivery_settings")
        .annotate(
            cache_version=RawSQL(
                "SELECT v.version FROM delivery_cacheversion v "
                'WHERE v.environment_id = "environments_environment"."id"',
                (),
            )
        )
        .filter(public_key=key)
        .first()
    )


def event_count(*, environment_id: int, profile_id: int, name: str) -> int:
    """How many times the profile performed the event (for a trigger on "the Nth time")."""
    return Event.objects.filter(
        profile_id=profile_id,
        definition__name=name,
        environment_id=environment_id,
    ).count()


def web_display(
    *,
    environment_id: int,
    uuid: Any,
    user_id: str | None,
    email: str | None,
    anonymous_id: str | None,
) -> Response | None:
    """A web display of the environment, with its survey, if it is the person's own: by user id
    when given, else by email, else by device id."""
    qs = Response.objects.select_related("survey").filter(
        uuid=uuid, environment_id=environment_id, channel="web"
    )
    if user_id:
        qs = qs.filter(profile__user_id=user_id)
    elif email:
        qs = qs.filter(profile__email=email)
    else:
        qs = qs.filter(profile__anonymous_id=anonymous_id)
    return qs.first()


def survey_of(*, environment: Any, uuid: Any) -> Survey | None:
    return Survey.objects.filter(environment=environment, uuid=uuid).first()


def translation_of(*, survey: Survey, locale: str) -> SurveyTranslation | None:
    """The survey's translation in `locale` (stored form: services.translation_locale). A code
    that cannot be a language (a NUL in the URL was a 500 in this lookup) has none."""
    if not LOCALE_RE.match(locale):
        return None
    return SurveyTranslation.objects.filter(survey=survey, locale=locale).first()


def contact_for_eligibility(
    *, environment: Any, uuid: Any = None, user_id: str | None = None, email: str | None = None
) -> Profile | None:
    """The contact by uuid, else user id, else (lower-cased) email; the identified one, then
    the most recently seen, when several match. One of the three must be given."""
    qs = Profile.objects.filter(environment=environment)
    if uuid:
        qs = qs.filter(uuid=uuid)
    elif user_id:
        qs = qs.filter(user_id=user_id.replace("\x00", ""))
    elif email:
        qs = qs.filter(email=canonical_email(email.replace("\x00", "")))
    else:
        raise ValueError("send id, email or uuid")
    return qs.order_by("user_id", "-last_seen_at").first()


def surveys_targeting_segment(segment: Segment) -> list[str]:
    """The names of the surveys of the segment's environment whose web targeting includes or
    excludes it (registered with segments.uses: a segment they use is not deleted)."""
    return list(
        SurveyTargeting.objects.filter(survey__environment_id=segment.environment_id)
        .filter(
            Q(segments_include__contains=[segment.pk]) | Q(segments_exclude__contains=[segment.pk])
        )
        .values_list("survey__name", flat=True)
    )
