"""Field types and limits the API's schemas share."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from pydantic import BeforeValidator, StrictInt, StrictStr

PAGE_LENGTH_MAX = 1000
PAGE_LENGTH_DEFAULT = 100

_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    """Dates and times as ISO-8601 strings, as documented (pydantic would also take numbers)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_START.match(value.strip()):
        raise ValueError("must be an ISO-8601 date or date-time (YYYY-MM-DD...)")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
# A user id is a string or an integer (not a boolean or a float, which pydantic would coerce).
UserId = StrictStr | StrictInt


def as_utc(value: datetime | None, field: str = "timestamp") -> datetime | None:
    """In UTC (naive means UTC). PostgreSQL refuses offsets beyond ±15:59 that ISO-8601 allows."""
    if value is None:
        return None
    if not timezone.is_aware(value):
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise DjangoValidationError({field: "is out of range"}) from exc
