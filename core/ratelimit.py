"""Fixed one-minute windows counted in the cache (Redis when REDIS_URL is set, so every web
process shares the count; per process otherwise): the REST API's per-key limit (api/ratelimit.py)
and the client API's per-IP and per-public-key limits (delivery/api.py)."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

WINDOW_SECONDS = 60
_clients: dict[int, Any] = {}


def _redis() -> Any:
    """The redis-py client behind Django's Redis cache (kept per process: building one per
    call costs more than the count), or None with the locmem cache."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    client = _clients.get(id(backend))
    if client is None:
        client = _clients[id(backend)] = get_client(write=True)
    return client


def hit(bucket: str, limit: int, *, prefix: str) -> int | None:
    """Count one call in `bucket`; the seconds to wait when over `limit`, else None."""
    return hit_many([(bucket, limit)], prefix=prefix)


# Count the buckets in order and stop at the first one over its limit (as separate calls to
# `hit` would: a caller refused by its IP's window does not use up its public key's), in one
# round trip. ARGV: the expiry, then each bucket's limit. Answers the 1-based index of the
# bucket over its limit, or 0.
_HIT_SCRIPT = """
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  if n > tonumber(ARGV[i + 1]) then return i end
end
return 0
"""
_scripts: dict[int, Any] = {}


def hit_many(buckets: list[tuple[str, int]], *, prefix: str) -> int | None:
    """Count one call in each of `buckets` ((bucket, limit) pairs, in order, stopping at the
    first over its limit), in one Redis round trip; the seconds to wait when one is over its
    limit, else None. The cache keys are `hark:<prefix>:<bucket>:<window>`."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    keys = [f"hark:{prefix}:{bucket}:{window}" for bucket, _ in buckets]
    client = _redis()
    if client is not None:
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(_HIT_SCRIPT)
        # The key names its window: its expiry pushed back on each call only keeps it longer.
        over = bool(script(keys=keys, args=[WINDOW_SECONDS * 2, *(n for _, n in buckets)]))
    else:
        over = False
        for key, (_, limit) in zip(keys, buckets, strict=True):
            try:
                count = cache.incr(key)
            except ValueError:
                cache.add(key, 0, WINDOW_SECONDS * 2)
                count = cache.incr(key)
            if count > limit:
                over = True
                break
    if over:
        return max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1)
    return None
