import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _active_labels(response) -> list[str]:
    return [item["label"] for item in response.context["nav_items"] if item["active"]]


def test_navigation_marks_the_section_of_a_nested_page(owner_client, environment):
    response = owner_client.get(reverse("surveys:new", kwargs={"env": environment.slug}))
    assert response.status_code == 200
    assert _active_labels(response) == ["Surveys"]


def test_navigation_lists_only_pages_that_exist(owner_client, environment):
    response = owner_client.get(reverse("profiles:list", kwargs={"env": environment.slug}))
    labels = [item["label"] for item in response.context["nav_items"]]
    assert labels == [
        "Overview",
        "Responses",
        "Users",
        "Segments",
        "Surveys",
        "Traits",
        "Events",
        "Settings",
    ]
    assert _active_labels(response) == ["Users"]


def test_remembered_environment_is_not_rewritten_on_every_page(owner_client, environment):
    url = reverse("profiles:list", kwargs={"env": environment.slug})
    owner_client.get(url)
    key = owner_client.session.session_key
    first = owner_client.cookies["sessionid"].value
    response = owner_client.get(url)
    assert owner_client.session.session_key == key == first
    # No Set-Cookie for the session: nothing was written.
    assert "sessionid" not in response.cookies
