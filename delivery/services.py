"""Writes for delivery: what the client API changes (identify, page views and events of
identified users, claimed displays, answers, dismissals, context), and the dashboard's edits
(targeting, settings, translations).

Responses belong to surveys/: a display is recorded through `surveys.services`
(`response_record_view` and friends), profiles through `profiles.services.profile_identify`,
events through `events.services.events_track`. This module owns only delivery's tables.

Claiming a display is the one place where the decision must hold under concurrency: the gates
are checked again inside a transaction holding an advisory lock on the person (their profile
id), and the view is recorded in the same transaction. Two tabs claiming the same survey, or two
surveys claimed at once under the throttle, run one after the other: the second sees the
first's display and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from core.ingest import clean_email, clean_identifier, clean_text, has_control_character
from core.ratelimit import Append
from environments.models import Environment
from events.buffer import events_queue, queue_append
from events.services import TrackItem, events_track, track_item
from governance import audit
from profiles.models import ActivitySource, Profile
from profiles.services import profile_identify
from segments.models import Segment
from surveys import answers as answer_rules
from surveys.link import LOCALE_RE
from surveys.logic import next_question
from surveys.models import Channel, Response, Survey
from surveys.services import (
    response_add_context,
    response_dismiss,
    response_record_view,
    response_save_answers,
)

from . import selectors
from .models import (
    AnswerReceipt,
    Audience,
    ColorScheme,
    DeliverySettings,
    Position,
    Recurrence,
    SegmentMatch,
    SurveyTargeting,
    SurveyTranslation,
    TriggerType,
    _salt,
)
from .targeting import Context, Decision, Facts, evaluate, page_rules_clean

ANONYMOUS_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{64}$")
URL_MAX_LENGTH = 2000
PAGEVIEW_EVENT = "$pageview"


class Refused(Exception):
    """A client call refused: `code` and `field` for the JSON error, `status` for HTTP."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int = 400,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.code = code
        self.detail = detail
        self.status = status
        self.field = field


@dataclass
class Identity:
    """Who a client call speaks for (validated, signature checked)."""

    anonymous_id: str
    user_id: str | None = None
    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)

    @property
    def identified(self) -> bool:
        return bool(self.user_id or self.email)


def identity_signature(secret: str, *, user_id: str | None, email: str | None) -> str:
    """Hex HMAC-SHA256 of the user id, or of the lower-cased email when there is no id: the
    same signature survey links carry (surveys.link.sign)."""
    value = user_id if user_id else (email or "").lower()
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def identity_clean(environment: Environment, body: Mapping[str, Any]) -> Identity:
    """Read and verify the identity every client call carries (Refused on any problem,
    before anything is written)."""
    anonymous_id = body.get("anonymous_id")
    if not isinstance(anonymous_id, str) or not ANONYMOUS_ID_RE.match(anonymous_id):
        raise Refused(
            "bad_request",
            "anonymous_id is required: 16 to 64 letters, digits, '-' or '_'",
            field="anonymous_id",
        )
    user = body.get("user")
    if user in (None, {}):
        return Identity(anonymous_id=anonymous_id)
    if not isinstance(user, Mapping):
        raise Refused("bad_request", "user must be an object", field="user")
    raw_id = user.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int | type(None)):
        raise Refused("bad_request", "user.id must be a string or an integer", field="user.id")
    user_id = str(raw_id).strip() if raw_id is not None else None
    email = user.get("email")
    if email is not None and not isinstance(email, str):
        raise Refused("bad_request", "user.email must be a string", field="user.email")
    email = (email or "").strip().lower() or None
    if not user_id and not email:
        raise Refused("bad_request", "user needs an id or an email", field="user.id")
    if user_id and len(user_id) > 255:
        raise Refused("bad_request", "user.id is longer than 255 characters", field="user.id")
    if email and len(email) > 320:
        raise Refused("bad_request", "user.email is too long", field="user.email")
    # Stored as given (never silently changed into another identity): no control characters.
    for name, value in (("user.id", user_id), ("user.email", email)):
        if value and has_control_character(value):
            raise Refused("bad_request", f"{name} contains control characters", field=name)
    traits = user.get("traits") or {}
    if not isinstance(traits, Mapping):
        raise Refused("bad_request", "user.traits must be an object", field="user.traits")
    if environment.identity_verification:
        signature = body.get("signature")
        if not signature:
            raise Refused(
                "signature_required",
                "identity verification is on: a call naming a user carries its signature",
                status=403,
                field="signature",
            )
        expected = identity_signature(environment.identity_secret, user_id=user_id, email=email)
        if (
            not isinstance(signature, str)
            or not SIGNATURE_RE.match(signature)
            or not hmac.compare_digest(expected, signature.lower())
        ):
            raise Refused(
                "signature_invalid",
                "the signature does not match the user the call names",
                status=403,
                field="signature",
            )
        # The signature covers one identifier. An unsigned email beside a signed id (or an
        # email trait, which identify would read as an identifier) could attach this user to
        # someone else's profile found by that email: under verification it is ignored.
        # Compared as traits_clean will read the key ("email\x00" is "email" once cleaned).
        traits = {k: v for k, v in traits.items() if clean_text(str(k)) != "email"}
        if user_id:
            email = None
    return Identity(anonymous_id=anonymous_id, user_id=user_id, email=email, traits=dict(traits))


