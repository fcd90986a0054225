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
