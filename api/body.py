"""Request bodies: gunzipped when sent compressed (bounded), read as JSON, and refused when a
string holds a lone surrogate (it could not be stored)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja.parser import Parser

from core.ingest import lone_surrogate_field, may_hold_surrogate

MAX_BODY_BYTES = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE: larger bodies get 413


def decode_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip (bounded, so a small
    compressed body cannot inflate past the limit). Raises RequestDataTooBig or ValueError."""
    body = request.body
    if request.headers.get("Content-Encoding", "").strip().lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ValueError("Body is not valid gzip") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise RequestDataTooBig("Request body too large once decompressed")
    return body


def loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def loads_checked(body: bytes) -> Any:
    """`loads`, refusing a lone surrogate anywhere in the document (ValidationError naming the
    field): it could not be stored, and nothing of the call is written."""
    value = loads(body)
    if may_hold_surrogate(body):
        field = lone_surrogate_field(value)
        if field is not None:
            raise DjangoValidationError({field: "is not valid Unicode (a lone surrogate)"})
    return value


class HarkParser(Parser):
    """Ninja turns any exception of `parse_body` into a 400 "Cannot parse request body";
    the HttpError handler (api/errors.py) looks at its cause to answer 413 for a body too large
    once decompressed, and a field-naming 400 for invalid Unicode."""

    def parse_body(self, request: HttpRequest) -> Any:
        return loads_checked(decode_body(request))
