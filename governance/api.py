"""REST: export a contact's data (`GET /api/v1/contact/export`), mounted in config/api.py.

The API's own key authentication; a contact of another environment is 404, as everywhere.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router, Schema
from pydantic import ConfigDict

from api.auth import key_environment
from api.errors import ERRORS_404, Error, error_response
from profiles.selectors import contact_get

from . import audit
from .export import contact_export_stream, export_filename

router = Router(tags=["Contacts"])


class ContactExport(Schema):
    """The export document (governance/export.py describes every section)."""

    model_config = ConfigDict(extra="allow")

    format: str
    exported_at: str
    profile: dict
    traits: dict
    segment_memberships: list
    segment_membership_history: list
    responses: list
    events: list
    other_records: dict
    other_references: dict


RESPONSES = {
    200: ContactExport,
    **ERRORS_404,
    422: Error,
}

IDENTIFIERS = ("id", "email", "uuid")


def _unprocessable(request: HttpRequest, message: str, field: str) -> HttpResponse:
    return error_response(
        request,
        422,
        f"{field}: {message}",
        field=field,
        errors=[{"field": field, "message": message}],
    )


@router.get("/export", response=RESPONSES, summary="Export a contact's data")
def contact_export(
    request: HttpRequest, id: str | None = None, email: str | None = None, uuid: str | None = None
) -> HttpResponse | StreamingHttpResponse:
    """Everything Hark holds on one contact as one JSON document (profile, traits, events,
    responses with question titles and answer labels, segment memberships and their history,
    survey displays, and every other row that refers to the contact), streamed. Exactly one of
    `id`, `email` or `uuid`; else 422 naming the field."""
    given = [name for name, value in (("id", id), ("email", email), ("uuid", uuid)) if value]
    if len(given) != 1:
        field = given[1] if len(given) > 1 else "id"
        message = (
            "send exactly one of id, email or uuid" if given else "send one of id, email or uuid"
        )
        return _unprocessable(request, message, field)
    parsed_uuid = None
    if uuid:
        try:
            parsed_uuid = UUID(uuid.strip())
        except ValueError:
            return _unprocessable(request, "is not a valid uuid", "uuid")
    profile = contact_get(
        environment_id=key_environment(request).pk, user_id=id, email=email, uuid=parsed_uuid
    )
    audit.record(
        request,
        "contact.export",
        ("contact", profile.uuid, profile.display_name),
        environment=profile.environment_id,
        after={"via": "api"},
    )
    response = StreamingHttpResponse(
        contact_export_stream(profile=profile), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(profile)}"'
    return response
