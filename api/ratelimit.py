"""Per-key rate limit of the REST API and the Segment-compatible endpoints: a fixed one-minute
window counted in the cache (core.ratelimit)."""

from __future__ import annotations

from django.conf import settings

from core.ratelimit import hit
from environments.models import ApiKey


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Rate limit exceeded: retry in {retry_after} s")


def rate_limit_check(api_key: ApiKey) -> None:
    """Fixed one-minute window per key, counted in the cache (Redis when REDIS_URL is set, so
    all web processes share it; per process otherwise). Raises RateLimited over the limit."""
    retry = hit(str(api_key.pk), settings.HARK_API_RATE_LIMIT, prefix="rl")
    if retry is not None:
        raise RateLimited(retry)