def url_clean(value: Any, *, field: str = "url", required: bool = True) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Refused("bad_request", f"{field} is required", field=field)
    value = value.strip()
    if has_control_character(value):
        raise Refused("bad_request", f"{field} contains control characters", field=field)
    if len(value) > URL_MAX_LENGTH:
        raise Refused("bad_request", f"{field} is longer than {URL_MAX_LENGTH}", field=field)
    try:
        parts = urlsplit(value)
    except ValueError:  # "https://[::1/x", a netloc NFKC turns into another (U+FF03)
        raise Refused("bad_request", f"{field} is not a valid URL", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused("bad_request", f"{field} must be an absolute http(s) URL", field=field)
    return value


# --- Who is calling -------------------------------------------------------------------------------


def _identify(environment: Environment, identity: Identity) -> Profile:
    """The identified user's profile, written (traits, anonymous device merged)."""

    try:
        return profile_identify(
            environment=environment,
            user_id=identity.user_id,
            email=identity.email,
            anonymous_id=identity.anonymous_id,
            traits=identity.traits,
            source=ActivitySource.CLIENT,
        )
    except ValidationError as exc:
        key, messages = next(iter(exc.message_dict.items()))
        raise Refused("bad_request", f"{key}: {' '.join(messages)}", field=f"user.{key}") from None


def client_identify(
    *, environment: Environment, identity: Identity, version: Any = selectors.UNCHECKED
) -> Facts:
    """Facts about the caller. An anonymous caller is only looked up by the device id: nothing
    is written for them. An identified caller is written (identify: traits, the device's
    anonymous profile merged) unless the call would change nothing: the user is known, already
    linked to this device, and the call carries no traits (the usual page view, one SELECT).
    `version`: the environment's cache version the caller's state was read at; the first
    query raises selectors.Stale when it moved, before anything is written."""
    if not identity.identified:
        return selectors.facts_checked(
            version=version, environment_id=environment.pk, anonymous_id=identity.anonymous_id
        )
    facts = selectors.facts_checked(
        version=version,
        environment_id=environment.pk,
        user_id=identity.user_id,
        email=None if identity.user_id else identity.email,
    )
    known = (
        facts.profile_id is not None
        and facts.anonymous_id == identity.anonymous_id
        and not identity.traits
        and (identity.email is None or facts.email == identity.email)
    )
    if known:
        return facts
    profile = _identify(environment, identity)
    return selectors.facts_for(environment_id=environment.pk, profile_id=profile.pk)


def page_view_item(
    *, identity: Identity, url: str, referrer: str | None, title: str | None
) -> TrackItem:
    """An identified user's page view as a `$pageview` event (anonymous ones leave no trace)."""
    properties = {"url": url, "path": urlsplit(url).path or "/"}
    if referrer:
        properties["referrer"] = referrer[:URL_MAX_LENGTH]
    if title:
        properties["title"] = str(title)[:500]
    return track_item(
        event=PAGEVIEW_EVENT,
        user_id=identity.user_id,
        email=None if identity.user_id else identity.email,
        properties=properties,
    )


def page_view_append(
    *, environment: Environment, identity: Identity, item: TrackItem
) -> Append | None:
    """The page view as an append to the drain's queue, for the client API to make in the
    round trip that counts the call's rate limits (before client_identify runs); None when it
    is stored after identify instead: page views are written inline, or identify could still
    refuse the call (traits to check, identifiers it would not take), and a queued page view
    must never belong to a call answered with an error."""
    if identity.traits:
        return None
    try:
        clean_identifier(identity.user_id, field="id")
        clean_email(identity.email)
        clean_identifier(identity.anonymous_id, field="anonymous_id")
    except ValidationError:
        return None
    return queue_append(environment_id=environment.pk, item=item, source=ActivitySource.CLIENT)


def page_view_record(*, environment: Environment, item: TrackItem) -> None:
    """Store a page view: queued for the batched drain where Redis is set up (events/buffer.py),
    else now."""
    if not events_queue(environment=environment, item=item, source=ActivitySource.CLIENT):
        events_track(environment=environment, items=[item], source=ActivitySource.CLIENT)


def event_item(*, identity: Identity, name: str, properties: Mapping[str, Any] | None) -> Any:
    """The validated event of an identified user (None for an anonymous visitor: not stored)."""
    if not identity.identified:
        return None
    try:
        return track_item(
            event=name,
            user_id=identity.user_id,
            email=None if identity.user_id else identity.email,
            properties=dict(properties or {}),
        )
    except ValidationError as exc:
        key, messages = next(iter(exc.message_dict.items()))
        raise Refused("bad_request", f"{key}: {' '.join(messages)}", field=key) from None


def event_store(*, environment: Environment, item: TrackItem) -> None:
    events_track(environment=environment, items=[item], source=ActivitySource.CLIENT)


# --- Claiming a display ---------------------------------------------------------------------------


class NotEligible(Exception):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        gate = decision.failed
        super().__init__(gate.reason if gate else "not eligible")


def _lock_person(profile_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('hark:delivery:claim:' || %s, 0))",
            [profile_id],
        )


