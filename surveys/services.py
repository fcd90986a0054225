"""Writes for surveys: the builder (surveys and their questions) and responses (views, answers,
dismissals, imports). The only module that changes survey state.

Responses: every interaction counts the profile as active this month (MAU) and, after commit,
asks segments to re-evaluate the profile (survey interactions are segment conditions).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from core import fastjson, prepared
from core.ingest import clean_json
from environments.models import Environment
from governance import audit
from profiles.models import ActivitySource, Profile
from profiles.services import mau_zone, profile_mark_active
from profiles.sql import activity_month_sql, activity_upsert_sql
from segments.dirty import mark_dirty_cte
from segments.services import segment_profiles_changed
from traits.models import Scope
from traits.services import TRAIT_KEY_RE, trait_definitions_record
from webhooks.outbox import emit, emit_response_updated, kick_after_commit, outbox_insert_cte

from .answers import CSAT_POINTS, RATING_SCALES, answers_clean
from .logic import END, OPERATORS, VALUELESS_OPERATORS, off_path_keys
from .models import Channel, Question, QuestionKind, Response, Survey, SurveyMode, SurveyStatus

# Opening the same survey again within this window of the response's last activity (a view, an
# answer, a dismissal: `updated_at`) continues the same response; later, a new response starts.
# Counted from the last activity, not from the start: someone who answers slowly, or comes back
# an hour after their last answer, keeps one response, and a response is reused for at most
# this long after it was last touched.
RESPONSE_REUSE_WINDOW = timedelta(hours=3)
CONTEXT_MAX_KEYS = 50
QUESTION_KEY_MAX_LENGTH = 100
# A country list fits (about 250); a pasted column of 100,000 lines does not.
CHOICES_MAX = 500

SURVEY_AUDIT_FIELDS = ("name", "status", "mode", "channels", "thank_you")
QUESTION_AUDIT_FIELDS = ("key", "kind", "title", "description", "required", "config", "logic")


# --- Responses --------------------------------------------------------------------------------


def _after_interaction(response: Response, at: datetime) -> None:
    """MAU and the segment seam, shared by every response write. A survey seen, dismissed or
    answered counts the person for the month, identified or not (`surveyed`)."""

    profile_mark_active(
        environment_id=response.environment_id,
        profile_id=response.profile_id,
        at=at,
        source=ActivitySource.for_channel(response.channel),
        surveyed=True,
    )
    environment_id, profile_id = response.environment_id, response.profile_id
    transaction.on_commit(
        lambda: segment_profiles_changed(environment_id=environment_id, profile_ids=[profile_id])
    )


def _emit(response: Response, event_type: str) -> None:
    """An event for webhooks and destinations (one statement; written only when an endpoint
    subscribes); its payload is built at delivery from the response."""

    emit(response.environment_id, event_type, {"response_id": response.pk}, response.profile_id)


def _check_same_environment(survey: Survey, profile: Profile) -> None:
    if survey.environment_id != profile.environment_id:
        raise ValueError("the survey and the profile belong to different environments")


def _clean_context(context: Mapping[str, Any] | None) -> dict[str, Any]:

    if not context:
        return {}
    if not isinstance(context, Mapping):
        raise ValidationError({"context": ["must be an object"]})
    if len(context) > CONTEXT_MAX_KEYS:
        raise ValidationError({"context": [f"has more than {CONTEXT_MAX_KEYS} keys"]})
    for key in context:
        # The same rule as trait keys and a link's response_ parameters: a NUL, a control
        # character or a lone surrogate in a key is refused (it could not be stored), never cut.
        if not isinstance(key, str) or not TRAIT_KEY_RE.fullmatch(key) or len(key) > 100:
            shown = str(key).encode("utf-8", "backslashreplace").decode()[:120]
            raise ValidationError(
                {
                    f"context.{shown}": [
                        "context keys are 1 to 100 letters, digits, '_', '-', '.' or '$'"
                    ]
                }
            )
    return {k: clean_json(v, field=f"context.{k}") for k, v in context.items()}


def response_import_check(
    *, survey: Survey, answers: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> None:
    """Raise the ValidationError response_import would raise for these answers and context,
    before the caller writes anything else (the respondent's profile)."""
    answers_clean(questions_by_key(survey), answers)
    _clean_context(context)


def questions_by_key(survey: Survey) -> dict[str, Question]:
    cached = getattr(survey, "_questions_by_key", None)
    if cached is None:
        cached = {q.key: q for q in survey.questions.all()}
        survey._questions_by_key = cached  # type: ignore[attr-defined]
    return cached


# A view recorded in one statement: the person's latest response to the survey locked and
# continued when active within RESPONSE_REUSE_WINDOW (%(since)s), else a new one; with it the
# owners' pieces: the "response.displayed" outbox event of a new response (webhooks), the
# month's activity row (profiles) and the segment re-evaluation queue (segments).
_RESPONSE_FIELDS = [f.attname for f in Response._meta.concrete_fields]
_RESPONSE_COLUMNS = ", ".join(f.column for f in Response._meta.concrete_fields)
_RECORD_VIEW_SQL = f"""
WITH latest AS (
    SELECT id FROM surveys_response
    WHERE profile_id = %(profile)s AND survey_id = %(survey)s
    ORDER BY created_at DESC LIMIT 1
    FOR UPDATE
),
continued AS (
    UPDATE surveys_response r SET
        show_count = r.show_count + 1,
        first_shown_at = COALESCE(r.first_shown_at, %(at)s),
        last_shown_at = GREATEST(%(at)s, r.last_shown_at),
        updated_at = %(at)s,
        context = r.context || %(context)s,
        locale = CASE WHEN %(locale)s <> '' THEN %(locale)s ELSE r.locale END
    FROM latest WHERE r.id = latest.id AND r.updated_at > %(since)s
    RETURNING r.*
),
created AS (
    INSERT INTO surveys_response (uuid, environment_id, survey_id, profile_id, channel,
        first_shown_at, last_shown_at, show_count, data, context, locale, created_at, updated_at)
    SELECT %(uuid)s, %(env)s, %(survey)s, %(profile)s, %(channel)s, %(at)s, %(at)s, 1, '{{}}',
        %(context)s, %(locale)s, %(at)s, %(at)s
    WHERE NOT EXISTS (SELECT 1 FROM continued)
    RETURNING *
),
{
    outbox_insert_cte(
        name="displayed",
        source="created",
        profile_column="profile_id",
        event_type="response.displayed",
        env_param="%(env)s",
        data_sql="jsonb_build_object('response_id', src.id)",
        returning=True,
    )
},
activity AS ({
    activity_upsert_sql(
        f"SELECT %(profile)s AS profile_id, {activity_month_sql('%(at)s')} AS month, "
        "false AS identified, true AS surveyed, %(sources)s AS sources"
    )
}),
{mark_dirty_cte("SELECT %(profile)s")}
SELECT {_RESPONSE_COLUMNS}, EXISTS (SELECT 1 FROM displayed) FROM continued
UNION ALL
SELECT {_RESPONSE_COLUMNS}, EXISTS (SELECT 1 FROM displayed) FROM created
"""
RECORD_VIEW = prepared.Prepared(
    "hark_surveys_record_view",
    _RECORD_VIEW_SQL,
    {
        "profile": "bigint",
        "survey": "bigint",
        "at": "timestamptz",
        "since": "timestamptz",
        "context": "jsonb",
        "locale": "text",
        "uuid": "uuid",
        "env": "bigint",
        "channel": "text",
        "tz": "text",
        "sources": "int",
    },
)


def response_record_view(
    *,
    survey: Survey,
    profile: Profile,
    channel: str,
    at: datetime | None = None,
    context: dict | None = None,
    locale: str = "",
) -> Response:
    """Count that `profile` was shown `survey`. Within RESPONSE_REUSE_WINDOW of the last
    activity of its latest response to this survey, that response is continued (show count +1,
    context merged; a completed one stays completed); otherwise a new response (a survey view
    until answers arrive) starts. One statement (see _RECORD_VIEW_SQL): the response, its
    webhook event, the month's activity and the segment queue; after commit, segments hear of
    the profile."""
    _check_same_environment(survey, profile)
    if channel not in Channel.values:
        raise ValidationError({"channel": [f"must be one of {', '.join(Channel.values)}"]})
    at = at or timezone.now()
    context = _clean_context(context)
    # One statement: atomic by itself (its on-commit work runs at once outside a transaction).
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            RECORD_VIEW,
            {
                "profile": profile.pk,
                "survey": survey.pk,
                "at": at,
                "since": at - RESPONSE_REUSE_WINDOW,
                "context": fastjson.dumps(context),
                "locale": locale[:20],
                "uuid": uuid.uuid4(),
                "env": survey.environment_id,
                "channel": channel,
                "tz": mau_zone(),
                "sources": int(ActivitySource.for_channel(channel)),
            },
        )
        *values, displayed = cursor.fetchone()
    response = Response.from_db(cursor.db.alias, _RESPONSE_FIELDS, values)
    for name in ("data", "context"):
        value = getattr(response, name)
        if isinstance(value, str):
            setattr(response, name, json.loads(value))
    if displayed:
        kick_after_commit()
    environment_id, profile_id = response.environment_id, response.profile_id
    transaction.on_commit(
        lambda: segment_profiles_changed(
            environment_id=environment_id, profile_ids=[profile_id], marked=True
        )
    )
    return response


