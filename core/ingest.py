"""Checks shared by every way data comes in (REST API, Segment-compatible calls, survey links):
the one canonical form of an email address, and finding invalid Unicode in a JSON body.

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

import re
from typing import Any

# A \uD800-\uDFFF escape in JSON text (either case). Surrogate pairs match too (an escaped emoji
# from a client that escapes non-ASCII): the walk then finds nothing wrong.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def canonical_email(value: str) -> str:
    """The form every email is stored, compared and signed in: stripped, lower-cased."""
    return value.strip().lower()


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
