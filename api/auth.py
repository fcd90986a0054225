"""API key authentication, shared by the REST API and the Segment-compatible endpoints.

A key is sent as `Authorization: Bearer KEY`, as HTTP Basic with the key as user name and an
empty password (what Segment libraries do with their write key), or as an `api_key` parameter.
"""

from __future__ import annotations

import binascii
import time
from base64 import b64decode

from django.http import HttpRequest
from ninja.security import APIKeyQuery, HttpBasicAuth, HttpBearer

from environments.models import ApiKey, Environment
from environments.services import api_key_authenticate, api_key_touch
from governance import audit

from .ratelimit import rate_limit_check


class AuthFailed(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def credentials_from_header(value: str) -> str | None:
    """The key in an Authorization header (Bearer or Basic), None if the scheme is unknown.
    Raises AuthFailed for a Basic value that does not decode."""
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme == "bearer":
        return rest
    if scheme == "basic":
        try:
            decoded = b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise AuthFailed("Malformed Basic credentials") from exc
        return decoded.partition(":")[0]
    return None


# Keys found valid are remembered in the process for a few seconds: the lookup (an ORM query
# with its environment) was a third of a tracking call's CPU. A revoked key stops working
# within this delay. Unknown secrets are never cached (no memory growth from bad input).
KEY_CACHE_SECONDS = 5.0
_KEY_CACHE_MAX = 1000
_key_cache: dict[str, tuple[float, ApiKey]] = {}


def _lookup(secret: str) -> ApiKey | None:
    now = time.monotonic()
    cached = _key_cache.get(secret)
    if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
        return cached[1]
    api_key = api_key_authenticate(secret=secret)
    if api_key is None:
        _key_cache.pop(secret, None)
        return None
    if len(_key_cache) >= _KEY_CACHE_MAX:
        _key_cache.clear()
    _key_cache[secret] = (now, api_key)
    return api_key


def authenticate_secret(request: HttpRequest, secret: str | None) -> ApiKey:
    """The active key for `secret`, rate-limited and recorded; raises AuthFailed / RateLimited."""
    if not secret:
        raise AuthFailed("Missing API key")
    api_key = _lookup(secret.strip())
    if api_key is None:
        raise AuthFailed("Unknown or revoked API key")
    rate_limit_check(api_key)
    api_key_touch(api_key=api_key)
    audit.act_for_api_key(request, api_key)
    return api_key


def authenticate_request(request: HttpRequest, *, body_key: str | None = None) -> ApiKey:
    """Authenticate from the Authorization header, else the `api_key` query parameter, else a
    key found in the body (Segment's `writeKey`). Raises AuthFailed / RateLimited."""
    header = request.headers.get("Authorization")
    candidates: list[str] = []
    if header:
        secret = credentials_from_header(header)
        if secret is None and not (request.GET.get("api_key") or body_key):
            raise AuthFailed("Malformed Authorization header: use Bearer or Basic")
        if secret:
            candidates.append(secret)
    for extra in (request.GET.get("api_key"), body_key):
        if extra and isinstance(extra, str):
            candidates.append(extra)
    if not candidates:
        raise AuthFailed(
            "Missing API key: send 'Authorization: Bearer KEY', HTTP Basic with the key as "
            "user name, or an api_key parameter"
        )
    error: AuthFailed | None = None
    for secret in candidates:
        # An OAuth token (analytics-python) is not one of our keys; the body's writeKey is.
        try:
            return authenticate_secret(request, secret)
        except AuthFailed as exc:
            error = error or exc
    assert error is not None
    raise error


# --- The REST API's security schemes -----------------------------------------------------------


class ApiKeyBearer(HttpBearer):
    """Authenticates for all three schemes (so a bad key gets a precise error); the Basic and
    query schemes below are declared for the OpenAPI document."""

    def __call__(self, request: HttpRequest) -> ApiKey:
        return authenticate_request(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:  # pragma: no cover
        return authenticate_request(request)


class ApiKeyBasic(HttpBasicAuth):
    def authenticate(self, request: HttpRequest, username: str, password: str) -> ApiKey:
        return authenticate_request(request)  # pragma: no cover


class ApiKeyParam(APIKeyQuery):
    param_name = "api_key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey:
        return authenticate_request(request)  # pragma: no cover


def key_environment(request: HttpRequest) -> Environment:
    """The environment of the request's API key: every endpoint reads and writes in it only."""
    return request.auth.environment  # type: ignore[attr-defined]
