"""Survey link parameters: who is answering and what context comes with the response.

`/s/<public_id>/?id=42&email=ann@example.com&contact_plan=pro&response_source=newsletter
&locale=de&expires=1767225600&signature=<hex>` (see `parse_link_params`). Every problem raises
LinkError with a message meant for the respondent and the HTTP status of the page that shows it.

Signatures (identity verification). A link's signature covers every parameter that says who
the respondent is: the user id, the email (in its canonical form, core.ingest.canonical_email)
and the expiry, joined by newlines in that order, leaving out those the link does not carry
(`signed_message`). A link naming only an id (or only an email) is signed exactly as before
this rule, so links already sent keep working; a link whose signature covers the id alone can no
longer bring an email with it (the attack: a link signed for `u-attacker` plus
`email=victim@example.com` attached the attacker's id to the victim's profile). No part can
pose as another: an id may not hold a control character, an email always holds "@" and an
expiry never does. `contact_` traits and `response_` context are not signed: they write only to
the profile the signature names (see README, "Identity verification").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import QueryDict

from core.ingest import EMAIL_MAX_LENGTH, ID_MAX_LENGTH, canonical_email

ID_PARAMS = ("id", "contact_id")
EMAIL_PARAMS = ("email", "contact_email")
CONTACT_PREFIX = "contact_"
RESPONSE_PREFIX = "response_"
# Parameters the survey pages use themselves; anything else unknown (utm_*, fbclid...) is ignored.
INTERNAL_PARAMS = ("r", "q", "step", "answer", "preview")
MAX_PREFIXED = 50
VALUE_MAX_LENGTH = 1000
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$")
KEY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$.\-]{0,99}$")
SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{64}$")
EXPIRES_PARAM = "expires"
# Unix time in whole seconds: at most 12 digits (the year 33658), so never a giant int() parse.
EXPIRES_RE = re.compile(r"^[0-9]{1,12}$")
ANONYMOUS_COOKIE = "hark_aid"
ANONYMOUS_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")


class LinkError(Exception):
    def __init__(self, title: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


@dataclass
class LinkParams:
    user_id: str | None = None
    email: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    locale: str = ""
    expires: int | None = None
    signed: bool = False

    @property
    def identified(self) -> bool:
        return bool(self.user_id or self.email)


def sign(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of `message` (see signed_message) with the environment's identity
    secret."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_message(
    *, user_id: str | None = None, email: str | None = None, expires: int | None = None
) -> str:
    """What a link's signature is made from: the id, the canonical email and the expiry (Unix
    seconds) that the link carries, in this order, joined by "\n". An id alone is the id; an
    email alone is the email."""
    parts = [user_id or "", canonical_email(email) if email else "", str(expires or "")]
    return "\n".join(part for part in parts if part)


def link_signature(
    secret: str,
    *,
    user_id: str | None = None,
    email: str | None = None,
    expires: int | None = None,
) -> str:
    """The `signature` parameter for a link naming this respondent (and expiring then)."""
    return sign(secret, signed_message(user_id=user_id, email=email, expires=expires))


def _bad(message: str) -> LinkError:
    return LinkError("This link is not valid", message, 400)


def _single(query: QueryDict, name: str) -> str:
    values = query.getlist(name)
    if len(values) > 1:
        raise _bad(f"The parameter “{name}” appears more than once.")
    return values[0] if values else ""


def _text(name: str, value: str, max_length: int, *, identifier: bool = False) -> str:
    # An identifier (id, email) holds no control character at all: the newline separates the
    # parts of a signed message.
    allowed = "" if identifier else "\t\n\r"
    if any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value):
        raise _bad(f"The parameter “{name}” contains control characters.")
    value = value.strip()
    if len(value) > max_length:
        raise _bad(f"The parameter “{name}” is longer than {max_length} characters.")
    return value


def _one_of(query: QueryDict, names: tuple[str, ...], max_length: int) -> str:
    found = {
        n: _text(n, _single(query, n), max_length, identifier=True) for n in names if n in query
    }
    values = {v for v in found.values() if v}
    if len(values) > 1:
        raise _bad(f"The parameters {' and '.join(found)} disagree.")
    return values.pop() if values else ""


def parse_link_params(query: QueryDict, *, environment: Any) -> LinkParams:
    """Read and check the parameters of a survey link (raises LinkError)."""
    params = LinkParams()
    params.user_id = _one_of(query, ID_PARAMS, ID_MAX_LENGTH) or None
    email = _one_of(query, EMAIL_PARAMS, EMAIL_MAX_LENGTH)
    if email:
        # A "+" in an email that was not URL-encoded by the mail provider arrives as a space.
        email = email.replace(" ", "+")
        try:
            validate_email(email)
        except ValidationError:
            raise _bad(f"“{email}” is not a valid email address.") from None
        params.email = canonical_email(email)

    for name in query:
        if name in ID_PARAMS or name in EMAIL_PARAMS:
            continue
        for prefix, target in ((CONTACT_PREFIX, params.traits), (RESPONSE_PREFIX, params.context)):
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :]
            if not KEY_RE.fullmatch(key):
                raise _bad(
                    f"“{name[:120]}” is not a valid parameter name: after “{prefix}” come "
                    "letters, digits, '_', '-' or '.'."
                )
            target[key] = _text(name, _single(query, name), VALUE_MAX_LENGTH)
            if len(target) > MAX_PREFIXED:
                raise _bad(f"A link carries at most {MAX_PREFIXED} “{prefix}” parameters.")

    locale = _text("locale", _single(query, "locale"), 20)
    if locale and not LOCALE_RE.fullmatch(locale):
        raise _bad(f"“{locale}” is not a locale (use a language code such as en or pt-BR).")
    params.locale = locale

    expires = _text(EXPIRES_PARAM, _single(query, EXPIRES_PARAM), 20, identifier=True)
    if expires:
        if not EXPIRES_RE.fullmatch(expires):
            raise _bad(
                f"“{expires[:40]}” is not an expiry time (Unix time in seconds, such as "
                "1767225600)."
            )
        params.expires = int(expires)

    signature = _text("signature", _single(query, "signature"), 200, identifier=True)
    if signature:
        if not params.identified:
            raise _bad("The link has a signature but no id or email to check it against.")
        expected = link_signature(
            environment.identity_secret,
            user_id=params.user_id,
            email=params.email,
            expires=params.expires,
        )
        if not SIGNATURE_RE.fullmatch(signature) or not hmac.compare_digest(
            expected, signature.lower()
        ):
            raise LinkError(
                "This link could not be verified",
                "Its signature does not match the respondent it names. Ask the sender for a "
                "new link.",
                403,
            )
        params.signed = True
    elif environment.identity_verification and (params.identified or params.traits):
        # Unsigned contact traits would land on whatever profile the device cookie points at,
        # which may be an identified person: under verification they need a signature too.
        raise LinkError(
            "This link could not be verified",
            "This survey only accepts signed links that identify the respondent, and this link "
            "has no signature. Ask the sender for a new link.",
            403,
        )
    # Checked after the signature, so a forged expiry is reported as such, not as expired.
    if params.expires is not None and params.expires <= time.time():
        raise LinkError(
            "This link has expired",
            "It was valid for a limited time only. Ask the sender for a new link.",
            410,
        )
    return params
