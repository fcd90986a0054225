"""Tenancy over every dashboard page: outsiders get 404, objects of another environment are 404,
analysts (read-only) cannot change anything.

The routes are read from the URL configuration, so a page added later is covered without
editing this file; a new URL keyword only needs a line in `_object_for`.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from alerts.factories import AlertSubscriptionFactory
from environments.models import Environment, Membership, Role
from environments.services import api_key_create, member_add
from events.factories import EventDefinitionFactory
from imports.models import ContactImport
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory, SegmentFactory
from surveys.factories import QuestionFactory, SurveyFactory
from tests.helpers import HTMX
from traits.factories import TraitFactory
from webhooks.factories import DeliveryFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

# POST endpoints that only read (they compute a preview from the posted form).
READ_ONLY_POSTS = {"segments:preview"}
# Pages where every member, analysts included, manages their own rows (an alert only reads):
# an analyst's post there is checked like anyone's (and the test's data is not a valid form).
SELF_SERVICE_POSTS = {"alerts:new", "alerts:edit", "alerts:delete"}
APPS = (
    "environments",
    "profiles",
    "traits",
    "events",
    "surveys",
    "segments",
    "delivery",
    "webhooks",
    "alerts",
    "retention",
    "governance",
    "imports",
)
# Pages only admins may open (analysts and other roles get 403, even to read).
ADMIN_ONLY_PAGES = {"governance:audit_log", "governance:contact_erase", "governance:erasures"}


def _walk(patterns: list, namespace: str = "", prefix: str = "") -> list[tuple[str, str, list]]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            found += _walk(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            converters = getattr(pattern.pattern, "converters", {})
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            found.append((name, prefix + str(pattern.pattern), list(converters)))
    return found


def environment_routes() -> list[tuple[str, list[str]]]:
    """(URL name, keyword arguments besides `env`) of every page under /e/<env>/."""
    routes = []
    for name, route, kwargs in _walk(get_resolver().url_patterns):
        if route.startswith("e/<slug:env>/"):
            routes.append((name, [k for k in kwargs if k != "env"]))
    return sorted(routes)


ROUTES = environment_routes()
ROUTE_IDS = [name for name, _ in ROUTES]


def _world(environment: Environment) -> dict[str, Any]:
    """One of each object a dashboard URL can point at, in `environment`."""
    survey = SurveyFactory(environment=environment)
    key, _ = api_key_create(environment=environment, name="ci")
    colleague = member_add(
        environment=environment,
        email=f"colleague@{environment.slug}.test",
        role=Role.CONTRIBUTOR,
    )
    # An alert owned by the environment's analyst when there is one (analysts manage their own).
    analyst = Membership.objects.filter(environment=environment, role=Role.ANALYST).first()
    return {
        "environment": environment,
        "contact_import": ContactImport.objects.create(
            environment=environment,
            filename="contacts.csv",
            path="/nonexistent",
            header=["id"],
            status="done",
        ),
        "profile": ProfileFactory(environment=environment, traits={"plan": "pro"}),
        "survey": survey,
        "question": QuestionFactory(survey=survey),
        "segment": SegmentFactory(environment=environment),
        "manual_segment": ManualSegmentFactory(environment=environment),
        "trait": TraitFactory(environment=environment),
        "event_definition": EventDefinitionFactory(environment=environment),
        "api_key": key,
        "membership": colleague,
        "webhook_endpoint": (endpoint := WebhookEndpointFactory(environment=environment)),
        "webhook_delivery": DeliveryFactory(endpoint=endpoint),
        "alert": AlertSubscriptionFactory(
            environment=environment, user=(analyst or colleague).user
        ),
    }


def _object_for(name: str, kwarg: str, world: dict[str, Any]) -> Any:
    namespace, _, short = name.partition(":")
    if kwarg == "uuid":
        if namespace == "segments":
            manual = short in ("import", "members")
            return world["manual_segment" if manual else "segment"].uuid
        return {
            "imports": world["contact_import"],
            "profiles": world["profile"],
            "surveys": world["survey"],
            "delivery": world["survey"],
            "webhooks": world["webhook_endpoint"],
            "governance": world["profile"],
        }[namespace].uuid
    if kwarg == "profile_uuid":
        return world["profile"].uuid
    if kwarg == "locale":
        return "de"
    if kwarg == "question_id":
        return world["question"].pk
    if kwarg == "pk":
        if namespace == "traits":
            return world["trait"].pk
        if namespace == "events":
            return world["event_definition"].pk
        if namespace == "environments":
            return world["api_key" if "api_key" in short else "membership"].pk
        if namespace == "webhooks":
            return world["webhook_delivery"].pk
        if namespace == "alerts":
            return world["alert"].pk
    raise AssertionError(f"tests/test_tenancy.py: say which object {name} takes as {kwarg!r}")


def _url(name: str, kwargs: list[str], environment: Environment, world: dict[str, Any]) -> str:
    values = {kwarg: _object_for(name, kwarg, world) for kwarg in kwargs}
    return reverse(name, kwargs={"env": environment.slug, **values})


def _snapshot() -> dict[str, list]:
    """Every row of the apps' tables and the logins, to prove a request changed nothing."""
    state = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            state[model._meta.label] = sorted(
                model.objects.order_by("pk").values_list(), key=lambda row: row[0]
            )
    state["users"] = list(get_user_model().objects.order_by("pk").values_list())
    return state