def _record_answer_traits(response: Response, answers: Mapping[str, Any], at: datetime) -> None:

    trait_definitions_record(
        environment_id=response.environment_id, values=answers, scope=Scope.RESPONSE, seen_at=at
    )


@transaction.atomic
def response_save_answers(
    *,
    response: Response,
    answers: Mapping[str, Any],
    at: datetime | None = None,
    complete: bool = False,
    clear: Sequence[str] = (),
) -> Response:
    """Validate `answers` against the survey's questions (ValidationError naming the key) and
    merge them into the response's data; `clear`: keys whose answer the respondent took back
    (emptied or skipped on going back), removed; answers to questions the new path no longer
    goes through are removed. `complete` marks the response completed (the first completion
    time is kept when a respondent submits again)."""
    at = at or timezone.now()
    by_key = questions_by_key(response.survey)
    cleaned = answers_clean(by_key, answers)
    # Merged into the row as it is now, locked, not as the caller read it: two tabs (or two
    # quick posts) answering different steps at once both keep their answer.
    response.data, response.completed_at, response.first_data_at = (
        Response.objects.select_for_update()
        .values_list("data", "completed_at", "first_data_at")
        .get(pk=response.pk)
    )
    cleared = [key for key in clear if key in response.data and key not in cleaned]
    before = response.data
    fields = ["updated_at"]
    if cleaned or cleared:
        data = {k: v for k, v in {**response.data, **cleaned}.items() if k not in cleared}
        # A changed answer can send the path down another branch: the answers of questions it
        # no longer goes through are removed, so a promoter never carries a detractor's
        # complaint (surveys/logic.py decides the path).
        for key in off_path_keys(list(by_key.values()), data):
            del data[key]
        response.data = data
        response.first_data_at = response.first_data_at or at
        response.last_data_at = at
        fields += ["data", "first_data_at", "last_data_at"]
    if complete and response.completed_at is None:
        response.completed_at = at
        fields.append("completed_at")
    if len(fields) == 1:
        return response
    response.updated_at = at
    response.save(update_fields=fields)
    if cleaned:
        _record_answer_traits(response, cleaned, at)
    if "completed_at" in fields:
        _emit(response, "response.completed")
    elif (cleaned or cleared) and (response.completed_at is None or response.data != before):
        # A partial response's answers, or a completed one's changed afterwards (a respondent
        # back on the link page): receivers that stored the completed answers hear of it.
        emit_response_updated(
            environment_id=response.environment_id,
            response_id=response.pk,
            profile_id=response.profile_id,
            at=at,
        )
    _after_interaction(response, at)
    return response


