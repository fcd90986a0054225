"""JSON encoding on the ingestion path, with orjson: several times faster than the standard
library's json where a batch of 1,000 messages is checked and encoded on every call.

`dumps` writes what json.dumps writes (compactly, without escaping non-ASCII), but NaN and the
infinities as null (json.dumps would write NaN, which PostgreSQL refuses). What orjson would
encode its own way or not at all (dates, dataclasses, subclasses of the JSON types, keys that are
not strings, integers beyond 64 bits) goes through json.dumps, so the text is the same.

Parsing stays with json.loads: orjson reads an integer beyond 64 bits as a float (a numeric user
id would lose digits), and refuses NaN literals (which ingestion accepts and cleans) and lone
surrogates (which the APIs refuse naming the field, core.ingest); telling those bodies apart
first costs about what orjson saves.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def dumps_orjson(value: Any) -> bytes | None:
    """orjson's UTF-8 text of `value` where it is json.dumps's too (NaN and the infinities as
    null); None where dumps would go through json.dumps (or fail) instead."""
    try:
        return orjson.dumps(value, option=_STRICT)
    except orjson.JSONEncodeError:
        return None


def dumps(value: Any) -> str:
    """JSON text, for a query parameter. TypeError for what json.dumps cannot encode, ValueError
    for NaN where json.dumps has to write the value."""
    text = dumps_orjson(value)
    if text is not None:
        return text.decode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
