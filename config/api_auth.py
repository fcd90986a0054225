"""API key authentication and per-key rate limiting, shared by the REST API and the
Segment-compatible endpoints.

A key is sent as `Authorization: Bearer KEY`, as HTTP Basic with the key as user name and an
empty password (what Segment libraries do with their write key), or as an `api_key` parameter.
"""

from __future__ import annotations

import binascii
import time
from base64 import b64decode
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from environments.models import ApiKey
from environments.services import api_key_authenticate, api_key_touch

RATE_WINDOW_SECONDS = 60


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Rate limit exceeded: retry in {retry_after} s")


class AuthFailed(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


_clients: dict[int, Any] = {}


def _redis_client() -> Any:
    """The redis-py client behind Django's Redis cache (kept per process: building one per
    request costs more than the INCR), or None with the locmem cache."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    client = _clients.get(id(backend))
    if client is None:
        client = _clients[id(backend)] = get_client(write=True)
    return client


def rate_limit_check(api_key: ApiKey) -> None:
    """Fixed one-minute window per key, counted in the cache (Redis when REDIS_URL is set, so
    all web processes share it; per process otherwise). Raises RateLimited over the limit."""
    limit = settings.HARK_API_RATE_LIMIT
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"hark:rl:{api_key.pk}:{window}"
    redis_client = _redis_client()
    if redis_client is not None:
        # One round trip on the hot path (Django's cache.incr checks existence first).
        count = redis_client.incr(key)
        if count == 1:
            redis_client.expire(key, RATE_WINDOW_SECONDS * 2)
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.add(key, 0, RATE_WINDOW_SECONDS * 2)
            count = cache.incr(key)
    if count > limit:
        raise RateLimited(max(1, int(RATE_WINDOW_SECONDS - now % RATE_WINDOW_SECONDS) + 1))


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