@transaction.atomic
def response_dismiss(*, response: Response, at: datetime | None = None) -> Response:
    """The respondent closed the survey explicitly. The first dismissal time is kept."""
    at = at or timezone.now()
    if response.dismissed_at is None:
        response.dismissed_at = at
        response.updated_at = at
        response.save(update_fields=["dismissed_at", "updated_at"])
        _emit(response, "response.dismissed")
        _after_interaction(response, at)
    return response


def _check_on_path(questions: list[Question], answers: dict[str, Any]) -> None:
    """A response sent whole (the API) holds answers on one path only: an answer to a question
    that the other answers jump past is refused, naming its key (the survey link removes such
    answers as the respondent changes branch; a caller sending them at once is told)."""
    off = off_path_keys(questions, answers)
    if off:
        raise ValidationError(
            {
                key: ["is not on the path the other answers take (a logic jump skips it)"]
                for key in off
            }
        )


@transaction.atomic
def response_add_context(
    *, response: Response, context: Mapping[str, Any] | None, at: datetime | None = None
) -> Response:
    """Merge contextual data into a response (the web client's addToResponse)."""
    cleaned = _clean_context(context)
    merged = {**(response.context or {}), **cleaned}
    if len(merged) > CONTEXT_MAX_KEYS:
        raise ValidationError({"context": [f"has more than {CONTEXT_MAX_KEYS} keys"]})
    if merged == response.context:
        return response
    response.context = merged
    response.updated_at = at or timezone.now()
    response.save(update_fields=["context", "updated_at"])
    return response


