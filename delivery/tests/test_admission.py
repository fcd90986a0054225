"""The page call's admission with Redis as in production (the cache holding the rate-limit
windows and the page-view queue on the same Redis): its two windows counted and its page view
queued in one round trip (delivery.api._admit, core.ratelimit.hit_many_append), and every way a
call can be refused leaves the queue as it was."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.core.cache import caches

from core import ratelimit
from delivery.services import delivery_settings_update
from events import buffer
from segments.tests import celery_fixtures

from .helpers import call

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

redis_server = celery_fixtures.redis_server
redis_url = celery_fixtures.redis_url


@pytest.fixture
def production_redis(settings, redis_url):
    """Rate limits in a Redis cache and page views queued in the same Redis, on a queue and
    windows of this test's own."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    settings.REDIS_URL = redis_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HARK_PAGEVIEW_BUFFER_SECONDS = 2
    settings.CELERY_TASK_DEFAULT_QUEUE = f"test-admission-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    windows = [k for k in client.scan_iter("hark:crl:*")]
    if windows:
        client.delete(*windows)
    assert ratelimit._redis() is not None  # the windows are counted in Redis
    yield client
    client.delete(buffer.queue_key(), *client.scan_iter("hark:crl:*"))
    caches["default"].close()


def body(user: str | None = "u-1", **extra):
    out = {"anonymous_id": "device-000000000001", "url": "https://a.test/pricing", **extra}
    if user:
        out["user"] = {"id": user}
    return out


def queued(client) -> int:
    return client.llen(buffer.queue_key())


def window(client, environment) -> int:
    [key] = client.keys(f"hark:crl:key:{environment.pk}:*") or [None]
    return int(client.get(key) or 0) if key else 0


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """The commands this process sends to Redis, each a round trip (any client of it)."""
    out: list[str] = []
    original = redis.connection.AbstractConnection.send_command

    def send_command(self, *args, **kwargs):
        out.append(str(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", send_command)
    return out


def test_an_identified_page_call_counts_and_queues_in_one_round_trip(
    client, environment, production_redis, sent
):
    assert call(client, environment, "/page", body()).status_code == 200  # u-1 identified
    assert queued(production_redis) == 1
    sent.clear()
    assert call(client, environment, "/page", body()).status_code == 200
    # One script: the two windows counted, the queue's length read, the page view appended.
    assert sent == ["EVALSHA"]
    assert queued(production_redis) == 2
    assert window(production_redis, environment) == 2
    assert buffer.events_queue_drain() == 2


def test_an_anonymous_page_call_counts_its_windows_and_queues_nothing(
    client, environment, production_redis
):
    assert call(client, environment, "/page", body(user=None)).status_code == 200
    assert window(production_redis, environment) == 1
    assert queued(production_redis) == 0


def test_a_page_call_over_its_limit_is_refused_and_queues_nothing(
    client, environment, production_redis, settings
):
    settings.HARK_CLIENT_RATE_LIMIT_KEY = 2
    assert call(client, environment, "/page", body()).status_code == 200
    assert call(client, environment, "/page", body()).status_code == 200
    response = call(client, environment, "/page", body())
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 61
    assert queued(production_redis) == 2


def test_a_page_call_refused_for_its_body_is_counted_and_over_the_limit_told_so(
    client, environment, production_redis, settings
):
    settings.HARK_CLIENT_RATE_LIMIT_KEY = 2
    assert call(client, environment, "/page", body()).status_code == 200
    bad = body(url="not a url")
    response = call(client, environment, "/page", bad)
    assert response.status_code == 400
    assert response.json()["field"] == "url"
    assert window(production_redis, environment) == 2  # counted, though refused
    # Over the limit now: the limit is what the caller hears, whatever its body.
    assert call(client, environment, "/page", bad).status_code == 429
    assert call(client, environment, "/page", {"anonymous_id": 3}).status_code == 429
    assert queued(production_redis) == 1


def test_a_page_call_identify_refuses_queues_nothing_and_one_with_traits_queues_after_it(
    client, environment, production_redis
):
    # The process remembers the key after its first call: later ones are counted by _admit.
    assert call(client, environment, "/page", body(user=None)).status_code == 200
    refused = body()
    refused["user"]["traits"] = {"x" * 300: 1}  # a trait key identify refuses
    response = call(client, environment, "/page", refused)
    assert response.status_code == 400, response.content
    assert response.json()["field"].startswith("user.traits.")
    assert queued(production_redis) == 0
    assert window(production_redis, environment) == 2

    with_traits = body()
    with_traits["user"]["traits"] = {"plan": "pro"}
    assert call(client, environment, "/page", with_traits).status_code == 200
    assert queued(production_redis) == 1  # queued by its own round trip, after identify
    assert window(production_redis, environment) == 3


def test_a_page_call_started_over_counts_and_queues_once(client, environment, production_redis):
    """A process that remembered the environment at an older cache version: the person's query
    finds the version moved (selectors.Stale) and the call starts over with the environment read
    again, after its windows were counted and its page view queued."""
    assert call(client, environment, "/page", body()).status_code == 200
    delivery_settings_update(environment=environment, values={"brand_color": "#123456"})
    response = call(client, environment, "/page", body())
    assert response.status_code == 200
    assert response.json()["theme"]["brand_color"] == "#123456"  # read again
    assert window(production_redis, environment) == 2
    assert queued(production_redis) == 2
    assert buffer.events_queue_drain() == 2


def test_a_page_call_refused_for_its_origin_or_body_size_is_counted_too(
    client, environment, production_redis, settings
):
    """Refusals made while the call is opened (not JSON, too large, another origin) come before
    the view could count the call: they are counted there, and over the limit told so."""
    settings.HARK_CLIENT_RATE_LIMIT_KEY = 3
    delivery_settings_update(
        environment=environment, values={"allowed_origins": ["https://a.test"]}
    )
    assert call(client, environment, "/page", body()).status_code == 200  # key remembered
    not_json = client.post(
        f"/api/v1/client/page?key={environment.public_key}",
        data="{",
        content_type="text/plain;charset=UTF-8",
    )
    assert not_json.status_code == 400
    other_origin = call(client, environment, "/page", body(), HTTP_ORIGIN="https://b.test")
    assert other_origin.status_code == 403
    assert window(production_redis, environment) == 3
    assert call(client, environment, "/page", body()).status_code == 429
    assert queued(production_redis) == 1
