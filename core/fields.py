"""Form fields shared by the dashboard's apps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# A day inside each end of the calendar: a time stored between these reads back, and shows,
# in any time zone (UTC offsets are under a day).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


class CalendarDateTimeField(forms.DateTimeField):
    """A DateTimeField whose value stays a day inside the years Python's datetime holds. Taken
    in the current time zone, 9999-12-31 23:59 west of UTC is in the year 10000 in UTC:
    PostgreSQL stores it, and reading it back raised (a 500), as did saving a time whose
    conversion to UTC fell before the year 1."""

    default_error_messages = {
        "calendar": "Enter a date between 0001-01-02 and 9999-12-30.",
    }

    def to_python(self, value: Any) -> datetime | None:
        try:
            result = super().to_python(value)
        except OverflowError:  # make_aware beyond the calendar
            raise ValidationError(self.error_messages["calendar"], code="calendar") from None
        if result is None:
            return None
        try:
            in_utc = result.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["calendar"], code="calendar") from None
        if not EARLIEST <= in_utc <= LATEST:
            raise ValidationError(self.error_messages["calendar"], code="calendar")
        return result
