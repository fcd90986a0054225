"""Every `next` a dashboard form posts goes through core.http.safe_next: an address on another
site, another scheme or a malformed one is dropped for the page's default, and the check runs
before anything is written (a `next` once gave a 500 after the change was saved)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from conftest import PASSWORD
from core.http import safe_next
from profiles.factories import ProfileFactory
from segments.factories import ManualSegmentFactory
from segments.models import SegmentMembership

pytestmark = pytest.mark.django_db

HOSTILE = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil",
    "\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http://testserver@evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "foo:bar",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "\t//evil.example",
    "\n//evil.example",
    "\x00//evil.example",
    "\x01/evil.example",
    "\x08//evil.example",
    "ftp://evil.example/",
    "http://testserver/e/acme/",
    "segments",
    "foo.bar",
    "/e/x\r\nSet-Cookie: a=b",
    "/e/x\x00/",
    "/e/\tx/",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_next_refuses_other_sites_and_schemes(value):
    request = RequestFactory().post("/x/", {"next": value})
    assert safe_next(request, "/default/") == "/default/"


@pytest.mark.parametrize("value", ["/e/acme/people/?segment=1", "/e/acme/segments/", " /e/acme/ "])
def test_safe_next_keeps_paths_of_this_site(value):
    request = RequestFactory().post("/x/", {"next": value})
    assert safe_next(request, "/default/") == value.strip()


def test_safe_next_reads_the_query_string_too():
    request = RequestFactory().get("/x/", {"next": "https://evil.example/"})
    assert safe_next(request, "/default/") == "/default/"
    request = RequestFactory().get("/x/", {"next": "/e/acme/"})
    assert safe_next(request, "/default/") == "/e/acme/"


def _urls(environment, segment, profile):
    return [
        (
            reverse(
                "segments:profile_segments",
                kwargs={"env": environment.slug, "profile_uuid": profile.uuid},
            ),
            {"action": "add", "segment": str(segment.uuid)},
            reverse("segments:list", kwargs={"env": environment.slug}),
        ),
        (
            reverse("segments:members", kwargs={"env": environment.slug, "uuid": segment.uuid}),
            {"action": "add", "profile": str(profile.uuid)},
            reverse("segments:detail", kwargs={"env": environment.slug, "uuid": segment.uuid}),
        ),
    ]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("value", HOSTILE)
def test_segment_posts_never_redirect_off_site(owner_client, environment, which, value):
    segment = ManualSegmentFactory(environment=environment)
    profile = ProfileFactory(environment=environment)
    url, data, default = _urls(environment, segment, profile)[which]
    response = owner_client.post(url, {**data, "next": value})
    assert response.status_code == 302
    assert response["Location"] == default
    # The change the form asked for was made once, and the answer was not a 500.
    assert SegmentMembership.objects.filter(segment=segment, profile=profile).count() == 1


@pytest.mark.parametrize("which", [0, 1])
def test_segment_posts_follow_a_next_on_this_site(owner_client, environment, which):
    segment = ManualSegmentFactory(environment=environment)
    profile = ProfileFactory(environment=environment)
    url, data, _ = _urls(environment, segment, profile)[which]
    back = f"/e/{environment.slug}/people/?q=a%20b"
    response = owner_client.post(url, {**data, "next": back})
    assert response.status_code == 302 and response["Location"] == back


@pytest.mark.parametrize("which", [0, 1])
def test_a_next_with_a_bare_word_or_newline_is_not_a_500(owner_client, environment, which):
    segment = ManualSegmentFactory(environment=environment)
    profile = ProfileFactory(environment=environment)
    url, data, _ = _urls(environment, segment, profile)[which]
    # shortcuts.redirect() looked a bare word up as a URL pattern name (NoReverseMatch); a CR/LF
    # must not split the Location header.
    for value in ["segments", "foo.bar", "/e/x\r\nSet-Cookie: a=b"]:
        response = owner_client.post(url, {**data, "next": value})
        assert response.status_code == 302
        assert "\n" not in response["Location"] and "\r" not in response["Location"]
        assert not response.cookies.get("a")


@pytest.mark.parametrize("value", HOSTILE)
def test_login_and_logout_use_the_same_check(client, owner, value):

    login = reverse("environments:login")
    response = client.post(
        login, {"username": owner.user.email, "password": PASSWORD, "next": value}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.post(reverse("environments:logout"), {"next": value})
    assert response.status_code == 302 and response["Location"] == login


def test_login_follows_a_next_on_this_site(client, owner, environment):

    back = f"/e/{environment.slug}/people/"
    page = client.get(reverse("environments:login"), {"next": back})
    assert f'name="next" value="{back}"' in page.content.decode()
    response = client.post(
        reverse("environments:login"),
        {"username": owner.user.email, "password": PASSWORD, "next": back},
    )
    assert response["Location"] == back
