"""Times as people say them: one helper for every "… ago" on the dashboard.

Django's `timesince` reads "0 minutes ago" for a moment ago and "8 hours, 1 minute ago" for
two units; a list of last-seen times reads better with one rounded-down unit and "just now".
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

# (seconds in the unit, singular, plural), largest first. Months and years are approximate
# (30 and 365 days), as in every "ago" people read.
_UNITS = (
    (365 * 86_400, "year", "years"),
    (30 * 86_400, "month", "months"),
    (7 * 86_400, "week", "weeks"),
    (86_400, "day", "days"),
    (3_600, "hour", "hours"),
    (60, "minute", "minutes"),
)
JUST_NOW_SECONDS = 60


def time_ago(value: datetime | date | None, now: datetime | None = None) -> str:
    """ "just now", "1 minute ago", "8 hours ago", "3 days ago"...: the largest whole unit,
    rounded down. A moment in the future (a clock a little ahead) is "just now" when close,
    else "in 2 hours". None is the empty string."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    now = now or timezone.now()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < JUST_NOW_SECONDS:
        return "just now"
    for size, one, many in _UNITS:
        if seconds >= size:
            count = seconds // size
            phrase = f"{count} {one if count == 1 else many}"
            return f"in {phrase}" if future else f"{phrase} ago"
    return "just now"  # unreachable: a minute is the smallest unit


__all__ = ["time_ago"]
