"""Export a contact's data (the right of access): everything Hark holds on one person as one
JSON document, written piece by piece so a contact with a million events exports in constant
memory.

The document: the profile and its traits; segment memberships and their history; survey
responses with their display times (shown, dismissed, completed), each answer with its
question's title and its label as the Response List reads it (surveys.answers.value_label);
events; then `other_records`: the rows of every other table that refers to the contact
(governance/references.py finds them by foreign key, so a table added later is exported
without being listed here), and `other_references` for registered non-FK references.

Big sections are read through server-side cursors in chunks: events (the bulk) as JSON text
built by PostgreSQL, the rest through QuerySet.iterator, encoded row by row; output is yielded
in ~64 KB pieces (benchmarks/export.py: the heap's peak stays ~3 MB from 10,000 to 100,000
events). The one read that is not bounded by a chunk is
the set of questions of the surveys the contact answered (small: a survey's questions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from events.models import Event, EventDefinition
from profiles.models import Profile
from segments.models import SegmentMembership, SegmentMembershipChange
from surveys.answers import value_label
from surveys.models import Question, Response

from .references import extra_references, profile_references

FORMAT = "hark.contact-export/1"
CHUNK_ROWS = 2000
FLUSH_BYTES = 65536

# Tables exported in their own sections (the rest go to other_records).
EXPLICIT = {
    "events.Event",
    "surveys.Response",
    "segments.SegmentMembership",
    "segments.SegmentMembershipChange",
}

_encoder = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dump(value: Any) -> str:
    return _encoder.encode(value)


def _array(rows: Iterable[Any]) -> Iterator[str]:
    """A JSON array, one encoded row at a time."""
    yield "["
    first = True
    for row in rows:
        yield ("" if first else ",") + _dump(row)
        first = False
    yield "]"


def _profile_section(profile: Profile) -> dict[str, Any]:
    return {
        "uuid": profile.uuid,
        "user_id": profile.user_id,
        "email": profile.email,
        "anonymous_id": profile.anonymous_id,
        "first_seen_at": profile.first_seen_at,
        "last_seen_at": profile.last_seen_at,
        "display_name": profile.display_name,
    }


def _memberships(profile: Profile) -> Iterator[dict[str, Any]]:

    rows = (
        SegmentMembership.objects.filter(profile_id=profile.pk)
        .order_by("segment__name", "id")
        .values_list("segment__uuid", "segment__name", "since")
    )
    for segment_uuid, name, since in rows.iterator(chunk_size=CHUNK_ROWS):
        yield {"segment": segment_uuid, "segment_name": name, "since": since}


def _history(profile: Profile) -> Iterator[dict[str, Any]]:

    rows = (
        SegmentMembershipChange.objects.filter(profile_id=profile.pk)
        .order_by("at", "id")
        .values_list("segment__uuid", "segment__name", "change", "at")
    )
    for segment_uuid, name, change, at in rows.iterator(chunk_size=CHUNK_ROWS):
        yield {"segment": segment_uuid, "segment_name": name, "change": change, "at": at}


def _responses(profile: Profile) -> Iterator[dict[str, Any]]:

    responses = (
        Response.objects.filter(profile_id=profile.pk, environment_id=profile.environment_id)
        .select_related("survey")
        .order_by("created_at", "id")
    )
    questions: dict[int, dict[str, Question]] = {}
    for response in responses.iterator(chunk_size=CHUNK_ROWS):
        if response.survey_id not in questions:
            questions[response.survey_id] = {
                q.key: q
                for q in Question.objects.filter(survey_id=response.survey_id).only(
                    "survey_id", "key", "kind", "title", "config", "position"
                )
            }
        by_key = questions[response.survey_id]
        answers = []
        for key, value in (response.data or {}).items():
            question = by_key.get(key)
            answers.append(
                {
                    "question_key": key,
                    "question_title": question.title if question else None,
                    "value": value,
                    "label": value_label(question, value) if question else None,
                }
            )
        yield {
            "uuid": response.uuid,
            "survey": response.survey.uuid,
            "survey_name": response.survey.name,
            "channel": response.channel,
            "status": response.status,
            "created_at": response.created_at,
            "updated_at": response.updated_at,
            # The survey's displays to this person (delivery): when first and last shown, how
            # often, and when answered, dismissed or completed.
            "display": {
                "first_shown_at": response.first_shown_at,
                "last_shown_at": response.last_shown_at,
                "show_count": response.show_count,
                "first_data_at": response.first_data_at,
                "last_data_at": response.last_data_at,
                "dismissed_at": response.dismissed_at,
                "completed_at": response.completed_at,
            },
            "locale": response.locale,
            "external_id": response.external_id,
            "context": response.context,
            "answers": answers,
        }


def _events(profile: Profile) -> Iterator[str]:
    """The events as JSON text made by PostgreSQL (json_build_object), read through a
    server-side cursor CHUNK_ROWS at a time: no row is parsed into Python objects and encoded
    again, the bulk of a large export (about 5x faster than through the ORM)."""

    sql = f"""
        SELECT json_build_object(
            'event', d.name, 'timestamp', e.timestamp, 'received_at', e.received_at,
            'message_id', e.message_id, 'properties', e.properties)::text
        FROM {Event._meta.db_table} e
        JOIN {EventDefinition._meta.db_table} d ON d.id = e.definition_id
        WHERE e.profile_id = %s AND e.environment_id = %s
        ORDER BY e.timestamp, e.id
    """
    yield "["
    first = True
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [profile.pk, profile.environment_id])
        while rows := cursor.fetchmany(CHUNK_ROWS):
            text = ",".join(row[0] for row in rows)
            yield text if first else "," + text
            first = False
    yield "]"


def _other_records(profile: Profile) -> Iterator[str]:
    yield "{"
    first = True
    for ref in profile_references():
        if ref.label in EXPLICIT and ref.depth == 1:
            continue
        name = ref.label if ref.depth == 1 else f"{ref.label} (via {ref.lookup})"
        yield ("" if first else ",") + _dump(name) + ":"
        first = False
        yield from _array(ref.queryset(profile.pk).order_by("pk").values().iterator(CHUNK_ROWS))
    yield "}"


def _other_references(profile: Profile) -> Iterator[str]:
    yield "{"
    first = True
    for extra in extra_references():
        if extra.export is None:
            continue
        yield ("" if first else ",") + _dump(extra.name) + ":"
        first = False
        yield from _array(extra.export(profile))
    yield "}"


def _pieces(profile: Profile) -> Iterator[str]:
    environment = profile.environment
    yield "{" + f'"format":{_dump(FORMAT)},"exported_at":{_dump(timezone.now())}'
    yield f',"environment":{_dump({"uuid": environment.uuid, "name": environment.name})}'
    yield f',"profile":{_dump(_profile_section(profile))}'
    yield f',"traits":{_dump(profile.traits or {})}'
    yield ',"segment_memberships":'
    yield from _array(_memberships(profile))
    yield ',"segment_membership_history":'
    yield from _array(_history(profile))
    yield ',"responses":'
    yield from _array(_responses(profile))
    yield ',"events":'
    yield from _events(profile)
    yield ',"other_records":'
    yield from _other_records(profile)
    yield ',"other_references":'
    yield from _other_references(profile)
    yield "}\n"


def contact_export_stream(*, profile: Profile) -> Iterator[bytes]:
    """The export document as UTF-8 pieces of about FLUSH_BYTES."""
    buffer: list[str] = []
    size = 0
    for piece in _pieces(profile):
        buffer.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def export_filename(profile: Profile) -> str:
    return f"hark-contact-{profile.uuid}.json"
