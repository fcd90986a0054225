"""Writes for webhooks: endpoints (create, update, rotate), fan-out, the drain, replays.

The drain (webhooks_drain, the Celery task, calls drain()):
1. fan-out: events not yet fanned out become one Delivery per enabled endpoint subscribed to
   their type (one INSERT ... SELECT per batch of events);
2. claim: a batch of due deliveries is leased (SELECT ... FOR UPDATE SKIP LOCKED, then
   lease_until = now + HARK_WEBHOOKS_LEASE_SECONDS, committed at once), so concurrent workers
   take different rows and a worker killed mid-delivery loses its lease: the delivery is taken
   again once the lease lapses, never lost. A delivery is claimable only when no earlier open
   delivery of the same contact to the same endpoint exists, so a contact's events arrive in
   the order they were created, across retries (deterministically: only the oldest open one
   of a contact can be claimed);
3. send: the payload is built once and stored on the event; the request is signed (Standard
   Webhooks) or formatted as a Segment batch; a 2xx succeeds, 410 disables the endpoint,
   anything else schedules the next attempt on the specification's schedule with jitter, and
   gives up after the last. A request that cannot be built (a payload the encoder refuses) or
   whose sending raises counts as such a failed attempt, its reason in the delivery log; a
   delivery taken as many times as it has attempts without any being recorded (workers killed
   mid-delivery) gives up at the next claim. An endpoint failing for 5 days in a row is
   disabled and its admins are emailed. Recording a result is guarded by the lease, so a worker
   whose lease lapsed cannot overwrite the newer attempt's result.
Receivers dedupe by webhook-id ("msg_" + the event's uuid), the same on every retry and replay.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets as pysecrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from core.ingest import has_control_character
from core.querysql import delete_in_batches
from environments.models import Environment, Membership, Role
from governance import audit

from . import http
from .models import (
    OPEN_STATUSES,
    SEGMENT_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
    Delivery,
    DeliveryStatus,
    EndpointKind,
    OutboxEvent,
    WebhookEndpoint,
)
from .outbox import kick_after_commit, pending_updates_flush
from .payloads import build_payload, segment_batch, segment_headers, webhook_headers, webhook_id

logger = logging.getLogger(__name__)

# Standard Webhooks' schedule: the delay before attempt n+1 after attempt n failed (seconds).
RETRY_SCHEDULE = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
MAX_ATTEMPTS = len(RETRY_SCHEDULE)
JITTER = 0.1  # +-10% of the delay
FAILING_DISABLE_AFTER = timedelta(days=5)
ROTATION_OVERLAP = timedelta(hours=24)
FANOUT_BATCH = 5000


def now() -> datetime:
    """The clock seam: every service reads the time through here or takes `now`."""
    return timezone.now()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(pysecrets.token_bytes(24)).decode()


# --- Endpoints ---------------------------------------------------------------------------------


def _clean(
    *,
    kind: str,
    url: str,
    event_types: list[str] | None,
    description: str,
    secret: str | None,
    stored_url: str | None = None,
) -> tuple[str, list[str], str]:
    """The endpoint's fields checked (ValidationError naming each field at fault). The URL is
    checked (resolved) only when it is new: an endpoint whose host stopped resolving, or now
    resolves to a private address, must still be disabled or described by its admins (delivery
    checks the address again before each request anyway)."""
    errors: dict[str, list[str]] = {}
    if kind not in EndpointKind.values:
        errors["kind"] = [f"must be one of {', '.join(EndpointKind.values)}"]
    url = (url or "").strip()
    if has_control_character(url):
        errors["url"] = ["must not contain control characters"]
    elif url != stored_url:
        try:
            http.check_url(url)
        except http.UnsafeURL as exc:
            errors["url"] = [str(exc)]
    # PostgreSQL refuses NUL in text: refused here, naming the field (the REST API has no
    # form field to do it, as the dashboard's forms do).
    if "\x00" in description:
        errors["description"] = ["must not contain NUL characters"]
    if secret is not None and has_control_character(secret):
        errors["write_key"] = ["must not contain control characters"]
    allowed = SEGMENT_EVENT_TYPES if kind == EndpointKind.SEGMENT else WEBHOOK_EVENT_TYPES
    if kind == EndpointKind.SEGMENT and not event_types:
        event_types = list(SEGMENT_EVENT_TYPES)
    types = list(dict.fromkeys(event_types or []))
    unknown = [t for t in types if t not in allowed]
    if unknown:
        errors["event_types"] = [f"unknown event type {unknown[0]!r}"]
    elif not types:
        errors["event_types"] = ["choose at least one event type"]
    if len(description) > 300:
        errors["description"] = ["at most 300 characters"]
    if kind == EndpointKind.SEGMENT and secret is not None and not secret.strip():
        errors["write_key"] = ["the destination's write key is required"]
    if errors:
        raise ValidationError(errors)
    return url, types, description.strip()


@transaction.atomic
def endpoint_create(
    *,
    environment: Environment,
    url: str,
    event_types: list[str] | None,
    description: str = "",
    kind: str = EndpointKind.WEBHOOK,
    write_key: str | None = None,
    enabled: bool = True,
    by: Any = None,
) -> WebhookEndpoint:
    """A new endpoint; a webhook gets a new `whsec_` secret, a Segment destination its key."""
    if kind == EndpointKind.SEGMENT:
        write_key = (write_key or "").strip()
        if not write_key:
            raise ValidationError({"write_key": ["the destination's write key is required"]})
    url, types, description = _clean(
        kind=kind, url=url, event_types=event_types, description=description, secret=write_key
    )
    endpoint = WebhookEndpoint.objects.create(
        environment=environment,
        kind=kind,
        url=url,
        event_types=types,
        description=description,
        enabled=enabled,
        secret=(write_key or "") if kind == EndpointKind.SEGMENT else new_secret(),
        created_by=by if getattr(by, "pk", None) else None,
    )
    audit.record(by, "webhook.create", endpoint, None, _audited(endpoint))
    return endpoint


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint: never its secret or write key."""
    return {
        "kind": endpoint.kind,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    write_key: str | None = None,
) -> WebhookEndpoint:
    new_url, types, new_description = _clean(
        kind=endpoint.kind,
        url=endpoint.url if url is None else url,
        event_types=endpoint.event_types if event_types is None else event_types,
        description=endpoint.description if description is None else description,
        secret=write_key,
        stored_url=endpoint.url,
    )
    before = _audited(endpoint)
    fields = []
    for name, value in (("url", new_url), ("event_types", types), ("description", new_description)):
        if getattr(endpoint, name) != value:
            setattr(endpoint, name, value)
            fields.append(name)
    if (
        write_key is not None
        and endpoint.kind == EndpointKind.SEGMENT
        and write_key.strip() != endpoint.secret
    ):
        endpoint.secret = write_key.strip()
        fields.append("secret")
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        fields.append("enabled")
        if enabled:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
            fields += ["failing_since", "disabled_reason"]
    if fields:
        endpoint.updated_at = now()
        endpoint.save(update_fields=[*fields, "updated_at"])
        after = _audited(endpoint)
        if "secret" in fields:
            before["write_key"], after["write_key"] = "(previous)", "(changed)"
        audit.record(None, "webhook.update", endpoint, before, after)
        if enabled:
            kick_after_commit()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, at: datetime | None = None) -> str:
    """A new secret; the current one keeps signing (beside it) for 24 hours. Returns it."""
    if endpoint.kind != EndpointKind.WEBHOOK:
        raise ValidationError({"kind": ["only webhook endpoints have a signing secret"]})
    at = at or now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = at + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    endpoint.updated_at = at
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    audit.record(None, "webhook.update", endpoint, {"secret": "(previous)"}, {"secret": "rotated"})
    return endpoint.secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    audit.record(None, "webhook.delete", endpoint, _audited(endpoint), None)
    endpoint.delete()


