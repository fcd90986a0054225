"""Settings -> Data: admins set the policy, analysts read it, bad input is a form error."""

from __future__ import annotations

from django.urls import reverse

from retention.models import RetentionPolicy


def _url(environment) -> str:
    return reverse("retention:settings", kwargs={"env": environment.slug})


def test_data_page_shows_forever_by_default(owner_client, environment):
    response = owner_client.get(_url(environment))
    assert response.status_code == 200
    assert b'placeholder="Forever"' in response.content
    assert not RetentionPolicy.objects.exists()


def test_admin_sets_and_clears_the_policy(owner_client, environment):
    response = owner_client.post(
        _url(environment),
        {"events_days": "400", "responses_days": "", "anonymous_profiles_days": "30"},
    )
    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(environment=environment)
    assert (policy.events_days, policy.responses_days, policy.anonymous_profiles_days) == (
        400,
        None,
        30,
    )
    owner_client.post(_url(environment), {"events_days": "", "anonymous_profiles_days": ""})
    policy.refresh_from_db()
    assert (policy.events_days, policy.anonymous_profiles_days) == (None, None)


def test_bad_days_are_a_form_error_and_write_nothing(owner_client, environment):
    for bad in ("0", "-3", "abc", "36501", "1e9"):
        response = owner_client.post(_url(environment), {"events_days": bad})
        assert response.status_code == 400
        assert b'id="id_events_days"' in response.content and b"errorlist" in response.content
    assert not RetentionPolicy.objects.exists()


def test_analyst_reads_the_policy_and_cannot_change_it(analyst_client, environment):
    RetentionPolicy.objects.create(environment=environment, events_days=90)
    response = analyst_client.get(_url(environment))
    assert response.status_code == 200
    assert b"90 days" in response.content and b'id="retention-form"' not in response.content
    assert analyst_client.post(_url(environment), {"events_days": "1"}).status_code == 403
    assert RetentionPolicy.objects.get().events_days == 90


def test_outsider_and_anonymous_visitor_are_kept_out(outsider_client, client, environment):
    assert outsider_client.get(_url(environment)).status_code == 404
    response = client.get(_url(environment))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_settings_page_links_to_the_data_page(owner_client, environment):
    response = owner_client.get(reverse("environments:settings", kwargs={"env": environment.slug}))
    assert _url(environment).encode() in response.content