def display_claim(
    *,
    environment: Environment,
    survey: Survey,
    identity: Identity,
    url: str | None,
    locale: str = "",
    force: bool = False,
    settings: DeliverySettings | None = None,
    version: Any = selectors.UNCHECKED,
) -> Response:
    """Check the gates again and record the display (a web Response), or raise NotEligible.
    The returned response carries the `decision` that allowed it.

    An anonymous visitor is looked up first without writing: a refused claim leaves no trace;
    an accepted one creates the device's profile (its first row).

    `version`: the environment's cache version that `survey` and `settings` were read at (the
    client API's process snapshot); both reads of the person check it and raise
    selectors.Stale when it moved (the second one under the lock, so the gates are checked on
    what the database holds when the display is recorded)."""

    # The survey and its targeting as read by the caller (selectors.survey_with_targeting):
    # the person's history, which two tabs race on, is read again under the lock.
    [plan] = selectors.plans_for([survey])
    settings = settings or selectors.delivery_settings(environment.pk)

    def decide(facts: Facts) -> Decision:
        # No segment names: a refused claim answers with the gate's name only.
        ctx = Context(
            now=timezone.now(), url=url, throttle_days=settings.throttle_days, force=force
        )
        return evaluate(plan, facts, ctx)

    if identity.identified:
        facts = client_identify(environment=environment, identity=identity, version=version)
    else:
        facts = selectors.facts_checked(
            version=version, environment_id=environment.pk, anonymous_id=identity.anonymous_id
        )
    # A claim the gates refuse on this first read is refused at once, without the transaction
    # and the lock (most refused claims: a stale page, a second tab); only an eligible one is
    # decided again under the lock, where two claims meet.
    decision = decide(facts)
    if not decision.eligible:
        raise NotEligible(decision)
    if facts.profile_id is None:  # an anonymous visitor's first interaction: their profile
        facts.profile_id = profile_identify(
            environment=environment,
            anonymous_id=identity.anonymous_id,
            source=ActivitySource.CLIENT,
        ).pk
    assert facts.profile_id is not None
    profile = Profile(pk=facts.profile_id, environment_id=environment.pk)
    with transaction.atomic():
        _lock_person(profile.pk)
        facts = selectors.facts_checked(
            version=version, environment_id=environment.pk, profile_id=profile.pk
        )
        decision = decide(facts)
        if not decision.eligible:
            raise NotEligible(decision)
        context: dict[str, Any] = {}
        if url:
            context["url"] = url
        if force:
            context["forced"] = True
        survey.environment = environment
        response = response_record_view(
            survey=survey, profile=profile, channel=Channel.WEB, context=context, locale=locale
        )
    response.decision = decision  # type: ignore[attr-defined]
    response.cache_version = facts.cache_version  # type: ignore[attr-defined]
    return response