def _disable(endpoint_id: int, reason: str) -> bool:
    updated = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:300], updated_at=now()
    )
    return bool(updated)


def _email_admins(endpoint: WebhookEndpoint, reason: str) -> None:
    emails = list(
        Membership.objects.filter(environment_id=endpoint.environment_id, role=Role.ADMIN)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not emails:
        return
    send_mail(
        subject=f"Hark: webhook endpoint disabled ({endpoint.url[:80]})",
        message=(
            f"The webhook endpoint {endpoint.url} of {endpoint.environment.name} was disabled: "
            f"{reason}\n\nPending deliveries are kept; enable the endpoint again in Settings → "
            "Webhooks to resume them, or replay failed deliveries from its delivery log."
        ),
        from_email=None,
        recipient_list=emails,
        fail_silently=True,
    )


# --- Fan-out and drain --------------------------------------------------------------------------


def fan_out(*, limit: int = FANOUT_BATCH, at: datetime | None = None) -> int:
    """Deliveries for a batch of new events (one statement). Returns the events fanned out."""
    at = at or now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH batch AS (
                UPDATE webhooks_outboxevent o SET fanned_out = true
                WHERE o.id IN (
                    SELECT id FROM webhooks_outboxevent WHERE NOT fanned_out
                    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
                )
                RETURNING o.id, o.environment_id, o.event_type, o.contact_key
            ), inserted AS (
                INSERT INTO webhooks_delivery
                    (endpoint_id, event_id, contact_key, status, attempt, next_attempt_at,
                     body_excerpt, error, created_at)
                SELECT e.id, b.id, b.contact_key, 'pending', 0, %(at)s, '', '', %(at)s
                FROM batch b JOIN webhooks_webhookendpoint e
                  ON e.environment_id = b.environment_id AND e.enabled
                 AND b.event_type = ANY(e.event_types)
                ORDER BY b.id, e.id
            )
            SELECT count(*) FROM batch
            """,
            {"limit": limit, "at": at},
        )
        return cursor.fetchone()[0]


_CLAIM_SQL = """
WITH due AS (
    SELECT d.id, d.attempt FROM webhooks_delivery d
    JOIN webhooks_webhookendpoint e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= %(now)s
      AND (d.lease_until IS NULL OR d.lease_until < %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM webhooks_delivery p
          WHERE p.endpoint_id = d.endpoint_id AND p.contact_key = d.contact_key
            AND p.status IN ('pending', 'failed') AND p.event_id < d.event_id
      )
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
), interrupted AS (
    -- Every attempt taken and none recorded (each worker killed, each lease lapsed): given up
    -- here, or it would be taken forever and hold the contact's later events back for good.
    UPDATE webhooks_delivery d SET status = 'gave_up', lease_until = NULL,
           error = %(interrupted)s
    FROM due WHERE d.id = due.id AND due.attempt >= %(max_attempts)s
)
UPDATE webhooks_delivery d SET lease_until = %(lease)s, attempt = d.attempt + 1,
       last_attempt_at = %(now)s
FROM due WHERE d.id = due.id AND due.attempt < %(max_attempts)s
RETURNING d.id
"""
INTERRUPTED = "delivery interrupted too many times"


def claim(*, limit: int, at: datetime | None = None) -> tuple[list[int], datetime]:
    """Lease up to `limit` due deliveries (committed at once). Returns their ids and the lease."""
    at = at or now()
    lease = at + timedelta(seconds=settings.HARK_WEBHOOKS_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "now": at,
                "lease": lease,
                "limit": limit,
                "max_attempts": MAX_ATTEMPTS,
                "interrupted": INTERRUPTED,
            },
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids, lease


def next_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta | None:
    """Delay before the attempt after failed attempt number `attempt` (1-based); None: give up."""
    if attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[attempt]
    jitter = (rng or random).uniform(-JITTER, JITTER) * base
    return timedelta(seconds=base + jitter)


def _event_payload(event: OutboxEvent) -> dict[str, Any]:
    if event.payload is None:
        event.payload = build_payload(event)
        OutboxEvent.objects.filter(pk=event.pk, payload__isnull=True).update(payload=event.payload)
    return event.payload


def _encode(value: Any) -> bytes:
    """Sorted keys: the body is byte-identical on every retry and replay, whether the payload
    was just built or read back from its JSONB column (which reorders keys). An integer beyond
    64 bits (a response's context keeps numbers as sent) is refused by orjson: such a payload
    is written by the standard library, as compactly, in UTF-8 (the same event always takes the
    same path, so its retries stay byte-identical)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(
            value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
        return text.encode()


def request_for(delivery: Delivery, at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery's request."""
    event = delivery.event
    endpoint = delivery.endpoint
    payload = _event_payload(event)
    if endpoint.kind == EndpointKind.SEGMENT:
        return _encode(segment_batch(event, payload)), segment_headers(endpoint.secret)
    body = _encode(payload)
    headers = webhook_headers(
        endpoint.signing_secrets(at), webhook_id(event), int(at.timestamp()), body
    )
    return body, headers


def _not_sent(what: str, exc: Exception) -> http.Result:
    """The result of an attempt that failed before any answer (its request could not be built,
    or sending it raised): a failed attempt like a 500, retried on the schedule and then given
    up, with the reason in the delivery log. Never skipped: an attempt left unrecorded keeps
    its lease and is only taken again, and again, once the lease lapses."""
    return http.Result(None, "", 0, f"not sent: {what} ({type(exc).__name__}: {exc})"[:500])


def _post(delivery: Delivery, body: bytes, headers: dict[str, str]) -> http.Result:
    try:
        return http.post(delivery.endpoint.url, body, headers)
    except Exception as exc:  # post() reports failures in its Result; a bug must not sink a batch
        logger.exception("webhook delivery %s could not be sent", delivery.pk)
        return _not_sent("the request failed", exc)


def record_result(*, delivery: Delivery, lease: datetime, result: http.Result, at: datetime) -> str:
    endpoint = delivery.endpoint
    fields: dict[str, Any] = {
        "http_status": result.status,
        "latency_ms": result.latency_ms,
        "body_excerpt": result.body_excerpt.replace("\x00", ""),
        "error": result.error,
        "lease_until": None,
    }
    disable_reason = ""
    if result.ok:
        fields["status"] = DeliveryStatus.SUCCEEDED
    elif result.status == 410:
        fields["status"] = DeliveryStatus.GAVE_UP
        disable_reason = "The endpoint answered 410 Gone."
    else:
        delay = next_delay(delivery.attempt)
        if delay is None:
            fields["status"] = DeliveryStatus.GAVE_UP
        else:
            fields["status"] = DeliveryStatus.FAILED
            fields["next_attempt_at"] = at + delay
    with transaction.atomic():
        # No wait for the WAL flush: a result lost in a crash means one more send of the same
        # webhook-id, which receivers dedupe (at-least-once either way).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        updated = Delivery.objects.filter(pk=delivery.pk, lease_until=lease).update(**fields)
        if not updated:
            return "lost-lease"
        if result.ok:
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
                failing_since=at
            )
            failing_since = endpoint.failing_since or at
            if not disable_reason and at - failing_since >= FAILING_DISABLE_AFTER:
                disable_reason = "Every delivery failed for 5 days."
        if disable_reason and _disable(endpoint.pk, disable_reason):
            transaction.on_commit(lambda: _email_admins(endpoint, disable_reason))
    return fields["status"]


def _send_batch(ids: list[int], lease: datetime, at: datetime | None) -> None:
    """Send a leased batch: rows read in one query, requests built here (payloads need the
    database), the HTTP calls made concurrently by a few threads (a slow receiver does not hold
    the others up; per-contact order holds, as a batch has at most one delivery per contact and
    endpoint), then each result recorded."""
    deliveries = list(
        Delivery.objects.select_related("endpoint", "endpoint__environment", "event")
        .filter(pk__in=ids, lease_until=lease)
        .order_by("id")
    )
    prepared: list[tuple[Delivery, bytes, dict[str, str]]] = []
    for delivery in deliveries:
        try:
            body, headers = request_for(delivery, at or now())
        except Exception as exc:  # one delivery that cannot be built must not stall the others
            logger.exception("webhook delivery %s could not be built", delivery.pk)
            result = _not_sent("the request could not be built", exc)
            record_result(delivery=delivery, lease=lease, result=result, at=at or now())
            continue
        prepared.append((delivery, body, headers))
    if not prepared:
        return

    def send(item: tuple[Delivery, bytes, dict[str, str]]) -> http.Result:
        return _post(*item)

    threads = min(settings.HARK_WEBHOOKS_SEND_THREADS, len(prepared))
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(send, prepared))
    else:
        results = [send(item) for item in prepared]
    succeeded = []
    for (delivery, _, _), result in zip(prepared, results, strict=True):
        if result.ok:
            succeeded.append((delivery, result))
        else:
            record_result(delivery=delivery, lease=lease, result=result, at=at or now())
    if succeeded:
        _record_successes(succeeded, lease)


def _record_successes(items: list[tuple[Delivery, http.Result]], lease: datetime) -> None:
    """The batch's successes, and their endpoints' failing streaks ended, in one statement (the
    common case). The streaks are read in the database, not from the endpoints loaded with the
    batch: a failure of the same batch, recorded just before, may have started one."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")  # see record_result
        cursor.execute(
            """
            WITH done AS (
                UPDATE webhooks_delivery d
                SET status = 'succeeded', http_status = r.http_status,
                    latency_ms = r.latency_ms, body_excerpt = r.body_excerpt, error = '',
                    lease_until = NULL
                FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::text[])
                     AS r(id, http_status, latency_ms, body_excerpt)
                WHERE d.id = r.id AND d.lease_until = %s
                RETURNING d.endpoint_id
            )
            UPDATE webhooks_webhookendpoint e SET failing_since = NULL
            WHERE e.id IN (SELECT endpoint_id FROM done) AND e.failing_since IS NOT NULL
            """,
            [
                [d.pk for d, _ in items],
                [r.status for _, r in items],
                [r.latency_ms for _, r in items],
                [r.body_excerpt.replace("\x00", "") for _, r in items],
                lease,
            ],
        )


def drain(*, max_batches: int = 50, at: datetime | None = None) -> int:
    """Fan out new events, flush due debounced updates, send due deliveries batch by batch.
    Returns the deliveries attempted."""

    pending_updates_flush(now=at)
    while fan_out(at=at) >= FANOUT_BATCH:
        pass
    sent = 0
    for _ in range(max_batches):
        ids, lease = claim(limit=settings.HARK_WEBHOOKS_BATCH_SIZE, at=at)
        if not ids:
            break
        _send_batch(ids, lease, at)
        sent += len(ids)
    return sent


# --- Replays and test events ------------------------------------------------------------------


def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send a delivery's event again, as a new delivery (same webhook-id: receivers dedupe)."""
    replay = Delivery.objects.create(
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        contact_key=delivery.contact_key,
        replay_of=delivery,
        next_attempt_at=now(),
    )

    kick_after_commit()
    return replay


def deliveries_replay_failed(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Replay every delivery of the endpoint that failed or gave up since `since` (set-based)."""
    at = now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_delivery
                (endpoint_id, event_id, contact_key, status, attempt, next_attempt_at,
                 body_excerpt, error, created_at, replay_of_id)
            SELECT d.endpoint_id, d.event_id, d.contact_key, 'pending', 0, %(at)s, '', '',
                   %(at)s, d.id
            FROM webhooks_delivery d
            WHERE d.endpoint_id = %(endpoint)s AND d.status IN ('failed', 'gave_up')
              AND d.created_at >= %(since)s
            ORDER BY d.event_id
            """,
            {"endpoint": endpoint.pk, "since": since, "at": at},
        )
        count = cursor.rowcount
        # The failed ones being retried anyway now stop: their replay takes over.
        Delivery.objects.filter(
            endpoint=endpoint, status=DeliveryStatus.FAILED, created_at__gte=since
        ).exclude(replay_of__isnull=False, created_at=at).update(status=DeliveryStatus.GAVE_UP)

    kick_after_commit()
    return count


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """A `webhook.test`-style event sent to this endpoint only (a survey.published-shaped
    payload naming the endpoint's environment, `"test": true`)."""
    event = OutboxEvent.objects.create(
        environment_id=endpoint.environment_id,
        event_type=endpoint.event_types[0] if endpoint.event_types else "survey.published",
        data={"test": True},
        fanned_out=True,
    )
    event.refresh_from_db()
    event.payload = {
        "type": event.event_type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "test": True,
            "environment": {
                "id": endpoint.environment.slug,
                "name": endpoint.environment.name,
            },
        },
    }
    event.save(update_fields=["payload"])
    delivery = Delivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=now())

    kick_after_commit()
    return delivery