@pytest.fixture
def here(environment, owner, analyst) -> dict[str, Any]:
    return _world(environment)


@pytest.fixture
def elsewhere(other_environment, outsider) -> dict[str, Any]:
    return _world(other_environment)


def test_the_dashboard_has_environment_pages():
    names = set(ROUTE_IDS)
    assert {"environments:home", "environments:settings", "profiles:list"} <= names
    assert len(names) >= 10


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_outsider_gets_404_on_every_page_of_another_environment(
    name, kwargs, outsider_client, environment, here, elsewhere
):
    url = _url(name, kwargs, environment, here)
    assert outsider_client.get(url).status_code == 404
    before = _snapshot()
    assert outsider_client.post(url, {"name": "x", "role": "admin"}).status_code == 404
    assert outsider_client.get(url, headers=HTMX).status_code == 404
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitor_is_sent_to_login(name, kwargs, client, environment, here):
    response = client.get(_url(name, kwargs, environment, here))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("environments:login"))


OBJECT_ROUTES = [(name, kwargs) for name, kwargs in ROUTES if kwargs]


@pytest.mark.parametrize(("name", "kwargs"), OBJECT_ROUTES, ids=[n for n, _ in OBJECT_ROUTES])
def test_objects_of_another_environment_are_404_even_for_an_admin(
    name, kwargs, owner_client, environment, here, elsewhere
):
    """The owner's own environment in the URL, another environment's object ids after it."""
    values = {kwarg: _object_for(name, kwarg, elsewhere) for kwarg in kwargs}
    url = reverse(name, kwargs={"env": environment.slug, **values})
    before = _snapshot()
    statuses = {owner_client.get(url).status_code, owner_client.post(url, {}).status_code}
    assert statuses <= {404, 405}, statuses
    assert 404 in statuses
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_members_can_open_every_page(name, kwargs, owner_client, analyst_client, environment, here):
    url = _url(name, kwargs, environment, here)
    for member in (owner_client, analyst_client):
        if member is analyst_client and name in ADMIN_ONLY_PAGES:
            assert member.get(url).status_code == 403, url
            continue
        # 405: an endpoint that only takes POST (its form lives on another page).
        response = member.get(url)
        assert response.status_code in (200, 302, 405), url
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            # No template syntax left on the page (a comment spanning lines is text).
            page = response.content.decode()
            assert "{#" not in page and "{%" not in page, url


@pytest.mark.parametrize(("name", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_analyst_cannot_change_anything(name, kwargs, analyst_client, environment, here):
    url = _url(name, kwargs, environment, here)
    before = _snapshot()
    # Empty and plausible form data: the role is checked before any validation.
    for data in ({}, {"name": "Renamed", "role": "admin", "email": "new@acme.test"}):
        response = analyst_client.post(url, data)
        if name in READ_ONLY_POSTS or name in SELF_SERVICE_POSTS:
            assert response.status_code < 500
        else:
            assert response.status_code in (403, 405), (url, response.status_code)
    assert _snapshot() == before


def test_analyst_gets_403_on_the_settings_forms(analyst_client, environment, here):
    for name in ("environments:api_key_create", "environments:member_add"):
        url = reverse(name, kwargs={"env": environment.slug})
        response = analyst_client.post(url, {"name": "x", "email": "x@acme.test", "role": "admin"})
        assert response.status_code == 403
    assert not environment.memberships.filter(user__email="x@acme.test").exists()
    assert environment.api_keys.count() == 1


def test_contributor_cannot_manage_keys_or_members(environment, here):
    contributor = member_add(
        environment=environment, email="c@acme.test", role=Role.CONTRIBUTOR, password="pw-123456"
    )
    client = Client()
    client.force_login(contributor.user)
    before = _snapshot()
    url = reverse("environments:api_key_create", kwargs={"env": environment.slug})
    assert client.post(url, {"name": "mine"}).status_code == 403
    url = reverse(
        "environments:member_role", kwargs={"env": environment.slug, "pk": contributor.pk}
    )
    assert client.post(url, {"role": "admin"}).status_code == 403
    assert _snapshot() == before


def test_member_of_two_environments_sees_each_only_under_its_own_slug(
    environment, other_environment
):
    both = member_add(environment=environment, email="both@acme.test", role=Role.ADMIN)
    member_add(environment=other_environment, email="both@acme.test", role=Role.ANALYST)
    client = Client()
    client.force_login(both.user)
    for env in (environment, other_environment):
        response = client.get(reverse("profiles:list", kwargs={"env": env.slug}))
        assert response.status_code == 200
        assert response.wsgi_request.environment == env
    # Read-only where the role is analyst, even for an admin of another environment.
    url = reverse("environments:api_key_create", kwargs={"env": other_environment.slug})
    assert client.post(url, {"name": "k"}).status_code == 403
    url = reverse("environments:api_key_create", kwargs={"env": environment.slug})
    assert client.post(url, {"name": "k"}).status_code in (200, 302)