# --- A claimed display's steps --------------------------------------------------------------------


def _receipt(response: Response, key: str | None) -> AnswerReceipt | None:
    if not key:
        return None
    return AnswerReceipt.objects.filter(response=response, key=key).first()


def _keep_receipt(response: Response, key: str | None, result: dict[str, Any]) -> None:
    if key:
        AnswerReceipt.objects.create(response=response, key=key, result=result)


def idempotency_key_clean(value: Any, *, required: bool) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-:.]{8,64}", value):
        raise Refused(
            "bad_request",
            "idempotency_key is 8 to 64 letters, digits, '-', '_', ':' or '.'",
            field="idempotency_key",
        )
    return value


def display_answer(
    *, response: Response, question_key: Any, value: Any, idempotency_key: str
) -> dict[str, Any]:
    """Save one step: validate the answer, merge it, drop answers to questions no longer on the
    path, complete the response when the path ends. A retried key returns the first result."""

    with transaction.atomic():
        response = Response.objects.select_for_update().select_related("survey").get(pk=response.pk)
        done = _receipt(response, idempotency_key)
        if done is not None:
            return done.result
        questions = list(response.survey.questions.order_by("position", "id"))
        by_key = {q.key: q for q in questions}
        question = by_key.get(question_key) if isinstance(question_key, str) else None
        if question is None:
            raise Refused("bad_request", "not a question of this survey", field="question")
        try:
            cleaned = answer_rules.answer_clean(question, value)
        except ValidationError as exc:
            messages = exc.message_dict.get(question.key) or exc.messages
            raise Refused("bad_request", " ".join(messages), field=question.key) from None
        if cleaned is None and question.required and question.kind != "cta":
            raise Refused("bad_request", "an answer is required", field=question.key)
        following = next_question(questions, question, cleaned)
        # A skipped (or emptied) answer is taken back; answers off the new path go with it.
        response_save_answers(
            response=response,
            answers={question.key: cleaned} if cleaned is not None else {},
            complete=following is None,
            clear=[question.key] if cleaned is None else [],
        )
        result = {"next": following.key if following else None, "completed": following is None}
        _keep_receipt(response, idempotency_key, result)
        return result


def display_dismiss(*, response: Response) -> None:

    response_dismiss(response=response)


def display_complete(*, response: Response) -> None:

    response_save_answers(response=response, answers={}, complete=True)


def display_add_context(*, response: Response, data: Any) -> None:

    if not isinstance(data, Mapping):
        raise Refused("bad_request", "data must be an object", field="data")
    try:
        response_add_context(response=response, context=data)
    except ValidationError as exc:
        raise Refused("bad_request", " ".join(exc.messages), field="data") from None