def response_import(
    *,
    survey: Survey,
    profile: Profile,
    answers: Mapping[str, Any],
    completed_at: datetime | None = None,
    external_id: str | None = None,
    context: Mapping[str, Any] | None = None,
    channel: str = Channel.API,
) -> tuple[Response, bool]:
    """Store a response collected elsewhere (the REST API). With an `external_id` already
    stored in the environment, nothing is written and (that response, False) is returned.
    Answers are checked as the survey link checks them, and must lie on one path."""
    _check_same_environment(survey, profile)
    if channel not in Channel.values:
        raise ValidationError({"channel": [f"must be one of {', '.join(Channel.values)}"]})
    if external_id is not None:
        external_id = str(external_id).replace("\x00", "").strip()[:255] or None
    if external_id:
        existing = Response.objects.filter(
            environment_id=survey.environment_id, external_id=external_id
        ).first()
        if existing is not None:
            return existing, False
    by_key = questions_by_key(survey)
    cleaned = answers_clean(by_key, answers)
    _check_on_path(list(by_key.values()), cleaned)
    clean_context = _clean_context(context)
    now = timezone.now()
    at = completed_at or now
    try:
        with transaction.atomic():
            response = Response.objects.create(
                environment_id=survey.environment_id,
                survey=survey,
                profile=profile,
                channel=channel,
                data=cleaned,
                context=clean_context,
                first_data_at=at if cleaned else None,
                last_data_at=at if cleaned else None,
                completed_at=completed_at,
                external_id=external_id,
                created_at=at,
                updated_at=now,
            )
            if cleaned:
                _record_answer_traits(response, cleaned, now)
            _after_interaction(response, at)
    except IntegrityError:
        # A concurrent import of the same external id won the race.
        existing = Response.objects.filter(
            environment_id=survey.environment_id, external_id=external_id
        ).first()
        if existing is None:
            raise
        return existing, False
    return response, True


# --- Surveys (the builder) ----------------------------------------------------------------


@transaction.atomic
def survey_create(
    *,
    environment: Environment,
    name: str,
    mode: str = SurveyMode.IDENTIFIED,
    channels: Sequence[str] | None = None,
    created_by: Any = None,
) -> Survey:
    survey = Survey.objects.create(
        environment=environment,
        name=name.strip()[:200] or "Untitled survey",
        mode=mode,
        channels=list(channels if channels is not None else [Channel.LINK]),
        created_by=created_by,
        thank_you={"title": "Thank you!", "message": "Your feedback helps us improve."},
    )
    audit.record(
        created_by, "survey.create", survey, after=audit.snapshot(survey, SURVEY_AUDIT_FIELDS)
    )
    return survey


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    name: str | None = None,
    mode: str | None = None,
    channels: Sequence[str] | None = None,
    thank_you: Mapping[str, str] | None = None,
) -> Survey:
    fields: list[str] = []
    before = audit.snapshot(survey, SURVEY_AUDIT_FIELDS)
    if name is not None and name.strip() and name.strip() != survey.name:
        survey.name = name.strip()[:200]
        fields.append("name")
    if mode is not None and mode != survey.mode:
        if mode not in SurveyMode.values:
            raise ValidationError({"mode": ["unknown mode"]})
        survey.mode = mode
        fields.append("mode")
    if channels is not None:
        picked = [c for c in Channel.values if c in set(channels)]
        if picked != survey.channels:
            survey.channels = picked
            fields.append("channels")
    if thank_you is not None:
        value = {
            k: str(thank_you.get(k) or "").strip()
            for k in ("title", "message", "button_label", "button_url")
        }
        if value != survey.thank_you:
            survey.thank_you = value
            fields.append("thank_you")
    if fields:
        survey.save(update_fields=[*fields, "updated_at"])
        audit.record(
            None,
            "survey.update",
            survey,
            *audit.changes(before, audit.snapshot(survey, SURVEY_AUDIT_FIELDS)),
        )
    return survey


STATUS_ACTIONS: dict[str, str] = {
    SurveyStatus.LIVE: "survey.publish",
    SurveyStatus.PAUSED: "survey.pause",
    SurveyStatus.ARCHIVED: "survey.archive",
}


# The changes a team member may make from each status (the builder's buttons): an archived
# survey comes back as a draft, never straight to live.
STATUS_CHANGES: dict[str, tuple[str, ...]] = {
    SurveyStatus.DRAFT: (SurveyStatus.LIVE,),
    SurveyStatus.LIVE: (SurveyStatus.PAUSED, SurveyStatus.ARCHIVED),
    SurveyStatus.PAUSED: (SurveyStatus.LIVE, SurveyStatus.ARCHIVED),
    SurveyStatus.ARCHIVED: (SurveyStatus.DRAFT,),
}


