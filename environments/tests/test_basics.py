import pytest
from django.urls import reverse

from environments.models import ApiKey, hash_api_key
from environments.services import api_key_authenticate, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("environments:login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_root_redirects_member_to_their_environment(owner_client, environment):
    response = owner_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/e/{environment.slug}/"


def test_anonymous_user_is_sent_to_login(client, environment):
    response = client.get(f"/e/{environment.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_outsider_gets_404_on_another_environment(outsider_client, environment):
    response = outsider_client.get(f"/e/{environment.slug}/")
    assert response.status_code == 404


def test_unknown_environment_is_404_like_a_foreign_one(owner_client):
    assert owner_client.get("/e/does-not-exist/").status_code == 404


def test_api_key_is_stored_hashed_and_shown_once(environment):
    key, secret = api_key_create(environment=environment, name="backend")
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in {stored.hashed_key, stored.prefix, stored.name}
    assert stored.hashed_key == hash_api_key(secret)
    assert secret.startswith(stored.prefix)
    assert api_key_authenticate(secret=secret) == key


def test_revoked_key_does_not_authenticate(environment):
    key, secret = api_key_create(environment=environment)
    api_key_revoke(api_key=key)
    assert api_key_authenticate(secret=secret) is None
    assert api_key_authenticate(secret=secret + "x") is None
