import pytest
from django.core.cache import cache

from delivery import api


@pytest.fixture(autouse=True)
def _fresh_client_api_state():
    """Rate-limit windows and the public-key cache start empty in every test."""

    cache.clear()
    api._key_cache.clear()
    yield
    api._key_cache.clear()