@transaction.atomic
def survey_set_status(
    *, survey: Survey, status: str, by: Any = None, expected: str | None = None
) -> Survey:
    """Publishing (going live) records who and when, the first time and on every relaunch.

    The status, its webhook event and its audit entry are one transaction, on the survey row
    locked and read again: two publishes at the same moment publish (and announce) once.
    `expected`: the status a team member decided from; the change must be one STATUS_CHANGES
    offers it, and the survey still in it (a button of a page drawn before a teammate's change
    is a ValidationError, nothing changed). Without it (the seeder, tests) any change goes."""
    if status not in SurveyStatus.values:
        raise ValidationError({"status": ["unknown status"]})
    current = Survey.objects.select_for_update().values_list("status", flat=True).get(pk=survey.pk)
    if expected is not None and (
        current != expected or (status != current and status not in STATUS_CHANGES[current])
    ):
        label = SurveyStatus(current).label.lower()
        raise ValidationError(
            {"status": [f"The survey is {label} now: its status was not changed."]}
        )
    survey.status = current
    if status == survey.status:
        return survey
    if status == SurveyStatus.LIVE and not survey.questions.exists():
        raise ValidationError({"status": ["add at least one question before publishing"]})
    previous = survey.status
    before = {"status": survey.status}
    survey.status = status
    fields = ["status", "updated_at"]
    if status == SurveyStatus.LIVE:
        survey.published_at = timezone.now()
        survey.published_by = by
        fields += ["published_at", "published_by"]
    survey.save(update_fields=fields)
    if status == SurveyStatus.LIVE:
        _emit_survey(survey, "survey.published")
    elif previous == SurveyStatus.LIVE:
        _emit_survey(survey, "survey.closed")
    audit.record(
        by, STATUS_ACTIONS.get(status, "survey.status"), survey, before, {"status": status}
    )
    return survey


def _emit_survey(survey: Survey, event_type: str) -> None:

    emit(survey.environment_id, event_type, {"survey_id": survey.pk})


@transaction.atomic
def survey_duplicate(*, survey: Survey, by: Any = None) -> Survey:
    """A draft copy with the same questions (responses are not copied)."""
    copy = Survey.objects.create(
        environment_id=survey.environment_id,
        name=f"{survey.name} (copy)"[:200],
        mode=survey.mode,
        channels=list(survey.channels),
        targeting=dict(survey.targeting),
        thank_you=dict(survey.thank_you),
        created_by=by,
    )
    Question.objects.bulk_create(
        Question(
            survey=copy,
            position=q.position,
            kind=q.kind,
            key=q.key,
            title=q.title,
            description=q.description,
            required=q.required,
            config=q.config,
            logic=q.logic,
        )
        for q in survey.questions.all()
    )

    # delivery builds on surveys (its services record responses through this module), so a
    # duplicate's web targeting is copied through an import here, the one way back.
    from delivery.services import delivery_copy  # noqa: PLC0415

    delivery_copy(source=survey, target=copy)
    return copy


# --- Questions -----------------------------------------------------------------------------

DEFAULT_TITLES = {
    QuestionKind.NPS: "How likely are you to recommend us to a friend or colleague?",
    QuestionKind.CSAT: "How satisfied are you with our product?",
    QuestionKind.CES: "How easy was it to get what you needed?",
    QuestionKind.RATING: "How would you rate your experience?",
    QuestionKind.SINGLE_CHOICE: "Which option fits best?",
    QuestionKind.MULTIPLE_CHOICE: "Which of these apply?",
    QuestionKind.TEXT: "Anything else you would like to tell us?",
    QuestionKind.EMAIL: "What is your email address?",
    QuestionKind.CTA: "Want to tell us more?",
}
DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    QuestionKind.NPS: {"low_label": "Not likely", "high_label": "Very likely"},
    QuestionKind.CSAT: {"points": 5},
    QuestionKind.CES: {"low_label": "Very difficult", "high_label": "Very easy"},
    QuestionKind.RATING: {"scale": 5, "style": "stars"},
    QuestionKind.SINGLE_CHOICE: {"choices": ["Option A", "Option B", "Option C"]},
    QuestionKind.MULTIPLE_CHOICE: {"choices": ["Option A", "Option B", "Option C"]},
    QuestionKind.TEXT: {"placeholder": "Type your answer"},
    QuestionKind.EMAIL: {"placeholder": "you@example.com"},
    QuestionKind.CTA: {"button_label": "Book a call", "url": "https://example.com/"},
}


