from __future__ import annotations

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def allow_private(settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    return settings