# --- The dashboard's edits ------------------------------------------------------------------------


def _int_or_none(value: Any, field_name: str, minimum: int, maximum: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({field_name: ["must be a whole number"]}) from None
    if not minimum <= number <= maximum:
        raise ValidationError({field_name: [f"must be from {minimum} to {maximum}"]})
    return number


def targeting_defaults(survey: Survey) -> SurveyTargeting:
    return SurveyTargeting(survey=survey)


@transaction.atomic
def targeting_update(*, survey: Survey, values: Mapping[str, Any]) -> SurveyTargeting:
    """Validate and store a survey's targeting (ValidationError naming each bad field; nothing
    is written when any field is bad)."""

    targeting = SurveyTargeting.objects.filter(survey=survey).first() or targeting_defaults(survey)
    before = audit.snapshot(targeting, TARGETING_AUDIT_FIELDS)
    errors: dict[str, list[str]] = {}

    def pick(name: str, choices: Sequence[str]) -> str | None:
        value = values.get(name)
        if value is None:
            return None
        if value not in choices:
            errors[name] = ["is not one of the choices"]
            return None
        return str(value)

    def number(name: str, minimum: int, maximum: int) -> int | None:
        try:
            return _int_or_none(values.get(name), name, minimum, maximum)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            return None

    audience = pick("audience", Audience.values)
    match = pick("segment_match", SegmentMatch.values)
    trigger = pick("trigger", TriggerType.values)
    recurrence = pick("recurrence", Recurrence.values)
    seconds = number("trigger_seconds", 0, 86_400)
    nth = number("trigger_nth", 1, 1_000_000)
    percent = number("trigger_percent", 1, 100)
    days = number("recurrence_days", 1, 3650)
    most = number("recurrence_max", 1, 1000)
    sample = number("sample_percent", 0, 100)
    priority = number("priority", -1000, 1000)
    limit = number("response_limit", 1, 10_000_000)
    event = str(values.get("trigger_event") or "").strip()[:200]
    try:
        rules = page_rules_clean(values.get("page_rules", targeting.page_rules))
    except ValidationError as exc:
        errors.update(exc.message_dict)
        rules = []
    segment_ids: dict[str, list[int]] = {}
    for name in ("segments_include", "segments_exclude"):
        raw = values.get(name, getattr(targeting, name))
        try:
            ids = [int(v) for v in raw or []]
        except (TypeError, ValueError):
            errors[name] = ["unknown segment"]
            ids = []
        known = set(
            Segment.objects.filter(environment_id=survey.environment_id, pk__in=ids).values_list(
                "pk", flat=True
            )
        )
        if set(ids) - known:
            errors[name] = ["unknown segment"]
        segment_ids[name] = list(dict.fromkeys(ids))
    starts_at = values.get("starts_at", targeting.starts_at)
    ends_at = values.get("ends_at", targeting.ends_at)
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = ["ends after it starts"]

    trigger = trigger or targeting.trigger
    if trigger in ("delay", "session_delay") and seconds is None and "trigger" not in errors:
        errors["trigger_seconds"] = ["say after how many seconds"]
    if trigger == "event" and not event:
        errors["trigger_event"] = ["name the event"]
    recurrence = recurrence or targeting.recurrence
    if recurrence == "every" and days is None:
        errors["recurrence_days"] = ["say every how many days"]
    if errors:
        raise ValidationError(errors)

    targeting.audience = audience or targeting.audience
    targeting.segment_match = match or targeting.segment_match
    targeting.segments_include = segment_ids["segments_include"]
    targeting.segments_exclude = segment_ids["segments_exclude"]
    targeting.page_rules = rules
    targeting.trigger = trigger
    targeting.trigger_seconds = seconds if trigger in ("delay", "session_delay") else None
    targeting.trigger_event = event if trigger == "event" else ""
    targeting.trigger_nth = nth if trigger == "event" else None
    targeting.trigger_percent = (percent or 50) if trigger == "scroll" else None
    targeting.recurrence = recurrence
    targeting.recurrence_days = days if recurrence in ("every", "until_responded") else None
    targeting.recurrence_max = most if recurrence == "until_responded" else None
    if sample is not None:
        targeting.sample_percent = sample
    targeting.throttle_exempt = bool(values.get("throttle_exempt", targeting.throttle_exempt))
    if priority is not None:
        targeting.priority = priority
    targeting.starts_at = starts_at or None
    targeting.ends_at = ends_at or None
    targeting.response_limit = limit
    targeting.updated_at = timezone.now()
    targeting.save()
    old, new = audit.changes(before, audit.snapshot(targeting, TARGETING_AUDIT_FIELDS))
    if new:
        audit.record(None, "survey.update", survey, {"targeting": old}, {"targeting": new})
    return targeting


TARGETING_AUDIT_FIELDS = (
    "audience",
    "segment_match",
    "segments_include",
    "segments_exclude",
    "page_rules",
    "trigger",
    "trigger_seconds",
    "trigger_event",
    "trigger_nth",
    "trigger_percent",
    "recurrence",
    "recurrence_days",
    "recurrence_max",
    "sample_percent",
    "throttle_exempt",
    "priority",
    "starts_at",
    "ends_at",
    "response_limit",
)


def delivery_copy(*, source: Survey, target: Survey) -> None:
    """A duplicated survey gets the same targeting (with its own sampling salt: its sample is
    drawn anew) and translations."""

    targeting = SurveyTargeting.objects.filter(survey=source).first()
    if targeting is not None:
        targeting.pk = None
        targeting.survey = target
        targeting.sample_salt = _salt()
        targeting.updated_at = timezone.now()
        targeting._state.adding = True
        targeting.save(force_insert=True)
    SurveyTranslation.objects.bulk_create(
        SurveyTranslation(survey=target, locale=t.locale, texts=t.texts)
        for t in SurveyTranslation.objects.filter(survey=source)
    )


def targeting_resample(*, survey: Survey) -> SurveyTargeting:
    """A new sampling salt: everyone is drawn again."""

    targeting, _ = SurveyTargeting.objects.get_or_create(survey=survey)
    targeting.sample_salt = _salt()
    targeting.updated_at = timezone.now()
    targeting.save(update_fields=["sample_salt", "updated_at"])
    return targeting


HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")
FONT_RE = re.compile(r"^[A-Za-z0-9 ,\-'\"]{1,200}$")


def origins_clean(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split()
    origins: list[str] = []
    for raw in value or []:
        origin = str(raw).strip().rstrip("/").lower()
        if not origin:
            continue
        if not ORIGIN_RE.match(origin):
            raise ValidationError(
                {
                    "allowed_origins": [
                        f"“{origin[:100]}” is not an origin (https://app.example.com)"
                    ]
                }
            )
        if origin not in origins:
            origins.append(origin)
    return origins


def delivery_settings_update(
    *, environment: Environment, values: Mapping[str, Any]
) -> DeliverySettings:
    """Validate and store the environment's delivery settings (only the keys given)."""

    current = DeliverySettings.objects.filter(environment=environment).first() or (
        DeliverySettings(environment=environment)
    )
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    for name in (
        "brand_color",
        "text_color",
        "background_color",
        "dark_text_color",
        "dark_background_color",
    ):
        if name in values:
            color = str(values[name] or "").strip()
            if not HEX_COLOR_RE.match(color):
                errors[name] = ["a colour is # and six hex digits (#4f46e5)"]
            else:
                changes[name] = color.lower()
    if "font_family" in values:
        font = str(values["font_family"] or "").strip()
        if not FONT_RE.match(font):
            errors["font_family"] = ["font names, separated by commas"]
        else:
            changes["font_family"] = font
    for name, lo, hi in (("radius", 0, 32), ("throttle_days", 0, 365)):
        if name in values:
            try:
                changes[name] = _int_or_none(values[name], name, lo, hi) or 0
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if "position" in values:
        if values["position"] not in Position.values:
            errors["position"] = ["is not one of the choices"]
        else:
            changes["position"] = values["position"]
    if "color_scheme" in values:
        if values["color_scheme"] not in ColorScheme.values:
            errors["color_scheme"] = ["is not one of the choices"]
        else:
            changes["color_scheme"] = values["color_scheme"]
    if "allowed_origins" in values:
        try:
            changes["allowed_origins"] = origins_clean(values["allowed_origins"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "pageview_tracking" in values:
        changes["pageview_tracking"] = bool(values["pageview_tracking"])
    if errors:
        raise ValidationError(errors)
    changed = {k: v for k, v in changes.items() if getattr(current, k) != v}
    if not changed and current.pk and not current._state.adding:
        return current
    for key, value in changed.items():
        setattr(current, key, value)
    current.updated_at = timezone.now()
    current.save()
    return current


TRANSLATION_KEYS = (
    "title",
    "description",
    "low_label",
    "high_label",
    "placeholder",
    "button_label",
)


def translation_locale(value: str | None) -> str:
    """A language code in the form translations are stored under: "pt_BR" is "pt-br"."""
    return (value or "").strip().replace("_", "-").lower()


def translation_set(*, survey: Survey, locale: str, texts: Mapping[str, Any]) -> SurveyTranslation:
    """Store a survey's texts in `locale` (empty texts fall back to the default language)."""

    locale = translation_locale(locale)
    if not LOCALE_RE.match(locale):
        raise ValidationError({"locale": ["a language code such as de or pt-br"]})
    questions: dict[str, dict[str, Any]] = {}
    keys = set(survey.questions.values_list("key", flat=True))
    for key, item in (texts.get("questions") or {}).items():
        if key not in keys or not isinstance(item, Mapping):
            continue
        clean: dict[str, Any] = {
            k: str(item[k]).strip()[:500] for k in TRANSLATION_KEYS if item.get(k)
        }
        if isinstance(item.get("choices"), list):
            clean["choices"] = [str(c).strip()[:200] for c in item["choices"]]
        if clean:
            questions[key] = clean
    thank_you = {
        k: str(v).strip()[:500]
        for k, v in (texts.get("thank_you") or {}).items()
        if k in ("title", "message", "button_label") and v
    }
    _translation_refuse_nul(questions, thank_you)
    translation, _ = SurveyTranslation.objects.update_or_create(
        survey=survey,
        locale=locale,
        defaults={
            "texts": {"questions": questions, "thank_you": thank_you},
            "updated_at": timezone.now(),
        },
    )
    return translation


def _translation_refuse_nul(
    questions: Mapping[str, Mapping[str, Any]], thank_you: Mapping[str, str]
) -> None:
    """jsonb cannot store a NUL character (saving one was a 500, DataError): a text holding
    one is refused, keyed by its form field ("q1__title") and named in the message (the page
    shows the messages only), before anything is written."""
    fields = [
        (f"{key}__{name}", f"Question “{key}”", name, value)
        for key, item in questions.items()
        for name, value in item.items()
    ] + [(f"thank_you__{name}", "Thank-you step", name, text) for name, text in thank_you.items()]
    errors = {
        field: [f"{step}, {name.replace('_', ' ')}: a NUL character is not allowed."]
        for field, step, name, value in fields
        if "\x00" in ("".join(value) if isinstance(value, list) else value)
    }
    if errors:
        raise ValidationError(errors)


def translation_delete(*, survey: Survey, locale: str) -> None:
    """Remove the survey's translation in `locale` (a code that cannot be a language, say with
    a NUL, has none: nothing to look up)."""
    if LOCALE_RE.match(locale):
        SurveyTranslation.objects.filter(survey=survey, locale=locale).delete()


def when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
