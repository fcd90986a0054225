"""The rate limit against a real Redis (the production cache; Redis runs on 127.0.0.1:6379)."""

import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from api.ratelimit import RateLimited, rate_limit_check
from environments.models import ApiKey

REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/14",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
}


@override_settings(CACHES=REDIS_CACHE, HARK_API_RATE_LIMIT=2)
def test_rate_limit_counts_in_redis(monkeypatch):
    cache = caches.create_connection("default")
    monkeypatch.setattr("core.ratelimit.cache", cache)
    key = ApiKey(pk=10**12 + uuid.uuid4().int % 10**9)
    rate_limit_check(key)
    rate_limit_check(key)
    with pytest.raises(RateLimited) as exc:
        rate_limit_check(key)
    assert 1 <= exc.value.retry_after <= 61
    client = cache._cache.get_client(write=True)
    [name] = client.keys(f"hark:rl:{key.pk}:*")
    assert 0 < client.ttl(name) <= 120
    client.delete(name)
