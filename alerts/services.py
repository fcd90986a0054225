"""Writes for team alerts: subscriptions, the sweep that matches them, delivery and digests.

Design (a durable queue without touching the response write path):

- **Sweep** (`alerts_sweep`, Celery beat every HARK_ALERTS_SWEEP_SECONDS): one INSERT ... SELECT
  per source matches every active immediate subscription against the completed responses (or
  the segment entries of segments_segmentmembershipchange) since the source's cursor minus a
  lookback window, and writes an AlertSent row per match with ON CONFLICT DO NOTHING on
  (subscription, kind, object). Set-based: one statement whatever the number of responses and
  subscriptions; profile conditions (segment membership, a trait) are the segments compiler's
  SQL, one correlated EXISTS per subscription that has them. The lookback re-reads recent rows
  every time, so a response committed after a later one (a long transaction, clocks apart) is
  still seen; the unique key makes re-reading free of duplicates. Responses completed before a
  subscription was created never alert on it.
- **Delivery** (`alerts_deliver`, right after each sweep): pending rows are claimed under a
  lease (UPDATE ... FOR UPDATE SKIP LOCKED), sent (email, Slack-compatible post), and marked
  sent; a failure is retried with backoff up to HARK_ALERTS_MAX_ATTEMPTS, each channel once (a
  failed Slack post does not resend the email). An alert whose message cannot be built fails
  that attempt alone, with its reason, like a failed post. A worker killed mid-delivery leaves
  its lease to expire; the next sweep claims the row again.
- **Digests** (`alerts_digests_run`, every 5 minutes): for each daily or weekly subscription,
  the last complete period (ending at HARK_ALERTS_DIGEST_HOUR in TIME_ZONE; weeks end on
  Monday) gets an AlertDigest row, unique per (subscription, period), then delivered as above.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Exists, Max, Model, OuterRef
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.utils import timezone

from core.querysql import delete_in_batches
from environments.models import Environment, Membership
from segments import rules as R
from segments.compiler import CompileContext, profiles_matching
from webhooks import http as outbound

from . import messages
from .models import (
    AlertCursor,
    AlertDigest,
    AlertSent,
    AlertSubscription,
    DeliveryStatus,
    Frequency,
    Trigger,
)

logger = logging.getLogger(__name__)

SWEEP_LOCK = (7_202_617, 1)
CLAIM_BATCH = 50
# Longer than a batch can take (each Slack post times out after 10 s, SMTP likewise).
LEASE = dt.timedelta(minutes=15)


# --- Subscriptions ------------------------------------------------------------------------------


def _trait_value(data_type: str, operator: str, raw: str) -> Any:

    raw = (raw or "").strip()
    if operator in R.SET_OPERATORS or data_type == R.BOOLEAN:
        return None
    if operator in R.TIME_WINDOW_DATE_OPERATORS:
        return int(raw) if raw.isdigit() else raw
    parts = [p.strip() for p in raw.split(",")]
    if data_type == R.NUMBER:

        def number(text: str) -> Any:
            try:
                value = float(text)
            except ValueError:
                return text
            return int(value) if value.is_integer() else value

        return [number(p) for p in parts] if operator == "between" else number(raw)
    if operator in ("in", "between"):
        return [p for p in parts if p]
    return raw


def subscription_rules(
    *,
    environment_id: int,
    trigger: str,
    segment: Any = None,
    trait_key: str = "",
    trait_operator: str = "",
    trait_value: str = "",
) -> dict[str, Any]:
    """The profile conditions of a subscription as a segments rule tree (validated by the
    segments rules module; errors keyed by the form's field names). {} when there is none."""

    conditions: list[dict[str, Any]] = []
    if segment is not None and trigger == Trigger.RESPONSE:
        conditions.append({"type": "segment", "segment": str(segment.uuid), "operator": "in"})
    if trait_key:
        data_type = R.TypeResolver(environment_id).resolve("profile", trait_key, None)
        if trait_operator not in R.OPERATORS[data_type]:
            raise ValidationError(
                {
                    "trait_operator": [
                        f"“{trait_key}” is a {data_type} trait: pick one of "
                        + ", ".join(R.OPERATORS[data_type].values())
                    ]
                }
            )
        condition: dict[str, Any] = {"type": "trait", "key": trait_key, "operator": trait_operator}
        value = _trait_value(data_type, trait_operator, trait_value)
        if value is not None:
            condition["value"] = value
        conditions.append(condition)
    if not conditions:
        return {}
    rules = {"op": "and", "conditions": conditions}
    try:
        R.validate_rules(rules, environment_id=environment_id)
    except ValidationError as exc:
        messages_ = [m for ms in exc.message_dict.values() for m in ms]
        raise ValidationError({"trait_value": messages_}) from exc
    return rules


SUBSCRIPTION_FIELDS = (
    "name",
    "trigger",
    "survey",
    "question_key",
    "score_min",
    "score_max",
    "segment",
    "trait_key",
    "trait_operator",
    "trait_value",
    "email",
    "slack_url",
    "frequency",
    "active",
)


def subscription_save(
    *,
    environment: Environment,
    user: Any,
    values: Mapping[str, Any],
    subscription: AlertSubscription | None = None,
) -> AlertSubscription:
    """Create (subscription None, for `user`) or update a subscription from cleaned form
    values. ValidationError (keyed by field) when the trait condition does not fit."""
    rules = subscription_rules(
        environment_id=environment.pk,
        trigger=values["trigger"],
        segment=values.get("segment"),
        trait_key=values.get("trait_key") or "",
        trait_operator=values.get("trait_operator") or "",
        trait_value=values.get("trait_value") or "",
    )
    if values.get("slack_url"):
        try:
            outbound.check_url(values["slack_url"])
        except outbound.UnsafeURL as exc:
            raise ValidationError({"slack_url": [f"This URL is refused: it {exc}."]}) from exc
    if subscription is None:
        subscription = AlertSubscription(environment=environment, user=user)
    changed = [f for f in SUBSCRIPTION_FIELDS if getattr(subscription, f) != values.get(f)]
    for field in SUBSCRIPTION_FIELDS:
        setattr(subscription, field, values.get(field))
    if subscription.pk is None:
        subscription.rules = rules
        subscription.save()
    elif changed or subscription.rules != rules:
        subscription.rules = rules
        subscription.save(update_fields=[*changed, "rules", "updated_at"])
    return subscription


def subscription_delete(*, subscription: AlertSubscription) -> None:
    subscription.delete()


# --- The sweep ----------------------------------------------------------------------------------

# The piece of the statement each source contributes: its table (aliased `o`), its time
# column and conditions, and the subscription filters that apply to it.
_SOURCES = {
    Trigger.RESPONSE: {
        "from": "surveys_response o ON o.environment_id = s.environment_id",
        "time": "o.completed_at",
        "where": """
            AND (s.survey_id IS NULL OR o.survey_id = s.survey_id)
            AND (s.question_key = '' OR o.data ? s.question_key)
            AND (s.score_min IS NULL OR (
                jsonb_typeof(o.data -> s.question_key) = 'number'
                AND (o.data ->> s.question_key)::numeric >= s.score_min))
            AND (s.score_max IS NULL OR (
                jsonb_typeof(o.data -> s.question_key) = 'number'
                AND (o.data ->> s.question_key)::numeric <= s.score_max))""",
    },
    Trigger.SEGMENT_ENTERED: {
        "from": "segments_segmentmembershipchange o ON o.segment_id = s.segment_id",
        "time": "o.at",
        "where": "AND o.change = 'entered'",
    },
}


def _profile_conditions(
    subscriptions: Iterable[AlertSubscription], now: dt.datetime
) -> tuple[str, list[Any]]:
    """SQL true when `o.profile_id` satisfies its subscription's rules: a CASE over the
    subscriptions with rules, each branch the segments compiler's query for the profile."""

    branches: list[str] = []
    params: list[Any] = []
    contexts: dict[int, CompileContext] = {}
    for subscription in subscriptions:
        ctx = contexts.setdefault(
            subscription.environment_id,
            CompileContext(environment_id=subscription.environment_id, now=now),
        )
        matching = profiles_matching(
            subscription.rules, environment_id=subscription.environment_id, context=ctx
        )
        sql, inner = (
            matching.filter(pk=RawSQL("o.profile_id", ()))
            .values("pk")
            .order_by()
            .query.sql_with_params()
        )
        branches.append(f"WHEN %s THEN EXISTS ({sql})")
        params += [subscription.pk, *inner]
    if not branches:
        return "s.rules = '{}'::jsonb", []
    return f"(s.rules = '{{}}'::jsonb OR CASE s.id {' '.join(branches)} ELSE FALSE END)", params


def _sweep_source(trigger: Trigger, now: dt.datetime, lookback: dt.timedelta) -> int:
    source = _SOURCES[trigger]
    # The advisory lock (alerts_sweep) makes the sweep the cursors' only writer.
    position = (
        AlertCursor.objects.filter(source=trigger).values_list("position", flat=True).first()
        or now - lookback
    )
    since = min(position, now) - lookback
    with_rules = list(
        AlertSubscription.objects.filter(
            active=True, trigger=trigger, frequency=Frequency.IMMEDIATE
        )
        .exclude(rules={})
        .only("id", "environment_id", "rules")
    )
    profile_sql, profile_params = _profile_conditions(with_rules, now)
    sql = f"""
        INSERT INTO alerts_alertsent
            (subscription_id, kind, object_id, profile_id, status, attempts, next_attempt_at,
             email_done, slack_done, last_error, created_at)
        SELECT s.id, %s, o.id, o.profile_id, 'pending', 0, %s, NOT s.email, s.slack_url = '',
               '', %s
        FROM alerts_alertsubscription s
        JOIN {source["from"]}
        WHERE s.active AND s.trigger = %s AND s.frequency = 'immediate'
          -- Only while its owner is still a member (a removed member is told nothing more).
          AND EXISTS (
              SELECT 1 FROM environments_membership m
              WHERE m.user_id = s.user_id AND m.environment_id = s.environment_id
          )
          AND {source["time"]} >= %s AND {source["time"]} <= %s
          AND {source["time"]} >= s.created_at
          {source["where"]}
          AND {profile_sql}
        ON CONFLICT (subscription_id, kind, object_id) DO NOTHING
    """
    params = [trigger, now, now, trigger, since, now, *profile_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount
        cursor.execute(
            "INSERT INTO alerts_alertcursor (source, position) VALUES (%s, %s) "
            "ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position",
            [trigger, now],
        )
    return inserted


def alerts_sweep(*, now: dt.datetime | None = None) -> int:
    """Match new completed responses and segment entries against the immediate subscriptions;
    returns the number of alerts queued. One sweep at a time (a transaction-level advisory
    lock: a second one exits at once)."""
    now = now or timezone.now()
    lookback = dt.timedelta(seconds=settings.HARK_ALERTS_LOOKBACK_SECONDS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", SWEEP_LOCK)
            if not cursor.fetchone()[0]:
                return 0
        return sum(_sweep_source(trigger, now, lookback) for trigger in _SOURCES)


# --- Delivery -----------------------------------------------------------------------------------


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 2 min, 8 min, 32 min, ... capped at 2 hours."""
    return dt.timedelta(seconds=min(30 * 4 ** max(attempts - 1, 0), 7200))


def _claim(model: type[Model], now: dt.datetime, limit: int) -> list[int]:
    """Lease up to `limit` due pending rows of `model` (skipping rows another worker holds);
    count the attempt. Committed at once, so a killed worker's lease simply expires."""
    table = model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # A row whose delivery kept dying (its worker killed, its lease lapsing) stops here.
        cursor.execute(
            f"UPDATE {table} SET status = 'failed', leased_until = NULL, "
            "last_error = 'delivery interrupted too many times' "
            "WHERE status = 'pending' AND attempts >= %s "
            "AND (leased_until IS NULL OR leased_until <= %s)",
            [settings.HARK_ALERTS_MAX_ATTEMPTS, now],
        )
        cursor.execute(
            f"""
            UPDATE {table} SET leased_until = %s, attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM {table}
                WHERE status = 'pending' AND next_attempt_at <= %s AND attempts < %s
                  AND (leased_until IS NULL OR leased_until <= %s)
                ORDER BY next_attempt_at, id
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """,
            [now + LEASE, now, settings.HARK_ALERTS_MAX_ATTEMPTS, now, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _send_email(*, to: str, subject: str, template: str, context: Mapping[str, Any]) -> None:
    text = render_to_string(f"alerts/email/{template}.txt", context)
    html = render_to_string(f"alerts/email/{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def _post_slack(url: str, payload: Mapping[str, Any]) -> str:
    """'' on a 2xx, else the reason."""
    result = outbound.post(
        url,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json"},
        timeout=10,
    )
    if result.error:
        return result.error
    if result.status is None or not 200 <= result.status < 300:
        return f"HTTP {result.status}: {result.body_excerpt[:200]}"
    return ""


def _finish(row: Any, errors: list[str], now: dt.datetime, fields: list[str]) -> None:
    row.leased_until = None
    if errors:
        row.last_error = "; ".join(errors)[:2000]
        if row.attempts >= settings.HARK_ALERTS_MAX_ATTEMPTS:
            row.status = DeliveryStatus.FAILED
        else:
            row.next_attempt_at = now + backoff(row.attempts)
    else:
        row.status = DeliveryStatus.SENT
        row.sent_at = now
        row.last_error = ""
    row.save(
        update_fields=[
            *fields,
            "leased_until",
            "last_error",
            "status",
            "next_attempt_at",
            "sent_at",
        ]
    )


def _deliver(row: Any, content: Mapping[str, Any] | None, template: str, now: dt.datetime) -> None:
    subscription = row.subscription
    errors: list[str] = []
    if content is None:
        # The response was deleted (a deleted user's data) before its alert went out.
        row.status = DeliveryStatus.FAILED
        row.leased_until = None
        row.last_error = "the response no longer exists"
        row.save(update_fields=["status", "leased_until", "last_error"])
        return
    if not row.email_done:
        try:
            _send_email(
                to=subscription.user.email,
                subject=content["subject"],
                template=template,
                context=content,
            )
            row.email_done = True
        except Exception as exc:  # SMTP errors of every kind: retried
            logger.warning("alerts: email for %s failed: %s", row, exc)
            errors.append(f"email: {exc}")
    if not row.slack_done:
        if not subscription.slack_url:
            row.slack_done = True
        else:
            try:
                error = _post_slack(subscription.slack_url, content["slack"])
            except Exception as exc:
                # post() reports failures in its result; should it raise all the same (a bug),
                # the email's progress is still saved (not sent again) and the batch goes on.
                logger.exception("alerts: Slack post for %s failed", row)
                error = f"{type(exc).__name__}: {exc}"
            if error:
                errors.append(f"slack: {error}")
            else:
                row.slack_done = True
    _finish(row, errors, now, ["email_done", "slack_done"])


def alerts_deliver(*, now: dt.datetime | None = None, limit: int = CLAIM_BATCH) -> int:
    """Deliver the due immediate alerts (one claimed batch); returns how many were tried."""
    now = now or timezone.now()
    ids = _claim(AlertSent, now, limit)
    if not ids:
        return 0
    rows = list(
        AlertSent.objects.filter(pk__in=ids).select_related(
            "subscription", "subscription__user", "subscription__environment"
        )
    )
    unbuilt: set[int] = set()
    try:
        contents = messages.alert_contents(rows)
    except Exception:
        # One alert that cannot be built must not hold up its batch (every row would keep its
        # lease, and fail at last as interrupted): built one at a time, a row that still fails
        # is a failed attempt with its reason, retried with backoff like a failed post.
        logger.exception("alerts: a batch of %d alerts could not be built", len(rows))
        contents = {}
        for row in rows:
            try:
                contents.update(messages.alert_contents([row]))
            except Exception as exc:
                logger.exception("alerts: alert %s could not be built", row.pk)
                _finish(row, [f"building the alert: {type(exc).__name__}: {exc}"], now, [])
                unbuilt.add(row.pk)
    for row in rows:
        if row.pk not in unbuilt:
            _deliver(row, contents.get(row.pk), "alert", now)
    return len(rows)


# --- Digests ------------------------------------------------------------------------------------


def digest_period(frequency: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last complete period at `now`: a day (or a week ending on Monday) ending at
    HARK_ALERTS_DIGEST_HOUR in TIME_ZONE. Local dates, so a period across a DST change is a
    calendar day (23 or 25 hours)."""
    local = timezone.localtime(now)
    hour = settings.HARK_ALERTS_DIGEST_HOUR
    end_day = local.date() if local.hour >= hour else local.date() - dt.timedelta(days=1)
    days = 1
    if frequency == Frequency.WEEKLY:
        end_day -= dt.timedelta(days=end_day.weekday())
        days = 7

    def at(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))

    return at(end_day - dt.timedelta(days=days)), at(end_day)


def digests_schedule(*, now: dt.datetime | None = None) -> int:
    """Queue each digest subscription's last complete period (once: unique per subscription
    and period start). A period never reaches back into one already sent: when the periods
    moved (TIME_ZONE or HARK_ALERTS_DIGEST_HOUR changed), it starts where the subscription's
    last digest ended, and is skipped when that digest covered it already (it was sent again,
    overlapping: the same responses reported twice)."""

    now = now or timezone.now()
    members = Membership.objects.filter(
        user_id=OuterRef("user_id"), environment_id=OuterRef("environment_id")
    )
    rows = []
    for frequency in (Frequency.DAILY, Frequency.WEEKLY):
        start, end = digest_period(frequency, now)
        for pk, last_end in (
            AlertSubscription.objects.filter(active=True, frequency=frequency, created_at__lt=end)
            .filter(Exists(members))
            .annotate(last_end=Max("digests__period_end"))
            .values_list("pk", "last_end")
        ):
            begins = max(start, last_end) if last_end else start
            if begins >= end:
                continue
            rows.append(
                AlertDigest(
                    subscription_id=pk,
                    period_start=begins,
                    period_end=end,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    created = AlertDigest.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def digests_deliver(*, now: dt.datetime | None = None, limit: int = CLAIM_BATCH) -> int:
    now = now or timezone.now()
    ids = _claim(AlertDigest, now, limit)
    rows = list(
        AlertDigest.objects.filter(pk__in=ids).select_related(
            "subscription", "subscription__user", "subscription__environment"
        )
    )
    for row in rows:
        try:
            content = messages.digest_content(row)
        except Exception as exc:  # one digest failing never holds up the others
            logger.exception("alerts: digest %s could not be built", row.pk)
            _finish(row, [f"building the digest: {type(exc).__name__}: {exc}"], now, [])
            continue
        _deliver(row, content, "digest", now)
    return len(rows)


def alerts_digests_run(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    digests_schedule(now=now)
    return digests_deliver(now=now)


def sent_log_purge(*, now: dt.datetime | None = None, batch: int = 2000) -> int:
    """Delete alerts and digests older than HARK_DELIVERY_LOG_DAYS that are done (sent or
    failed), `batch` rows per transaction; returns how many went. Safe for the sweep's
    once-only key: the sweep never looks back further than HARK_ALERTS_LOOKBACK_SECONDS, nor
    the digests further than their last period."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.HARK_DELIVERY_LOG_DAYS)
    done = (DeliveryStatus.SENT.value, DeliveryStatus.FAILED.value)
    total = 0
    for model in (AlertSent, AlertDigest):
        table = model._meta.db_table
        total += delete_in_batches(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "
            "WHERE created_at < %(cutoff)s AND status = ANY(%(done)s) ORDER BY id LIMIT %(batch)s)",
            {"cutoff": cutoff, "done": list(done)},
            batch,
        )
    return total
