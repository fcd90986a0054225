"""One-time form tokens: a resubmitted form acts once.

A form whose POST creates something or rotates a secret (and every confirmation of a destructive
action) carries a random token in the field `once` ({% once_field %}). The first POST with a
token acts; the same page sent again (Reload on the answer, which browsers resubmit after asking,
or a double click) is recognised and changes nothing. Those answers show a secret once and are
not redirected, so a resubmission would otherwise create a second API key, or rotate a webhook
secret a second time and end the 24 hours in which the receiver's secret still signs.

The tokens used are kept in the member's session (the last KEEP): no secret is stored. A POST
without a token (a form from before this field, a test client) acts as before.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

FIELD = "once"
SESSION_KEY = "hark_once_used"
KEEP = 50


def once_field() -> SafeString:
    """The hidden input carrying a new token."""
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FIELD, secrets.token_urlsafe(12)
    )


def once_repeated(request: HttpRequest) -> bool:
    """Whether this POST's token was used already (the form was sent before); marks it used."""
    token = request.POST.get(FIELD, "")
    if not token or not hasattr(request, "session"):
        return False
    used = list(request.session.get(SESSION_KEY, []))
    if token in used:
        return True
    request.session[SESSION_KEY] = [*used, token][-KEEP:]
    return False
