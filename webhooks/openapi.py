"""The OpenAPI document's `webhooks` section (OpenAPI 3.1): each event type's payload schema,
with an example, so receivers can generate their types from the same document as the API."""

from __future__ import annotations

from typing import Any

from .models import WEBHOOK_EVENT_TYPES, EventType

_CONTACT = {
    "type": ["object", "null"],
    "properties": {
        "id": {"type": ["string", "null"], "description": "The team's own user id"},
        "uuid": {"type": "string", "format": "uuid"},
        "email": {"type": ["string", "null"]},
        "anonymous_id": {"type": ["string", "null"]},
    },
}
_ENVIRONMENT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
_SURVEY = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "status": {"type": "string"},
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "title": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
_RESPONSE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "channel": {"type": "string"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "dismissed_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "question": {"type": "string", "description": "The question's title"},
                    "value": {},
                    "label": {"type": "string", "description": "The answer as people read it"},
                },
            },
        },
        "context": {"type": "object"},
        "locale": {"type": "string"},
    },
}
_SEGMENT = {
    "type": "object",
    "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}},
}

_ENV_EX = {"id": "acme", "name": "Acme"}
_CONTACT_EX = {
    "id": "user-42",
    "uuid": "6f1c2a4e-8d0b-4c55-9a3e-2b7d1f0c9e11",
    "email": "ann@example.com",
    "anonymous_id": None,
}
_SURVEY_EX = {
    "id": "0b6f0c7e-1d2a-4f3b-8c9d-5e6f7a8b9c0d",
    "name": "Onboarding NPS",
    "status": "live",
    "questions": [{"key": "score", "title": "How likely are you to recommend us?", "type": "nps"}],
}
_RESPONSE_EX = {
    "id": "3c9e1f2a-4b5d-4e6f-8a7b-9c0d1e2f3a4b",
    "channel": "web",
    "completed_at": "2026-12-04T05:00:00Z",
    "dismissed_at": None,
    "updated_at": "2026-12-04T05:00:00Z",
    "answers": [
        {
            "key": "score",
            "question": "How likely are you to recommend us?",
            "value": 3,
            "label": "3",
        }
    ],
    "context": {"url": "https://app.example.com/billing"},
    "locale": "en",
}


def _data_schema(event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    props: dict[str, Any] = {"environment": _ENVIRONMENT}
    example: dict[str, Any] = {"environment": _ENV_EX}
    if event_type.startswith("response."):
        props |= {"survey": _SURVEY, "response": _RESPONSE, "contact": _CONTACT}
        example |= {"survey": _SURVEY_EX, "response": _RESPONSE_EX, "contact": _CONTACT_EX}
    elif event_type.startswith("segment."):
        props |= {"segment": _SEGMENT, "contact": _CONTACT}
        example |= {
            "segment": {"id": _SURVEY_EX["id"], "name": "Churn risk"},
            "contact": _CONTACT_EX,
        }
    elif event_type.startswith("survey."):
        props |= {"survey": _SURVEY}
        example |= {"survey": _SURVEY_EX}
    elif event_type == EventType.CONTACT_IDENTIFIED:
        props |= {
            "contact": _CONTACT,
            "created": {"type": "boolean"},
            "merged_from": {
                "type": "string",
                "description": "uuid of the merged anonymous contact",
            },
        }
        example |= {"contact": _CONTACT_EX, "created": True}
    else:
        props |= {"contact": _CONTACT}
        example |= {"contact": _CONTACT_EX}
    return {"type": "object", "properties": props}, example


def webhooks_section() -> dict[str, Any]:
    section: dict[str, Any] = {}
    for event_type in WEBHOOK_EVENT_TYPES:
        data_schema, data_example = _data_schema(event_type)
        schema = {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "const": event_type},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": data_schema,
            },
        }
        example = {"type": event_type, "timestamp": "2026-12-04T05:00:00Z", "data": data_example}
        section[event_type] = {
            "post": {
                "summary": EventType(event_type).label,
                "description": (
                    "Sent with the Standard Webhooks headers webhook-id (the same on every "
                    "retry: dedupe on it), webhook-timestamp and webhook-signature."
                ),
                "operationId": "webhook_" + event_type.replace(".", "_"),
                "tags": ["Webhooks"],
                "requestBody": {
                    "content": {"application/json": {"schema": schema, "example": example}}
                },
                "responses": {"2XX": {"description": "Received (anything else is retried)"}},
                "security": [],
            }
        }
    return section


def install(api: Any) -> None:
    """Add the section to `api`'s generated document."""
    original = api.get_openapi_schema

    def get_openapi_schema(*args: Any, **kwargs: Any) -> Any:
        schema = original(*args, **kwargs)
        schema["webhooks"] = webhooks_section()
        return schema

    api.get_openapi_schema = get_openapi_schema
