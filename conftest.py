"""Fixtures shared by every app's tests: an environment with an owner (admin) and an analyst
(read-only), and an outsider who is a member of another environment only."""

from __future__ import annotations

import os

import pytest
from django.test import Client
from playwright.sync_api import sync_playwright

from environments.models import Environment, Membership, Role
from environments.services import environment_create, member_add
from tests.api_helpers import ApiClient, new_key

PASSWORD = "correct-horse-battery"


# Tests that take seconds each, left out of the quick loop (`make test-fast`, `-m "not slow"`):
# a real browser, a real worker or server process, or a property test's hundred examples.
SLOW_MARKERS = ("browser", "celery", "production")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        hypothesis_test = getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        if hypothesis_test or any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def environment(db) -> Environment:
    return environment_create(name="Acme")


@pytest.fixture
def other_environment(db) -> Environment:
    return environment_create(name="Globex")


@pytest.fixture
def owner(environment) -> Membership:
    return member_add(
        environment=environment, email="owner@acme.test", role=Role.ADMIN, password=PASSWORD
    )


@pytest.fixture
def analyst(environment) -> Membership:
    return member_add(
        environment=environment, email="analyst@acme.test", role=Role.ANALYST, password=PASSWORD
    )


@pytest.fixture
def outsider(other_environment) -> Membership:
    return member_add(
        environment=other_environment,
        email="outsider@globex.test",
        role=Role.ADMIN,
        password=PASSWORD,
    )


def _client_for(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    # As after a first visit: the middleware remembers the environment in the session (a write
    # that only the first page view pays), so query counts measure the page alone.
    session = client.session
    session["environment"] = membership.environment.slug
    session.save()
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def analyst_client(analyst) -> Client:
    return _client_for(analyst)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


@pytest.fixture
def api(environment) -> ApiClient:
    """The public API as an integration calls it: a key of `environment`, sent as a Bearer token."""
    return ApiClient(new_key(environment))


@pytest.fixture
def other_api(other_environment) -> ApiClient:
    return ApiClient(new_key(other_environment))


# --- Browser tests --------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_executable() -> str | None:
    """HARK_CHROMIUM, else Debian's Chromium, else Playwright's own download (None)."""
    configured = os.environ.get("HARK_CHROMIUM")
    if configured:
        return configured
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django must allow ORM calls
    # from tests that also drive the browser.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def logged_in_page(page, live_server, owner):
    """A browser page signed in as the environment's admin (through the real login form)."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page
