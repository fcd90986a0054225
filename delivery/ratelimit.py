"""Fixed one-minute windows counted in the cache (Redis when REDIS_URL is set, so every web
process shares the count; per process otherwise), for the public client API: per IP and per
public key."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

WINDOW_SECONDS = 60
_clients: dict[int, Any] = {}


def _redis() -> Any:
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    client = _clients.get(id(backend))
    if client is None:
        client = _clients[id(backend)] = get_client(write=True)
    return client


def hit(bucket: str, limit: int) -> int | None:
    """Count one call in `bucket`; the seconds to wait when over `limit`, else None."""
    now = time.time()
    key = f"hark:crl:{bucket}:{int(now // WINDOW_SECONDS)}"
    client = _redis()
    if client is not None:
        count = client.incr(key)
        if count == 1:
            client.expire(key, WINDOW_SECONDS * 2)
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.add(key, 0, WINDOW_SECONDS * 2)
            count = cache.incr(key)
    if count > limit:
        return max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1)
    return None
