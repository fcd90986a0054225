"""The webhooks REST router (mounted at /api/v1/webhooks/): endpoints CRUD, secret rotation,
the delivery log (keyset pages) and replays. Same API-key auth as the rest of the API; every
lookup is scoped by the key's environment (another environment's uuid is 404). Service
validation errors become 400 JSON naming the field (api/errors.py's handlers)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status

from api.auth import key_environment
from api.errors import ERRORS_404

from . import selectors, services
from .models import Delivery, EndpointKind, WebhookEndpoint

router = Router(tags=["Webhooks"])

EventTypeName = Literal[
    "response.completed",
    "response.updated",
    "response.dismissed",
    "response.displayed",
    "contact.identified",
    "contact.deleted",
    "segment.entered",
    "segment.left",
    "survey.published",
    "survey.closed",
]


class EndpointIn(Schema):
    url: str = Field(..., max_length=2000)
    event_types: list[EventTypeName] | None = None
    description: str = Field("", max_length=300)
    kind: Literal["webhook", "segment"] = "webhook"
    write_key: str | None = Field(None, max_length=200, description="Segment destinations only")
    enabled: bool = True


class EndpointPatch(Schema):
    url: str | None = Field(None, max_length=2000)
    event_types: list[EventTypeName] | None = None
    description: str | None = Field(None, max_length=300)
    write_key: str | None = Field(None, max_length=200)
    enabled: bool | None = None


class EndpointOut(Schema):
    uuid: UUID
    kind: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    failing_since: datetime | None
    secret_hint: str
    created_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(..., description="Shown once: the signing secret (or write key)")


class SecretOut(Schema):
    secret: str
    previous_secret_expires_at: datetime | None


class DeliveryOut(Schema):
    id: int
    webhook_id: str
    event_type: str
    status: str
    attempt: int
    http_status: int | None
    latency_ms: int | None
    body_excerpt: str
    error: str
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    created_at: datetime


class DeliveryPage(Schema):
    results: list[DeliveryOut]
    next_before: int | None


class DeliveryQuery(Schema):
    status: Literal["pending", "failed", "succeeded", "gave_up"] | None = None
    before: int | None = Field(None, ge=1, description="Keyset: deliveries older than this id")
    limit: int = Field(50, ge=1, le=200)


class ReplayIn(Schema):
    since: datetime


def _endpoint(request: HttpRequest, uuid: UUID) -> WebhookEndpoint:
    endpoint = selectors.endpoint_by_uuid(environment=key_environment(request), uuid=uuid)
    if endpoint is None:
        raise Http404("No webhook endpoint with this uuid")
    return endpoint


def _out(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict:
    data = {
        "uuid": endpoint.uuid,
        "kind": endpoint.kind,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "secret_hint": endpoint.secret_hint,
        "created_at": endpoint.created_at,
    }
    if secret:
        data["secret"] = endpoint.secret
    return data


def _delivery_out(delivery: Delivery) -> dict:
    return {
        "id": delivery.pk,
        "webhook_id": f"msg_{delivery.event.uuid.hex}",
        "event_type": delivery.event.event_type,
        "status": delivery.status,
        "attempt": delivery.attempt,
        "http_status": delivery.http_status,
        "latency_ms": delivery.latency_ms,
        "body_excerpt": delivery.body_excerpt,
        "error": delivery.error,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "created_at": delivery.created_at,
    }


@router.get(
    "/",
    response={200: list[EndpointOut], **ERRORS_404},
    summary="List webhook endpoints",
)
def endpoints_list(request: HttpRequest):
    return [_out(e) for e in selectors.endpoints_for(environment=key_environment(request))]


@router.post(
    "/",
    response={201: EndpointWithSecret, **ERRORS_404},
    summary="Create a webhook endpoint (the secret is returned once)",
)
def endpoint_create(request: HttpRequest, payload: EndpointIn):
    endpoint = services.endpoint_create(
        environment=key_environment(request),
        url=payload.url,
        event_types=list(payload.event_types) if payload.event_types is not None else None,
        description=payload.description,
        kind=payload.kind,
        write_key=payload.write_key,
        enabled=payload.enabled,
    )
    return Status(201, _out(endpoint, secret=True))


@router.get(
    "/{uuid}",
    response={200: EndpointOut, **ERRORS_404},
    summary="One webhook endpoint",
)
def endpoint_detail(request: HttpRequest, uuid: UUID):
    return _out(_endpoint(request, uuid))


@router.patch(
    "/{uuid}",
    response={200: EndpointOut, **ERRORS_404},
    summary="Change an endpoint",
)
def endpoint_patch(request: HttpRequest, uuid: UUID, payload: EndpointPatch):
    endpoint = _endpoint(request, uuid)
    services.endpoint_update(
        endpoint=endpoint,
        url=payload.url,
        event_types=list(payload.event_types) if payload.event_types is not None else None,
        description=payload.description,
        enabled=payload.enabled,
        write_key=payload.write_key,
    )
    return _out(endpoint)


@router.delete(
    "/{uuid}",
    response={204: None, **ERRORS_404},
    summary="Delete an endpoint",
)
def endpoint_remove(request: HttpRequest, uuid: UUID):
    services.endpoint_delete(endpoint=_endpoint(request, uuid))
    return Status(204, None)


@router.post(
    "/{uuid}/rotate",
    response={200: SecretOut, **ERRORS_404},
    summary="Rotate the signing secret (the previous one keeps signing for 24 hours)",
)
def endpoint_rotate(request: HttpRequest, uuid: UUID):
    endpoint = _endpoint(request, uuid)
    if endpoint.kind != EndpointKind.WEBHOOK:
        return Status(
            400, {"error": "kind: only webhook endpoints have a signing secret", "field": "kind"}
        )
    secret = services.endpoint_rotate_secret(endpoint=endpoint)
    return {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}


@router.get(
    "/{uuid}/deliveries",
    response={200: DeliveryPage, **ERRORS_404},
    summary="The endpoint's deliveries, newest first (keyset pages: pass next_before)",
)
def deliveries(request: HttpRequest, uuid: UUID, query: Query[DeliveryQuery]):
    endpoint = _endpoint(request, uuid)
    rows, next_before = selectors.deliveries_page(
        endpoint=endpoint, status=query.status, before=query.before, limit=query.limit
    )
    return {"results": [_delivery_out(d) for d in rows], "next_before": next_before}


@router.post(
    "/{uuid}/deliveries/{delivery_id}/replay",
    response={202: DeliveryOut, **ERRORS_404},
    summary="Send a delivery's event again (same webhook-id)",
)
def delivery_replay(request: HttpRequest, uuid: UUID, delivery_id: int):
    endpoint = _endpoint(request, uuid)
    delivery = selectors.delivery_of(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No delivery with this id")
    replay = services.delivery_replay(delivery=delivery)
    replay.event = delivery.event
    return Status(202, _delivery_out(replay))


@router.post(
    "/{uuid}/replay-failed",
    response={202: dict, **ERRORS_404},
    summary="Replay every failed delivery since a time",
)
def replay_failed(request: HttpRequest, uuid: UUID, payload: ReplayIn):
    count = services.deliveries_replay_failed(
        endpoint=_endpoint(request, uuid), since=payload.since
    )
    return Status(202, {"replayed": count})


@router.post(
    "/{uuid}/test",
    response={202: DeliveryOut, **ERRORS_404},
    summary="Send a test event",
)
def send_test(request: HttpRequest, uuid: UUID):
    delivery = services.endpoint_send_test(endpoint=_endpoint(request, uuid))
    return Status(202, _delivery_out(delivery))