def answered_under(*, survey: Survey, key: str) -> bool:
    """Whether any response of the survey holds an answer under `key` (the answers of a removed
    question count: they stay in the responses and the export)."""
    return Response.objects.filter(survey=survey, data__has_key=key).exists()


def question_key_default(*, survey: Survey, title: str, exclude_id: int | None = None) -> str:
    """A short key from the title's main words (`_title_slug`), made unique within the survey:
    not used by another question, nor by answers stored for a removed one."""
    base = _title_slug(title)
    # pk=None (no question to leave out) is `IS NULL`: it excludes nothing.
    others = survey.questions.exclude(pk=exclude_id)  # type: ignore[misc]
    taken = set(others.values_list("key", flat=True))
    candidate, n = base, 1
    while candidate in taken or answered_under(survey=survey, key=candidate):
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def question_config_clean(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A question's settings for its kind, checked and normalised (ValidationError when they
    do not fit): what question_create and question_update store, and what the builder's
    preview shows."""
    config = dict(config or {})
    if kind == QuestionKind.CSAT:
        points = int(config.get("points") or 5)
        if points not in CSAT_POINTS:
            raise ValidationError({"points": ["a CSAT scale has 2 to 5 points"]})
        return {"points": points}
    if kind == QuestionKind.RATING:
        scale = int(config.get("scale") or 5)
        if scale not in RATING_SCALES:
            raise ValidationError({"scale": ["a rating scale goes from 2 to 10"]})
        style = config.get("style") if config.get("style") in ("stars", "numbers") else "stars"
        return {"scale": scale, "style": style}
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        raw = config.get("choices") or []
        if isinstance(raw, str):
            raw = raw.splitlines()
        picked: list[str] = []
        # Choices that differ only by case or spaces look alike to respondents and split the
        # results: refused. Found by a dict, not a scan of `picked` (a pasted list of 100,000
        # lines was a quadratic loop: minutes of a worker).
        folded: dict[str, str] = {}
        for item in raw:
            text = str(item).strip()[:200]
            if not text:
                continue
            fold = " ".join(text.casefold().split())
            first = folded.get(fold)
            if first is not None:
                if first != text:
                    raise ValidationError(
                        {"choices": [f"“{first}” and “{text}” differ only by case or spaces"]}
                    )
                continue  # the same choice twice: kept once
            folded[fold] = text
            picked.append(text)
            if len(picked) > CHOICES_MAX:
                raise ValidationError(
                    {"choices": [f"a question has at most {CHOICES_MAX} choices"]}
                )
        if len(picked) < 2:
            raise ValidationError({"choices": ["give at least two different choices"]})
        return {"choices": picked}
    if kind == QuestionKind.CTA:
        url = str(config.get("url") or "").strip()
        if url and not url.startswith(("https://", "http://", "/")):
            raise ValidationError({"url": ["a link starts with https:// or http://"]})
        label = str(config.get("button_label") or "").strip()[:100] or "Continue"
        return {"button_label": label, "url": url}
    if kind in (QuestionKind.NPS, QuestionKind.CES):
        return {
            "low_label": str(config.get("low_label") or "").strip()[:60],
            "high_label": str(config.get("high_label") or "").strip()[:60],
        }
    if kind in (QuestionKind.TEXT, QuestionKind.EMAIL):
        return {"placeholder": str(config.get("placeholder") or "").strip()[:200]}
    return {}


def _clean_logic(question: Question, logic: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    later = set(
        question.survey.questions.filter(position__gt=question.position).values_list(
            "key", flat=True
        )
    )
    rules: list[dict[str, Any]] = []
    for raw in logic or []:
        operator = raw.get("operator")
        goto = raw.get("goto")
        if not operator or not goto:
            continue
        if operator not in OPERATORS:
            raise ValidationError({"logic": [f"unknown condition {operator!r}"]})
        if goto != END and goto not in later:
            raise ValidationError({"logic": ["a jump goes to a later question or to the end"]})
        value = raw.get("value")
        if operator in VALUELESS_OPERATORS:
            value = None
        elif value is None or str(value).strip() == "":
            raise ValidationError(
                {"logic": [f"the condition '{OPERATORS[operator]}' needs a value"]}
            )
        rules.append({"operator": operator, "value": value, "goto": goto})
    return rules


@transaction.atomic
def question_add(
    *,
    survey: Survey,
    kind: str,
    title: str | None = None,
    key: str | None = None,
    required: bool = True,
    config: Mapping[str, Any] | None = None,
    description: str = "",
) -> Question:
    if kind not in QuestionKind.values:
        raise ValidationError({"kind": ["unknown question kind"]})
    _lock_questions(survey)
    title = (title or DEFAULT_TITLES[QuestionKind(kind)]).strip()[:500]
    position = (survey.questions.aggregate(m=Max("position"))["m"] or 0) + 1
    if key:
        key = _check_key(survey=survey, key=key)
    question = Question.objects.create(
        survey=survey,
        position=position,
        kind=kind,
        title=title,
        description=description,
        key=key or question_key_default(survey=survey, title=title),
        required=required if kind != QuestionKind.CTA else False,
        config=question_config_clean(kind, config if config is not None else DEFAULT_CONFIG[kind]),
    )
    audit.record(
        None,
        "survey.update",
        survey,
        None,
        {"question_added": audit.snapshot(question, QUESTION_AUDIT_FIELDS)},
    )
    return question


# Words that make a title read well and a key long: left out of default keys.
KEY_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "be",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "of",
        "on",
        "or",
        "our",
        "the",
        "this",
        "to",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
KEY_DEFAULT_WORDS = 3
KEY_DEFAULT_MAX_LENGTH = 30


def _title_slug(title: str) -> str:
    """The default key of a title: its first three main words, slugified with underscores, at
    most 30 characters ("How likely are you to recommend us to a friend?" gives
    likely_recommend_friend)."""
    words = [w for w in slugify(title).replace("-", "_").split("_") if w]
    main = [w for w in words if w not in KEY_STOP_WORDS] or words
    key = ""
    for word in main[:KEY_DEFAULT_WORDS]:
        joined = f"{key}_{word}" if key else word
        if len(joined) > KEY_DEFAULT_MAX_LENGTH:
            break
        key = joined
    return key or (main[0][:KEY_DEFAULT_MAX_LENGTH] if main else "") or "question"


def _key_follows_title(question: Question) -> bool:
    base = _title_slug(question.title)
    return bool(re.fullmatch(rf"{re.escape(base)}(_\d+)?", question.key))


def _check_key(*, survey: Survey, key: str, exclude_id: int | None = None) -> str:

    key = key.strip()
    if not key or len(key) > QUESTION_KEY_MAX_LENGTH or not TRAIT_KEY_RE.match(key):
        raise ValidationError(
            {"key": ["a key is 1 to 100 letters, digits, '_', '-' or '.' (no spaces)"]}
        )
    if key == END:
        raise ValidationError({"key": ["'end' is reserved for logic jumps"]})
    # pk=None (a new question) is `IS NULL`: it excludes nothing and `own` is None.
    if survey.questions.exclude(pk=exclude_id).filter(key=key).exists():  # type: ignore[misc]
        raise ValidationError({"key": ["another question of this survey uses this key"]})
    own = (
        survey.questions.filter(pk=exclude_id)  # type: ignore[misc]
        .values_list("key", flat=True)
        .first()
    )
    if key != own and answered_under(survey=survey, key=key):
        # A removed question's answers are stored under it: a new question would inherit them.
        raise ValidationError(
            {"key": ["responses hold answers to a removed question under this key: pick another"]}
        )
    return key


@transaction.atomic
def question_update(
    *,
    question: Question,
    title: str,
    key: str = "",
    description: str = "",
    required: bool = True,
    config: Mapping[str, Any] | None = None,
    logic: Sequence[Mapping[str, Any]] | None = None,
) -> Question:
    """Edit a question. An empty key is derived from the title.

    The key of a question that has answers does not change: the answers are stored under it, and
    the CSV export, API readers, segment rules ("answered with value") and report roll-ups read
    them by it. A rename is refused with a form error rather than rewriting the stored answers:
    a rewrite would silently break every reader outside Hark that knows the old key, and a
    response written between the rewrite and the rename would still land under the old one."""
    _lock_questions(question.survey)
    if not Question.objects.filter(pk=question.pk, survey_id=question.survey_id).exists():
        # Removed by a teammate since the view read it: save() would insert it again.
        raise Question.DoesNotExist("the question was removed")
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    answered = answered_under(survey=question.survey, key=question.key)
    if not title:
        errors["title"] = ["a question needs a title"]
    elif (
        key.strip() == question.key
        and title != question.title
        and _key_follows_title(question)
        and not answered
    ):
        # The key was derived from the old title and no answer is stored under it yet: it
        # follows the new title.
        key = ""
    if answered and key.strip() != question.key:
        errors["key"] = [
            f"answers are stored under “{question.key}”, so it cannot change: exports, the API "
            "and segment rules read them by this key (add a new question for a new key)"
        ]
        key = question.key
    try:
        key = (
            _check_key(survey=question.survey, key=key, exclude_id=question.pk)
            if key.strip()
            else question_key_default(survey=question.survey, title=title, exclude_id=question.pk)
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean_config = question_config_clean(question.kind, config or {})
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean_logic = _clean_logic(question, logic or [])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    old_key = question.key
    before = audit.snapshot(question, QUESTION_AUDIT_FIELDS)
    question.title = title[:500]
    question.key = key
    question.description = description.strip()
    question.required = required if question.kind != QuestionKind.CTA else False
    question.config = clean_config
    question.logic = clean_logic
    question.save()
    if old_key != key:
        # Jumps of earlier questions that pointed at the old key follow the rename.
        for other in question.survey.questions.filter(position__lt=question.position):
            if any(r.get("goto") == old_key for r in other.logic or []):
                other.logic = [
                    {**r, "goto": key} if r.get("goto") == old_key else r for r in other.logic
                ]
                other.save(update_fields=["logic"])
    old, new = audit.changes(before, audit.snapshot(question, QUESTION_AUDIT_FIELDS))
    if new:
        audit.record(
            None,
            "survey.update",
            question.survey,
            {"question": old_key, **old},
            {"question": question.key, **new},
        )
    return question


def _lock_questions(survey: Survey) -> None:
    """Changes to one survey's questions take turns (the survey row is the lock): an edit does
    not save back a question a teammate removed meanwhile, and two renames to the same key, or
    a removal during a reorder, cannot interleave."""
    Survey.objects.select_for_update().filter(pk=survey.pk).first()


def _drop_invalid_jumps(survey: Survey) -> None:
    """After a reorder or removal, jumps that no longer go forward are removed."""
    questions = list(survey.questions.all())
    for index, question in enumerate(questions):
        later = {q.key for q in questions[index + 1 :]}
        kept = [r for r in question.logic or [] if r.get("goto") == END or r.get("goto") in later]
        if kept != (question.logic or []):
            question.logic = kept
            question.save(update_fields=["logic"])


@transaction.atomic
def questions_reorder(*, survey: Survey, ordered_ids: Sequence[int]) -> None:
    """Set the order of the survey's questions (ids not given keep their relative order after)."""
    _lock_questions(survey)
    questions = list(survey.questions.select_for_update())
    by_id = {q.pk: q for q in questions}
    ordered = [by_id[i] for i in dict.fromkeys(ordered_ids) if i in by_id]
    ordered += [q for q in questions if q not in ordered]
    changed = []
    for position, question in enumerate(ordered, start=1):
        if question.position != position:
            question.position = position
            changed.append(question)
    if changed:
        Question.objects.bulk_update(changed, ["position"])
        _drop_invalid_jumps(survey)


