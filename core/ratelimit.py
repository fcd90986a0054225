"""Fixed one-minute windows counted in the cache (Redis when REDIS_URL is set, so every web
process shares the count; per process otherwise): the REST API's per-key limit (api/ratelimit.py)
and the client API's per-IP and per-public-key limits (delivery/api.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
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
# round trip; then, for an admitted call that brings a value to queue, append it to the list
# KEYS[n + 1] unless that holds ARGV[n + 4] items already. ARGV: the expiry, the number of
# buckets n, each bucket's limit, then the value and the list's limit. Answers the 1-based index
# of the bucket over its limit; else 0, or -1 when the list was full.
_HIT_SCRIPT = """
local n = tonumber(ARGV[2])
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  if count > tonumber(ARGV[i + 2]) then return i end
end
if #KEYS > n then
  if redis.call('LLEN', KEYS[n + 1]) >= tonumber(ARGV[n + 4]) then return -1 end
  redis.call('RPUSH', KEYS[n + 1], ARGV[n + 3])
end
return 0
"""
_scripts: dict[int, Any] = {}


def _run(
    client: Any, keys: list[str], buckets: list[tuple[str, int]], append: Append | None
) -> int:
    """_HIT_SCRIPT on `client` (registered once per client): its answer."""
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_HIT_SCRIPT)
    # The key names its window: its expiry pushed back on each call only keeps it longer.
    args: list[Any] = [WINDOW_SECONDS * 2, len(buckets), *(n for _, n in buckets)]
    if append is not None:
        keys = [*keys, append.key]
        args += [append.value, append.limit]
    return int(script(keys=keys, args=args))


def append_only(client: Any, append: Append) -> bool:
    """`append` on `client` with nothing counted (events/buffer.py's own connection, when its
    caller has no round trip to share): whether it was appended (False: the list was full)."""
    return _run(client, [], [], append) == 0


@dataclass(frozen=True)
class Append:
    """A value to append to the Redis list `key` in the same round trip as the count, when the
    call is admitted and the list holds fewer than `limit` items (events/buffer.py's queue)."""

    key: str
    value: bytes
    limit: int


def hit_many(buckets: list[tuple[str, int]], *, prefix: str) -> int | None:
    """Count one call in each of `buckets` ((bucket, limit) pairs, in order, stopping at the
    first over its limit), in one Redis round trip; the seconds to wait when one is over its
    limit, else None. The cache keys are `hark:<prefix>:<bucket>:<window>`."""
    return hit_many_append(buckets, prefix=prefix, append=None)[0]


def hit_many_append(
    buckets: list[tuple[str, int]], *, prefix: str, append: Append | None
) -> tuple[int | None, bool]:
    """hit_many, and `append` queued in the same round trip when the call is admitted:
    (seconds to wait or None, whether it was appended). Without Redis (the cache in process)
    nothing is appended: the caller queues it itself."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    keys = [f"hark:{prefix}:{bucket}:{window}" for bucket, _ in buckets]
    client = _redis()
    appended = False
    if client is not None:
        answer = _run(client, keys, buckets, append)
        over = answer > 0
        appended = append is not None and answer == 0
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
        return max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1), False
    return None, appended
