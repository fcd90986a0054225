"""Payloads (built once per event, lazily, on its first delivery) and the wire formats.

Every payload has the Standard Webhooks shape `{"type", "timestamp", "data"}`; `data` carries the
environment, the contact (id, uuid, user id, email) and, per type, the response with its survey
(question titles and answer labels), the segment, or the survey. The OpenAPI document's
`webhooks` section (webhooks/openapi.py) documents each with an example.

A Segment-compatible destination gets a `batch` of Segment calls instead: an `identify` with the
response-scope traits (the answers) and a `track` ("Survey Shown", "Survey Dismissed",
"Survey Completed", answers as properties), with the event's uuid as messageId (dedupe).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from environments.models import Environment
from profiles.models import Profile
from segments.models import Segment
from surveys.answers import value_label
from surveys.models import Response, Survey

from .models import EventType, OutboxEvent


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def contact_data(profile: Profile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "id": profile.user_id,
        "uuid": str(profile.uuid),
        "email": profile.email,
        "anonymous_id": profile.anonymous_id,
    }


def survey_data(survey: Survey) -> dict[str, Any]:
    return {
        "id": str(survey.uuid),
        "name": survey.name,
        "status": survey.status,
        "questions": [
            {"key": q.key, "title": q.title, "type": q.kind} for q in survey.questions.all()
        ],
    }


def response_data(response: Response) -> dict[str, Any]:
    questions = {q.key: q for q in response.survey.questions.all()}
    answers = []
    for key, value in response.data.items():
        question = questions.get(key)
        answers.append(
            {
                "key": key,
                "question": question.title if question else key,
                "value": value,
                "label": value_label(question, value) if question else str(value),
            }
        )
    return {
        "id": str(response.uuid),
        "channel": response.channel,
        "completed_at": _iso(response.completed_at),
        "dismissed_at": _iso(response.dismissed_at),
        "updated_at": _iso(response.updated_at),
        "answers": answers,
        "context": response.context,
        "locale": response.locale,
    }


def environment_data(environment: Environment) -> dict[str, Any]:
    return {"id": environment.slug, "name": environment.name}


def build_payload(event: OutboxEvent) -> dict[str, Any]:
    """The event's payload from the rows it refers to (as they are now)."""
    environment = Environment.objects.get(pk=event.environment_id)
    data: dict[str, Any] = {"environment": environment_data(environment)}
    profile = Profile.objects.filter(pk=event.profile_id).first() if event.profile_id else None
    kind = event.event_type
    if kind.startswith("response."):
        response = (
            Response.objects.select_related("survey", "profile")
            .filter(pk=event.data.get("response_id"), environment_id=event.environment_id)
            .first()
        )
        if response is not None:
            data["survey"] = survey_data(response.survey)
            data["response"] = response_data(response)
            profile = response.profile or profile
        data["contact"] = contact_data(profile)
    elif kind.startswith("segment."):
        segment = Segment.objects.filter(
            pk=event.data.get("segment_id"), environment_id=event.environment_id
        ).first()
        data["segment"] = {"id": str(segment.uuid), "name": segment.name} if segment else event.data
        data["contact"] = contact_data(profile)
    elif kind.startswith("survey."):
        survey = Survey.objects.filter(
            pk=event.data.get("survey_id"), environment_id=event.environment_id
        ).first()
        data["survey"] = survey_data(survey) if survey else event.data
    elif kind == EventType.CONTACT_DELETED:
        data["contact"] = event.data.get("contact")
    else:  # contact.identified
        data["contact"] = contact_data(profile)
        if event.data.get("merged_from"):
            data["merged_from"] = event.data["merged_from"]
        data["created"] = bool(event.data.get("created"))
    return {"type": kind, "timestamp": _iso(event.created_at), "data": data}


def webhook_id(event: OutboxEvent) -> str:
    return f"msg_{event.uuid.hex}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` (Standard Webhooks 1.0)."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }


SEGMENT_TRACK_NAMES: dict[str, str] = {
    EventType.RESPONSE_DISPLAYED: "Survey Shown",
    EventType.RESPONSE_DISMISSED: "Survey Dismissed",
    EventType.RESPONSE_COMPLETED: "Survey Completed",
}


def segment_batch(event: OutboxEvent, payload: dict[str, Any]) -> dict[str, Any]:
    """A Segment `batch` body for a response event: identify (answers as traits) + track."""
    data = payload["data"]
    contact = data.get("contact") or {}
    response = data.get("response") or {}
    survey = data.get("survey") or {}
    ids: dict[str, Any] = {}
    if contact.get("id"):
        ids["userId"] = contact["id"]
    ids["anonymousId"] = contact.get("anonymous_id") or contact.get("uuid") or str(event.uuid)
    answers = {a["key"]: a["value"] for a in response.get("answers", [])}
    properties = {
        "survey_id": survey.get("id"),
        "survey_name": survey.get("name"),
        "response_id": response.get("id"),
        **answers,
    }
    msg = webhook_id(event)
    batch: list[dict[str, Any]] = []
    if answers:
        traits = dict(answers)
        if contact.get("email"):
            traits["email"] = contact["email"]
        batch.append(
            {
                "type": "identify",
                "messageId": f"{msg}-identify",
                "timestamp": payload["timestamp"],
                "traits": traits,
                **ids,
            }
        )
    batch.append(
        {
            "type": "track",
            "messageId": msg,
            "timestamp": payload["timestamp"],
            "event": SEGMENT_TRACK_NAMES.get(event.event_type, event.event_type),
            "properties": properties,
            **ids,
        }
    )
    return {"batch": batch, "context": {"library": {"name": "hark", "version": "1.0"}}}


def segment_headers(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
