"""Per-key rate limit of the REST API and the Segment-compatible endpoints: a fixed one-minute
window counted in the cache."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from environments.models import ApiKey

RATE_WINDOW_SECONDS = 60


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Rate limit exceeded: retry in {retry_after} s")


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