PURGE_BATCH = 2000


def delivery_log_purge(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete the outbox events older than HARK_DELIVERY_LOG_DAYS whose deliveries are all
    finished (succeeded or given up), with those deliveries, `batch` events per transaction;
    returns how many events went. An event still waiting for a delivery stays, however old.
    Walked in id order (ids follow creation), so each batch reads the oldest rows only."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HARK_DELIVERY_LOG_DAYS)
    return delete_in_batches(
        """
        WITH doomed AS (
            SELECT o.id FROM webhooks_outboxevent o
            WHERE o.created_at < %(cutoff)s AND o.fanned_out AND NOT EXISTS (
                SELECT 1 FROM webhooks_delivery d
                WHERE d.event_id = o.id AND d.status = ANY(%(open)s)
            )
            ORDER BY o.id LIMIT %(batch)s
        ),
        deliveries AS (
            DELETE FROM webhooks_delivery d USING doomed WHERE d.event_id = doomed.id
        )
        DELETE FROM webhooks_outboxevent o USING doomed WHERE o.id = doomed.id
        """,
        {"cutoff": cutoff, "open": list(OPEN_STATUSES)},
        batch,
    )


__all__ = [
    "MAX_ATTEMPTS",
    "OPEN_STATUSES",
    "RETRY_SCHEDULE",
    "claim",
    "deliveries_replay_failed",
    "delivery_log_purge",
    "delivery_replay",
    "drain",
    "endpoint_create",
    "endpoint_rotate_secret",
    "endpoint_send_test",
    "endpoint_update",
    "fan_out",
]
