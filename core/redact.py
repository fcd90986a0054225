"""Secrets never reach a log: query parameters that carry keys, signatures or tokens, the Basic
auth user name (the REST API accepts its key there), and the token of a set-password link.

One function, `redact`, used by both writers of request lines:
- gunicorn's access log: `RedactingGunicornLogger` (logger_class in config/gunicorn_conf.py)
  cleans the request line, query string, path, referrer and user atoms before formatting;
- Django's logging: `RedactSecretsFilter` on every handler of settings.LOGGING (runserver's
  request lines in `django.server`, `django.request`'s "Not Found: …", anything else).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

REDACTED = "[redacted]"

# Names compared lower-cased, after percent-decoding (Django decodes `api%5Fkey` to `api_key`).
SECRET_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "key",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "authorization",
        "signature",
        "sig",
        "hmac",
        "password",
        "passwd",
        "pass",
        "client_secret",
        "code",
    }
)
SECRET_SUFFIXES = ("_key", "_token", "_secret", "_signature", "_password", "-key", "-token")

# name=value pairs inside a URL or a query string; the value runs to the next separator, quote
# or whitespace (a log line goes on after it).
_PAIR = re.compile(r"(?P<lead>^|[?&;])(?P<name>[^=&;?#\s\"']+)=(?P<value>[^&;#\s\"']*)")
# /set-password/<uidb64>/<token>/: the token is the whole secret of an invitation (Django
# replaces it with the literal "set-password" after the first visit; that one may stay).
_PASSWORD_SET = re.compile(r"(/set-password/[^/\s?#\"']+/)(?!set-password/)([^/\s?#\"']+)")


def is_secret_param(name: str) -> bool:
    lowered = unquote_plus(name).strip().lower()
    return lowered in SECRET_PARAMS or lowered.endswith(SECRET_SUFFIXES)


def _pair(match: re.Match) -> str:
    if not match.group("value") or not is_secret_param(match.group("name")):
        return match.group(0)
    return f"{match.group('lead')}{match.group('name')}={REDACTED}"


def redact(text: str) -> str:
    """`text` (a URL, a query string, a request line, a log message) with secret values
    replaced by [redacted]."""
    if not text or ("=" not in text and "/set-password/" not in text):
        return text
    return _PASSWORD_SET.sub(rf"\1{REDACTED}", _PAIR.sub(_pair, text))


class RedactSecretsFilter(logging.Filter):
    """A handler filter: the record's message, formatted, then redacted (args are cleared so the
    handler's formatter prints the cleaned text). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _gunicorn_logger_base() -> type:

    return Logger


class RedactingGunicornLogger(_gunicorn_logger_base()):  # type: ignore[misc]
    """gunicorn's logger with the access-log atoms that can carry a secret cleaned: the request
    line (%(r)s), path (%(U)s), query (%(q)s), referrer (%(f)s), the Basic auth user (%(u)s,
    where API clients put their key) and the Authorization/Cookie request headers (%({…}i)s)."""

    def setup(self, cfg):
        # The error log too: at debug level gunicorn writes a malformed request line in full.
        super().setup(cfg)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.addFilter(RedactSecretsFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "f"):
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = redact(value)
        if atoms.get("u") not in (None, "-"):
            atoms["u"] = REDACTED
        for header in ("{authorization}i", "{cookie}i", "{x-api-key}i", "{proxy-authorization}i"):
            if atoms.get(header) not in (None, "-"):
                atoms[header] = REDACTED
        return atoms
