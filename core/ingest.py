"""The ingestion helpers every app shares (REST API, Segment-compatible calls, the web client,
survey links, imports): cleaning identifiers, emails, timestamps, text and JSON values as they
come in, the one canonical form of an email address, finding invalid Unicode in a JSON body,
and the commit mode of ingestion's writes.

Emails. Hark stores, compares and signs an email in one form, `canonical_email`: surrounding
whitespace removed, then lower-cased with Python's `str.lower()` (Unicode-aware, the whole
address: local part and domain). `AU3@EX.COM`, ` au3@ex.com ` and `au3@ex.com` are one person
everywhere: identify, track, contact lookups, survey links, email surveys, segment imports.

Lone surrogates. JSON may spell a UTF-16 surrogate on its own (`"\\ud800"`), which is not a
character: it cannot be stored (PostgreSQL takes UTF-8) and no honest client sends one. A body
holding one is refused, naming the field, before anything is written. Checking costs a byte
search per body; the walk that names the field runs only when the search finds an escape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import fastjson

ID_MAX_LENGTH = 255
EMAIL_MAX_LENGTH = 320
# Strings in stored JSON (traits, properties, answers) and nesting, as they come.
JSON_STRING_MAX_LENGTH = 10_000
MAX_NESTING = 20

# A \uD800-\uDFFF escape in JSON text (either case). Surrogate pairs match too (an escaped emoji
# from a client that escapes non-ASCII): the walk then finds nothing wrong.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


def has_control_character(text: str) -> bool:
    """Whether the text holds a control character (NUL included): refused in identifiers and
    URLs, which are stored as given and never silently changed."""
    return _CONTROL_CHARACTER.search(text) is not None


def canonical_email(value: str) -> str:
    """The form every email is stored, compared and signed in: stripped, lower-cased."""
    return value.strip().lower()


# --- Cleaning values ---------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """PostgreSQL refuses NUL in text and jsonb, and a lone surrogate cannot be encoded as UTF-8:
    drop the first, replace the second, so odd input is stored instead of raising."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _plain_copy(value: dict | list) -> dict | list | None:
    """The document as plain JSON values, when it certainly needs no other cleaning, judged from
    its JSON text (orjson, C speed): short enough that no string can exceed the limit, shallow,
    no NUL, no lone surrogate, string keys, no integer beyond 64 bits. Read back, NaN and the
    infinities are None and a UUID its text, as the walk below makes them. None: take the walk."""
    text = fastjson.dumps_orjson(value)
    if (
        text is None
        or len(text) > JSON_STRING_MAX_LENGTH  # bytes: at least as many as characters
        or b"\\u0000" in text
        or text.count(b"[") + text.count(b"{") > MAX_NESTING
    ):
        return None
    return orjson.loads(text)


def clean_json(value: Any, *, field: str, depth: int = 0) -> Any:
    """A JSON value made safe for jsonb: NUL-free strings of bounded length, finite numbers."""
    if depth == 0 and isinstance(value, dict | list):
        plain = _plain_copy(value)
        if plain is not None:
            return plain
    if depth > MAX_NESTING:
        raise ValidationError({field: f"is nested deeper than {MAX_NESTING} levels"})
    if isinstance(value, str):
        value = clean_text(value)
        if len(value) > JSON_STRING_MAX_LENGTH:
            raise ValidationError({field: f"is longer than {JSON_STRING_MAX_LENGTH:,} characters"})
        return value
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {
            clean_text(str(k)): clean_json(v, field=f"{field}.{k}", depth=depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean_json(v, field=f"{field}[{i}]", depth=depth + 1) for i, v in enumerate(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return clean_text(str(value))


def clean_identifier(value: Any, *, field: str, max_length: int = ID_MAX_LENGTH) -> str | None:
    """An id as sent by a client (string or number) made into a stored string, or None.

    Stripped of surrounding blanks, otherwise stored as given: an id holding a control
    character (NUL included) is refused rather than cleaned, since cleaning would make
    "u\\x001" the same person as "u1"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError({field: "must be a string or a number"})
    text = str(value).strip()
    if has_control_character(text):
        raise ValidationError({field: "contains control characters"})
    text = clean_text(text)
    if not text:
        return None
    if len(text) > max_length:
        raise ValidationError({field: f"is longer than {max_length} characters"})
    return text


def clean_email(value: Any, *, field: str = "email") -> str | None:
    """An email as sent by a client, in its canonical form (canonical_email), or None. Every
    email Hark stores or matches goes through it."""
    text = clean_identifier(value, field=field, max_length=EMAIL_MAX_LENGTH)
    return canonical_email(text) if text else None


def utc(at: datetime, *, field: str) -> datetime:
    """A time in UTC (naive means UTC); ValidationError naming `field` when out of range.
    PostgreSQL refuses some offsets ISO-8601 allows (beyond +-15:59), so offsets go first."""
    if not timezone.is_aware(at):
        return at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValidationError({field: "is out of range"}) from exc


# --- Commit mode -------------------------------------------------------------------------------

# A CTE for single-statement writes run in autocommit: SET LOCAL from inside the statement, so
# its implicit transaction commits without waiting for the WAL flush (see
# ingest_transaction_setup). The final SELECT must reference `commit_mode` (CROSS JOIN) for
# PostgreSQL to evaluate it.
COMMIT_MODE_CTE = (
    "commit_mode AS (SELECT set_config('synchronous_commit', "
    "COALESCE(%(synchronous_commit)s, current_setting('synchronous_commit')), true))"
)


def synchronous_ingest() -> bool:
    """The HARK_INGEST_SYNCHRONOUS_COMMIT setting (default off)."""
    return bool(settings.HARK_INGEST_SYNCHRONOUS_COMMIT)


def commit_mode() -> str | None:
    """The value for COMMIT_MODE_CTE's parameter: "off", or None to keep the server's."""
    return None if synchronous_ingest() else "off"


def ingest_transaction_setup(cursor: Any) -> None:
    """Ingestion transactions commit without waiting for the WAL flush (unless
    HARK_INGEST_SYNCHRONOUS_COMMIT is on): a fsync per call would cap throughput at the disk's
    flush rate. A PostgreSQL crash may lose the last fraction of a second of acknowledged
    calls; the database itself stays consistent. Dashboard writes are not affected."""
    if not synchronous_ingest():
        cursor.execute("SET LOCAL synchronous_commit TO off")


# --- Unicode in JSON bodies --------------------------------------------------------------------


def may_hold_surrogate(body: bytes) -> bool:
    """Whether a JSON body spells a surrogate escape (cheap; `lone_surrogate_field` decides)."""
    return _SURROGATE_ESCAPE.search(body) is not None


def _bad(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogate_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in a parsed JSON value holding a lone
    surrogate, or None. A key at fault is named with the surrogate spelled `\\udXXX`."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if _bad(item):
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{_shown(str(key))}" if where else _shown(str(key))
                if isinstance(key, str) and _bad(key):
                    return name
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
    return None