def question_move(*, question: Question, direction: str) -> None:
    """Move a question one place up or down."""
    ids = list(question.survey.questions.values_list("pk", flat=True))
    index = ids.index(question.pk)
    target = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= target < len(ids):
        return
    ids[index], ids[target] = ids[target], ids[index]
    questions_reorder(survey=question.survey, ordered_ids=ids)


@transaction.atomic
def question_delete(*, question: Question) -> None:
    survey = question.survey
    key = question.key
    _lock_questions(survey)
    if not Question.objects.filter(pk=question.pk).exists():
        return  # removed by a teammate meanwhile: once is enough (and audited once)
    audit.record(
        None,
        "survey.update",
        survey,
        {"question_deleted": audit.snapshot(question, QUESTION_AUDIT_FIELDS)},
        None,
    )
    question.delete()
    changed = []
    for position, other in enumerate(
        Question.objects.filter(survey_id=survey.pk).order_by("position", "id"), start=1
    ):
        if any(r.get("goto") == key for r in other.logic or []):
            other.logic = [r for r in other.logic if r.get("goto") != key]
        other.position = position
        changed.append(other)
    Question.objects.bulk_update(changed, ["position", "logic"])


def responses_delete_before(*, environment_id: int, before: datetime, batch: int) -> int:
    """Delete the environment's responses received before `before`, `batch` rows per
    transaction so ingestion never waits long on them (retention's purge); the count."""
    doomed = Response.objects.filter(environment_id=environment_id, created_at__lt=before)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(doomed.order_by().values_list("pk", flat=True)[:batch])
            if ids:
                Response.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
