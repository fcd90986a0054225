"""Survey link parameters: who is answering and what context comes with the response.

`/s/<public_id>/?id=42&email=ann@example.com&contact_plan=pro&response_source=newsletter
&locale=de&signature=<hex>` (see `parse_link_params`). Every problem raises LinkError with a
message meant for the respondent and the HTTP status of the page that shows it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import QueryDict

ID_PARAMS = ("id", "contact_id")
EMAIL_PARAMS = ("email", "contact_email")
CONTACT_PREFIX = "contact_"
RESPONSE_PREFIX = "response_"
# Parameters the survey pages use themselves; anything else unknown (utm_*, fbclid...) is ignored.
INTERNAL_PARAMS = ("r", "q", "step", "answer", "preview")
MAX_PREFIXED = 50
VALUE_MAX_LENGTH = 1000
ID_MAX_LENGTH = 255
EMAIL_MAX_LENGTH = 320
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$")
KEY_RE = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$.\-]{0,99}$")
SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{64}$")
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
    signed: bool = False

    @property
    def identified(self) -> bool:
        return bool(self.user_id or self.email)


def sign(secret: str, value: str) -> str:
    """The link signature: hex HMAC-SHA256 of the user id (or of the email when the link
    carries no id) with the environment's identity secret."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def _bad(message: str) -> LinkError:
    return LinkError("This link is not valid", message, 400)


def _single(query: QueryDict, name: str) -> str:
    values = query.getlist(name)
    if len(values) > 1:
        raise _bad(f"The parameter “{name}” appears more than once.")
    return values[0] if values else ""


def _text(name: str, value: str, max_length: int) -> str:
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise _bad(f"The parameter “{name}” contains control characters.")
    value = value.strip()
    if len(value) > max_length:
        raise _bad(f"The parameter “{name}” is longer than {max_length} characters.")
    return value


def _one_of(query: QueryDict, names: tuple[str, ...], max_length: int) -> str:
    found = {n: _text(n, _single(query, n), max_length) for n in names if n in query}
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
        params.email = email.lower()

    for name in query:
        if name in ID_PARAMS or name in EMAIL_PARAMS:
            continue
        for prefix, target in ((CONTACT_PREFIX, params.traits), (RESPONSE_PREFIX, params.context)):
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :]
            if not KEY_RE.match(key):
                raise _bad(
                    f"“{name[:120]}” is not a valid parameter name: after “{prefix}” come "
                    "letters, digits, '_', '-' or '.'."
                )
            target[key] = _text(name, _single(query, name), VALUE_MAX_LENGTH)
            if len(target) > MAX_PREFIXED:
                raise _bad(f"A link carries at most {MAX_PREFIXED} “{prefix}” parameters.")

    locale = _text("locale", _single(query, "locale"), 20)
    if locale and not LOCALE_RE.match(locale):
        raise _bad(f"“{locale}” is not a locale (use a language code such as en or pt-BR).")
    params.locale = locale

    signature = _text("signature", _single(query, "signature"), 200)
    if signature:
        if not params.identified:
            raise _bad("The link has a signature but no id or email to check it against.")
        signed_value = params.user_id or params.email or ""
        expected = sign(environment.identity_secret, signed_value)
        if not SIGNATURE_RE.match(signature) or not hmac.compare_digest(
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
    return params
